"""The rendered font digits and the fonts2mnist task: a fixed function of the split, balanced, disjoint splits."""

from __future__ import annotations

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.data.fonts import FONTS, SPLIT_SIZES, glyph_bank, render_digits
from gankit.errors import GankitError


def test_every_font_renders_every_digit_centred_in_the_box():
    bank = glyph_bank()
    assert bank.shape == (len(FONTS), 10, 56, 56) and bank.min() >= 0 and bank.max() <= 1
    ink = bank > 0.5
    assert ink.flatten(2).any(dim=2).all(), "a digit of a font rendered empty"
    rows, cols = ink.any(dim=3), ink.any(dim=2)  # (fonts, 10, 84) each
    extent = torch.maximum(rows.sum(dim=2), cols.sum(dim=2))
    assert (extent >= 36).all() and (extent <= 41).all()  # the longer side fills the 40 px box
    assert not torch.equal(bank[0, 3], bank[8, 3])  # sans and serif threes differ


def test_rendering_is_a_function_of_the_seed_and_varies_within_it():
    a_images, a_labels, a_fonts = render_digits(200, 7)
    b_images, b_labels, b_fonts = render_digits(200, 7)
    assert torch.equal(a_images, b_images) and torch.equal(a_labels, b_labels) and torch.equal(a_fonts, b_fonts)
    c_images, _, _ = render_digits(200, 8)
    assert not torch.equal(a_images, c_images)
    assert a_images.shape == (200, 1, 28, 28) and a_images.dtype == torch.uint8
    assert torch.equal(torch.bincount(a_labels), torch.full((10,), 20)) and len(a_fonts.unique()) > 10
    same_glyph = (a_labels == a_labels[0]) & (a_fonts == a_fonts[0])
    ink = a_images.float().sum(dim=(1, 2, 3))
    assert ink.std() / ink.mean() > 0.2, "stroke and scale should vary the ink"
    if same_glyph.sum() > 1:  # one glyph drawn twice: the distortions differ
        first, second = same_glyph.nonzero().flatten()[:2].tolist()
        assert not torch.equal(a_images[first], a_images[second])


def test_fonts2mnist_splits_sides_and_labels():
    train = build_dataset(DataConfig(name="fonts2mnist", split="train"))
    test = build_dataset(DataConfig(name="fonts2mnist", split="test"))
    assert set(train.fields) == {"a", "y_a", "b", "y_b"} and train.fields["a"].shape == train.fields["b"].shape == (1, 32, 32)
    synthetic, held_out = train.a.images, test.a.images
    assert len(synthetic) == SPLIT_SIZES["train"] and len(held_out) == SPLIT_SIZES["test"] and len(test.b) == 500
    assert synthetic[:, :, :2].eq(0).all() and synthetic[..., -2:].eq(0).all()  # padded 28 -> 32 as MNIST is
    flat_train = {bytes(img.numpy().tobytes()) for img in synthetic}
    assert not any(bytes(img.numpy().tobytes()) in flat_train for img in held_out), "a test digit is also a training digit"
    again = build_dataset(DataConfig(name="fonts2mnist", split="train"))
    assert torch.equal(again.a.images, synthetic) and torch.equal(again.a.labels, train.a.labels)
    assert len(build_dataset(DataConfig(name="fonts", split="all"))) == 5500


def test_an_unknown_split_is_a_one_line_error():
    with pytest.raises(GankitError, match="splits train, test, val and all"):
        build_dataset(DataConfig(name="fonts", split="holdout"))
