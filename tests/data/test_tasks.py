"""The derived image-to-image tasks: edges2digits, gray2color, photo-crops, sr-digits, sr-photos, digits2mnist."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.data.images import resize_images
from gankit.data.tasks import HELD_OUT_PHOTOS, downscale, edge_map, luma
from gankit.errors import GankitError

needs_skimage = pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="scikit-image's photos are not installed")


def to_u8(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) * 127.5).round().to(torch.uint8)


def test_edge_map_is_the_binary_outline_just_outside_the_shape():
    square = torch.zeros(1, 1, 7, 7, dtype=torch.uint8)
    square[..., 2:5, 2:5] = 200
    edges = edge_map(square)
    assert edges.dtype == torch.uint8 and set(edges.unique().tolist()) == {0, 255}
    ring = torch.zeros(7, 7, dtype=torch.uint8)
    ring[1:6, 1:6] = 255
    ring[2:5, 2:5] = 0
    assert torch.equal(edges[0, 0], ring)
    faint = square // 2  # 100 < the threshold: no shape, no edges
    assert edge_map(faint).sum() == 0


def test_edges2digits_pairs_each_digit_with_its_edges():
    test = build_dataset(DataConfig(name="edges2digits", split="test"))
    assert len(test) == 500 and len(build_dataset(DataConfig(name="edges2digits"))) == 4500
    assert test.fields["a"].shape == test.fields["b"].shape == (1, 32, 32) and test.fields["y"].classes == 10
    digits = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32, resize="pad"))
    assert torch.equal(test.b.images, digits.images) and torch.equal(test.labels, digits.labels)
    batch = test.streams(0)["train"].next(16)
    assert list(batch) == ["a", "b", "y"]
    assert torch.equal(to_u8(batch["a"]), edge_map(to_u8(batch["b"])))
    big = build_dataset(DataConfig(name="edges2digits", split="test", image_size=64))
    assert big.fields["a"].shape == (1, 64, 64)


@needs_skimage
def test_gray2color_pairs_grey_with_colour_and_its_test_stream_is_deterministic():
    test = build_dataset(DataConfig(name="gray2color", split="test", image_size=32))
    assert test.fields["a"].shape == (1, 32, 32) and test.fields["b"].shape == (3, 32, 32)
    assert test.crops.class_names == tuple(n.split(".")[0] for n in HELD_OUT_PHOTOS)
    assert set(test.streams(0)) == {"train"}
    one, two = test.streams(5)["train"].next(6), test.streams(5)["train"].next(6)
    assert list(one) == ["a", "b"] and all(torch.equal(one[k], two[k]) for k in one)
    assert torch.equal(to_u8(one["a"]), luma(to_u8(one["b"])))
    assert not torch.equal(one["b"], test.streams(6)["train"].next(6)["b"])
    train = build_dataset(DataConfig(name="gray2color"))
    assert train.fields["b"].shape == (3, 64, 64)
    assert not set(train.crops.class_names) & set(test.crops.class_names)
    assert len(train.crops.photos) + 2 == len(build_dataset(DataConfig(name="gray2color", split="all", image_size=32)).crops.photos)
    with pytest.raises(GankitError, match="larger than the test photos"):
        build_dataset(DataConfig(name="gray2color", split="test", image_size=400))


@needs_skimage
def test_photo_crops_hold_out_the_test_photos_and_are_the_colour_side_of_gray2color():
    test = build_dataset(DataConfig(name="photo-crops", split="test", image_size=32))
    assert test.fields["x"].shape == (3, 32, 32) and test.class_names == tuple(n.split(".")[0] for n in HELD_OUT_PHOTOS)
    one, two = test.streams(5)["train"].next(6), test.streams(5)["train"].next(6)
    assert torch.equal(one["x"], two["x"]) and torch.equal(one["y"], two["y"])  # a recipe: same seed, same crops
    assert torch.equal(one["x"], build_dataset(DataConfig(name="gray2color", split="test", image_size=32)).streams(5)["train"].next(6)["b"])
    train = build_dataset(DataConfig(name="photo-crops"))
    assert train.fields["x"].shape == (3, 64, 64) and not set(train.class_names) & set(test.class_names)
    with pytest.raises(GankitError, match="larger than the test photos"):
        build_dataset(DataConfig(name="photo-crops", split="test", image_size=400))


def test_downscale_is_antialiased_bicubic_by_four_and_refuses_other_sides():
    flat = torch.full((2, 3, 16, 16), 77, dtype=torch.uint8)
    assert torch.equal(downscale(flat), torch.full((2, 3, 4, 4), 77, dtype=torch.uint8))
    stripes = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    stripes[..., ::2] = 255  # one-pixel stripes: a x4 antialiased kernel averages them to mid-grey
    assert (downscale(stripes).float() - 127.5).abs().max() < 20
    with pytest.raises(GankitError, match="divisible by 4"):
        downscale(torch.zeros(1, 1, 30, 30, dtype=torch.uint8))


def test_sr_digits_pair_each_digit_with_its_x4_downscale():
    test = build_dataset(DataConfig(name="sr-digits", split="test"))
    assert test.fields["a"].shape == (1, 8, 8) and test.fields["b"].shape == (1, 32, 32) and len(test) == 500
    batch = test.streams(0)["train"].next(5)
    assert torch.equal(to_u8(batch["a"]), downscale(to_u8(batch["b"])))
    train = build_dataset(DataConfig(name="sr-digits"))
    assert len(train) == 4500  # MNIST-5k's fixed split: the 500 test digits are not among them


@needs_skimage
def test_sr_photos_are_drawn_crops_and_their_downscales_from_held_out_photos():
    test = build_dataset(DataConfig(name="sr-photos", split="test"))
    assert test.fields["a"].shape == (3, 24, 24) and test.fields["b"].shape == (3, 96, 96)
    assert test.crops.class_names == tuple(n.split(".")[0] for n in HELD_OUT_PHOTOS)
    one, two = test.streams(3)["train"].next(4), test.streams(3)["train"].next(4)
    assert torch.equal(one["a"], two["a"]) and torch.equal(one["b"], two["b"])
    assert torch.equal(to_u8(one["a"]), downscale(to_u8(one["b"])))
    assert not set(build_dataset(DataConfig(name="sr-photos")).crops.class_names) & set(test.crops.class_names)
    with pytest.raises(GankitError, match="multiple of 4"):
        build_dataset(DataConfig(name="sr-photos", image_size=30))


def test_luma_is_itu_601():
    rgb = torch.tensor([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255], dtype=torch.uint8).view(4, 3, 1, 1)
    assert luma(rgb).flatten().tolist() == [76, 150, 29, 255]


def test_gray2color_without_scikit_image_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "skimage" else real(name, *a))
    with pytest.raises(GankitError, match=r"pip install --no-deps scikit-image"):
        build_dataset(DataConfig(name="gray2color"))


def test_digits2mnist_is_unpaired_digits_and_mnist_at_32px():
    source = build_dataset(DataConfig(name="digits2mnist", split="test"))
    assert source.fields["a"].shape == source.fields["b"].shape == (1, 32, 32)
    assert len(source.a) == len(build_dataset(DataConfig(name="digits", split="test"))) == 179 and len(source.b) == 500
    assert source.fields["y_a"].classes == source.fields["y_b"].classes == 10
    streams = source.streams(0)
    assert set(streams) == {"a", "b"}
    a, b = streams["a"].next(8), streams["b"].next(8)
    assert list(a) == ["a", "y_a"] and list(b) == ["b", "y_b"]
    small = build_dataset(DataConfig(name="digits", split="test"))
    assert torch.equal(source.a.images, resize_images(small.images, 32, "bilinear")) and torch.equal(source.a.labels, small.labels)
    mnist = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32, resize="pad"))
    assert torch.equal(source.b.images, mnist.images)
    assert len(build_dataset(DataConfig(name="digits2mnist")).b) == 4500
