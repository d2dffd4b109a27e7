"""Fréchet distance against pytorch-fid 0.3.0 and closed forms; statistics files both ways; bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from gankit.errors import GankitError
from gankit.metrics.fid import feature_statistics, frechet_distance, load_stats, save_stats
from tests.metrics.torchvision_stub import import_pytorch_fid

pytestmark = pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")  # pytorch-fid's sqrtm call


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One BLAS thread: on a shared 2-core machine two threads per process are several times slower."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def oracle():
    return import_pytorch_fid()


def random_stats(rng: np.random.Generator, n: int, d: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Statistics of n correlated samples in d dimensions: full rank when n > d, rank n - 1 otherwise."""
    x = rng.standard_normal((n, d)) @ (scale * rng.standard_normal((d, d)) / np.sqrt(d)) + rng.standard_normal(d)
    return feature_statistics(x)


def reference(oracle, *stats) -> float:
    return float(oracle.fid_score.calculate_frechet_distance(*stats))


@pytest.mark.parametrize("d", [64, 512])
def test_frechet_distance_equals_pytorch_fid_full_rank_and_rank_deficient(oracle, d):
    rng = np.random.default_rng(d)
    for n1, n2 in ((4 * d, 3 * d), (d // 2, 4 * d), (4 * d, d // 4), (d // 2, d // 8)):
        first, second = random_stats(rng, n1, d, 1.0), random_stats(rng, n2, d, 1.5)
        assert frechet_distance(*first, *second) == pytest.approx(reference(oracle, *first, *second), rel=1e-6), (n1, n2)


@pytest.mark.slow
def test_frechet_distance_equals_pytorch_fid_at_2048_features(oracle):
    """pytorch-fid's sqrtm takes ~15 s per call at d = 2048 on one core; gankit's eigendecompositions take ~2 s."""
    rng = np.random.default_rng(2048)
    full = random_stats(rng, 3000, 2048, 1.0), random_stats(rng, 2500, 2048, 1.2)
    deficient = random_stats(rng, 500, 2048, 1.0), random_stats(rng, 3000, 2048, 0.8)
    for first, second in (full, deficient):
        assert frechet_distance(*first, *second) == pytest.approx(reference(oracle, *first, *second), rel=1e-6)


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    mu, sigma = random_stats(rng, 100, 32, 1.0)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9 * np.trace(sigma)
    rank_deficient = random_stats(rng, 10, 32, 1.0)
    assert abs(frechet_distance(*rank_deficient, *rank_deficient)) < 1e-9 * np.trace(rank_deficient[1])
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, rel=1e-12)
    # Covariances with a common eigenbasis Q: ||mu1 - mu2||^2 + sum (sqrt(a_i) - sqrt(b_i))^2, also when some a_i, b_i are 0.
    diagonal = np.eye(2048), rng.uniform(0.1, 3, 2048), rng.uniform(0.1, 3, 2048)
    rotated = np.linalg.qr(rng.standard_normal((256, 256)))[0], rng.uniform(0, 3, 256), rng.uniform(0, 3, 256)
    rotated[1][:128], rotated[2][192:] = 0, 0
    for q, a, b in (diagonal, rotated):
        mu1, mu2 = rng.standard_normal(len(a)), rng.standard_normal(len(a))
        exact = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
        assert frechet_distance(mu1, (q * a) @ q.T, mu2, (q * b) @ q.T) == pytest.approx(exact, rel=1e-8)


def test_frechet_distance_refuses_mismatched_or_broken_statistics():
    mu, sigma = np.zeros(4), np.eye(4)
    with pytest.raises(GankitError, match="different feature dimensions"):
        frechet_distance(mu, sigma, np.zeros(5), np.eye(5))
    with pytest.raises(GankitError, match=r"shapes \(4,\) and \(4, 5\)"):
        frechet_distance(mu, np.zeros((4, 5)), mu, sigma)
    with pytest.raises(GankitError, match="NaN"):
        frechet_distance(mu, sigma, np.full(4, np.nan), sigma)


def test_feature_statistics_match_numpy_and_need_two_samples():
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    mu, sigma = feature_statistics(torch.from_numpy(x))
    assert mu.dtype == sigma.dtype == np.float64
    np.testing.assert_array_equal(mu, np.mean(x.astype(np.float64), axis=0))
    np.testing.assert_array_equal(sigma, np.cov(x.astype(np.float64), rowvar=False))
    assert feature_statistics(x[:2])[1].shape == (8, 8)  # N <= d: a singular covariance, allowed
    with pytest.raises(GankitError, match="at least 2 samples"):
        feature_statistics(x[:1])
    with pytest.raises(GankitError, match="matrix"):
        feature_statistics(x[0])
    with pytest.raises(GankitError, match="NaN"):
        feature_statistics(np.full((3, 2), np.inf))


def test_saved_stats_read_by_pytorch_fid_and_pytorch_fid_stats_read_by_gankit(oracle, tmp_path):
    rng = np.random.default_rng(0)
    mu, sigma = random_stats(rng, 40, 16, 1.0)
    ours = save_stats(tmp_path / "stats" / "real.npz", mu, sigma)
    theirs_mu, theirs_sigma = oracle.fid_score.compute_statistics_of_path(str(ours), None, 50, 2048, "cpu")  # the .npz branch
    np.testing.assert_array_equal(theirs_mu, mu)
    np.testing.assert_array_equal(theirs_sigma, sigma)
    assert [p.name for p in ours.parent.iterdir()] == ["real.npz"]  # no temporary files left
    theirs = tmp_path / "theirs.npz"
    np.savez_compressed(theirs, mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))  # as save_fid_stats writes
    loaded_mu, loaded_sigma = load_stats(theirs)
    assert loaded_mu.dtype == np.float64
    np.testing.assert_array_equal(loaded_mu, mu.astype(np.float32))
    np.testing.assert_array_equal(loaded_sigma, sigma.astype(np.float32))
    np.testing.assert_array_equal(load_stats(ours)[1], sigma)


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_stats(tmp_path / "s.npz", np.zeros(2), np.eye(2))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_stats(path, np.ones(2), np.eye(2))
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["s.npz"]
    with pytest.raises(GankitError, match=r"must end in \.npz"):
        save_stats(tmp_path / "s.npy", np.zeros(2), np.eye(2))
    with pytest.raises(GankitError, match="shapes"):
        save_stats(path, np.zeros(2), np.eye(3))


def test_bad_stats_files_are_refused(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        load_stats(tmp_path / "missing.npz")
    no_sigma = tmp_path / "no_sigma.npz"
    np.savez(no_sigma, mu=np.zeros(3), cov=np.eye(3))
    with pytest.raises(GankitError, match=r"no 'sigma' \(it holds \['cov', 'mu'\]\)"):
        load_stats(no_sigma)
    wrong_shape = tmp_path / "wrong_shape.npz"
    np.savez(wrong_shape, mu=np.zeros(3), sigma=np.eye(4))
    with pytest.raises(GankitError, match="shapes"):
        load_stats(wrong_shape)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not an archive")
    with pytest.raises(GankitError, match=r"not a readable \.npz"):
        load_stats(garbage)
    single = tmp_path / "single.npz"
    with single.open("wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(GankitError, match="single array"):
        load_stats(single)
