"""Sources built from sources, for models that need more than images (DESIGN.md, "Data"):

- :func:`paired`: aligned A and B (paired translation): one stream ``train`` of ``{"a", "b"}`` (+ ``"y"``), same index;
- :func:`unpaired`: independent A and B (unpaired translation): streams ``a`` (``{"a"}`` + ``"y_a"``) and ``b``
  (``{"b"}`` + ``"y_b"``), each its own permutation;
- :func:`labelled`: every image unlabelled (``train``: ``{"x"}``) plus K labelled images per class, fixed by a
  seed (``labelled``: ``{"x", "y"}``), for semi-supervised GANs;
- :func:`indexed`: batches gain ``index``, each image's position in the set (GLO's latent table).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.data.base import DrawnSource, Field, FixedSource, MappedStream, PermutationStream, Shard, Stream, check_field, default_field, stream_seed
from gankit.data.images import ImageDataset
from gankit.errors import GankitError


class _Compat:
    """Version 1's attributes (``kind``, ``shape``, ``num_classes``, ``class_names``) for a combined source."""

    kind = "images"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.fields[default_field(self)].shape  # type: ignore[attr-defined]

    @property
    def num_classes(self) -> int:
        label = self.fields.get("y")  # type: ignore[attr-defined]
        return label.classes if label is not None else 0

    @property
    def class_names(self) -> tuple[str, ...]:
        label = self.fields.get("y")  # type: ignore[attr-defined]
        return label.names if label is not None else ()


class Paired(_Compat, FixedSource):
    """Aligned A and B images: item i of A goes with item i of B (and label i, when either side has labels)."""

    def __init__(self, a: ImageDataset, b: ImageDataset, name: str) -> None:
        if len(a) != len(b):
            raise GankitError(f"'{name}' pairs A with B by position, but A has {len(a)} images and B {len(b)}; give both sides the same number of images")
        self.a, self.b, self.name = a, b, name
        self.labels = a.labels if a.labels is not None else b.labels
        self._label_side = a if a.labels is not None else b

    def __len__(self) -> int:
        return len(self.a)

    @property
    def fields(self) -> dict[str, Field]:
        fields = {"a": Field("image", self.a.shape), "b": Field("image", self.b.shape)}
        if self.labels is not None:
            fields["y"] = Field("label", (), self._label_side.num_classes, self._label_side.class_names)
        return fields

    def columns(self, idx: Tensor | None = None) -> dict[str, Tensor]:
        columns = {"a": self.a.images, "b": self.b.images}
        if self.labels is not None:
            columns["y"] = self.labels
        return columns if idx is None else {key: value[idx] for key, value in columns.items()}


def paired(a: ImageDataset, b: ImageDataset, name: str) -> Paired:
    """A and B aligned by index: one stream ``train`` of ``{"a", "b"}`` (+ ``"y"``)."""
    return Paired(a, b, name)


class Unpaired(_Compat):
    """Two independent sides: stream ``a`` walks A (keys ``a``, ``y_a``), stream ``b`` walks B (``b``, ``y_b``),
    each with its own permutation (or generator, for a drawn side) seeded from the one seed."""

    def __init__(self, a: FixedSource | DrawnSource, b: FixedSource | DrawnSource, name: str) -> None:
        self.a, self.b, self.name = a, b, name
        self._sides = {"a": a, "b": b}

    def _renames(self, side: str) -> dict[str, str]:
        return {"x": side, "y": f"y_{side}"}

    @property
    def fields(self) -> dict[str, Field]:
        fields: dict[str, Field] = {}
        for side, source in self._sides.items():
            for key, f in source.fields.items():
                fields[self._renames(side).get(key, f"{key}_{side}")] = f
        return fields

    def _side(self, field: str) -> tuple[FixedSource | DrawnSource, str]:
        check_field(self, field)
        for side, source in self._sides.items():
            for key in source.fields:
                if self._renames(side).get(key, f"{key}_{side}") == field:
                    return source, key
        raise AssertionError(field)  # check_field has found it

    def fixed(self, field: str | None = None) -> Tensor | None:
        """Every stored value of ``field`` on its side, or None when that side is drawn."""
        source, key = self._side(check_field(self, field))
        return source.fixed(key)

    def sample_field(self, field: str, n: int, generator: torch.Generator) -> Tensor:
        source, key = self._side(field)
        return source.sample_field(key, n, generator)  # type: ignore[union-attr]

    def streams(self, seed: int, shard: Shard = (0, 1)) -> dict[str, Stream]:
        return {side: MappedStream(source.streams(stream_seed(seed, side), shard)["train"], self._renames(side)) for side, source in self._sides.items()}


def unpaired(a: FixedSource | DrawnSource, b: FixedSource | DrawnSource, name: str) -> Unpaired:
    """Independent streams ``a`` -> ``{"a"}`` (+ ``"y_a"``) and ``b`` -> ``{"b"}`` (+ ``"y_b"``)."""
    return Unpaired(a, b, name)


def labelled_subset(labels: np.ndarray, per_class: int, seed: int, classes: int = 0, names: tuple[str, ...] = (), what: str = "the data") -> np.ndarray:
    """The positions (sorted, int64) of ``per_class`` items of every class among ``labels``, drawn by ``seed``: the one
    draw of K labelled items that semi-supervised training (:func:`labelled`) and ``gankit probe`` share, so every
    model sees the same labelled digits for the same seed."""
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in range(max(classes, int(labels.max()) + 1 if len(labels) else 0)):
        idx = np.flatnonzero(labels == cls)
        if len(idx) < per_class:
            who = names[cls] if cls < len(names) else str(cls)
            raise GankitError(
                f"class {who} of {what} has {len(idx)} images, fewer than the {per_class} labelled per class asked for; ask for at most {len(idx)}"
            )
        chosen.append(idx[rng.permutation(len(idx))[:per_class]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


class Labelled(_Compat):
    """Semi-supervised data: stream ``train`` gives every image without its label (``{"x"}``, the source's own
    ``train`` stream with ``y`` dropped); stream ``labelled`` walks a fixed, class-balanced subset of
    ``per_class`` images per class with their labels (``{"x", "y"}``). The subset depends only on ``seed``."""

    def __init__(self, source: FixedSource, per_class: int, seed: int) -> None:
        if not isinstance(source, FixedSource) or "y" not in source.fields or source.fields["y"].kind != "label":
            raise GankitError(f"labelled() needs a fixed set of labelled images; '{source.name}' has none (for a folder, set data.labels=true)")
        if per_class < 1:
            raise GankitError(f"labelled(): per_class must be at least 1 (got {per_class})")
        self.source, self.per_class, self.seed = source, per_class, seed
        self.name = f"{source.name} ({per_class} labels per class)"
        label = source.fields["y"]
        self.subset = torch.from_numpy(labelled_subset(source.fixed("y").numpy(), per_class, seed, label.classes, label.names, f"'{source.name}'"))

    def __len__(self) -> int:
        return len(self.source)

    @property
    def fields(self) -> dict[str, Field]:
        return self.source.fields

    def fixed(self, field: str | None = None) -> Tensor | None:
        """Every stored value of ``field`` in the whole set (not only the labelled subset)."""
        return self.source.fixed(check_field(self, field))

    def streams(self, seed: int, shard: Shard = (0, 1)) -> dict[str, Stream]:
        subset = self.subset

        def gather(idx: Tensor) -> dict[str, Tensor]:
            return self.source.columns(subset[idx])

        return {
            "train": MappedStream(self.source.streams(seed, shard)["train"], drop=("y",)),
            "labelled": PermutationStream(len(subset), stream_seed(seed, "labelled"), gather, shard),
        }


def labelled(source: FixedSource, per_class: int, seed: int) -> Labelled:
    """Streams ``train`` (every image, unlabelled) and ``labelled`` (``per_class`` per class, with ``y``)."""
    return Labelled(source, per_class, seed)


class Indexed(_Compat, FixedSource):
    """A fixed set whose batches also carry ``index``, each item's int64 position in the set."""

    def __init__(self, source: FixedSource) -> None:
        if not isinstance(source, FixedSource):
            raise GankitError(f"indexed() needs a fixed set of items with one stream; '{source.name}' is not one (index a set before combining it)")
        self.source = source
        self.name = source.name

    def __len__(self) -> int:
        return len(self.source)

    @property
    def fields(self) -> dict[str, Field]:
        return {**self.source.fields, "index": Field("index", (), classes=len(self.source))}

    def columns(self, idx: Tensor | None = None) -> dict[str, Tensor]:
        return {**self.source.columns(idx), "index": torch.arange(len(self)) if idx is None else idx}


def indexed(source: FixedSource) -> Indexed:
    """The source's ``train`` stream (same batches) with ``index`` added; field ``Field("index", (), len(source))``."""
    return Indexed(source)
