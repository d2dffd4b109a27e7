"""Fréchet distance between Gaussians fitted to features (FID: Heusel et al., 2017), equal to pytorch-fid's values,
and feature statistics files (.npz with ``mu`` and ``sigma``) that pytorch-fid reads and writes.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike

from gankit.errors import GankitError
from gankit.files import atomic_write


def _as_stats(mu: ArrayLike, sigma: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu_ = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    sigma_ = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    d = mu_.shape[0]
    if mu_.ndim != 1 or sigma_.shape != (d, d):
        raise GankitError(f"{name} must be a mean (d,) and a covariance (d, d); got shapes {mu_.shape} and {sigma_.shape}")
    if not (np.isfinite(mu_).all() and np.isfinite(sigma_).all()):
        raise GankitError(f"{name} contain NaN or infinite values; recompute them from finite features")
    return mu_, sigma_


def _sqrt_product_trace(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(√Σ1 Σ2 √Σ1) = Σ_i sqrt(λ_i(Bᵀ Σ2 B)) for any B with B Bᵀ = Σ1 (the eigenvalues of Σ1 Σ2).

    B is the Cholesky factor of Σ1, or, when Σ1 is singular, V·sqrt(Λ) from its eigendecomposition with the
    eigenvalues at rounding level dropped. Both are symmetric problems solved in float64 (no sqrtm).
    """
    try:
        factor = np.linalg.cholesky(sigma1)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(sigma1)
        keep = w > max(float(w[-1]), 0.0) * len(w) * np.finfo(np.float64).eps
        factor = v[:, keep] * np.sqrt(w[keep])
    inner = factor.T @ sigma2 @ factor
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """d² = ||μ1 − μ2||² + tr Σ1 + tr Σ2 − 2 tr sqrt(√Σ1 Σ2 √Σ1) (Dowson & Landau, 1982; FID: Heusel et al., 2017).

    Exact for positive semi-definite covariances, full rank or not; equals pytorch-fid's
    ``calculate_frechet_distance`` to rounding, without its ``sqrtm`` (which is slow and complex-valued near singular).
    """
    m1, s1 = _as_stats(mu1, sigma1, "the first statistics")
    m2, s2 = _as_stats(mu2, sigma2, "the second statistics")
    if m1.shape != m2.shape:
        raise GankitError(f"the two statistics have different feature dimensions ({m1.shape[0]} and {m2.shape[0]}); compute both with the same extractor")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    diff = m1 - m2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * _sqrt_product_trace(s1, s2))


def feature_statistics(features: ArrayLike | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) in float64 of features (N, d), as ``np.cov(rowvar=False)``.

    N <= d is allowed: the covariance is then singular, which ``frechet_distance`` handles exactly.
    """
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().double().numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise GankitError(f"features must be a matrix (N samples, d features), not shape {x.shape}")
    if x.shape[0] < 2:
        raise GankitError(f"a covariance needs at least 2 samples (got {x.shape[0]}); compute the statistics of more images")
    if not np.isfinite(x).all():
        raise GankitError("the features contain NaN or infinite values; check that the images are finite")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def save_stats(path: str | Path, mu: ArrayLike, sigma: ArrayLike) -> Path:
    """Write ``mu`` and ``sigma`` to an .npz that pytorch-fid reads; the file appears whole or not at all."""
    path = Path(path)
    if path.suffix != ".npz":
        raise GankitError(f"a statistics file must end in .npz (pytorch-fid reads only .npz), not {path.name}")
    mu_, sigma_ = _as_stats(mu, sigma, "the statistics to save")
    atomic_write(path, lambda f: np.savez_compressed(f, mu=mu_, sigma=sigma_))
    return path


def load_stats(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``mu`` (d,) and ``sigma`` (d, d) in float64 from an .npz written by ``save_stats`` or by pytorch-fid."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"the statistics file {path} does not exist; write it with `gankit stats SOURCE --out STATS.npz` (or pytorch-fid --save-stats)")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GankitError(
            f"{path} is not a readable .npz statistics file ({exc}); write it with `gankit stats SOURCE --out STATS.npz` (or pytorch-fid --save-stats)"
        ) from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise GankitError(
            f"{path} holds a single array, not an .npz with 'mu' and 'sigma'; write it with `gankit stats SOURCE --out STATS.npz` (or pytorch-fid --save-stats)"
        )
    with data:
        missing = [k for k in ("mu", "sigma") if k not in data.files]
        if missing:
            raise GankitError(f"{path} has no {' or '.join(repr(k) for k in missing)} (it holds {sorted(data.files)}); FID statistics need 'mu' and 'sigma'")
        try:
            mu, sigma = data["mu"], data["sigma"]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GankitError(f"{path} is a damaged .npz statistics file ({exc}); write it again") from exc
    return _as_stats(mu, sigma, f"the statistics in {path}")
