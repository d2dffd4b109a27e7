"""Named fields and named, seeded, checkpointable, shardable streams (DESIGN.md, "Data").

A *source* declares ``fields`` (name -> :class:`Field`) and gives ``streams(seed, shard)`` (name -> stream).
Internally a source is one of two kinds:

- a **fixed set** (:class:`FixedSource`): ``len(source)`` items whose raw columns ``columns(idx)`` are uint8
  images, int64 labels or float points; its streams walk a shuffled permutation, epoch after epoch;
- a **drawn** source (:class:`DrawnSource`): ``draw_columns(n, generator, keep)`` makes ``n`` fresh items (keeping
  the slice ``keep``); its streams are a random generator's successive draws.

Streams turn raw uint8 columns into float images in [-1, 1] (the range of a tanh generator); every other column
is passed on as it is. A stream's whole position is its ``state_dict()`` (tensors and numbers only), which does
not depend on the shard: every rank advances the same permutation or generator by the global batch
``world * batch_size`` and keeps its slice ``[rank * b, (rank + 1) * b)``, so N processes together see exactly
the batches one process sees with an N times larger batch.
"""

from __future__ import annotations

import abc
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError

FIELD_KINDS = ("image", "points", "label", "index", "frames")
Shard = tuple[int, int]


@dataclass(frozen=True)
class Field:
    """One named part of a source's batches: ``image`` (shape C, H, W; batches float in [-1, 1]), ``points``
    (shape dim,), ``label`` (int64, ``classes`` classes called ``names``), ``index`` (int64 position of an item
    in its set; ``classes`` = the set's size) or ``frames`` (T, C, H, W, for sequence models)."""

    kind: str
    shape: tuple[int, ...] = ()
    classes: int = 0
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"Field kind must be one of {', '.join(FIELD_KINDS)} (got {self.kind!r})")


@runtime_checkable
class Stream(Protocol):
    """An endless, seeded sequence of batches whose position can be saved and restored exactly."""

    def next(self, batch_size: int) -> dict[str, Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def to_model_range(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_unit_range(images: Tensor) -> Tensor:
    """float [-1, 1] -> float [0, 1], clamped."""
    return images.add(1.0).div_(2.0).clamp_(0.0, 1.0)


def blank_region(x: Tensor, box: tuple[int, int, int, int], fill: float = 0.0) -> Tensor:
    """A copy of images ``x`` (..., H, W) with the box (top, left, height, width) set to ``fill`` (0: mid-grey in the
    model's [-1, 1]; 0.5 in [0, 1])."""
    top, left, height, width = box
    out = x.clone()
    out[..., top : top + height, left : left + width] = fill
    return out


def model_batch(columns: dict[str, Tensor]) -> dict[str, Tensor]:
    """Raw columns -> a batch: uint8 images become float in [-1, 1]; labels, indices and points stay as they are."""
    return {key: to_model_range(value) if value.dtype == torch.uint8 else value for key, value in columns.items()}


def stream_seed(seed: int, name: str) -> int:
    """The seed of stream ``name`` of a source seeded with ``seed``: ``train`` uses ``seed`` itself (so a plain
    source's one stream is seeded as before streams had names); any other name gets 32 bits of
    ``SeedSequence(seed, spawn_key=(crc32(name),))``, the same on every machine and independent of which other
    streams the source has."""
    if name == "train":
        return seed
    sequence = np.random.SeedSequence(seed % 2**64, spawn_key=(zlib.crc32(name.encode()),))
    return int(sequence.generate_state(1, np.uint32)[0])


def check_shard(shard: Shard) -> Shard:
    """(rank, world) with world >= 1 and 0 <= rank < world."""
    try:
        rank, world = (int(v) for v in shard)
    except (TypeError, ValueError):
        raise GankitError(f"a stream's shard is (rank, world), two integers (got {shard!r})") from None
    if world < 1 or not 0 <= rank < world:
        raise GankitError(f"a stream's shard (rank, world) needs world >= 1 and 0 <= rank < world (got {shard!r})")
    return rank, world


def _check_batch(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise GankitError(f"a stream's batch size must be a positive integer (got {batch_size!r})")
    return batch_size


class PermutationStream:
    """Batches without replacement from a set of ``size`` items: a shuffled permutation is consumed in order,
    and a new one drawn from the same generator each epoch (a batch may span two epochs). ``gather(idx)`` gives
    the raw columns of the items ``idx``. Position: the generator's state, the current permutation and the index
    into it (the keys EpochStream checkpoints always had)."""

    def __init__(self, size: int, seed: int, gather: Callable[[Tensor], dict[str, Tensor]], shard: Shard = (0, 1)) -> None:
        if size < 1:
            raise GankitError("cannot stream batches from an empty set of items")
        self.size = size
        self.gather = gather
        self.rank, self.world = check_shard(shard)
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(size, generator=self.generator)
        self.pos = 0

    def _take(self, n: int) -> Tensor:
        parts = []
        while n > 0:
            if self.pos >= len(self.perm):
                self.perm = torch.randperm(self.size, generator=self.generator)
                self.pos = 0
            part = self.perm[self.pos : self.pos + n]
            self.pos += len(part)
            n -= len(part)
            parts.append(part)
        return torch.cat(parts)

    def next(self, batch_size: int) -> dict[str, Tensor]:
        b = _check_batch(batch_size)
        idx = self._take(self.world * b)
        if self.world > 1:
            idx = idx[self.rank * b : (self.rank + 1) * b]
        return model_batch(self.gather(idx))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["perm"]) != self.size:
            raise GankitError(f"this stream's saved position is for a set of {len(state['perm'])} items, but the data now has {self.size}; use the same data")
        self.generator.set_state(state["generator"])
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])


class GeneratorStream:
    """Endless batches drawn afresh: ``draw(n, generator, keep)`` makes ``n`` items from the generator and returns
    the raw columns of the slice ``keep`` of them. Position: the generator's state."""

    def __init__(self, seed: int, draw: Callable[[int, torch.Generator, slice], dict[str, Tensor]], shard: Shard = (0, 1)) -> None:
        self.draw = draw
        self.rank, self.world = check_shard(shard)
        self.generator = torch.Generator().manual_seed(seed)

    def next(self, batch_size: int) -> dict[str, Tensor]:
        b = _check_batch(batch_size)
        return model_batch(self.draw(self.world * b, self.generator, slice(self.rank * b, (self.rank + 1) * b)))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class MappedStream:
    """Another stream's batches with keys renamed (``rename``: old -> new) and some dropped; same position."""

    def __init__(self, inner: Stream, rename: dict[str, str] | None = None, drop: Iterable[str] = ()) -> None:
        self.inner = inner
        self.rename = dict(rename or {})
        self.drop = frozenset(drop)

    def next(self, batch_size: int) -> dict[str, Tensor]:
        return {self.rename.get(k, k): v for k, v in self.inner.next(batch_size).items() if k not in self.drop}

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)


class FixedBatch:
    """Version 1's stream API: ``next()`` without arguments gives batches of one fixed size."""

    def __init__(self, stream: Stream, batch_size: int) -> None:
        self.stream = stream
        self.batch_size = _check_batch(batch_size)

    def next(self) -> dict[str, Tensor]:
        return self.stream.next(self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stream.load_state_dict(state)


def default_field(source: Any) -> str:
    """The field real data means when none is named: ``x``; else ``b`` (a translation's target); else the first
    image or points field."""
    fields = source.fields
    for name in ("x", "b"):
        if name in fields:
            return name
    return next(name for name, f in fields.items() if f.kind in ("image", "points"))


def check_field(source: Any, field: str | None) -> str:
    """``field`` (or the source's default field) after checking that the source has it."""
    name = default_field(source) if field is None else field
    if name not in source.fields:
        raise GankitError(f"'{source.name}' has no field '{name}'; it has: {', '.join(source.fields)}")
    return name


class FixedSource(abc.ABC):
    """A finite set: subclasses define ``name``, ``fields``, ``__len__`` and ``columns(idx)`` (raw columns of the
    items ``idx``, or the stored tensors when ``idx`` is None). One stream, ``train``."""

    name: str

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of items."""

    @property
    @abc.abstractmethod
    def fields(self) -> dict[str, Field]:
        """Field name -> :class:`Field`."""

    @abc.abstractmethod
    def columns(self, idx: Tensor | None = None) -> dict[str, Tensor]:
        """Raw columns of the items ``idx`` (all when None)."""

    def fixed(self, field: str | None = None) -> Tensor | None:
        """Every stored value of ``field`` (raw: uint8 images, int64 labels)."""
        return self.columns()[check_field(self, field)]

    def streams(self, seed: int, shard: Shard = (0, 1)) -> dict[str, Stream]:
        return {"train": PermutationStream(len(self), seed, self.columns, shard)}


class DrawnSource(abc.ABC):
    """Batches drawn afresh: subclasses define ``name``, ``fields`` and ``draw_columns(n, generator, keep)``.
    One stream, ``train``."""

    name: str

    @property
    @abc.abstractmethod
    def fields(self) -> dict[str, Field]:
        """Field name -> :class:`Field`."""

    @abc.abstractmethod
    def draw_columns(self, n: int, generator: torch.Generator, keep: slice = slice(None)) -> dict[str, Tensor]:
        """``n`` fresh items\' raw columns, of which the slice ``keep`` is returned."""

    def fixed(self, field: str | None = None) -> Tensor | None:
        """None: a drawn source has no fixed set."""
        check_field(self, field)
        return None

    def sample_field(self, field: str, n: int, generator: torch.Generator) -> Tensor:
        """``n`` fresh raw values of ``field``."""
        return self.draw_columns(n, generator)[check_field(self, field)]

    def streams(self, seed: int, shard: Shard = (0, 1)) -> dict[str, Stream]:
        return {"train": GeneratorStream(seed, self.draw_columns, shard)}
