"""The variant value: players, optimisers and an ordered list of steps, run by the one training loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config, OptimizerConfig


@dataclass
class StepContext:
    """What an objective sees: the players, a real batch (empty for steps that take no data), the batch
    size, the loop's noise generator, the iteration number and the device."""

    players: dict[str, nn.Module]
    batch: dict[str, Tensor]
    n: int
    rng: torch.Generator
    step: int
    device: torch.device


Objective = Callable[[StepContext], dict[str, Tensor]]


@dataclass
class Step:
    """One phase of an iteration (stylegan2-ada style).

    ``objective`` returns a dict of per-sample loss tensors (or scalars); the loop averages each over the
    batch, adds them into one backward pass and steps the optimisers named in ``updates``. ``repeat`` runs
    the phase that many times per iteration (k discriminator steps of Algorithm 1); ``every`` runs it only
    on iterations divisible by it (lazy regularisation).
    """

    name: str
    updates: tuple[str, ...]
    objective: Objective
    repeat: int = 1
    every: int = 1
    uses_data: bool = True


@dataclass
class Variant:
    """A GAN variant as a value.

    ``players``: named networks. ``groups``: optimiser group -> the players it updates. ``optimizers``:
    group -> optimiser. ``steps``: the ordered phases. ``generate(players, n, rng, labels)`` turns noise into
    samples; ``probe(players, x)`` gives D(x) as a probability, for plots; ``ema_players``: the players an
    exponential moving average is kept of when ``train.ema`` > 0; ``num_classes`` > 0 marks a conditional
    variant, whose ``generate`` takes one label per sample. ``decode(players, z, labels)`` maps given noise
    (``z_dim``-dimensional, ``z_prior``) to samples, for latent interpolations. ``state``: variant state that must be
    checkpointed (image pools, running averages): a dict of tensors, numbers and lists.
    """

    players: dict[str, nn.Module]
    groups: dict[str, tuple[str, ...]]
    optimizers: dict[str, torch.optim.Optimizer]
    steps: list[Step]
    generate: Callable[..., Tensor]
    probe: Callable[[dict[str, nn.Module], Tensor], Tensor] | None = None
    ema_players: tuple[str, ...] = ("g",)
    num_classes: int = 0
    z_dim: int = 0
    z_prior: str = "normal"
    decode: Callable[..., Tensor] | None = None
    schedulers: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


def make_optimizer(params: list[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, eps=cfg.eps, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimiser {cfg.name!r}")  # validate() rejects it before this point


def random_labels(n: int, num_classes: int, rng: torch.Generator, device: torch.device) -> Tensor:
    """Labels drawn uniformly from ``rng``, for the fake half of a conditional game."""
    return torch.randint(num_classes, (n,), generator=rng, device=device)


def latent(n: int, z_dim: int, prior: str, rng: torch.Generator, device: torch.device) -> Tensor:
    """Noise z ~ N(0, I) or U(-1, 1)^z_dim, drawn from ``rng``."""
    if prior == "uniform":
        return torch.rand(n, z_dim, generator=rng, device=device) * 2 - 1
    return torch.randn(n, z_dim, generator=rng, device=device)


def adversarial_pair(
    cfg: Config,
    players: dict[str, nn.Module],
    d_objective: Objective,
    g_objective: Objective,
    decode: Callable[..., Tensor],
    **extra: Any,
) -> Variant:
    """The common shape of Algorithm 1: players ``g`` and ``d`` with their own optimisers, ``train.d_steps``
    discriminator steps on real batches, then one generator step on noise alone. ``decode(players, z, labels)``
    maps noise to samples; ``extra`` sets the other Variant fields (probe, num_classes, ...)."""
    z_dim, prior = cfg.model.z_dim, cfg.model.z_prior

    def generate(players: dict[str, nn.Module], n: int, rng: torch.Generator, labels: Tensor | None = None) -> Tensor:
        return decode(players, latent(n, z_dim, prior, rng, rng.device), labels)

    return Variant(
        players=players,
        groups={"g": ("g",), "d": ("d",)},
        optimizers={name: make_optimizer(list(players[name].parameters()), getattr(cfg.optim, name)) for name in ("g", "d")},
        steps=[
            Step("d", updates=("d",), objective=d_objective, repeat=cfg.train.d_steps),
            Step("g", updates=("g",), objective=g_objective, uses_data=False),
        ],
        generate=generate,
        z_dim=z_dim,
        z_prior=prior,
        decode=decode,
        **extra,
    )


VariantBuilder = Callable[[Config, Any, torch.device], Variant]


@dataclass(frozen=True)
class VariantEntry:
    build: VariantBuilder
    description: str


VARIANTS: dict[str, VariantEntry] = {}


def register(name: str, description: str) -> Callable[[VariantBuilder], VariantBuilder]:
    """Register a variant builder under ``name`` (used as ``variant: name`` in configs)."""

    def wrap(build: VariantBuilder) -> VariantBuilder:
        VARIANTS[name] = VariantEntry(build, description)
        return build

    return wrap
