"""KID, precision/recall and the Inception Score against torch-fidelity 0.4.0 (a test-only oracle); density and
coverage against a direct transcription of Naeem et al. (2020)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.classifier import inception_score
from gankit.metrics.scores import density_coverage, inception_score_from_logits, kernel_inception_distance, precision_recall
from tests.metrics.fidelity_stub import torch_fidelity_loaded

REL = 1e-6


@pytest.fixture(scope="module")
def fidelity():
    with torch_fidelity_loaded() as tf:
        assert tf.version == "0.4.0"
        yield tf


def features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


@pytest.mark.parametrize(
    ("subsets", "subset_size", "seed", "kernel"),
    [(20, 100, 0, {}), (7, 150, 2020, {}), (5, 60, 3, {"degree": 2, "gamma": 0.05, "coef0": 0.5})],
)
def test_kid_equals_torch_fidelity(fidelity, subsets, subset_size, seed, kernel):
    real, fake = features(300, 64, 0), features(250, 64, 1, shift=0.15, scale=1.1)
    mean, std = kernel_inception_distance(real, fake, subsets=subsets, subset_size=subset_size, seed=seed, **kernel)
    names = {"degree": "kid_kernel_poly_degree", "gamma": "kid_kernel_poly_gamma", "coef0": "kid_kernel_poly_coef0"}
    ref = fidelity.kid.kid_features_to_metric(
        fake, real, kid_subsets=subsets, kid_subset_size=subset_size, rng_seed=seed, verbose=False, **{names[k]: v for k, v in kernel.items()}
    )
    assert mean > 0
    assert mean == pytest.approx(ref["kernel_inception_distance_mean"], rel=REL)
    assert std == pytest.approx(ref["kernel_inception_distance_std"], rel=REL)


def test_kid_takes_arrays_and_is_near_zero_for_one_distribution():
    real, fake = features(300, 16, 5), features(300, 16, 6)
    mean, _ = kernel_inception_distance(real.numpy().astype(np.float32), fake.numpy(), subsets=5, subset_size=150)
    assert abs(mean) < 0.02


@pytest.mark.parametrize(("k", "batch_size", "save_cpu_ram"), [(3, 1000, False), (3, 20, True), (5, 100, False), (1, 1000, True)])
def test_precision_recall_equals_torch_fidelity(fidelity, k, batch_size, save_cpu_ram):
    real, fake = features(300, 64, 2), features(260, 64, 3, shift=0.2, scale=0.8)
    precision, recall = precision_recall(real, fake, k=k, batch_size=batch_size)
    ref = fidelity.prc.prc_features_to_metric(fake, real, prc_neighborhood=k, prc_batch_size=100, save_cpu_ram=save_cpu_ram, verbose=False)
    assert precision == pytest.approx(ref["precision"], rel=REL)
    assert recall == pytest.approx(ref["recall"], rel=REL)
    assert 0 < precision < 1 and 0 < recall < 1


def naive_density_coverage(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Naeem et al. (2020), eqs. for density and coverage, one pair at a time."""
    n, m = len(real), len(fake)
    radii = [sorted(np.linalg.norm(real - real[i], axis=1))[k] for i in range(n)]  # k-th neighbour, self (0) first
    dist = np.array([[np.linalg.norm(real[i] - fake[j]) for j in range(m)] for i in range(n)])
    density = sum(1 for i in range(n) for j in range(m) if dist[i, j] < radii[i]) / (k * m)
    coverage = sum(1 for i in range(n) if dist[i].min() < radii[i]) / n
    return density, coverage


@pytest.mark.parametrize(("k", "batch_size"), [(5, 1000), (5, 7), (2, 40)])
def test_density_coverage_equals_the_formulas(k, batch_size):
    real, fake = features(120, 8, 4), features(90, 8, 5, shift=0.3, scale=0.7)
    density, coverage = density_coverage(real, fake, k=k, batch_size=batch_size)
    ref_density, ref_coverage = naive_density_coverage(real.numpy(), fake.numpy(), k)
    assert density == pytest.approx(ref_density, rel=1e-12)
    assert coverage == pytest.approx(ref_coverage, rel=1e-12)
    assert 0 < coverage < 1


def test_density_coverage_of_one_distribution():
    """Two draws of one distribution: density near 1, coverage near 1 - 2^-k (Naeem et al., 2020, section 4)."""
    density, coverage = density_coverage(features(500, 8, 6), features(500, 8, 7), k=5)
    assert 0.9 < density < 1.1
    assert 0.93 < coverage < 1.0


@pytest.mark.parametrize("n", [500, 503])
def test_inception_score_from_logits_equals_torch_fidelity(fidelity, n):
    logits = features(n, 10, 7, scale=3.0)
    for shuffle, seed in [(True, 2020), (True, 1), (False, 2020)]:
        ref = fidelity.isc.isc_features_to_metric(logits, splits=10, shuffle=shuffle, rng_seed=seed)
        mean, std = inception_score_from_logits(logits, splits=10, shuffle=shuffle, seed=seed)
        assert mean == pytest.approx(ref["inception_score_mean"], rel=REL)
        assert std == pytest.approx(ref["inception_score_std"], rel=REL)


def test_classifier_inception_score_is_torch_fidelity_without_its_shuffle(fidelity):
    """gankit's ``inception_score(probs)`` splits in the given order; torch-fidelity shuffles first (seed 2020)."""
    logits = features(503, 10, 8, scale=3.0)
    probs = logits.softmax(dim=1)
    unshuffled = fidelity.isc.isc_features_to_metric(logits, splits=10, shuffle=False)
    assert inception_score(probs, splits=10) == pytest.approx((unshuffled["inception_score_mean"], unshuffled["inception_score_std"]), rel=REL)
    shuffled = fidelity.isc.isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    perm = torch.from_numpy(np.random.RandomState(2020).permutation(len(probs)))
    assert inception_score(probs[perm], splits=10) == pytest.approx((shuffled["inception_score_mean"], shuffled["inception_score_std"]), rel=REL)
    assert inception_score(probs, splits=10)[0] != pytest.approx(shuffled["inception_score_mean"], rel=REL)


def test_too_few_samples_for_kid_subsets(fidelity):
    real, fake = features(300, 8, 0), features(80, 8, 1)
    expected = r"needs at least 100 real and 100 fake samples \(got 300 real, 80 fake\): evaluate at least 100 samples \(`gankit eval --n 100`\)"
    with pytest.raises(GankitError, match=expected):
        kernel_inception_distance(real, fake, subsets=2, subset_size=100)
    with pytest.raises(ValueError, match="KID subset size"):  # torch-fidelity refuses too, with a ValueError
        fidelity.kid.kid_features_to_metric(fake, real, kid_subsets=2, kid_subset_size=100, verbose=False)
    with pytest.raises(GankitError, match="at least 2 samples"):
        kernel_inception_distance(real, fake, subset_size=1)


def test_mismatched_or_malformed_features():
    real, fake = features(50, 8, 0), features(50, 9, 1)
    for metric in (kernel_inception_distance, precision_recall, density_coverage):
        with pytest.raises(GankitError, match=r"different dimensions \(8 vs 9\)"):
            metric(real, fake)
    with pytest.raises(GankitError, match=r"\(N, D\)"):
        precision_recall(torch.zeros(10, 3, 4), torch.zeros(10, 12))
    with pytest.raises(GankitError, match="NaN or inf"):
        density_coverage(real, torch.full((5, 8), float("nan")))
    with pytest.raises(GankitError, match="more than 5 fake samples"):
        precision_recall(real, fake[:5, :8], k=5)
    with pytest.raises(GankitError, match="one sample per split"):
        inception_score_from_logits(torch.zeros(5, 10), splits=10)
