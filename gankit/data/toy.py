"""The seed's toy distributions: a 1-D Gaussian, a ring of 8 Gaussians and a grid of 25 Gaussians.

Each is a mixture of equally weighted isotropic Gaussians with known centres and standard deviation, so
samples can be scored against the modes (see :mod:`gankit.metrics.modes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.base import DrawnSource, Field, FixedBatch


@dataclass
class GaussianMixture(DrawnSource):
    """Equal-weight mixture of N(centre_k, std^2 I) components; ``centres`` has shape (K, dim). One field, ``x``
    (points); its stream ``train`` draws fresh points."""

    name: str
    centres: Tensor
    std: float
    kind: str = "points"

    @property
    def dim(self) -> int:
        return int(self.centres.shape[1])

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def fields(self) -> dict[str, Field]:
        return {"x": Field("points", self.shape)}

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        which = torch.randint(len(self.centres), (n,), generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        return self.centres[which] + self.std * noise

    def log_density(self, x: Tensor) -> Tensor:
        """log p(x) for points x of shape (N, dim)."""
        sq = torch.cdist(x.double(), self.centres.double()).pow(2)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        log_components = log_norm - sq / (2 * self.std**2)
        return torch.logsumexp(log_components, dim=1) - math.log(len(self.centres))

    def draw_columns(self, n: int, generator: torch.Generator, keep: slice = slice(None)) -> dict[str, Tensor]:
        return {"x": self.sample(n, generator)[keep]}

    def stream(self, batch_size: int, seed: int) -> ToyStream:
        """Version 1's API: ``streams(seed)["train"]`` with a fixed batch size."""
        return ToyStream(self, batch_size, seed)


class ToyStream(FixedBatch):
    """Version 1's toy stream (``next()`` without arguments), kept until the loop asks for batches by size."""

    def __init__(self, dist: GaussianMixture, batch_size: int, seed: int) -> None:
        super().__init__(dist.streams(seed)["train"], batch_size)
        self.dist = dist


def gaussian_1d(cfg: DataConfig) -> GaussianMixture:
    """The seed's 1-D example: N(mean, std^2), by default N(4, 0.5^2)."""
    std = 0.5 if cfg.std is None else cfg.std
    return GaussianMixture("gaussian1d", torch.tensor([[cfg.mean]]), std)


def ring_of_gaussians(cfg: DataConfig) -> GaussianMixture:
    """``modes`` Gaussians (default 8) on a circle of ``radius`` 2 at angles 2*pi*k/modes, std 0.02."""
    std = 0.02 if cfg.std is None else cfg.std
    angles = 2 * math.pi * torch.arange(cfg.modes, dtype=torch.float64) / cfg.modes
    centres = cfg.radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture("ring", centres.float(), std)


def grid_of_gaussians(cfg: DataConfig) -> GaussianMixture:
    """``grid_size``^2 Gaussians (default 25) at {-4, -2, 0, 2, 4}^2 (spacing 2, centred on 0), std 0.05."""
    std = 0.05 if cfg.std is None else cfg.std
    axis = (torch.arange(cfg.grid_size, dtype=torch.float64) - (cfg.grid_size - 1) / 2) * cfg.spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    centres = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)
    return GaussianMixture("grid", centres.float(), std)
