"""Feature-level sample-quality scores: KID, precision/recall, density/coverage and the Inception Score from logits.

Each takes features (N, D) from any extractor, as a tensor or an array, and computes in float64 on the tensor's
device. KID, precision/recall and the Inception Score equal torch-fidelity 0.4.0's on the same features, density
and coverage the prdc formulas; the reference packages are test-only oracles, never imported here. Distances are computed by ``torch.cdist`` in blocks
of ``batch_size`` rows by ``10 * batch_size`` columns (80 MB of float64 at the default 1000), so 10,000 x 10,000 or
larger sets never hold the whole distance matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError

ArrayLike = Tensor | np.ndarray


def as_features(x: ArrayLike, name: str) -> Tensor:
    """A finite (N, D) float64 tensor, or a GankitError saying what is wrong."""
    t = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise GankitError(f"{name} features must be a non-empty (N, D) array (got shape {tuple(t.shape)}); extract or flatten features first")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise GankitError(f"{name} features contain NaN or inf; check the extractor's input and weights")
    return t


def _feature_pair(real: ArrayLike, fake: ArrayLike) -> tuple[Tensor, Tensor]:
    real, fake = as_features(real, "real"), as_features(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise GankitError(
            f"real and fake features have different dimensions ({real.shape[1]} vs {fake.shape[1]}); extract both with the same extractor and layer"
        )
    return real, fake.to(real.device)


def _check_batch(batch_size: int) -> None:
    if batch_size < 1:
        raise GankitError(f"batch_size must be a positive number of rows (got {batch_size})")


def _check_neighbours(k: int, **sets: Tensor) -> None:
    if k < 1:
        raise GankitError(f"k must be a positive number of nearest neighbours (got {k})")
    for name, x in sets.items():
        if len(x) <= k:
            raise GankitError(f"the k={k} nearest-neighbour radius needs more than {k} {name} samples (got {len(x)}); use a smaller k or more samples")


def _distance_blocks(a: Tensor, b: Tensor, batch_size: int) -> Iterator[tuple[slice, slice, Tensor]]:
    """Euclidean distances between rows of ``a`` and of ``b``, block by block, by ``torch.cdist`` as torch-fidelity."""
    for i in range(0, len(a), batch_size):
        rows = slice(i, i + batch_size)
        for j in range(0, len(b), 10 * batch_size):
            cols = slice(j, j + 10 * batch_size)
            yield rows, cols, torch.cdist(a[rows], b[cols])


def kth_neighbour_distances(x: Tensor, k: int, batch_size: int = 1000) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row: the (k+1)-th smallest, self (0) included."""
    out = torch.empty(len(x), dtype=x.dtype, device=x.device)
    for i in range(0, len(x), batch_size):
        row = torch.cat([d for _, _, d in _distance_blocks(x[i : i + batch_size], x, batch_size)], dim=1)
        out[i : i + batch_size] = row.topk(k + 1, dim=1, largest=False).values[:, -1]  # the value kthvalue(k + 1) gives
    return out


def _unbiased_mmd2(x: Tensor, y: Tensor, degree: int, gamma: float, coef0: float) -> float:
    m = len(x)
    k_xx = (x @ x.T * gamma + coef0) ** degree
    k_yy = (y @ y.T * gamma + coef0) ** degree
    k_xy = (x @ y.T * gamma + coef0) ** degree
    within = (k_xx.sum() - k_xx.diagonal().sum()) + (k_yy.sum() - k_yy.diagonal().sum())
    return float(within / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    real: ArrayLike,
    fake: ArrayLike,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (Bińkowski et al., 2018): the unbiased MMD² with the kernel k(x, y) = (γ x·y + c0)^d, γ = 1/D by default,
    averaged over ``subsets`` random subsets of ``subset_size`` samples; returns (mean, population std) over subsets.

    Subsets are drawn exactly as torch-fidelity 0.4.0 draws them with input1 = fake, input2 = real: one
    ``np.random.RandomState(seed)``, and per subset ``choice(n_fake, m, replace=False)`` then
    ``choice(n_real, m, replace=False)``. (torch-fidelity's default seed is 2020.)
    """
    real, fake = _feature_pair(real, fake)
    if subsets < 1:
        raise GankitError(f"KID needs at least one subset (got subsets={subsets})")
    if subset_size < 2:
        raise GankitError(f"KID's unbiased estimator needs subsets of at least 2 samples (got subset_size={subset_size})")
    if degree < 1:
        raise GankitError(f"the KID polynomial kernel's degree must be a positive integer (got {degree})")
    n_real, n_fake = len(real), len(fake)
    if min(n_real, n_fake) < subset_size:
        raise GankitError(
            f"KID with subset_size={subset_size} needs at least {subset_size} real and {subset_size} fake samples "
            f"(got {n_real} real, {n_fake} fake): evaluate at least {subset_size} samples (`gankit eval --n {subset_size}`), on data with "
            f"at least {subset_size} real images, or use fid"
        )
    gamma = 1.0 / real.shape[1] if gamma is None else float(gamma)
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for s in range(subsets):
        x = fake[torch.from_numpy(rng.choice(n_fake, subset_size, replace=False)).to(fake.device)]
        y = real[torch.from_numpy(rng.choice(n_real, subset_size, replace=False)).to(real.device)]
        mmds[s] = _unbiased_mmd2(x, y, degree, gamma, coef0)
    return float(np.mean(mmds)), float(np.std(mmds))


def precision_recall(real: ArrayLike, fake: ArrayLike, k: int = 3, batch_size: int = 1000) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019): each set's manifold is the union of balls around
    its samples with radius the distance to the k-th nearest neighbour (self excluded). Precision is the share of fake
    samples inside the real manifold, recall the share of real samples inside the fake manifold, with ``<=`` as in
    torch-fidelity 0.4.0 (``metric_prc``, prc_neighborhood=k)."""
    real, fake = _feature_pair(real, fake)
    _check_neighbours(k, real=real, fake=fake)
    _check_batch(batch_size)
    real_radii = kth_neighbour_distances(real, k, batch_size)
    fake_radii = kth_neighbour_distances(fake, k, batch_size)
    fake_inside = torch.zeros(len(fake), dtype=torch.bool, device=fake.device)
    real_inside = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for rows, cols, d in _distance_blocks(fake, real, batch_size):  # one pass over fake x real serves both
        fake_inside[rows] |= (d <= real_radii[cols]).any(dim=1)
        real_inside[cols] |= (d <= fake_radii[rows, None]).any(dim=0)
    return float(fake_inside.double().mean()), float(real_inside.double().mean())


def density_coverage(real: ArrayLike, fake: ArrayLike, k: int = 5, batch_size: int = 1000) -> tuple[float, float]:
    """Density and coverage (Naeem et al., 2020), with r_i the distance from real X_i to its k-th nearest real
    neighbour: density = 1/(kM) Σ_j Σ_i 1[d(X_i, Y_j) < r_i], coverage = 1/N Σ_i 1[min_j d(X_i, Y_j) < r_i],
    strict ``<`` as in the authors' prdc code."""
    real, fake = _feature_pair(real, fake)
    _check_neighbours(k, real=real)
    _check_batch(batch_size)
    radii = kth_neighbour_distances(real, k, batch_size)
    count = torch.zeros((), dtype=torch.float64, device=real.device)
    covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for rows, _, d in _distance_blocks(real, fake, batch_size):
        inside = d < radii[rows, None]
        count += inside.sum()
        covered[rows] |= inside.any(dim=1)
    return float(count / (k * len(fake))), float(covered.double().mean())


def inception_score_from_logits(logits: ArrayLike, splits: int = 10, shuffle: bool = True, seed: int = 2020) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))) (Salimans et al., 2016) from class logits (N, C), exactly as torch-fidelity
    0.4.0 computes it: rows permuted by ``np.random.RandomState(seed).permutation(N)`` when ``shuffle``, softmax and
    log-softmax in float64, ``splits`` chunks [i N // splits, (i+1) N // splits); returns (mean, population std)."""
    x = as_features(logits, "logit")
    n = len(x)
    if splits < 1 or n < splits:
        raise GankitError(f"the Inception Score needs at least one sample per split (got {n} samples for {splits} splits)")
    if shuffle:
        x = x[torch.from_numpy(np.random.RandomState(seed).permutation(n)).to(x.device)]
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        marginal = p[part].mean(dim=0, keepdim=True)
        scores.append(float((p[part] * (log_p[part] - marginal.log())).sum(dim=1).mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))
