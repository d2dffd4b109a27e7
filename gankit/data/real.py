"""Real data for metrics and sampling, one function each, for every source (toys, image sets, drawn sources,
combinations), by field."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.data.base import check_field, to_model_range

REAL_LIMIT = 10_000  # real samples drawn from sources without a fixed set (toys, Stacked MNIST, photo crops)
REAL_SEED = 1_000_003


def real_samples(source: Any, n: int, rng: torch.Generator, field: str | None = None) -> Tensor:
    """``n`` real values of ``field`` (default: ``x``, else ``b``) in the model's range (images float in [-1, 1],
    points as they are): a random subset of a fixed set (all of it, shuffled, when it has fewer than ``n``), or
    fresh draws from a toy or drawn source."""
    name = check_field(source, field)
    fixed = source.fixed(name)
    values = fixed[torch.randperm(len(fixed), generator=rng)[:n]] if fixed is not None else source.sample_field(name, n, rng)
    return to_model_range(values) if values.dtype == torch.uint8 else values


def real_set(source: Any, field: str | None = None, limit: int = REAL_LIMIT, seed: int = REAL_SEED) -> Tensor:
    """The real data metrics compare with, in unit range (images float in [0, 1], points as they are): every
    value of ``field`` in a fixed set, in order; else ``limit`` fresh draws from a generator seeded with ``seed``.
    Two fields of one paired source come back aligned (same items, same order)."""
    name = check_field(source, field)
    values = source.fixed(name)
    if values is None:
        values = source.sample_field(name, limit, torch.Generator().manual_seed(seed))
    return values.float() / 255.0 if values.dtype == torch.uint8 else values
