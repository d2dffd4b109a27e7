"""How well a generator's latent codes line up with properties of its samples (the evaluation of Chen et al.,
2016): a categorical code matched one-to-one to the judge's classes, continuous codes ranked against the
samples' slant and width. Pure functions of judge predictions and images."""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr
from torch import Tensor


def confusion_counts(codes: Tensor, predicted: Tensor, n_codes: int, n_classes: int) -> np.ndarray:
    """counts[k, c]: samples drawn with code value k that the judge reads as class c."""
    counts = np.zeros((n_codes, n_classes), dtype=np.int64)
    np.add.at(counts, (codes.numpy().astype(np.int64), predicted.numpy().astype(np.int64)), 1)
    return counts


def matched_accuracy(counts: np.ndarray) -> tuple[float, list[int]]:
    """The one-to-one matching of code values to classes that agrees with the most samples (the Hungarian
    algorithm on the confusion counts), and the share of samples it agrees with. ``matching[k]`` is code k's class."""
    rows, cols = linear_sum_assignment(counts, maximize=True)
    matching = [0] * counts.shape[0]
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        matching[r] = c
    return float(counts[rows, cols].sum() / counts.sum()), matching


def slant_and_width(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per image (N, 1, H, W) in [0, 1], from its intensity moments: the slant μ₁₁ / μ₀₂ (horizontal shift per row
    down the image: the shear that deskewing removes) and the width √(μ₂₀ / μ₀₀) (horizontal spread of the ink)."""
    x = images.double().reshape(len(images), *images.shape[-2:])
    h, w = x.shape[-2:]
    rows = torch.arange(h, dtype=torch.float64)[:, None]
    cols = torch.arange(w, dtype=torch.float64)[None, :]
    mass = x.sum(dim=(1, 2)).clamp_min(1e-12)
    mean_r = (x * rows).sum(dim=(1, 2)) / mass
    mean_c = (x * cols).sum(dim=(1, 2)) / mass
    dr, dc = rows[None] - mean_r[:, None, None], cols[None] - mean_c[:, None, None]
    mu11 = (x * dr * dc).sum(dim=(1, 2)) / mass
    mu02 = (x * dr * dr).sum(dim=(1, 2)) / mass
    mu20 = (x * dc * dc).sum(dim=(1, 2)) / mass
    return mu11 / mu02.clamp_min(1e-12), mu20.sqrt()


def rank_correlation(a: Tensor, b: Tensor) -> float:
    """Spearman's ρ of two equally long sequences."""
    return float(spearmanr(a.double().numpy(), b.double().numpy()).statistic)
