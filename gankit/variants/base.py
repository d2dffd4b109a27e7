"""The variant value: players, optimisers and an ordered list of steps, run by the one training loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config, LossConfig, OptimizerConfig
from gankit.regularizers import clip_weights, gradient_penalty, historical_average_penalty, r1_penalty, update_historical_average


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
    on iterations divisible by it (lazy regularisation). ``post(ctx)``, if given, runs after each optimiser step
    of the phase (a constraint such as weight clipping, or a running average of the weights).
    """

    name: str
    updates: tuple[str, ...]
    objective: Objective
    repeat: int = 1
    every: int = 1
    uses_data: bool = True
    post: Callable[[StepContext], None] | None = None


@dataclass
class Variant:
    """A GAN variant as a value.

    ``players``: named networks. ``groups``: optimiser group -> the players it updates. ``optimizers``:
    group -> optimiser. ``steps``: the ordered phases. ``generate(players, n, rng, labels)`` turns noise into
    samples; ``probe(players, x)`` gives D(x) as a probability, for plots; ``ema_players``: the players an
    exponential moving average is kept of when ``train.ema`` > 0; ``num_classes`` > 0 marks a conditional
    variant, whose ``generate`` takes one label per sample. ``log_ratio(players, x)``: D's estimate of
    log p_data(x) / p_g(x) per sample, where D's logit is one (a cross-entropy game at its optimum), for
    discriminator rejection sampling; None otherwise, and then ``no_ratio`` says why. ``decode(players, z, labels)`` maps given noise
    (``z_dim``-dimensional, ``z_prior``) to samples, for latent interpolations. ``state``: variant state that must be
    checkpointed (image pools, running averages): a dict of tensors, numbers and lists.
    """

    players: dict[str, nn.Module]
    groups: dict[str, tuple[str, ...]]
    optimizers: dict[str, torch.optim.Optimizer]
    steps: list[Step]
    generate: Callable[..., Tensor]
    probe: Callable[[dict[str, nn.Module], Tensor], Tensor] | None = None
    log_ratio: Callable[[dict[str, nn.Module], Tensor], Tensor] | None = None
    no_ratio: str = "a variant whose discriminator is not a cross-entropy classifier of single samples (only variant gan has one)"
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


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimizerConfig, steps: int) -> torch.optim.lr_scheduler.LambdaLR | None:
    """Linear learning-rate decay: constant for the first ``decay_start`` of ``steps`` iterations, then linearly down
    to lr / (steps - start) at the last one (None when ``decay_start`` is 1). The loop steps it once per iteration;
    its state (the iteration count) is checkpointed, so a resumed run continues the same schedule."""
    start = int(cfg.decay_start * steps)
    if start >= steps:
        return None

    def factor(done: int) -> float:
        return 1.0 if done < start else max(steps - done, 1) / (steps - start)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def random_labels(n: int, num_classes: int, rng: torch.Generator, device: torch.device) -> Tensor:
    """Labels drawn uniformly from ``rng``, for the fake half of a conditional game."""
    return torch.randint(num_classes, (n,), generator=rng, device=device)


def latent(n: int, z_dim: int, prior: str, rng: torch.Generator, device: torch.device) -> Tensor:
    """Noise z ~ N(0, I) or U(-1, 1)^z_dim, drawn from ``rng``."""
    if prior == "uniform":
        return torch.rand(n, z_dim, generator=rng, device=device) * 2 - 1
    return torch.randn(n, z_dim, generator=rng, device=device)


Critic = Callable[[StepContext, Tensor], Tensor]


def pack_samples(x: Tensor, m: int) -> Tensor:
    """PacGAN packing (Lin et al., 2018): m consecutive samples become one input of D, concatenated along the
    channels (images) or the features (vectors): (B, C, ...) -> (B/m, m·C, ...)."""
    if m == 1:
        return x
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def packed_shape(shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    return (m * shape[0], *shape[1:])


def unpack_losses(losses: dict[str, Tensor], m: int) -> dict[str, Tensor]:
    """One value per D decision -> one per sample (each repeated m times): the same batch mean, per-sample shape."""
    return {k: v.repeat_interleave(m) if m > 1 and v.dim() else v for k, v in losses.items()}


def d_penalties(loss: LossConfig, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, rng: torch.Generator) -> dict[str, Tensor]:
    """The discriminator-step regularisers of ``loss``, weighted, per sample: the gradient penalty λ·GP on
    interpolates of ``real`` and ``fake``, and R1 (real) / R2 (fake) γ·½‖∇D‖² when they are not lazy."""
    out: dict[str, Tensor] = {}
    if loss.gp:
        out["gp"] = loss.gp * gradient_penalty(critic, real, fake, rng, loss.gp_mode)
    if loss.reg_every == 1:
        if loss.r1:
            out["r1"] = loss.r1 * r1_penalty(critic, real)
        if loss.r2:
            out["r2"] = loss.r2 * r1_penalty(critic, fake)
    return out


class HistoricalAverage:
    """Historical averaging (Salimans et al., 2016) for players ``g`` and ``d``: the running mean of each player's
    past weights lives in the variant state (so in checkpoints), starting from the initial weights; ``penalty``
    is weight·‖θ - θ̄‖², ``update(name)`` is the step's post hook that folds the new weights into θ̄."""

    def __init__(self, players: dict[str, nn.Module], state: dict[str, Any], weight: float) -> None:
        self.weight, self.state = weight, state
        state["historical_average"] = {name: {} for name in ("g", "d")}
        state["historical_count"] = {}
        for name in ("g", "d"):
            update_historical_average(players[name], state["historical_average"][name], 0)
            state["historical_count"][name] = 1

    def penalty(self, name: str, module: nn.Module) -> Tensor:
        return self.weight * historical_average_penalty(module, self.state["historical_average"][name])

    def update(self, name: str) -> Callable[[StepContext], None]:
        def post(ctx: StepContext) -> None:
            count = self.state["historical_count"][name]
            update_historical_average(ctx.players[name], self.state["historical_average"][name], count)
            self.state["historical_count"][name] = count + 1

        return post


def adversarial_pair(
    cfg: Config,
    players: dict[str, nn.Module],
    d_objective: Objective,
    g_objective: Objective,
    decode: Callable[..., Tensor],
    critic: Critic | None = None,
    *,
    d_post: Callable[[StepContext], None] | None = None,
    g_post: Callable[[StepContext], None] | None = None,
    g_uses_data: bool = False,
    **extra: Any,
) -> Variant:
    """The common shape of Algorithm 1: players ``g`` and ``d`` with their own optimisers, ``train.d_steps``
    discriminator steps on real batches, then one generator step on noise alone. ``decode(players, z, labels)``
    maps noise to samples; ``critic(ctx, x)`` is D's output on x for the step's batch (its labels, for
    conditional variants; x is packed when ``model.pack`` > 1), which lazy R1/R2 (``loss.reg_every`` > 1, a step
    of its own) differentiate. ``loss.clip`` clips D's weights after each D step, before ``d_post``; ``g_post``
    runs after each G step; ``g_uses_data``: the G step needs a real batch (feature matching). ``extra`` sets the
    other Variant fields (probe, num_classes, state, ...)."""
    z_dim, prior, loss, m = cfg.model.z_dim, cfg.model.z_prior, cfg.loss, cfg.model.pack

    def generate(players: dict[str, nn.Module], n: int, rng: torch.Generator, labels: Tensor | None = None) -> Tensor:
        return decode(players, latent(n, z_dim, prior, rng, rng.device), labels)

    def after_d(ctx: StepContext) -> None:
        if loss.clip:
            clip_weights(ctx.players["d"], loss.clip)
        if d_post is not None:
            d_post(ctx)

    steps = [Step("d", updates=("d",), objective=d_objective, repeat=cfg.train.d_steps, post=after_d if loss.clip or d_post else None)]
    if (loss.r1 or loss.r2) and loss.reg_every > 1:
        if critic is None:
            raise ValueError("lazy R1/R2 needs the variant's critic")

        def lazy_objective(ctx: StepContext) -> dict[str, Tensor]:
            out: dict[str, Tensor] = {}
            if loss.r1:
                out["r1"] = loss.reg_every * loss.r1 * r1_penalty(lambda x: critic(ctx, x), pack_samples(ctx.batch["x"], m))
            if loss.r2:
                with torch.no_grad():
                    fake = decode(ctx.players, latent(ctx.n, z_dim, prior, ctx.rng, ctx.device), ctx.batch.get("y"))
                out["r2"] = loss.reg_every * loss.r2 * r1_penalty(lambda x: critic(ctx, x), pack_samples(fake, m))
            return unpack_losses(out, m)

        steps.append(Step("d_reg", updates=("d",), objective=lazy_objective, every=loss.reg_every))
    steps.append(Step("g", updates=("g",), objective=g_objective, uses_data=g_uses_data, post=g_post))
    optimizers = {name: make_optimizer(list(players[name].parameters()), getattr(cfg.optim, name)) for name in ("g", "d")}
    schedulers = {name: make_scheduler(optimizers[name], getattr(cfg.optim, name), cfg.train.steps) for name in ("g", "d")}
    return Variant(
        players=players,
        groups={"g": ("g",), "d": ("d",)},
        optimizers=optimizers,
        schedulers={name: s for name, s in schedulers.items() if s is not None},
        steps=steps,
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
