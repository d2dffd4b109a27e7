"""SimGAN: the refiner's local adversarial loss and self-regularisation, its pretraining phase, D's history buffer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.train.loop import build_state, train
from gankit.train.rundir import read_metrics
from gankit.variants.simgan import self_regularisation
from tests.conftest import TINY
from tests.variants.steps import run_step, step_context, tiny_state

SMALL = ["model.r.width=4", "model.r.depth=1", "model.d.width=4"]


def test_self_regularisation_is_the_mean_absolute_difference():
    x = torch.zeros(2, 1, 2, 2)
    refined = torch.tensor([[[[1.0, -1.0], [0.0, 2.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    torch.testing.assert_close(self_regularisation(refined, x), torch.tensor([1.0, 0.5]))


def test_the_refiner_loss_scores_every_patch_and_stays_near_the_synthetic_image():
    state = tiny_state("simgan-fonts2mnist", [*SMALL, "options.pretrain=1", "options.self_reg=0.25", "options.adversarial=2"])
    v = state.variant
    step = next(s for s in v.steps if s.name == "r")
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    x, refined = ctx.batches["a"]["a"], ctx.scratch["refined"]
    assert set(ctx.batches) == {"a"} and refined.shape == x.shape
    with torch.no_grad():
        patches = v.players["d"](refined)["logits"]
    assert patches.reshape(len(x), -1).shape[1] > 1, "D must give a map of patch logits (a local adversarial loss)"
    expected_adv = 2 * F.softplus(-patches).reshape(len(x), -1).mean(dim=1)  # non-saturating, per patch, averaged
    torch.testing.assert_close(losses["r_adv"], expected_adv, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(losses["r_self_reg"], 0.25 * (refined - x).abs().mean(dim=(1, 2, 3)), atol=1e-6, rtol=1e-5)


def test_d_sees_real_images_and_refined_ones_through_the_history_buffer():
    state = tiny_state("simgan-fonts2mnist", [*SMALL, "options.pretrain=1", "options.pool=8"])
    v = state.variant
    pool = v.state["history"]
    r_step, d_step = (next(s for s in v.steps if s.name == n) for n in ("r", "d"))
    assert d_step.streams == ("b",) and r_step.repeat == 2
    first = step_context(state, r_step)
    r_step.objective(first)
    d_step.objective(_with_scratch(state, d_step, first.scratch))
    assert pool.filled == 8 and torch.equal(pool.images, first.scratch["refined"])  # the first batch fills it
    second = step_context(state, r_step)
    r_step.objective(second)
    ctx = _with_scratch(state, d_step, second.scratch)
    seen = []
    original = v.players["d"].forward
    v.players["d"].forward = lambda x, y=None: (seen.append(x.detach().clone()), original(x))[1]
    try:
        losses = d_step.objective(ctx)
    finally:
        v.players["d"].forward = original
    real, shown = seen[0], seen[1]
    assert torch.equal(real, ctx.batches["b"]["b"])
    from_history = [any(torch.equal(img, old) for old in first.scratch["refined"]) for img in shown]
    assert 0 < sum(from_history) < len(shown), "about half of D's refined images come from the buffer once it is full"
    assert set(losses) >= {"d_real", "d_fake"}


def _with_scratch(state, step, scratch):
    ctx = step_context(state, step)
    ctx.scratch.update(scratch)
    return ctx


def test_pretraining_trains_the_refiner_alone_on_the_self_regularisation(tmp_path):
    state = tiny_state("simgan-fonts2mnist", SMALL)
    losses, changed = run_step(state, "pretrain")
    assert set(losses) == {"r_pretrain"} and changed == {"r"}
    cfg = load_config("simgan-fonts2mnist", [*TINY, *SMALL, "train.steps=5", "train.log_every=1", "train.batch_size=4", "options.pretrain=2",
                                            "train.progress=none"])  # fmt: skip
    records = [r for r in read_metrics(train(cfg, tmp_path) / "metrics.jsonl") if "health" not in r]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert all(set(r) & {"r_adv", "r_self_reg", "d_real"} == set() and "r_pretrain" in r for r in records[:2])
    assert all({"r_adv", "r_self_reg", "d_real", "d_fake"} <= set(r) for r in records[2:])


def test_translate_refines_synthetic_digits():
    state = tiny_state("simgan-fonts2mnist", SMALL)
    v = state.variant
    x = state.streams["a"].next(3)["a"]
    assert v.directions == {"refine": ("a", "b")} and v.translate(v.players, x, "refine").shape == x.shape


def test_bad_settings_are_one_line_errors(tmp_path):
    from PIL import Image

    with pytest.raises(GankitError, match="refines synthetic images a towards real images b"):
        build_state(load_config("simgan-fonts2mnist", [*TINY, *SMALL, "data.name=mnist5k"]))
    for side, mode in (("trainA", "RGB"), ("trainB", "L")):  # colour renderings, grey photographs
        (tmp_path / side).mkdir()
        for i in range(2):
            Image.new(mode, (8, 8)).save(tmp_path / side / f"{i}.png")
    with pytest.raises(GankitError, match=r"synthetic images are \(3, 8, 8\), real ones \(1, 8, 8\)"):
        build_state(load_config("simgan-fonts2mnist", [*TINY, *SMALL, "data.name=unaligned", f"data.root={tmp_path}", "data.image_size=8"]))
    with pytest.raises(GankitError, match=r"options\.r_steps"):
        load_config("simgan-fonts2mnist", ["options.r_steps=0"])
