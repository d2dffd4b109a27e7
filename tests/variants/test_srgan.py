"""SRGAN: an MSE phase (SRResNet), then a content loss (VGG or judge features) plus the adversarial loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.nets.vgg import VGG19, VGG19Features
from gankit.train.loop import build_state, train
from gankit.train.rundir import read_metrics
from tests.conftest import TINY
from tests.variants.steps import run_step, step_context, tiny_state

SMALL = ["model.g.width=8", "model.g.depth=2", "model.d.width=8"]


def test_the_phases_switch_at_the_configured_step(tmp_path):
    cfg = load_config("srgan-digits", [*TINY, *SMALL, "train.steps=6", "train.log_every=1", "train.batch_size=4", "options.pretrain=3",
                                       "train.progress=none"])  # fmt: skip
    run = train(cfg, tmp_path)
    records = [r for r in read_metrics(run / "metrics.jsonl") if "health" not in r]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all("g_mse" in r and "g_content" not in r and "d_real" not in r for r in records[:3])
    assert all("g_mse" not in r and {"g_content", "g_adv", "d_real", "d_fake"} <= set(r) for r in records[3:])


def test_the_mse_phase_and_the_judge_content_loss_against_their_formulas():
    state = tiny_state("srgan-digits", SMALL)
    v = state.variant
    mse_step = next(s for s in v.steps if s.name == "mse")
    ctx = step_context(state, mse_step)
    torch.manual_seed(0)
    losses = mse_step.objective(ctx)
    a, b = ctx.batch["a"], ctx.batch["b"]
    assert a.shape[-1] * 4 == b.shape[-1] == 32
    with torch.no_grad():
        out = v.players["g"](a) + F.interpolate(a, size=(32, 32), mode="bicubic", align_corners=False)  # the preset's residual G
        torch.testing.assert_close(losses["g_mse"], (out - b).pow(2).mean(dim=(1, 2, 3)), atol=1e-6, rtol=1e-5)

    g_step = next(s for s in v.steps if s.name == "g")
    ctx = step_context(state, g_step)
    losses = g_step.objective(ctx)
    fake, b = ctx.scratch["fake"], ctx.batch["b"]
    phi = v.frozen["content"]
    assert not phi.training and not any(p.requires_grad for p in phi.parameters())
    from gankit.metrics.classifier import judge_outputs

    with torch.no_grad():
        _, f_fake = judge_outputs((fake + 1) / 2)
        _, f_real = judge_outputs((b + 1) / 2)
        expected = (f_fake - f_real).pow(2).mean(dim=1).float()  # content_weight 1 in the preset
        torch.testing.assert_close(losses["g_content"], expected, atol=1e-4, rtol=1e-4)
        d_out = v.players["d"](fake)["logits"].reshape(-1)
    torch.testing.assert_close(losses["g_adv"], 1e-3 * F.softplus(-d_out), atol=1e-7, rtol=1e-4)


def test_the_vgg_content_loss_reads_the_named_local_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "vgg19.pth"
    torch.save(VGG19().state_dict(), path)
    state = tiny_state("srgan-photos", [*SMALL, f"options.vgg_weights={path}", "options.vgg_layer=2_2", "data.image_size=32", "train.batch_size=2"])
    v = state.variant
    assert len(v.frozen_sha256["content"]) == 64
    step = next(s for s in v.steps if s.name == "g")
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    phi = VGG19Features(path, "2_2")
    with torch.no_grad():
        expected = (phi(ctx.scratch["fake"]) - phi(ctx.batch["b"])).pow(2).mean(dim=(1, 2, 3)) / 12.75**2
    torch.testing.assert_close(losses["g_content"], expected, atol=1e-6, rtol=1e-4)


def test_srresnet_is_the_pixel_loss_phase_alone_without_a_discriminator():
    state = tiny_state("srresnet-photos", [*SMALL, "data.image_size=32", "train.batch_size=2"])
    v = state.variant
    assert set(v.players) == {"g"} and [s.name for s in v.steps] == ["mse"] and not v.frozen
    losses, changed = run_step(state, "mse")
    assert set(losses) == {"g_l1"} and changed == {"g"}  # the preset's L1 pixel loss
    x = state.streams["train"].next(2)["a"]
    assert x.shape == (2, 3, 8, 8) and v.translate(v.players, x, "a2b").shape == (2, 3, 32, 32)


def test_the_l1_pixel_loss_is_the_mean_absolute_error_per_sample():
    # (pairs unturned: the preset's dihedral training is checked below)
    state = tiny_state("srresnet-photos", [*SMALL, "data.image_size=32", "train.batch_size=2", "options.pixel=l1", "options.dihedral=false"])
    v = state.variant
    step = next(s for s in v.steps if s.name == "mse")
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    a, b = ctx.batch["a"], ctx.batch["b"]
    with torch.no_grad():
        out = v.players["g"](a) + F.interpolate(a, size=(32, 32), mode="bicubic", align_corners=False)  # the preset's residual G
        expected = (out - b).abs().mean(dim=(1, 2, 3))
    assert set(losses) == {"g_l1"}
    torch.testing.assert_close(losses["g_l1"], expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(expected, (out - b).pow(2).mean(dim=(1, 2, 3)))


def test_bad_settings_are_one_line_errors(tmp_path):
    with pytest.raises(GankitError, match=r"needs options\.vgg_weights.*options\.content=mse"):
        build_state(load_config("srgan-photos", [*TINY, *SMALL]))
    with pytest.raises(GankitError, match=r"missing\.pth not found"):
        build_state(load_config("srgan-photos", [*TINY, *SMALL, f"options.vgg_weights={tmp_path / 'missing.pth'}"]))
    with pytest.raises(GankitError, match="maps low-resolution images a to high-resolution b"):
        build_state(load_config("srgan-digits", [*TINY, *SMALL, "data.name=mnist5k"]))
    with pytest.raises(GankitError, match=r"options\.content"):
        load_config("srgan-digits", ["options.content=lpips"])
    with pytest.raises(GankitError, match=r"options\.pixel"):
        load_config("srresnet-photos", ["options.pixel=huber"])


def residual_srresnet(*overrides):
    """A tiny residual SRResNet (32 px outputs, one pass per translation unless overridden) in eval mode and two of its
    training inputs."""
    state = tiny_state("srresnet-photos", [*SMALL, "data.image_size=32", "train.batch_size=2", "options.residual=true", "options.self_ensemble=false",
                                           *overrides])  # fmt: skip
    state.variant.players["g"].eval()
    return state.variant, state.streams["train"].next(2)["a"]


def test_a_residual_generator_adds_its_output_to_the_bicubic_upsampling():
    v, a = residual_srresnet()
    with torch.no_grad():
        bicubic = F.interpolate(a, size=(32, 32), mode="bicubic", align_corners=False)
        raw = bicubic + v.players["g"](a)
        # an image: the sum clipped to the image range, where bicubic overshoot and G's residual step out of it
        assert raw.abs().max() > 1
        torch.testing.assert_close(v.translate(v.players, a, "a2b"), raw.clamp(-1, 1))


def test_the_self_ensemble_averages_the_eight_turned_and_mirrored_inputs():
    v, a = residual_srresnet("options.self_ensemble=true")
    with torch.no_grad():
        out = v.translate(v.players, a, "a2b")
        plain = (v.players["g"](a) + F.interpolate(a, size=(32, 32), mode="bicubic", align_corners=False)).clamp(-1, 1)
        assert (out - plain).abs().max() > 1e-3  # G alone is not symmetric: the ensemble differs from one pass
        # the mean over the dihedral group turns with its input (exactly, up to rounding), which one pass does not
        for turn in (lambda t: torch.rot90(t, 1, (2, 3)), lambda t: t.flip(3), lambda t: t.transpose(2, 3)):
            torch.testing.assert_close(v.translate(v.players, turn(a), "a2b"), turn(out))
            assert (v.players["g"](turn(a)) - turn(v.players["g"](a))).abs().max() > 1e-3


def test_dihedral_training_turns_each_pair_alike_by_a_symmetry_the_degradation_commutes_with():
    from gankit.data.tasks import downscale
    from gankit.variants.srgan import dihedral, undo_dihedral

    b = torch.randint(256, (4, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    for k in range(8):  # the x4 bicubic downscaling commutes with each symmetry: a turned pair is a pair of the task
        assert torch.equal(downscale(dihedral(b, k)), dihedral(downscale(b), k))
        assert torch.equal(undo_dihedral(dihedral(b, k), k), b)
    assert len({dihedral(b, k)[0].numpy().tobytes() for k in range(8)}) == 8

    state = tiny_state("srresnet-photos", [*SMALL, "data.image_size=32", "options.dihedral=true"])
    v = state.variant
    step = next(s for s in v.steps if s.name == "mse")
    ctx = step_context(state, step)
    draws = torch.Generator().set_state(ctx.rng.get_state())
    losses = step.objective(ctx)
    which = torch.randint(8, (ctx.n,), generator=draws)
    assert len(set(which.tolist())) > 1
    a = torch.stack([dihedral(x, int(k)) for x, k in zip(ctx.batch["a"], which, strict=True)])
    b = torch.stack([dihedral(x, int(k)) for x, k in zip(ctx.batch["b"], which, strict=True)])
    with torch.no_grad():
        out = v.players["g"](a) + F.interpolate(a, size=(32, 32), mode="bicubic", align_corners=False)
    torch.testing.assert_close(losses["g_l1"], (out - b).abs().mean(dim=(1, 2, 3)), atol=1e-6, rtol=1e-5)


def test_dihedral_training_refuses_non_square_images():
    from types import SimpleNamespace

    from gankit.data.base import Field
    from gankit.variants.srgan import build_srgan

    cfg = load_config("srresnet-photos", [*TINY, *SMALL, "options.dihedral=true"])
    data = SimpleNamespace(fields={"a": Field("image", (3, 16, 24)), "b": Field("image", (3, 64, 96))})
    with pytest.raises(GankitError, match=r"options\.dihedral .* square images; .* a 16x24, b 64x96"):
        build_srgan(cfg, data, torch.device("cpu"))
