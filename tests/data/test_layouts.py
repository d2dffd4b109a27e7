"""Users' layouts: pix2pix's aligned A|B files (train/, val/, test/) and CycleGAN's trainA/ trainB/ testA/ testB/."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.errors import GankitError


def write_pair(path, left: int, right: int, size=(8, 8), mode="RGB") -> None:
    """An A|B file: A filled with ``left``, B with ``right``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    array = np.zeros((h, 2 * w, 3), dtype=np.uint8)
    array[:, :w], array[:, w:] = left, right
    Image.fromarray(array).convert(mode).save(path)


def write(path, value: int, size=(8, 8), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, (value, value, value) if mode == "RGB" else value).save(path)


def aligned(root, **overrides):
    return build_dataset(DataConfig(name="aligned", root=str(root), **overrides))


def unaligned(root, **overrides):
    return build_dataset(DataConfig(name="unaligned", root=str(root), **overrides))


def test_aligned_splits_each_file_into_a_and_b(tmp_path):
    for i in range(4):
        write_pair(tmp_path / "train" / ("sub" if i == 3 else "") / f"{i}.png", 10 * i, 100 + 10 * i)
    write_pair(tmp_path / "test" / "t.png", 1, 2)
    write_pair(tmp_path / "val" / "v.jpg", 50, 200)
    source = aligned(tmp_path)
    assert len(source) == 4 and source.fields["a"].shape == source.fields["b"].shape == (3, 8, 8)
    assert "y" not in source.fields and set(source.streams(0)) == {"train"}
    assert source.a.images[:, 0, 0, 0].tolist() == [0, 10, 20, 30] and source.b.images[:, 0, 0, 0].tolist() == [100, 110, 120, 130]
    batch = source.streams(0)["train"].next(4)
    assert list(batch) == ["a", "b"]
    torch.testing.assert_close((batch["b"] - batch["a"])[:, 0, 0, 0], torch.full((4,), 100 / 127.5))
    assert len(aligned(tmp_path, split="test")) == 1 and len(aligned(tmp_path, split="val")) == 1
    assert len(aligned(tmp_path, split="all")) == 6
    small = aligned(tmp_path, image_size=4)
    assert small.fields["a"].shape == (3, 4, 4) and small.b.images[2].float().mean() == pytest.approx(120, abs=1)


def test_aligned_grey_files_and_channels(tmp_path):
    write_pair(tmp_path / "train" / "a.png", 30, 90, mode="L")
    assert aligned(tmp_path).fields["a"].shape == (1, 8, 8)
    assert aligned(tmp_path, channels=3).fields["b"].shape == (3, 8, 8)


@pytest.mark.parametrize(
    ("setup", "overrides", "needle"),
    [
        (lambda p: (p / "test").mkdir(), {}, r"has no train/ folder .*found: test/"),
        (lambda p: (p / "train").mkdir(), {}, "holds no images"),
        (lambda p: write(p / "train" / "a.png", 9, size=(9, 8)), {}, r"9 x 8 pixels.*twice its height"),
        (lambda p: write(p / "train" / "a.png", 9, size=(8, 8)), {}, "twice its height"),
        (lambda p: (write_pair(p / "train" / "a.png", 1, 2), write_pair(p / "train" / "b.png", 1, 2, size=(6, 6))), {}, r"different sizes.*data\.image_size"),
        (lambda p: (p / "train").mkdir() or (p / "train" / "x.png").write_bytes(b"junk"), {}, "cannot read image"),
        (lambda p: None, {"root": None}, r"needs data\.root"),
    ],
)
def test_aligned_errors(tmp_path, setup, overrides, needle):
    setup(tmp_path)
    with pytest.raises(GankitError, match=needle) as err:
        build_dataset(DataConfig(name="aligned", **{"root": str(tmp_path), **overrides}))
    assert "\n" not in str(err.value)


def test_aligned_mixed_sizes_are_fine_with_an_image_size(tmp_path):
    write_pair(tmp_path / "train" / "a.png", 1, 2)
    write_pair(tmp_path / "train" / "b.png", 3, 4, size=(6, 6))
    assert aligned(tmp_path, image_size=6).fields["b"].shape == (3, 6, 6)


def test_unaligned_reads_two_independent_sides(tmp_path):
    for i in range(3):
        write(tmp_path / "trainA" / f"{i}.png", i)
    for i in range(5):
        write(tmp_path / "trainB" / "deep" / f"{i}.jpg", 100, mode="L")
    write(tmp_path / "testA" / "x.png", 7)
    write(tmp_path / "testB" / "y.png", 8)
    source = unaligned(tmp_path)
    assert len(source.a) == 3 and len(source.b) == 5
    assert source.fields["a"].shape == (3, 8, 8) and source.fields["b"].shape == (1, 8, 8)
    streams = source.streams(1)
    assert set(streams) == {"a", "b"}
    assert list(streams["a"].next(2)) == ["a"] and list(streams["b"].next(7)) == ["b"]
    test = unaligned(tmp_path, split="test")
    assert len(test.a) == len(test.b) == 1
    assert len(unaligned(tmp_path, split="all", channels=3).b) == 6


def test_unaligned_sizes_must_agree_unless_resized(tmp_path):
    write(tmp_path / "trainA" / "a.png", 1, size=(8, 8))
    write(tmp_path / "trainB" / "b.png", 1, size=(12, 10))
    with pytest.raises(GankitError, match=r"side A holds 8 x 8 images and side B 12 x 10.*data\.image_size"):
        unaligned(tmp_path)
    assert unaligned(tmp_path, image_size=6).fields["b"].shape == (3, 6, 6)


@pytest.mark.parametrize(
    ("setup", "split", "needle"),
    [
        (lambda p: write(p / "trainA" / "a.png", 1), "train", r"trainB missing under .*needs trainA/ and trainB/"),
        (lambda p: write(p / "trainB" / "a.png", 1), "train", r"trainA missing under .*found: trainB/"),
        (lambda p: (write(p / "trainA" / "a.png", 1), write(p / "trainB" / "b.png", 1)), "test", r"testA missing .*testA/ and testB/"),
        (lambda p: (write(p / "trainA" / "a.png", 1), (p / "trainB").mkdir()), "train", r"trainB holds no images"),
        (lambda p: None, "val", "not a split of the unaligned layout"),
    ],
)
def test_unaligned_errors(tmp_path, setup, split, needle):
    setup(tmp_path)
    with pytest.raises(GankitError, match=needle) as err:
        unaligned(tmp_path, split=split)
    assert "\n" not in str(err.value)


def test_layout_root_must_be_a_directory(tmp_path):
    with pytest.raises(GankitError, match="not a directory"):
        unaligned(tmp_path / "missing")


def test_aligned_workers_give_the_same_pairs(tmp_path):
    for i in range(6):
        write_pair(tmp_path / "train" / f"{i}.png", 10 * i, 100 + 10 * i)
    serial, threaded = aligned(tmp_path), aligned(tmp_path, workers=2)
    assert torch.equal(serial.a.images, threaded.a.images) and torch.equal(serial.b.images, threaded.b.images)
