"""Real data for sampling and metrics: the same values as version 1's two copies, for every kind of source."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import torch
from torch import Tensor

from gankit.config import DataConfig
from gankit.data import build_dataset, paired, real_samples, real_set, unpaired
from gankit.data.base import to_model_range
from gankit.data.images import ImageDataset
from gankit.errors import GankitError


def v1_real_samples(data: Any, n: int, rng: torch.Generator) -> Tensor:
    """gankit.sampling.real_samples as version 1 wrote it."""
    if hasattr(data, "sample"):
        return data.sample(n, rng)
    if hasattr(data, "images"):
        return to_model_range(data.images[torch.randperm(len(data.images), generator=rng)[:n]])
    return to_model_range(data.draw(n, rng)[0])


def v1_eval_real(data: Any) -> Tensor:
    """gankit.metrics.EvalContext.real as version 1 wrote it."""
    if hasattr(data, "images"):
        return data.images.float() / 255.0
    rng = torch.Generator().manual_seed(1_000_003)
    return data.sample(10_000, rng) if data.kind == "points" else data.draw(10_000, rng)[0].float() / 255.0


@pytest.fixture(scope="module", params=["ring", "grid", "mnist5k", "stacked-mnist", "photos"])
def source(request) -> Any:
    return build_dataset(DataConfig(name=request.param, split="test", image_size=16 if request.param == "photos" else None))


def test_real_samples_equal_version_1(source):
    for n in (7, 600):  # 600 > the 500 test digits: all of them, shuffled
        got, want = real_samples(source, n, torch.Generator().manual_seed(n)), v1_real_samples(source, n, torch.Generator().manual_seed(n))
        assert got.dtype == want.dtype and torch.equal(got, want)


def test_real_set_equals_version_1(source):
    got, want = real_set(source), v1_eval_real(source)
    assert got.dtype == want.dtype and torch.equal(got, want)
    if source.kind != "points":
        assert got.min() >= 0 and got.max() <= 1


def test_real_data_by_field_of_combined_sources():
    a = ImageDataset("a", torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1))
    b = ImageDataset("b", torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1) + 10, torch.arange(6), 6)
    pairs = paired(a, b, "p")
    assert torch.equal(real_set(pairs), b.images.float() / 255) and torch.equal(real_set(pairs, "a"), a.images.float() / 255)
    assert torch.equal(real_set(pairs, "y"), b.labels)
    got = real_samples(pairs, 3, torch.Generator().manual_seed(0), field="a")
    assert torch.equal(got, v1_real_samples(a, 3, torch.Generator().manual_seed(0)))
    ring = build_dataset(DataConfig(name="ring"))
    mixed = unpaired(a, ring, "u")
    assert torch.equal(real_set(mixed, "b", limit=50, seed=4), ring.sample(50, torch.Generator().manual_seed(4)))
    assert real_samples(mixed, 2, torch.Generator(), "a").shape == (2, 1, 1, 1)
    with pytest.raises(GankitError, match="has no field 'q'"):
        real_set(pairs, "q")


@pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="scikit-image's photos are not installed")
def test_drawn_pairs_come_back_aligned():
    photos = build_dataset(DataConfig(name="gray2color", split="test", image_size=16))
    grey, colour = real_set(photos, "a", limit=20), real_set(photos, "b", limit=20)
    assert grey.shape == (20, 1, 16, 16) and colour.shape == (20, 3, 16, 16)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert (grey - (colour * weights).sum(1, keepdim=True)).abs().max() < 1 / 255
