"""Parzen-window log-likelihood of held-out data under generated samples (Breuleux et al., 2011; Goodfellow et al., 2014).

Each generated sample s_i (flattened to D values) is the centre of an isotropic Gaussian of width σ, and

    log p(x) = logsumexp_i(-||x - s_i||² / (2σ²)) - log N - (D/2) log(2πσ²).

σ is the value on a grid that maximises the mean log-likelihood of a validation set; the score is the mean over test
points and its standard error std/sqrt(n) (population std, as in the 2014 paper's code). Sums over samples run in
chunks with a running log-sum-exp, so 10,000 samples x 500 test points of 784 values take a few MB.

Protocol. The 2014 paper's ``parzen_ll.py`` used 10,000 generated samples, chose σ on the grid
``np.logspace(-1, 0, 10)`` with 1,000 MNIST validation digits (train 50,000 onwards, never used to train the
generator) and reported the mean over the 10,000 MNIST test digits. gankit's MNIST-5k has a 4,500/500 train/test split
and scikit-learn's digits a 1,618/179 one, so ``evaluate`` splits the held-out split (the test split, for a generator
trained on the train split) with :func:`validation_split`: ``VALIDATION_PER_CLASS`` images per class (100) choose σ
and the rest (400 MNIST-5k, 79 digits) are scored. Neither set holds an image the generator was trained on, and they
share none. Its numbers are not comparable with the paper's table. The estimator is known to be a poor measure of
likelihood in high dimension (Theis et al., 2016).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError

DEFAULT_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))  # the grid of the 2014 paper's parzen_ll.py
VALIDATION_PER_CLASS = 10
VALIDATION_SEED = 20_140_610  # fixed: the same validation images on every machine and in every version


def validation_split(labels: Tensor | np.ndarray, per_class: int = VALIDATION_PER_CLASS, seed: int = VALIDATION_SEED) -> tuple[Tensor, Tensor]:
    """Indices (sorted) of a stratified validation part, ``per_class`` images of each class drawn with a fixed seed,
    and of the rest: the first chooses σ, the second is scored, so σ never sees a scored image."""
    y = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels).reshape(-1)
    rng = np.random.default_rng(seed)
    picked = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        if len(idx) <= per_class:
            raise GankitError(f"class {cls} has {len(idx)} held-out images, too few for {per_class} validation images and some to score")
        picked.append(idx[rng.permutation(len(idx))[:per_class]])
    validation = np.sort(np.concatenate(picked))
    rest = np.setdiff1d(np.arange(len(y)), validation)
    return torch.from_numpy(validation), torch.from_numpy(rest)


def _flat(x: Tensor | np.ndarray, name: str) -> Tensor:
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim < 1 or t.shape[0] == 0:
        raise GankitError(f"the Parzen estimate needs a non-empty batch of {name} (got shape {tuple(t.shape)})")
    t = t.reshape(len(t), -1).to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise GankitError(f"the {name} contain NaN or inf; check them before the Parzen estimate")
    return t


def _pair(samples: Tensor | np.ndarray, x: Tensor | np.ndarray, name: str) -> tuple[Tensor, Tensor]:
    s, t = _flat(samples, "samples"), _flat(x, name)
    if s.shape[1] != t.shape[1]:
        raise GankitError(f"samples have {s.shape[1]} values each but the {name} have {t.shape[1]}; use images of the same shape")
    return s, t.to(s.device)


def _log_likelihood(s: Tensor, x: Tensor, sigmas: list[float], batch: int) -> Tensor:
    """(len(sigmas), M): each squared-distance chunk is computed once and used for every σ."""
    if not all(sigma > 0 for sigma in sigmas):
        raise GankitError(f"the Parzen window width sigma must be positive (got {sigmas})")
    if batch < 1:
        raise GankitError(f"batch must be a positive chunk size (got {batch})")
    scale = torch.tensor([1 / (2 * sigma**2) for sigma in sigmas], dtype=torch.float64, device=x.device)[:, None, None]
    s_sq = (s * s).sum(dim=1)
    out = torch.empty(len(sigmas), len(x), dtype=torch.float64, device=x.device)
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        x_sq = (xb * xb).sum(dim=1, keepdim=True)
        running = torch.full((len(sigmas), len(xb)), -math.inf, dtype=torch.float64, device=x.device)
        for j in range(0, len(s), batch):
            sq = (x_sq + s_sq[j : j + batch] - 2 * xb @ s[j : j + batch].T).clamp_min(0)
            running = torch.logaddexp(running, torch.logsumexp(-sq * scale, dim=2))
        out[:, i : i + batch] = running
    d = s.shape[1]
    norm = torch.tensor([math.log(len(s)) + d / 2 * math.log(2 * math.pi * sigma**2) for sigma in sigmas], dtype=torch.float64, device=x.device)
    return out - norm[:, None]


def _grid(sigmas: Sequence[float] | np.ndarray | None) -> list[float]:
    grid = [float(g) for g in (DEFAULT_SIGMAS if sigmas is None else np.atleast_1d(np.asarray(sigmas, dtype=float)))]
    if not grid:
        raise GankitError("the sigma grid is empty; pass at least one positive sigma")
    return grid


def parzen_log_likelihood(samples: Tensor | np.ndarray, x: Tensor | np.ndarray, sigma: float, batch: int = 1000) -> Tensor:
    """log p(x) per point (M,) under a Gaussian Parzen window of width σ on the flattened ``samples`` (N, ...);
    computed on chunks of ``batch`` points x ``batch`` samples."""
    s, t = _pair(samples, x, "points")
    return _log_likelihood(s, t, [float(sigma)], batch)[0]


def select_sigma(samples: Tensor | np.ndarray, validation: Tensor | np.ndarray, sigmas: Sequence[float] | np.ndarray | None = None, batch: int = 1000) -> float:
    """The σ of the grid (default ``np.logspace(-1, 0, 10)``) that maximises the mean validation log-likelihood
    (the first one on ties)."""
    s, v = _pair(samples, validation, "validation points")
    grid = _grid(sigmas)
    means = _log_likelihood(s, v, grid, batch).mean(dim=1)
    return grid[int(torch.argmax(means))]


def parzen_score(
    samples: Tensor | np.ndarray,
    validation: Tensor | np.ndarray,
    test: Tensor | np.ndarray,
    sigmas: Sequence[float] | np.ndarray | None = None,
    batch: int = 1000,
) -> dict[str, Any]:
    """σ chosen on ``validation``, then the mean test log-likelihood (nats) and its standard error std/sqrt(n)."""
    sigma = select_sigma(samples, validation, sigmas, batch)
    ll = parzen_log_likelihood(samples, test, sigma, batch)
    return {
        "mean": float(ll.mean()),
        "stderr": float(ll.std(unbiased=False) / math.sqrt(len(ll))),
        "sigma": sigma,
        "sigmas": _grid(sigmas),
        "n_samples": len(samples),
        "n_validation": len(validation),
        "n_test": len(ll),
    }
