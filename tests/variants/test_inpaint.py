"""The context encoder: L2 on the hole plus an adversarial loss on the filled-in image; central and random holes."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.train.loop import build_state
from gankit.variants.inpaint import box_masks, central_box, region_squared_error
from tests.conftest import TINY
from tests.variants.steps import run_step, step_context, tiny_state

SMALL = ["model.g.width=8", "model.d.width=8"]


def test_central_box_and_random_masks():
    assert central_box(28, 28, 12) == (8, 8, 12, 12) and central_box(64, 48, 32) == (16, 8, 32, 32)
    centre = box_masks(3, 28, 28, 12, None, torch.device("cpu"))
    assert torch.equal(centre[0], centre[2]) and centre[0, 0, 8:20, 8:20].eq(1).all() and centre.sum() == 3 * 144
    rng = torch.Generator().manual_seed(0)
    masks = box_masks(64, 10, 12, 4, rng, torch.device("cpu"))
    assert masks.shape == (64, 1, 10, 12) and (masks.sum(dim=(1, 2, 3)) == 16).all()  # the whole square inside every image
    assert len({tuple(m.nonzero()[0].tolist()) for m in masks}) > 10  # positions vary
    again = box_masks(64, 10, 12, 4, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(masks, again)


def test_region_squared_error_is_the_mean_over_the_hole_only():
    target = torch.zeros(2, 3, 4, 4)
    output = torch.full((2, 3, 4, 4), 5.0)
    masks = torch.zeros(2, 1, 4, 4)
    masks[0, :, :2, :2] = 1.0
    masks[1, :, 1:, 1:] = 1.0
    output[0, :, :2, :2] = 2.0  # in the hole: error 4; elsewhere 25, which must not count
    output[1, :, 1:, 1:] = 1.0
    torch.testing.assert_close(region_squared_error(output, target, masks), torch.tensor([4.0, 1.0]))


def test_g_fills_the_hole_keeps_the_rest_and_its_loss_is_the_joint_loss():
    state = tiny_state("inpaint-mnist", SMALL)
    v = state.variant
    step = next(s for s in v.steps if s.name == "g")
    ctx = step_context(state, step)
    torch.manual_seed(1)  # the U-Net's dropout, replayed below
    losses = step.objective(ctx)
    x, filled = ctx.batch["x"], ctx.scratch["filled"]
    hole = box_masks(len(x), 28, 28, 12, None, x.device)
    assert torch.equal(filled * (1 - hole), x * (1 - hole)), "known pixels are kept"
    assert not torch.equal(filled * hole, x * hole)
    expected = ((filled - x) ** 2 * hole).sum(dim=(1, 2, 3)) / 144
    torch.testing.assert_close(losses["g_l2"], 0.999 * expected)
    with torch.no_grad():
        d_out = v.players["d"](filled)["logits"].reshape(-1)
    torch.testing.assert_close(losses["g_adv"], 0.001 * torch.nn.functional.softplus(-d_out), atol=1e-6, rtol=1e-4)
    # G saw the digit with the hole at mid-grey and the mask as its second channel.
    seen = torch.cat([x * (1 - hole), hole], dim=1)
    torch.manual_seed(1)
    with torch.no_grad():
        torch.testing.assert_close(filled * hole, v.players["g"](seen) * hole, atol=1e-6, rtol=1e-5)


def test_d_step_trains_d_on_real_against_filled_and_the_g_step_only_g():
    state = tiny_state("inpaint-mnist", SMALL)
    losses, changed = run_step(state, "g")
    assert changed == {"g"} and set(losses) == {"g_l2", "g_adv"}
    v = state.variant
    step = next(s for s in v.steps if s.name == "d")
    assert step.streams == ()  # it scores the G step's batch


def test_random_holes_move_and_translate_fills_the_central_one():
    state = tiny_state("inpaint-mnist", [*SMALL, "options.mask=random", "options.hole=10"])
    v = state.variant
    step = next(s for s in v.steps if s.name == "g")
    ctx = step_context(state, step)
    step.objective(ctx)
    changed = (ctx.scratch["filled"] != ctx.batch["x"]).any(dim=1)  # (B, H, W): where G's fill replaced pixels
    assert changed.any()
    boxes = {tuple(c.nonzero().min(dim=0).values.tolist()) for c in changed if c.any()}
    assert len(boxes) > 1, "each image gets its own hole"
    x = ctx.batch["x"][:4]
    assert v.region(28, 28) == (9, 9, 10, 10)
    with torch.no_grad():
        out = v.translate(v.players, x, "inpaint")
    keep = torch.ones_like(x, dtype=torch.bool)
    keep[..., 9:19, 9:19] = False
    assert torch.equal(out[keep], x[keep])


def test_l2_only_has_no_discriminator():
    state = tiny_state("inpaint-l2-mnist", SMALL)
    v = state.variant
    assert set(v.players) == {"g"} and [s.name for s in v.steps] == ["g"] and not v.probes
    losses, changed = run_step(state, "g")
    assert set(losses) == {"g_l2"} and changed == {"g"}


def test_a_hole_that_does_not_fit_is_a_user_error():
    with pytest.raises(GankitError, match=r"options.hole=28 does not fit in the 28 x 28 images.*at most 27"):
        build_state(load_config("inpaint-mnist", [*TINY, *SMALL, "options.hole=28"]))
    with pytest.raises(GankitError, match=r"options\.mask"):
        load_config("inpaint-mnist", ["options.mask=ring"])
    with pytest.raises(GankitError, match="fills holes in images"):
        build_state(load_config("inpaint-mnist", [*TINY, *SMALL, "data.name=ring"]))
