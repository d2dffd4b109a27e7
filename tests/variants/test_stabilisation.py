"""The stabilisation options of the gan variant and the unrolled variant, on the toys."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.train.loop import build_state, make_trainable, optimise
from gankit.variants import StepContext
from gankit.variants.base import pack_samples, unpack_losses
from tests.conftest import TINY

# half + resume raises train.steps, which a decaying learning rate depends on: those tests run at constant rates
CONSTANT_LR = ["optim.g.decay_start=1.0", "optim.d.decay_start=1.0"]


def _state(preset, *overrides):
    return build_state(load_config(preset, [*TINY, *overrides]))


def _context(state, step, iteration=1, scratch=None):
    """The context the loop gives ``step`` in ``iteration``: a batch from each of its streams."""
    v, t = state.variant, state.cfg.train
    n = step.size(iteration, t.batch_size)
    batches = {name: state.streams[name].next(n) for name in step.streams}
    return StepContext(v.players, batches, n, state.noise, iteration, t.steps, state.device, v.state, {} if scratch is None else scratch, v.optimizers)


def _run_step(state, name):
    """One optimiser step of the named phase, as the loop runs it; returns the objective's per-sample losses."""
    v = state.variant
    step = next(s for s in v.steps if s.name == name)
    make_trainable(v, step)
    losses, _ = optimise(v, step, _context(state, step))
    for module in v.players.values():
        module.requires_grad_(True)
    return losses


def test_packing_concatenates_consecutive_samples_and_keeps_per_sample_losses():
    x = torch.arange(12.0).reshape(6, 2)
    packed = pack_samples(x, 3)
    assert packed.shape == (2, 6) and torch.equal(packed[1], torch.arange(6.0, 12.0))
    images = torch.randn(4, 3, 5, 5)
    assert torch.equal(pack_samples(images, 2)[0], torch.cat([images[0], images[1]]))
    out = unpack_losses({"d": torch.tensor([1.0, 3.0]), "s": torch.tensor(2.0)}, 2)
    assert torch.equal(out["d"], torch.tensor([1.0, 1.0, 3.0, 3.0])) and out["s"].dim() == 0


def test_pacgan_discriminator_sees_packs():
    state = _state("pacgan-ring")
    first = next(m for m in state.variant.players["d"].modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 4  # two 2-D samples
    losses = _run_step(state, "d")
    assert all(v.shape == (32,) for v in losses.values())
    with pytest.raises(GankitError, match="multiple"):
        load_config("pacgan-ring", ["train.batch_size=33"])


def test_weight_clipping_holds_after_every_critic_step():
    state = _state("wgan-ring")
    _run_step(state, "d")
    assert max(p.abs().max().item() for p in state.variant.players["d"].parameters()) <= 0.01


def test_gradient_penalty_and_lazy_r1_enter_the_discriminator_losses():
    state = _state("wgan-gp-ring")
    assert "gp" in _run_step(state, "d")
    state = _state("gan-ring", "loss.r1=1.0", "loss.reg_every=4")
    steps = {s.name: s for s in state.variant.steps}
    assert steps["d_reg"].every == 4
    losses = _run_step(state, "d_reg")
    assert set(losses) == {"r1"} and losses["r1"].shape == (32,)
    state = _state("gan-ring", "loss.r1=1.0", "loss.r2=0.5")
    assert {"r1", "r2"} <= set(_run_step(state, "d")) and "d_reg" not in {s.name for s in state.variant.steps}


def test_feature_matching_needs_real_data_and_is_a_batch_statistic():
    state = _state("gan-ring", "options.g_objective=feature_matching", "options.feature_matching=2.0")
    step = next(s for s in state.variant.steps if s.name == "g")
    assert step.streams == ("train",)
    losses = _run_step(state, "g")
    assert set(losses) == {"g_fm"} and losses["g_fm"].dim() == 0 and losses["g_fm"] >= 0


def test_historical_averages_live_in_the_variant_state_and_follow_the_weights():
    state = _state("improved-ring")
    hist = state.variant.state["historical_average"]
    d = state.variant.players["d"]
    torch.testing.assert_close(hist.average["d"]["net.0.weight"], d.net[0].weight)  # starts at the initial weights
    before = d.net[0].weight.detach().clone()
    losses = _run_step(state, "d")
    assert losses["d_hist"].item() == 0.0  # the weights still equal their average when the first step computes it
    assert hist.count["d"] == 2
    torch.testing.assert_close(hist.average["d"]["net.0.weight"], (before + d.net[0].weight.detach()) / 2)


def test_unrolled_generator_step_leaves_the_discriminator_untouched():
    state = _state("unrolled-ring", "options.unroll_steps=3")
    _run_step(state, "d")  # so that D's Adam has moments to unroll from
    d, opt = state.variant.players["d"], state.variant.optimizers["d"]
    weights = {k: v.clone() for k, v in d.state_dict().items()}
    moments = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in d.parameters()}
    g_before = [p.detach().clone() for p in state.variant.players["g"].parameters()]
    _run_step(state, "g")
    for k, v in d.state_dict().items():
        assert torch.equal(v, weights[k]), k
    for p in d.parameters():
        for k, v in opt.state[p].items():
            assert torch.equal(v, moments[id(p)][k])
    assert any(not torch.equal(a, b) for a, b in zip(g_before, state.variant.players["g"].parameters(), strict=True))


def test_unrolled_generator_gradient_differs_from_the_plain_one():
    """G's gradient depends on how many of D's reactions it anticipates."""
    grads = []
    for k in (1, 4):
        state = _state("unrolled-ring", f"options.unroll_steps={k}", "train.seed=3")
        _run_step(state, "d")
        g_step = next(s for s in state.variant.steps if s.name == "g")
        assert g_step.streams == ("train",)
        ctx = _context(state, g_step, iteration=2)
        loss = sum(v.mean() for v in g_step.objective(ctx).values())
        grads.append(torch.autograd.grad(loss, list(state.variant.players["g"].parameters()))[0])
    assert not torch.allclose(grads[0], grads[1])


@pytest.mark.parametrize(
    ("preset", "overrides", "message"),
    [
        ("cgan-mnist", ["options.pack=2"], r"options\.pack.*option of variant 'gan'"),
        ("unrolled-ring", ["model.d.sn=true"], "unrolled"),
        ("gan-ring", ["loss.name=wgan", "loss.real_label=0.9"], "real_label"),
        ("gan-ring", ["loss.gp_mode=both"], "gp_mode"),
        ("gan-ring", ["model.g.minibatch=4"], "discriminator layer"),
        ("gan-ring", ["model.d.norm=virtual"], "virtual"),
    ],
)
def test_unsupported_combinations_are_clear_errors(preset, overrides, message):
    with pytest.raises(GankitError, match=message):
        build_state(load_config(preset, [*TINY, *overrides]))


@pytest.mark.parametrize("preset", ["sngan-ring", "improved-ring", "wgan-gp-ring", "wgan-ring", "pacgan-ring", "unrolled-ring"])
def test_half_then_resume_is_bit_identical(preset, tmp_path):
    """Spectral-norm vectors, historical averages, the VBN reference batch, clipping and unrolling all continue exactly."""
    from gankit.config import apply_overrides
    from gankit.train.loop import resume, train
    from tests.train.test_resume import assert_identical

    cfg = load_config(preset, [*TINY, "train.steps=24", "train.ckpt_every=12", "train.sample_every=100", "train.progress=none", "train.ema=0.9", *CONSTANT_LR])
    straight = train(cfg, tmp_path / "straight")
    half = train(apply_overrides(cfg, ["train.steps=12"]), tmp_path / "half")
    resume(half, ["train.steps=24"])
    a = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(half / "checkpoints" / "last.pt", weights_only=True)
    for key in ("models", "ema", "optimizers", "rng", "state"):
        assert_identical(a[key], b[key], key)


def test_learning_rate_decay_is_constant_then_linear_to_the_last_step():
    from gankit.config import OptimizerConfig
    from gankit.variants.base import make_scheduler

    assert make_scheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0), OptimizerConfig(decay_start=1.0), 20) is None
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make_scheduler(opt, OptimizerConfig(lr=0.1, decay_start=0.5), 20)
    used = []
    for _ in range(20):  # the loop: iteration's optimiser steps at the current lr, then one scheduler step
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert used[:11] == pytest.approx([0.1] * 11)
    assert used[10:] == pytest.approx([0.1 * (20 - k) / 10 for k in range(10, 20)])
    state = _state("gan-ring", "optim.g.decay_start=0.25", "optim.d.decay_start=1.0", "train.steps=8")
    assert set(state.variant.schedulers) == {"g"}
    with pytest.raises(GankitError, match="decay_start"):
        load_config("gan-ring", ["optim.d.decay_start=1.5"])


def test_an_interrupted_decaying_run_resumes_on_the_same_schedule(tmp_path, monkeypatch):
    """A run stopped after its step-12 checkpoint and resumed ends bit-identical to the straight run, the learning
    rate schedule included."""
    import gankit.train.loop as loop
    from tests.train.test_resume import assert_identical

    overrides = ["train.steps=24", "train.ckpt_every=12", "train.sample_every=100", "train.progress=none"]
    overrides += ["optim.g.decay_start=0.5", "optim.d.decay_start=0.25"]
    cfg = load_config("gan-ring", [*TINY, *overrides])
    straight = loop.train(cfg, tmp_path / "straight")
    save = loop.save_checkpoint

    class Stop(Exception):
        pass

    def save_then_stop(payload, path):
        save(payload, path)
        raise Stop

    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)
    with pytest.raises(Stop):
        loop.train(cfg, tmp_path / "stopped")
    monkeypatch.setattr(loop, "save_checkpoint", save)
    stopped = next((tmp_path / "stopped").iterdir())
    assert torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)["step"] == 12
    loop.resume(stopped)
    a = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(stopped / "checkpoints" / "last.pt", weights_only=True)
    assert a["schedulers"]["g"]["last_epoch"] == 24
    for key in ("models", "optimizers", "schedulers", "rng", "state"):
        assert_identical(a[key], b[key], key)
    assert a["optimizers"]["d"]["param_groups"][0]["lr"] < cfg.optim.d.lr / 10
