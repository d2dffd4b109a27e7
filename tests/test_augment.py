"""DiffAugment transforms: shapes, fill value, exact shifts, gradients flow, determinism from the generator."""

from __future__ import annotations

import pytest
import torch

from gankit.augment import cutout, make_augment, translation
from gankit.config import load_config
from gankit.errors import GankitError


def test_translation_shifts_whole_pixels_and_fills_with_background():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = translation(x, torch.Generator().manual_seed(0), ratio=0.25)
    for img in out[:, 0]:
        kept = img[img != -1]
        assert kept.numel() >= 9  # at most one row and one column shifted out
        assert set(kept.tolist()) <= set(range(16))
    assert not torch.equal(out[0], out[1]) or not torch.equal(out[1], out[2])


def _shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    h, w = img.shape
    out = torch.full_like(img, -1.0)
    out[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = img[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    return out


def test_translation_is_an_exact_integer_shift():
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    out = translation(x, torch.Generator().manual_seed(1), ratio=0.25)
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    for img, res in zip(x[:, 0], out[:, 0], strict=True):
        assert any(torch.equal(_shifted(img, dy, dx), res) for dy, dx in shifts)


def test_cutout_blanks_a_square_of_the_given_size():
    x = torch.ones(8, 3, 8, 8)
    out = cutout(x, torch.Generator().manual_seed(0), ratio=0.5)
    assert ((out == -1).reshape(8, -1).sum(1) == 3 * 16).all()


def test_gradients_flow_and_generator_makes_it_reproducible():
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    aug = make_augment("translation,cutout")
    y = aug(x, torch.Generator().manual_seed(5))
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    assert torch.equal(aug(x, torch.Generator().manual_seed(5)), y)
    assert torch.equal(make_augment("")(x, torch.Generator()), x)


def test_unknown_augment_is_refused():
    with pytest.raises(GankitError, match=r"train\.augment"):
        load_config("dcgan-mnist", ["train.augment=translation,rotate"])


def test_augment_on_point_data_is_refused_before_training():
    from gankit.train.loop import build_state

    with pytest.raises(GankitError, match="transforms images"):
        build_state(load_config("gan-ring", ["train.augment=translation", "train.device=cpu"]))


def _first_input(preset: str, step: str, player: str, overrides: list[str]) -> torch.Tensor:
    """The first batch network ``player`` reads in one run of ``preset``'s step ``step``."""
    from tests.variants.steps import run_step, tiny_state

    state = tiny_state(preset, overrides)
    seen: list[torch.Tensor] = []
    handle = state.variant.players[player].register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    run_step(state, step)
    handle.remove()
    return seen[0]


# one image preset per variant that declares train.augment (register(augment=True)), the step that reads the data and
# the network of that step reading it; catgan twice, unsupervised and with a labelled stream
AUGMENTING = {"gan": ("dcgan-mnist", "d", "d"), "cgan": ("cgan-mnist", "d", "d"), "projection": ("projection-mnist", "d", "d"),
              "acgan": ("acgan-mnist", "d", "d"), "infogan": ("infogan-mnist", "d", "d"), "unrolled": ("unrolled-mnist", "d", "d"),
              "catgan": ("catgan-mnist", "d", "d"), "classifier": ("supervised-mnist", "c", "c"), "bigan": ("bigan-mnist", "d", "dx")}  # fmt: skip


def test_every_variant_declaring_augment_is_checked_below():
    import gankit.variants  # noqa: F401  (registers the variants and their layouts)
    from gankit.config import LAYOUTS

    assert set(AUGMENTING) == {name for name, layout in LAYOUTS.items() if layout.augment}


@pytest.mark.parametrize(("preset", "step", "player"), [*AUGMENTING.values(), ("catgan-semi-mnist", "d", "d")])
def test_augmenting_variants_feed_their_network_shifted_data(preset: str, step: str, player: str):
    plain = _first_input(preset, step, player, [])
    shifted = _first_input(preset, step, player, ["train.augment=translation"])
    h = plain.shape[-1]
    r = max(1, round(h * 0.125))
    shifts = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    assert not torch.equal(plain, shifted)
    for img, res in zip(plain[:, 0], shifted[:, 0], strict=True):
        assert any(torch.equal(_shifted(img, dy, dx), res) for dy, dx in shifts)


@pytest.mark.parametrize("preset", ["vae-mnist", "glo-mnist", "aae-mnist"])
def test_augment_is_refused_for_a_variant_that_does_not_augment(preset: str):
    with pytest.raises(GankitError, match=r"train\.augment='translation' would have no effect: variant '\w+' does not augment"):
        load_config(preset, ["train.augment=translation"])
