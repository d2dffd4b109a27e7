"""Combinators: paired (same index), unpaired (independent), labelled (K per class, fixed by a seed), indexed."""

from __future__ import annotations

import pytest
import torch

from gankit.data import indexed, labelled, paired, stream_seed, unpaired
from gankit.data.base import Field, to_model_range
from gankit.data.images import ImageDataset
from gankit.errors import GankitError


def numbered(n: int, channels: int = 1, offset: int = 0, classes: int = 0) -> ImageDataset:
    """Image i is filled with the value offset + i, so a batch tells which images it holds."""
    images = (torch.arange(n, dtype=torch.uint8) + offset).view(n, 1, 1, 1).expand(n, channels, 3, 3).contiguous()
    labels = torch.arange(n) % classes if classes else None
    return ImageDataset(f"n{n}", images, labels, classes, tuple(f"c{i}" for i in range(classes)))


def which(images: torch.Tensor, offset: int = 0) -> list[int]:
    return [round((v + 1) * 127.5) - offset for v in images[:, 0, 0, 0].tolist()]


def test_paired_keeps_a_and_b_aligned_with_labels():
    source = paired(numbered(20, 1), numbered(20, 3, offset=100, classes=4), "pairs")
    assert source.fields == {"a": Field("image", (1, 3, 3)), "b": Field("image", (3, 3, 3)), "y": Field("label", (), 4, ("c0", "c1", "c2", "c3"))}
    assert set(source.streams(0)) == {"train"} and len(source) == 20 and source.num_classes == 4
    stream = source.streams(0)["train"]
    seen = []
    for _ in range(5):
        batch = stream.next(4)
        assert list(batch) == ["a", "b", "y"] and batch["b"].shape == (4, 3, 3, 3)
        idx = which(batch["a"])
        assert which(batch["b"], 100) == idx and batch["y"].tolist() == [i % 4 for i in idx]
        seen += idx
    assert sorted(seen) == list(range(20))  # one epoch, every pair once


def test_paired_without_labels_and_unequal_lengths():
    assert list(paired(numbered(5), numbered(5), "p").streams(0)["train"].next(2)) == ["a", "b"]
    with pytest.raises(GankitError, match=r"A has 5 images and B 6") as err:
        paired(numbered(5), numbered(6), "p")
    assert "\n" not in str(err.value)


def test_unpaired_streams_are_independent_permutations():
    a, b = numbered(12, classes=3), numbered(12, offset=50)
    source = unpaired(a, b, "u")
    assert set(source.fields) == {"a", "y_a", "b"} and source.fields["y_a"].classes == 3
    streams = source.streams(8)
    assert set(streams) == {"a", "b"}
    first_a, first_b = streams["a"].next(12), streams["b"].next(12)
    assert list(first_a) == ["a", "y_a"] and list(first_b) == ["b"]
    order_a, order_b = which(first_a["a"]), which(first_b["b"], 50)
    assert sorted(order_a) == sorted(order_b) == list(range(12)) and order_a != order_b
    assert first_a["y_a"].tolist() == [i % 3 for i in order_a]
    # each side is its own source's train stream, seeded by its name
    assert torch.equal(first_a["a"], a.streams(stream_seed(8, "a"))["train"].next(12)["x"])
    assert torch.equal(first_b["b"], b.streams(stream_seed(8, "b"))["train"].next(12)["x"])
    assert torch.equal(source.fixed("a"), a.images) and torch.equal(source.fixed("y_a"), a.labels)


def test_labelled_subset_is_balanced_fixed_by_its_seed_and_train_drops_labels():
    data = numbered(60, classes=3)
    semi = labelled(data, 4, seed=0)
    assert len(semi.subset) == 12 and torch.bincount(data.labels[semi.subset]).tolist() == [4, 4, 4]
    assert torch.equal(semi.subset, labelled(data, 4, seed=0).subset)
    assert not torch.equal(semi.subset, labelled(data, 4, seed=1).subset)
    streams = semi.streams(5)
    assert set(streams) == {"train", "labelled"}
    unlabelled = streams["train"].next(10)
    assert list(unlabelled) == ["x"]
    assert torch.equal(unlabelled["x"], data.streams(5)["train"].next(10)["x"])  # the source's own train stream
    picked = []
    for _ in range(3):  # 36 = 3 epochs of the 12 labelled images
        batch = streams["labelled"].next(12)
        idx = which(batch["x"])
        assert batch["y"].tolist() == [i % 3 for i in idx]
        picked.append(sorted(idx))
    assert picked[0] == picked[1] == picked[2] == semi.subset.tolist()


def test_labelled_errors():
    with pytest.raises(GankitError, match=r"class c1 .* has 2 images, fewer than the 3"):
        labelled(ImageDataset("few", torch.zeros(5, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 0, 0, 1, 1]), 2, ("c0", "c1")), 3, 0)
    with pytest.raises(GankitError, match="labelled images"):
        labelled(numbered(5), 1, 0)


def test_indexed_adds_each_images_position_and_keeps_the_batches():
    data = numbered(10, classes=2)
    source = indexed(data)
    assert source.fields["index"] == Field("index", (), classes=10) and source.fields["x"] == data.fields["x"]
    stream, plain = source.streams(3)["train"], data.streams(3)["train"]
    for _ in range(4):
        batch, want = stream.next(4), plain.next(4)
        assert batch["index"].dtype == torch.int64 and list(batch) == ["x", "y", "index"]
        assert torch.equal(batch["x"], want["x"]) and torch.equal(batch["x"], to_model_range(data.images[batch["index"]]))
    pairs = indexed(paired(numbered(6), numbered(6, offset=9), "p")).streams(0)["train"].next(3)
    assert which(pairs["b"], 9) == pairs["index"].tolist()
    with pytest.raises(GankitError, match="fixed set of items"):
        indexed(unpaired(numbered(3), numbered(3), "u"))
