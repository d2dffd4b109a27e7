"""Fields, named seeds, shards, stream positions, and bit-identity of the named streams with version 1's streams."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from torch import Tensor

from gankit.config import DataConfig
from gankit.data import build_dataset, indexed, labelled, paired, stream_seed, unpaired
from gankit.data.base import Field, Stream, check_shard, to_model_range
from gankit.data.images import ImageDataset
from gankit.errors import GankitError

# --------------------------------------------------------------------------- version 1's streams, frozen verbatim


class V1EpochStream:
    def __init__(self, dataset: ImageDataset, batch_size: int, seed: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(len(dataset), generator=self.generator)
        self.pos = 0

    def _take(self, n: int) -> Tensor:
        parts = []
        while n > 0:
            if self.pos >= len(self.perm):
                self.perm = torch.randperm(len(self.dataset), generator=self.generator)
                self.pos = 0
            part = self.perm[self.pos : self.pos + n]
            self.pos += len(part)
            n -= len(part)
            parts.append(part)
        return torch.cat(parts)

    def next(self) -> dict[str, Tensor]:
        idx = self._take(self.batch_size)
        batch = {"x": to_model_range(self.dataset.images[idx])}
        if self.dataset.labels is not None:
            batch["y"] = self.dataset.labels[idx]
        return batch


class V1ToyStream:
    def __init__(self, dist: Any, batch_size: int, seed: int) -> None:
        self.dist, self.batch_size = dist, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def next(self) -> dict[str, Tensor]:
        return {"x": self.dist.sample(self.batch_size, self.generator)}


def v1_stacked_draw(self: Any, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    idx = torch.randint(len(self.digits), (n, 3), generator=generator)
    images = self.digits.images[idx].squeeze(2)
    labels = self.digits.labels[idx]
    return images, labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]


def v1_photo_draw(self: Any, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    which = torch.randint(len(self.photos), (n,), generator=generator)
    out = torch.empty(n, *self.shape, dtype=torch.uint8)
    for i, k in enumerate(which.tolist()):
        photo = self.photos[k]
        top = int(torch.randint(photo.shape[1] - self.size + 1, (1,), generator=generator))
        left = int(torch.randint(photo.shape[2] - self.size + 1, (1,), generator=generator))
        crop = photo[:, top : top + self.size, left : left + self.size]
        out[i] = crop.flip(2) if bool(torch.randint(2, (1,), generator=generator)) else crop
    return out, which


class V1DrawStream:
    def __init__(self, source: Any, draw: Any, batch_size: int, seed: int) -> None:
        self.source, self.draw, self.batch_size = source, draw, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def next(self) -> dict[str, Tensor]:
        images, labels = self.draw(self.source, self.batch_size, self.generator)
        return {"x": to_model_range(images), "y": labels}


def v1_stream(source: Any, batch_size: int, seed: int) -> Any:
    if isinstance(source, ImageDataset):
        return V1EpochStream(source, batch_size, seed)
    if hasattr(source, "centres"):
        return V1ToyStream(source, batch_size, seed)
    return V1DrawStream(source, v1_photo_draw if hasattr(source, "photos") else v1_stacked_draw, batch_size, seed)


# --------------------------------------------------------------------------- helpers


def assert_same(a: dict[str, Tensor], b: dict[str, Tensor]) -> None:
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key


def roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.fixture(scope="module")
def sources() -> dict[str, Any]:
    return {
        "ring": build_dataset(DataConfig(name="ring")),
        "mnist5k": build_dataset(DataConfig(name="mnist5k")),
        "stacked-mnist": build_dataset(DataConfig(name="stacked-mnist")),
        "photos": build_dataset(DataConfig(name="photos", image_size=16)),
    }


def tiny(n: int = 12, labels: bool = True) -> ImageDataset:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return ImageDataset("tiny", images, torch.arange(n) % 3 if labels else None, 3 if labels else 0, ("p", "q", "r") if labels else ())


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("name", "batch"), [("ring", 64), ("mnist5k", 700), ("stacked-mnist", 48), ("photos", 5)])
def test_train_stream_equals_version_1_stream_batch_for_batch(sources, name, batch):
    source = sources[name]
    new, compat, old = source.streams(11)["train"], source.stream(batch, 11), v1_stream(source, batch, 11)
    for _ in range(8 if name == "mnist5k" else 4):  # 8 x 700 crosses mnist5k's 4,500-image epoch
        want = old.next()
        assert_same(new.next(batch), want)
        assert_same(compat.next(), want)


def test_version_1_stream_keeps_its_checkpoint_keys(sources):
    assert set(sources["mnist5k"].stream(4, 0).state_dict()) == {"generator", "perm", "pos"}
    assert set(sources["ring"].stream(4, 0).state_dict()) == {"generator"}
    old = sources["mnist5k"].stream(100, 3)
    for _ in range(50):
        old.next()
    new = sources["mnist5k"].streams(0)["train"]
    new.load_state_dict(roundtrip(old.state_dict()))
    assert_same(new.next(100), old.next())


def test_fields_of_plain_sources(sources):
    assert sources["ring"].fields == {"x": Field("points", (2,))}
    mnist = sources["mnist5k"].fields
    assert mnist["x"] == Field("image", (1, 28, 28)) and mnist["y"].kind == "label" and mnist["y"].classes == 10
    assert mnist["y"].names == tuple("0123456789")
    assert sources["stacked-mnist"].fields["y"].classes == 1000 and sources["photos"].fields["y"].names == ("china", "flower")
    assert ImageDataset("u", torch.zeros(2, 3, 4, 4, dtype=torch.uint8)).fields == {"x": Field("image", (3, 4, 4))}
    with pytest.raises(ValueError, match="kind"):
        Field("picture")


def test_stream_seed_train_is_the_seed_others_derived():
    assert stream_seed(5, "train") == 5
    a, b = stream_seed(5, "a"), stream_seed(5, "b")
    assert a != b and a != 5 and a == stream_seed(5, "a") and 0 <= a < 2**32
    assert stream_seed(6, "a") != a


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0), ("x", 1), (0,)])
def test_bad_shard_and_batch_size(sources, shard):
    with pytest.raises(GankitError, match="shard"):
        check_shard(shard)
    with pytest.raises(GankitError, match="batch size"):
        sources["ring"].streams(0)["train"].next(0)


def _shard_check(make, batch: int, steps: int, key: str) -> None:
    one = make((0, 1))
    ranks = [make((0, 2)), make((1, 2))]
    for _ in range(steps):
        whole = one.next(2 * batch)
        parts = [r.next(batch) for r in ranks]
        for k in whole:
            assert torch.equal(torch.cat([p[k] for p in parts]), whole[k]), k
        if key == "index":
            assert not set(parts[0]["index"].tolist()) & set(parts[1]["index"].tolist())
        else:
            assert not torch.equal(parts[0][key], parts[1][key])
    for r in ranks:  # the position does not depend on the rank
        assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(one.state_dict()[k])) for k, v in r.state_dict().items())


def test_shards_of_a_fixed_set_slice_one_permutation_across_epochs():
    data = indexed(tiny(12))
    _shard_check(lambda shard: data.streams(4, shard)["train"], 3, 7, "index")  # global 6 of 12: 3.5 epochs
    odd = tiny(7)
    one, r0, r1 = (odd.streams(9, s)["train"] for s in ((0, 1), (0, 2), (1, 2)))
    for _ in range(6):  # batches that straddle epochs
        assert torch.equal(one.next(4)["x"], torch.cat([r0.next(2)["x"], r1.next(2)["x"]]))


@pytest.mark.parametrize("name", ["ring", "stacked-mnist", "photos", "mnist5k"])
def test_shards_of_plain_sources(sources, name):
    _shard_check(lambda shard: sources[name].streams(2, shard)["train"], 4, 3, "x")


def test_shards_of_combined_streams():
    a, b = tiny(12), tiny(12, labels=False)
    _shard_check(lambda shard: paired(a, b, "p").streams(1, shard)["train"], 3, 5, "a")
    _shard_check(lambda shard: unpaired(a, tiny(9), "u").streams(1, shard)["b"], 3, 5, "b")
    _shard_check(lambda shard: labelled(tiny(30), 4, 0).streams(1, shard)["labelled"], 3, 5, "x")


def _stream_kinds(sources) -> dict[str, tuple[Any, str]]:
    digits = sources["mnist5k"]
    return {
        "permutation": (digits, "train"),
        "toy": (sources["ring"], "train"),
        "stacked": (sources["stacked-mnist"], "train"),
        "photos": (sources["photos"], "train"),
        "paired": (paired(tiny(12), tiny(12), "p"), "train"),
        "unpaired-a": (unpaired(tiny(12), sources["ring"], "u"), "a"),
        "unpaired-b": (unpaired(tiny(12), sources["ring"], "u"), "b"),
        "labelled": (labelled(tiny(30), 3, 1), "labelled"),
        "unlabelled": (labelled(tiny(30), 3, 1), "train"),
        "indexed": (indexed(tiny(12)), "train"),
    }


@pytest.mark.parametrize("kind", ["permutation", "toy", "stacked", "photos", "paired", "unpaired-a", "unpaired-b", "labelled", "unlabelled", "indexed"])
def test_state_round_trip_continues_the_same_batches(sources, kind):
    source, name = _stream_kinds(sources)[kind]
    stream: Stream = source.streams(3)[name]
    assert isinstance(stream, Stream)
    for _ in range(5):
        stream.next(7)
    state = roundtrip(stream.state_dict())
    want = [stream.next(7) for _ in range(6)]
    other = source.streams(999)[name]
    other.load_state_dict(state)
    for w in want:
        assert_same(other.next(7), w)


def test_loading_the_position_of_another_set_is_refused():
    state = tiny(12).streams(0)["train"].state_dict()
    with pytest.raises(GankitError, match="12 items"):
        tiny(7).streams(0)["train"].load_state_dict(state)
