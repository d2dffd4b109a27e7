"""Parzen-window log-likelihood: closed forms by hand, chunking invariance, the choice of sigma."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_score, select_sigma, validation_split


def test_one_dimensional_closed_form():
    """Samples at 0 and 2, σ = 1: p(x) = ½ (φ(x) + φ(x - 2)) with φ the standard normal density."""
    samples = torch.tensor([[0.0], [2.0]])
    ll = parzen_log_likelihood(samples, torch.tensor([[1.0], [0.0], [5.0]]), sigma=1.0)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    expected = [
        -0.5 - half_log_2pi,  # both kernels one σ away
        math.log(0.5 * (1 + math.exp(-2))) - half_log_2pi,
        math.log(0.5 * (math.exp(-12.5) + math.exp(-4.5))) - half_log_2pi,
    ]
    assert ll.dtype == torch.float64
    assert ll.tolist() == pytest.approx(expected, rel=1e-12)


def test_images_are_flattened_and_dimension_enters_the_normaliser():
    """One 2x2 sample at 0, σ = 0.5, x all ones: log p = -||x||²/(2σ²) - (D/2) log(2πσ²) with D = 4."""
    ll = parzen_log_likelihood(torch.zeros(1, 1, 2, 2), np.ones((1, 1, 2, 2)), sigma=0.5)
    assert float(ll[0]) == pytest.approx(-4 / 0.5 - 2 * math.log(2 * math.pi * 0.25), rel=1e-12)


def test_chunking_does_not_change_the_result():
    g = torch.Generator().manual_seed(0)
    samples, x = torch.rand(300, 20, generator=g), torch.rand(37, 20, generator=g)
    sq = torch.cdist(x.double(), samples.double()) ** 2
    direct = torch.logsumexp(-sq / (2 * 0.3**2), dim=1) - math.log(300) - 10 * math.log(2 * math.pi * 0.3**2)
    for batch in (1, 7, 64, 10_000):
        assert torch.allclose(parzen_log_likelihood(samples, x, 0.3, batch=batch), direct, rtol=1e-12, atol=0)


def test_sigma_selection_finds_the_noise_level():
    """Validation points are far-apart centres plus N(0, 0.2²) noise: the likelihood peaks at σ = 0.2."""
    g = torch.Generator().manual_seed(1)
    centres = 10 * torch.eye(4, dtype=torch.float64)
    validation = centres.repeat(100, 1) + 0.2 * torch.randn(400, 4, generator=g, dtype=torch.float64)
    assert select_sigma(centres, validation, sigmas=[0.05, 0.1, 0.2, 0.4, 0.8]) == 0.2
    assert select_sigma(centres, validation) == pytest.approx(DEFAULT_SIGMAS[3])  # 0.2154: the grid point nearest 0.2


def test_parzen_score_reports_mean_and_standard_error():
    g = torch.Generator().manual_seed(2)
    samples, validation, test = (torch.rand(n, 1, 4, 4, generator=g) for n in (200, 50, 40))
    score = parzen_score(samples, validation, test, sigmas=[0.1, 0.2, 0.4])
    ll = parzen_log_likelihood(samples, test, score["sigma"])
    assert score["sigma"] == select_sigma(samples, validation, sigmas=[0.1, 0.2, 0.4])
    assert score["mean"] == pytest.approx(float(ll.mean()), rel=1e-12)
    assert score["stderr"] == pytest.approx(float(np.std(ll.numpy()) / math.sqrt(40)), rel=1e-12)
    assert (score["n_samples"], score["n_validation"], score["n_test"]) == (200, 50, 40)


def test_bad_inputs():
    samples = torch.zeros(5, 4)
    with pytest.raises(GankitError, match="4 values each but the points have 3"):
        parzen_log_likelihood(samples, torch.zeros(2, 3), sigma=0.1)
    with pytest.raises(GankitError, match="sigma must be positive"):
        parzen_log_likelihood(samples, torch.zeros(2, 4), sigma=0.0)
    with pytest.raises(GankitError, match="non-empty"):
        parzen_log_likelihood(torch.zeros(0, 4), torch.zeros(2, 4), sigma=0.1)
    with pytest.raises(GankitError, match="grid is empty"):
        select_sigma(samples, torch.zeros(2, 4), sigmas=[])


def test_validation_split_is_stratified_disjoint_and_fixed():
    labels = torch.arange(3).repeat_interleave(torch.tensor([12, 15, 20]))
    validation, rest = validation_split(labels, per_class=4)
    assert torch.bincount(labels[validation]).tolist() == [4, 4, 4]
    assert not set(validation.tolist()) & set(rest.tolist())
    assert sorted(validation.tolist() + rest.tolist()) == list(range(47))
    again = validation_split(labels.numpy(), per_class=4)
    assert torch.equal(again[0], validation) and torch.equal(again[1], rest)
    assert not torch.equal(validation_split(labels, per_class=4, seed=1)[0], validation)
    with pytest.raises(GankitError, match="class 0 has 12 held-out images"):
        validation_split(labels, per_class=12)
