"""The seed's toy distributions: a 1-D Gaussian, a ring of 8 Gaussians and a grid of 25 Gaussians, and the two
labelled 2-D sets of the clustering figures (scikit-learn's two circles and two moons).

Each mixture is of equally weighted isotropic Gaussians with known centres and standard deviation, so
samples can be scored against the modes (see :mod:`gankit.metrics.modes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.base import DrawnSource, Field, FixedBatch, FixedSource


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


TWO_CLASS_POINTS = 1000  # points per split of circles / moons
TWO_CLASS_SEEDS = {"train": 0, "test": 1}  # the splits are two independent draws of the recipe


class LabelledPoints(FixedSource):
    """A fixed set of 2-D points with a class each: field ``x`` (points, float) and ``y`` (label)."""

    kind = "points"

    def __init__(self, name: str, points: Tensor, labels: Tensor, names: tuple[str, ...]) -> None:
        self.name, self.points, self.labels, self.names = name, points, labels, names

    def __len__(self) -> int:
        return len(self.points)

    @property
    def shape(self) -> tuple[int, ...]:
        return (int(self.points.shape[1]),)

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` of the points (all of them, shuffled, when there are fewer), for pictures."""
        return self.points[torch.randperm(len(self.points), generator=generator)[:n]]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.names

    @property
    def fields(self) -> dict[str, Field]:
        return {"x": Field("points", self.shape), "y": Field("label", (), len(self.names), self.names)}

    def columns(self, idx: Tensor | None = None) -> dict[str, Tensor]:
        columns = {"x": self.points, "y": self.labels}
        return columns if idx is None else {k: v[idx] for k, v in columns.items()}


def _split_seed(cfg: DataConfig) -> int:
    from gankit.errors import GankitError

    if cfg.split not in TWO_CLASS_SEEDS:
        raise GankitError(f"data.split={cfg.split!r}: '{cfg.name}' has the splits {', '.join(TWO_CLASS_SEEDS)}")
    return TWO_CLASS_SEEDS[cfg.split]


def two_circles(cfg: DataConfig) -> LabelledPoints:
    """scikit-learn's ``make_circles``: 1,000 points on two concentric circles (radii 1 and 0.5), Gaussian noise of
    ``std`` (default 0.05); the class is the circle (0 outer, 1 inner). The clustering toy of Springenberg (2016)."""
    from sklearn.datasets import make_circles

    std = 0.05 if cfg.std is None else cfg.std
    x, y = make_circles(TWO_CLASS_POINTS, noise=std, factor=0.5, random_state=_split_seed(cfg))
    return LabelledPoints("circles", torch.from_numpy(x).float(), torch.from_numpy(y).long(), ("outer", "inner"))


def two_moons(cfg: DataConfig) -> LabelledPoints:
    """scikit-learn's ``make_moons``: 1,000 points on two interleaved half circles, Gaussian noise of ``std`` (default
    0.05), centred on the origin; the class is the moon."""
    from sklearn.datasets import make_moons

    std = 0.05 if cfg.std is None else cfg.std
    x, y = make_moons(TWO_CLASS_POINTS, noise=std, random_state=_split_seed(cfg))
    points = torch.from_numpy(x).float() - torch.tensor([0.5, 0.25])
    return LabelledPoints("moons", points, torch.from_numpy(y).long(), ("upper", "lower"))
