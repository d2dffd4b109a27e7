"""Mode coverage on mixtures of Gaussians, with the VEEGAN protocol (Srivastava et al., 2017).

Each sample is assigned to its nearest centre. It is *high quality* if it lies within ``3 * std`` of that
centre. A mode is *captured* if at least one high-quality sample is assigned to it. The reverse KL is
KL(q || uniform) of the histogram q of nearest-centre assignments of all samples over the K modes:
sum_k q_k log(q_k K), 0 when every mode gets the same share, log K when all samples sit at one mode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from gankit.errors import GankitError

PROTOCOL_SAMPLES = 2500
THRESHOLD_STDS = 3.0


@dataclass(frozen=True)
class ModeCoverage:
    modes: int
    modes_total: int
    high_quality_pct: float
    reverse_kl: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def mode_coverage(samples: Tensor, centres: Tensor, std: float, threshold_stds: float = THRESHOLD_STDS) -> ModeCoverage:
    """Score ``samples`` (N, d) against mixture ``centres`` (K, d) with component standard deviation ``std``."""
    samples = torch.as_tensor(samples).double().reshape(len(samples), -1)
    centres = torch.as_tensor(centres).double().reshape(len(centres), -1)
    if samples.shape[1] != centres.shape[1]:
        raise GankitError(f"samples have {samples.shape[1]} dimensions but the modes have {centres.shape[1]}")
    if len(samples) == 0:
        raise GankitError("mode coverage needs at least one sample")
    if not torch.isfinite(samples).all():
        raise GankitError("some samples are not finite (NaN or inf); the generator has diverged")
    distance, nearest = torch.cdist(samples, centres).min(dim=1)
    high_quality = distance <= threshold_stds * std
    k = len(centres)
    captured = int(torch.unique(nearest[high_quality]).numel())
    share = torch.bincount(nearest, minlength=k).double() / len(samples)
    nonzero = share[share > 0]
    reverse_kl = float((nonzero * torch.log(nonzero * k)).sum())
    return ModeCoverage(captured, k, 100.0 * float(high_quality.double().mean()), max(reverse_kl, 0.0))
