"""digit-domains: MNIST-5k digits each in one of four domains made by fixed edits (erosion, dilation, a shear)."""

from __future__ import annotations

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_checked, build_dataset
from gankit.data.domains import DOMAINS, domain_assignment, domain_digits, edit_domain, slant, thick, thin
from gankit.errors import GankitError


def stroke(width: int) -> torch.Tensor:
    """A vertical bar of ``width`` pixels at 200 on a 1 x 1 x 9 x 9 black image."""
    image = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    image[..., 1:8, 4 - width // 2 : 4 - width // 2 + width] = 200
    return image


def test_thin_and_thick_take_and_add_half_a_pixel_on_each_side():
    bar = stroke(3)  # columns 3, 4, 5 at 200
    eroded, dilated = thin(bar), thick(bar)
    assert eroded.dtype == dilated.dtype == torch.uint8
    assert eroded[0, 0, 4].tolist() == [0, 0, 0, 100, 200, 100, 0, 0, 0]  # the stroke one pixel narrower in all
    assert dilated[0, 0, 4].tolist() == [0, 0, 100, 200, 200, 200, 100, 0, 0]  # one pixel wider
    assert thin(stroke(2))[0, 0, 4].tolist() == [0, 0, 0, 100, 100, 0, 0, 0, 0]
    assert int(eroded.sum()) < int(bar.sum()) < int(dilated.sum())
    assert int(thin(stroke(1)).sum()) > 0  # a stroke one pixel wide fades but stays
    square = thin(torch.full((1, 1, 4, 4), 90, dtype=torch.uint8))[0, 0]
    assert torch.equal(square[1:3, 1:3], torch.full((2, 2), 90, dtype=torch.uint8)) and square[0, 0] < square[0, 1] < 90  # border: background


def test_slant_is_a_forward_shear_about_the_centre():
    image = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    image[..., 4:28, 15:17] = 255  # a vertical bar through the centre
    leaning = slant(image, 0.3)
    cols = [leaning[0, 0, row].float() for row in (6, 25)]
    centre = [float((c * torch.arange(32)).sum() / c.sum()) for c in cols]
    # the output at (x, y) reads the input at (x + 0.3 y): the bar's centre moves by -0.3 y (y in [-1, 1], downwards)
    for row, col in zip((6, 25), centre, strict=True):
        y = (2 * row + 1) / 32 - 1
        assert col == pytest.approx(15.5 - 0.3 * y * 16, abs=0.3)
    assert centre[0] > 15.5 > centre[1]  # the top leans right, the bottom left: italics
    assert abs(int(leaning.sum()) - int(image.sum())) < 0.02 * int(image.sum())  # a shear keeps the ink
    assert torch.equal(slant(image, 0.0), image)


def test_edit_domain_names_each_edit_and_refuses_others():
    images = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32, resize="pad")).images[:20]
    assert torch.equal(edit_domain(images, "original"), images)
    ink = {name: edit_domain(images, name).float().sum(dim=(1, 2, 3)) for name in DOMAINS}
    assert (ink["thin"] < ink["original"]).all() and (ink["thick"] > ink["original"]).all()
    assert not torch.equal(edit_domain(images, "slanted"), images)
    with pytest.raises(GankitError, match=r"unknown digit domain 'bold'.*original, thin, thick, slanted"):
        edit_domain(images, "bold")
    with pytest.raises(GankitError, match="uint8 images"):
        thin(images.float())


def test_assignment_is_seeded_balanced_and_puts_each_image_in_one_domain():
    digits = torch.arange(103) % 10
    one = domain_assignment(digits)
    assert one.shape == (103,) and set(one.tolist()) == {0, 1, 2, 3}
    assert torch.equal(one, domain_assignment(digits))
    assert not torch.equal(one, domain_assignment(digits, seed=1))
    counts = torch.bincount(one, minlength=4)
    assert int(counts.max() - counts.min()) <= 1


def test_digit_domains_each_image_is_its_digit_in_its_one_domain():
    data = build_dataset(DataConfig(name="digit-domains", split="test"))
    assert len(data) == 500
    assert data.fields["x"].shape == (1, 32, 32)
    assert data.fields["domain"].classes == 4 and data.fields["domain"].names == DOMAINS and data.fields["y"].classes == 10
    assert torch.bincount(data.domains).tolist() == [125] * 4
    original = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32, resize="pad"))
    assert torch.equal(data.digits, original.labels)
    for k, name in enumerate(DOMAINS):  # each image is the edit of its own domain, of no other
        chosen = data.domains == k
        assert torch.equal(data.images[chosen], edit_domain(original.images[chosen], name))
        other = DOMAINS[(k + 1) % 4]
        assert not torch.equal(data.images[chosen], edit_domain(original.images[chosen], other))
    again = build_dataset(DataConfig(name="digit-domains", split="test"))
    assert torch.equal(again.images, data.images) and torch.equal(again.domains, data.domains)
    batch = data.streams(0)["train"].next(8)
    assert set(batch) == {"x", "y", "domain"} and batch["x"].dtype == torch.float32 and batch["domain"].dtype == torch.int64
    images, domains, digits = domain_digits("test")
    assert torch.equal(images, data.images) and torch.equal(domains, data.domains) and torch.equal(digits, data.digits)
    assert build_checked(DataConfig(name="digit-domains", split="test"))[1] is None


def test_the_test_split_is_disjoint_from_training():
    train = domain_digits("train")
    test = domain_digits("test")
    assert len(train[0]) == 4500 and len(test[0]) == 500
    assert torch.bincount(train[1]).tolist() == [1125] * 4
    original = {bytes(x.numpy()) for x in build_dataset(DataConfig(name="mnist5k", split="train", image_size=32, resize="pad")).images}
    held_out = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32, resize="pad")).images
    assert not any(bytes(x.numpy()) in original for x in held_out)
    seen = {bytes(x.numpy()) for x in train[0]}
    assert sum(bytes(x.numpy()) in seen for x in test[0]) == 0


def test_a_pair_of_domains_holds_the_digits_of_each_side_unpaired():
    from gankit.data.domains import PAIRS, domain_pair

    assert len(PAIRS) == 6 and len(set(PAIRS)) == 6 and all(DOMAINS.index(a) < DOMAINS.index(b) for a, b in PAIRS)
    whole = build_dataset(DataConfig(name="digit-domains", split="test"))
    data = build_dataset(DataConfig(name="domains-thin2slanted", split="test"))
    assert set(data.fields) == {"a", "y_a", "b", "y_b"} and data.fields["y_a"].classes == 10
    for side, name in ((data.a, "thin"), (data.b, "slanted")):  # exactly digit-domains' images of that domain, in order
        chosen = whole.domains == DOMAINS.index(name)
        assert torch.equal(side.images, whole.images[chosen]) and torch.equal(side.labels, whole.digits[chosen])
    assert not {bytes(x.numpy()) for x in data.a.images} & {bytes(x.numpy()) for x in data.b.images}  # no digit on both sides
    batches = data.streams(0)
    assert set(batches) == {"a", "b"} and set(batches["a"].next(4)) == {"a", "y_a"}
    assert build_checked(DataConfig(name="domains-original2thick", split="test"))[1] is None
    with pytest.raises(GankitError, match="unknown digit domain 'bold'"):
        domain_pair("bold", "thin")
