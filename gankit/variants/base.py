"""The variant value: players, optimiser groups, an ordered list of steps and the outputs the commands use, run by
the one training loop (DESIGN.md, "a variant is a value").

A builder registered with :func:`register` declares its players, optimiser groups and options (which type the
run's ``model.*``, ``optim.*`` and ``options.*`` config sections) and returns a :class:`Variant`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from gankit.config import LAYOUTS, Config, LossConfig, NetConfig, NoOptions, OptimizerConfig, VariantLayout, groups_of
from gankit.errors import GankitError
from gankit.regularizers import gradient_penalty, historical_average_penalty, r1_penalty, update_historical_average

# ------------------------------------------------------------------------------------------------ latents

LATENT_KINDS = ("normal", "uniform", "categorical")


@dataclass(frozen=True)
class LatentPart:
    """One named part of a generator's input: ``normal`` N(0, I) or ``uniform`` U(-1, 1) of ``size`` dimensions, or
    ``categorical`` with ``size`` values (given to ``decode`` as int64 codes, one per sample)."""

    name: str
    kind: str
    size: int

    def __post_init__(self) -> None:
        if self.kind not in LATENT_KINDS:
            raise ValueError(f"latent kind must be one of {LATENT_KINDS}, not {self.kind!r}")


@dataclass(frozen=True)
class LatentSpec:
    """A generator's latent input as named parts (InfoGAN's c1 ~ Cat(10), c2, c3 ~ U(-1, 1) and 62-d noise; a
    conditional GAN's z and class ``label``), drawn part by part, in order, from one generator."""

    parts: tuple[LatentPart, ...]

    def part(self, name: str) -> LatentPart:
        for part in self.parts:
            if part.name == name:
                return part
        raise GankitError(f"this model's latents have no part '{name}'; its parts: {self.describe()}")

    def has(self, name: str) -> bool:
        return any(p.name == name for p in self.parts)

    def describe(self) -> str:
        return ", ".join(f"{p.name} ({p.kind} {p.size})" for p in self.parts)

    def draw(
        self,
        n: int,
        rng: torch.Generator,
        device: torch.device,
        *,
        fixed: dict[str, Any] | None = None,
        truncation: float | None = None,
        balanced: bool = True,
        offset: int = 0,
    ) -> dict[str, Tensor]:
        """``n`` latents by part. Every continuous part is drawn (so fixing one part leaves the others' values as
        they are); ``categorical`` parts cycle through their values when ``balanced`` (0, 1, ..., K-1, 0, ...; no
        random draw; ``offset``: the position of the first of the ``n`` in a longer draw), else they are drawn
        uniformly. ``fixed``: part -> value (a code, a number for every
        dimension, or one per dimension). ``truncation`` t: normal values beyond ±t are redrawn (the truncation
        trick, Brock et al., 2019)."""
        fixed = dict(fixed or {})
        for name in fixed:
            self.part(name)
        out: dict[str, Tensor] = {}
        for part in self.parts:
            if part.kind == "categorical":
                if balanced:
                    out[part.name] = (torch.arange(n, device=device) + offset) % part.size
                else:
                    out[part.name] = torch.randint(part.size, (n,), generator=rng, device=device)
            elif part.kind == "uniform":
                out[part.name] = torch.rand(n, part.size, generator=rng, device=device) * 2 - 1
            else:
                z = torch.randn(n, part.size, generator=rng, device=device)
                if truncation is not None:
                    outside = z.abs() > truncation
                    while bool(outside.any()):
                        z[outside] = torch.randn(int(outside.sum()), generator=rng, device=device)
                        outside = z.abs() > truncation
                out[part.name] = z
        for name, value in fixed.items():
            out[name] = self.fixed_value(name, value, n, device)
        return out

    def fixed_value(self, name: str, value: Any, n: int, device: torch.device) -> Tensor:
        """``n`` copies of a user's value for part ``name`` (checked against the part's kind and size)."""
        part = self.part(name)
        if part.kind == "categorical":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or not 0 <= value < part.size:
                raise GankitError(f"part '{name}' is categorical: give a value from 0 to {part.size - 1} (got {value!r})")
            return torch.full((n,), value, dtype=torch.long, device=device)
        values = list(value) if isinstance(value, (list, tuple)) else [value] * part.size
        if len(values) != part.size or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise GankitError(f"part '{name}' has {part.size} dimension(s): give one number, or {part.size} comma-separated (got {value!r})")
        return torch.tensor(values, dtype=torch.float32, device=device).expand(n, -1).clone()


def noise_spec(z_dim: int, prior: str, **extra: int) -> LatentSpec:
    """The plain GAN's latents: ``z`` of ``z_dim`` dimensions from ``prior``; ``extra`` adds categorical parts."""
    return LatentSpec((LatentPart("z", prior, z_dim), *(LatentPart(name, "categorical", k) for name, k in extra.items())))


def latent(n: int, z_dim: int, prior: str, rng: torch.Generator, device: torch.device) -> Tensor:
    """Noise z ~ N(0, I) or U(-1, 1)^z_dim, drawn from ``rng`` (the same draws as :meth:`LatentSpec.draw`)."""
    if prior == "uniform":
        return torch.rand(n, z_dim, generator=rng, device=device) * 2 - 1
    return torch.randn(n, z_dim, generator=rng, device=device)


def random_labels(n: int, num_classes: int, rng: torch.Generator, device: torch.device) -> Tensor:
    """Labels drawn uniformly from ``rng``, for the fake half of a conditional game."""
    return torch.randint(num_classes, (n,), generator=rng, device=device)


# ------------------------------------------------------------------------------------------------ steps


@dataclass
class StepContext:
    """What an objective sees: the players, the step's batches by stream name (``batches["train"]["x"]``; empty
    for a step that draws no data), the batch size ``n``, the loop's noise generator, the iteration (1-based) and
    the total, the device, the variant state, a per-iteration scratch dict shared by the steps of one iteration (a G
    step's fakes that the D step reuses), the optimisers (read-only: an unrolled step reads D's moments) and the
    data-parallel world, :class:`gankit.train.distributed.World` (None in one process)."""

    players: dict[str, nn.Module]
    batches: dict[str, dict[str, Tensor]]
    n: int
    rng: torch.Generator
    iteration: int
    total: int
    device: torch.device
    state: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    dist: Any = None

    @property
    def batch(self) -> dict[str, Tensor]:
        """The batch of the step's first stream (for the one-stream variants)."""
        return next(iter(self.batches.values())) if self.batches else {}


Objective = Callable[[StepContext], dict[str, Tensor]]
BatchSize = int | Callable[[int], int] | None


@dataclass
class Step:
    """One phase of an iteration (stylegan2-ada style).

    ``objective`` returns a dict of per-sample loss tensors (or scalars); the loop averages each over the batch,
    adds them into one backward pass and steps the optimisers of the groups in ``updates``. ``repeat`` runs the
    phase that many times per iteration (k discriminator steps of Algorithm 1); ``every`` runs it only on
    iterations divisible by it (lazy regularisation); it is active from iteration ``start`` (that many iterations
    done) until ``stop`` (exclusive; None: to the end): a pretraining phase, then an adversarial one. ``streams``:
    the data streams it draws one batch from each time (none: a step on noise alone, or one that reuses the
    scratch); ``batch_size``: per draw, default ``train.batch_size``, or a function of the iteration (growing
    models). ``post(ctx)``, if given, runs after each optimiser step (weight clipping, a running average)."""

    name: str
    updates: tuple[str, ...]
    objective: Objective
    repeat: int = 1
    every: int = 1
    start: int = 0
    stop: int | None = None
    streams: tuple[str, ...] = ("train",)
    batch_size: BatchSize = None
    post: Callable[[StepContext], None] | None = None

    def active(self, done: int) -> bool:
        """Whether the step runs in the iteration after ``done`` finished ones."""
        return self.start <= done and (self.stop is None or done < self.stop) and (done + 1) % self.every == 0

    def size(self, iteration: int, default: int) -> int:
        if self.batch_size is None:
            return default
        return self.batch_size(iteration) if callable(self.batch_size) else int(self.batch_size)


class Stateful(Protocol):
    """Variant state the checkpoint carries: image pools, running averages, latent tables."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None: ...


Players = dict[str, nn.Module]
Probe = Callable[[Players, dict[str, dict[str, Tensor]], torch.Generator], tuple[Tensor, Tensor]]


@dataclass
class Variant:
    """A GAN variant as a value (DESIGN.md).

    ``players``: named networks. ``groups``: optimiser group -> the players it updates; ``optimizers`` and
    ``schedulers`` by group. ``steps``: the ordered phases. ``state``: :class:`Stateful` objects in the
    checkpoint. ``frozen``: networks used but never trained, saved or NaN-scanned (kept in eval mode), loaded with
    :func:`load_frozen`; ``frozen_sha256``: their weight files' sha256, recorded in the checkpoint and checked on resume.

    Outputs, each optional, are what the commands can do with a run:

    - ``latents`` + ``decode(players, latents) -> samples``: ``sample``, ``interpolate``, pictures, sample metrics;
    - ``translate(players, x, direction) -> outputs`` with ``directions`` (direction -> (input field, output
      field) of the data; ``paired``: the data's items of the output field are the inputs' targets): ``translate``;
      ``region(H, W) -> (top, left, height, width)``, where a translation fills in a box of its input (inpainting):
      the model sees the input with the box blanked (:func:`gankit.data.base.blank_region`), translation metrics score the box
      alone beside the whole image, pictures show the blanked input;
    - ``encode(players, x) -> features`` of samples of ``encodes`` (a data field): ``encode`` and ``probe``;
    - ``classify(players, x) -> class logits`` (B, K) of samples of ``encodes``: the model's own classifier
      (semi-supervised GANs, a supervised baseline), which ``probe`` scores on the test split; ``clusters``: its
      outputs are clusters learnt without labels (CatGAN, AAE), scored matched to the classes.

    ``source``: the data the variant's streams come from when it is not the run's data as given, but built from it
    by a combinator (:func:`gankit.data.labelled` for K labels per class, :func:`gankit.data.indexed` for GLO's
    latent table); the run's data stays what sampling and metrics compare with.

    ``probes``: per discriminator, a function of (players, the last training batches by stream, a fixed noise
    generator) giving (real scores, fake scores) for the watchdog. ``score(players, x)``: D(x) as a probability
    for plots of 1-D data. ``ema_players``: the players an exponential moving average is kept of when
    ``train.ema`` > 0. ``log_ratio(players, x)``: D's estimate of log p_data(x) / p_g(x) for discriminator
    rejection sampling, None when the discriminator gives none (``no_ratio`` says why)."""

    players: Players
    groups: dict[str, tuple[str, ...]]
    optimizers: dict[str, torch.optim.Optimizer]
    steps: list[Step]
    schedulers: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Stateful] = field(default_factory=dict)
    frozen: Players = field(default_factory=dict)
    frozen_sha256: dict[str, str] = field(default_factory=dict)
    latents: LatentSpec | None = None
    decode: Callable[[Players, dict[str, Tensor]], Tensor] | None = None
    translate: Callable[[Players, Tensor, str], Tensor] | None = None
    directions: dict[str, tuple[str, str]] = field(default_factory=dict)
    paired: bool = False
    region: Callable[[int, int], tuple[int, int, int, int]] | None = None
    encode: Callable[[Players, Tensor], Tensor] | None = None
    encodes: str = "x"
    classify: Callable[[Players, Tensor], Tensor] | None = None
    clusters: bool = False
    source: Any = None
    probes: dict[str, Probe] = field(default_factory=dict)
    score: Callable[[Players, Tensor], Tensor] | None = None
    ema_players: tuple[str, ...] = ()
    log_ratio: Callable[[Players, Tensor], Tensor] | None = None
    no_ratio: str = "a variant whose discriminator is not a cross-entropy classifier of single samples"

    @property
    def num_classes(self) -> int:
        """Classes of a class-conditional model (its latent part ``label``), 0 otherwise."""
        return self.latents.part("label").size if self.latents is not None and self.latents.has("label") else 0

    def capabilities(self) -> list[str]:
        """The commands this variant's runs can serve, beyond train/resume/report."""
        out = []
        if self.decode is not None and self.latents is not None:
            out += ["sample", "interpolate"]
        if self.translate is not None:
            out.append("translate")
        if self.encode is not None:
            out.append("encode")
        if self.encode is not None or self.classify is not None:
            out.append("probe")
        return out

    def generate(self, players: Players, n: int, rng: torch.Generator, **kwargs: Any) -> Tensor:
        """``decode`` of ``n`` latents drawn from ``rng`` (``kwargs``: see :meth:`LatentSpec.draw`)."""
        if self.latents is None or self.decode is None:
            raise GankitError("this model does not generate from latents")
        return self.decode(players, self.latents.draw(n, rng, rng.device, **kwargs))


# ------------------------------------------------------------------------------------------------ optimisers


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


def optimise_groups(cfg: Config, players: Players, groups: dict[str, tuple[str, ...]]) -> tuple[dict[str, torch.optim.Optimizer], dict[str, Any]]:
    """One optimiser per group over its players' parameters, with ``optim.<group>``'s settings, and its schedule."""
    settings = groups_of(cfg)
    optimizers, schedulers = {}, {}
    for group, names in groups.items():
        params = [p for name in names for p in players[name].parameters()]
        optimizers[group] = make_optimizer(params, settings[group])
        schedule = make_scheduler(optimizers[group], settings[group], cfg.train.steps)
        if schedule is not None:
            schedulers[group] = schedule
    return optimizers, schedulers


def assemble(cfg: Config, players: Players, groups: dict[str, tuple[str, ...]], **fields: Any) -> Variant:
    """The variant value of ``players`` trained in ``groups`` (group -> its players), one optimiser and schedule per
    group from ``optim.<group>`` (:func:`optimise_groups`); ``fields``: the rest of :class:`Variant`'s fields."""
    optimizers, schedulers = optimise_groups(cfg, players, groups)
    return Variant(players=players, groups=groups, optimizers=optimizers, schedulers=schedulers, **fields)


# ------------------------------------------------------------------------------------------------ shared pieces


def mean_logit(critic: nn.Module, x: Tensor) -> Tensor:
    """A critic's logit of each sample, averaged over its map of patch logits where it gives one: (B,)."""
    return critic(x)["logits"].reshape(len(x), -1).mean(dim=1)


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
    interpolates of ``real`` and ``fake``, and R1 (real) / R2 (fake) γ·½‖∇D‖² when they are not lazy.
    ``critic`` maps a batch to D's logits; conditional variants close over each batch's own labels, see
    :func:`conditional_penalties`."""
    return conditional_penalties(loss, critic, critic, real, fake, rng)


def conditional_penalties(
    loss: LossConfig, real_critic: Callable[[Tensor], Tensor], fake_critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, rng: torch.Generator
) -> dict[str, Tensor]:
    """As :func:`d_penalties`, with R1 taken through ``real_critic`` (D given the real samples' labels) and R2
    through ``fake_critic`` (the fakes' labels). The gradient penalty's interpolates are scored with the real
    labels."""
    out: dict[str, Tensor] = {}
    if loss.gp:
        out["gp"] = loss.gp * gradient_penalty(real_critic, real, fake, rng, loss.gp_mode)
    if loss.reg_every == 1:
        if loss.r1:
            out["r1"] = loss.r1 * r1_penalty(real_critic, real)
        if loss.r2:
            out["r2"] = loss.r2 * r1_penalty(fake_critic, fake)
    return out


def validate_labels(labels: int, seed: int) -> None:
    """``options.labels`` / ``options.label_seed`` of a variant trained on K labelled items."""
    if isinstance(labels, bool) or not isinstance(labels, int) or labels < 1:
        raise GankitError(f"options.labels must be a positive number of labelled train items (got {labels!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GankitError(f"options.label_seed must be a non-negative integer, the draw of the labelled items (got {seed!r})")


def labelled_source(cfg: Config, data: Any, labels: int, seed: int) -> tuple[Any, int]:
    """The run's data as semi-supervised streams (:func:`gankit.data.labelled`): ``train`` (every item, unlabelled) and
    ``labelled`` (``labels`` items, class-balanced, drawn by ``seed``); and the number of classes."""
    from gankit.data import labelled

    field = data.fields.get("y") if hasattr(data, "fields") else None
    if field is None or field.kind != "label" or not field.classes:
        raise GankitError(f"variant '{cfg.variant}' learns from labelled items; data '{cfg.data.name}' has no labels (for a folder, set data.labels=true)")
    classes = field.classes
    if labels % classes:
        raise GankitError(f"options.labels={labels} must be a multiple of the {classes} classes (the labelled items are drawn class-balanced)")
    return labelled(data, labels // classes, seed), classes


class HistoricalAverage:
    """Historical averaging (Salimans et al., 2016) of the named players: the running mean θ̄ of each one's past
    weights, starting from the initial weights, is variant state (checkpointed, moved to the run's device on load);
    ``penalty`` is weight·‖θ - θ̄‖², ``update(name)`` the step's post hook that folds the new weights into θ̄."""

    def __init__(self, players: Players, names: tuple[str, ...], weight: float) -> None:
        self.weight = weight
        self.average: dict[str, dict[str, Tensor]] = {name: {} for name in names}
        self.count: dict[str, int] = {}
        for name in names:
            update_historical_average(players[name], self.average[name], 0)
            self.count[name] = 1

    def penalty(self, name: str, module: nn.Module) -> Tensor:
        return self.weight * historical_average_penalty(module, self.average[name])

    def update(self, name: str) -> Callable[[StepContext], None]:
        def post(ctx: StepContext) -> None:
            update_historical_average(ctx.players[name], self.average[name], self.count[name])
            self.count[name] += 1

        return post

    def state_dict(self) -> dict[str, Any]:
        return {"average": {k: dict(v) for k, v in self.average.items()}, "count": dict(self.count)}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.average = {k: {n: t.to(device) for n, t in v.items()} for k, v in state["average"].items()}
        self.count = {k: int(v) for k, v in state["count"].items()}


class ImagePool:
    """The history of generated images a discriminator is shown (Shrivastava et al., 2017; CycleGAN keeps 50):
    until it is full every new image goes in and is shown; then each new image, with probability ½, is shown and
    replaces a random stored one, which is shown in its stead. Draws come from the loop's noise generator, so
    training stays a function of the seed; the pool is checkpointed and moved to the run's device on load."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: Tensor | None = None
        self.filled = 0

    def query(self, images: Tensor, rng: torch.Generator) -> Tensor:
        images = images.detach()
        if self.size == 0:
            return images
        if self.images is None:
            self.images = torch.zeros(self.size, *images.shape[1:], dtype=images.dtype, device=images.device)
        out = images.clone()
        for i in range(len(images)):
            if self.filled < self.size:
                self.images[self.filled] = images[i]
                self.filled += 1
                continue
            if bool(torch.rand((), generator=rng, device=rng.device) < 0.5):
                k = int(torch.randint(self.size, (), generator=rng, device=rng.device))
                out[i] = self.images[k]
                self.images[k] = images[i]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "filled": self.filled, "images": self.images if self.images is not None else torch.zeros(0)}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        if int(state["size"]) != self.size:
            raise GankitError(f"the checkpoint's image pool holds {state['size']} images, this config's {self.size}")
        self.filled = int(state["filled"])
        images = state["images"]
        self.images = images.to(device) if images.numel() else None


def load_frozen(module: nn.Module, path: str | None, what: str) -> tuple[nn.Module, str]:
    """A pretrained network the variant uses but never trains (a perceptual feature network, a judge): its weights
    from the local file ``path`` (a state dict, read with ``weights_only=True``; never downloaded), in eval mode
    without gradients. Returns the module and the file's sha256. ``what`` names the option that gives the path."""
    import hashlib
    from pathlib import Path

    if not path:
        raise GankitError(f"{what} is not set: give the path of the weights file (they are never downloaded)")
    file = Path(path).expanduser()
    if not file.is_file():
        raise GankitError(f"{what}: {file} does not exist; give the path of a local weights file")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        module.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise GankitError(f"{what}: {file} is not a state dict of this network ({first})") from None
    module.requires_grad_(False).eval()
    return module, digest


# ------------------------------------------------------------------------------------------------ registry

VariantBuilder = Callable[[Config, Any, torch.device], Variant]


@dataclass(frozen=True)
class VariantEntry:
    build: VariantBuilder
    description: str
    layout: VariantLayout


VARIANTS: dict[str, VariantEntry] = {}


def register(
    name: str,
    description: str,
    *,
    players: dict[str, NetConfig] | tuple[str, ...] = ("g", "d"),
    groups: dict[str, OptimizerConfig] | tuple[str, ...] | None = None,
    options: type = NoOptions,
    noise: bool = True,
    augment: bool = False,
) -> Callable[[VariantBuilder], VariantBuilder]:
    """Register a variant builder under ``name`` (``variant: name`` in configs), with its players (name -> default
    network; a tuple of names takes :class:`NetConfig`'s defaults), its optimiser groups (default: one per player),
    its options dataclass (``options.*``), whether it draws noise (``model.z_dim``, ``model.z_prior``) and whether
    it applies ``train.augment`` (:func:`gankit.augment.make_augment`) to its networks' data inputs."""
    player_defaults = dict(players) if isinstance(players, dict) else {p: NetConfig() for p in players}
    group_spec = groups if groups is not None else tuple(player_defaults)
    group_defaults = dict(group_spec) if isinstance(group_spec, dict) else {g: OptimizerConfig() for g in group_spec}
    layout = VariantLayout(player_defaults, group_defaults, options, noise, augment)

    def wrap(build: VariantBuilder) -> VariantBuilder:
        VARIANTS[name] = VariantEntry(build, description, layout)
        LAYOUTS[name] = layout
        return build

    return wrap
