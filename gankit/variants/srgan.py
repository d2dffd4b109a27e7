"""SRGAN (Ledig et al., 2017): single-image super-resolution. G (SRResNet: residual blocks, sub-pixel upsampling)
maps a low-resolution image ``a`` to the high-resolution ``b``.

Two phases. For the first ``options.pretrain`` iterations G minimises the pixels' mean squared error alone (SRResNet,
the paper's initialisation; with ``options.pixel: l1`` the mean absolute error instead, as EDSR, Lim et al., 2017);
then it minimises a content loss plus ``options.adversarial`` (10⁻³) times the non-saturating adversarial loss,
against a VGG-style D that tells real high-resolution images from G's. Content losses (``options.content``): ``vgg``,
the squared distance of frozen VGG19 features φ_i,j (``options.vgg_layer``, the paper's VGG54 by default) of G(a) and
b, scaled by ``options.content_weight`` (1/12.75², the paper's rescaling of the feature maps), from the local weights
file ``options.vgg_weights`` (never downloaded); ``judge``, the same on the 128-d features of the digit judge shipped
with gankit (digits); ``mse``, the pixels' squared error (SRGAN-MSE). ``options.adversarial: 0`` is SRResNet alone:
the first phase throughout, no D.

With ``options.residual``, G predicts the difference from the input's bicubic upsampling (the output is bicubic(a)
+ G(a)), as VDSR does, so that training starts from the bicubic image: not the paper's, which trains 10⁶ iterations
from scratch, but what a short CPU training needs to get past bicubic.

``translate`` (direction ``a2b``) upsamples; translation metrics score it against the paired targets beside the
bicubic upsampling of the input. With ``options.self_ensemble`` it averages G's outputs over the eight rotations and
mirror images of the input, each turned back (the geometric self-ensemble of Lim et al., 2017, EDSR+): eight times
the cost of a translation, training unchanged. With ``options.dihedral`` every training pair is turned by one of
those eight symmetries, drawn per pair from the loop's generator, ``a`` and ``b`` alike (EDSR's augmentation: the
×4 bicubic downscaling commutes with quarter turns and mirrors, so a turned pair is a pair of the same task).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import Config, NetConfig, _choice, _positive
from gankit.errors import GankitError
from gankit.losses import l1_loss, make_game, squared_error
from gankit.nets import build_network
from gankit.nets.vgg import RELU_INDEX, VGG19Features
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, d_penalties, mean_logit, register

CONTENT = ("vgg", "judge", "mse")
PIXEL = ("mse", "l1")


@dataclass
class SRGANOptions:
    """``pretrain``: iterations of the pixel-loss-only phase; ``adversarial``: weight of G's adversarial loss afterwards (0:
    SRResNet, no D); ``content``: vgg, judge or mse; ``content_weight``: factor of the feature distance; ``vgg_weights``
    / ``vgg_layer``: VGG19's local state-dict file (torchvision's names) and the layer i_j of φ_i,j; ``residual``: G adds
    its output to the bicubic upsampling of the input; ``pixel``: the loss of the first phase (and of SRResNet alone),
    the pixels' mse or l1; ``self_ensemble``: translate with the mean over the input's eight rotations and mirror
    images (test time only); ``dihedral``: each training pair turned by a random one of those eight (square images)."""

    pretrain: int = 0
    adversarial: float = 1e-3
    content: str = "vgg"
    content_weight: float = 1 / 12.75**2
    vgg_weights: str | None = None
    vgg_layer: str = "5_4"
    residual: bool = False
    pixel: str = "mse"
    self_ensemble: bool = False
    dihedral: bool = False

    def validate(self, cfg: Config) -> None:
        _positive("options.pretrain", self.pretrain, allow_zero=True)
        _positive("options.adversarial", self.adversarial, allow_zero=True)
        _choice("options.content", self.content, list(CONTENT))
        _choice("options.pixel", self.pixel, list(PIXEL))
        _positive("options.content_weight", self.content_weight)
        _choice("options.vgg_layer", self.vgg_layer, list(RELU_INDEX))


class JudgeFeatures(nn.Module):
    """The digit judge's 128-d penultimate features of images in [-1, 1] (any size; 32 px digits are un-padded)."""

    def __init__(self) -> None:
        super().__init__()
        from gankit.metrics.classifier import DigitJudge, load_judge

        self.judge = DigitJudge()
        self.judge.load_state_dict(load_judge().state_dict())  # a copy: the shared judge stays where it is

    def forward(self, x: Tensor) -> Tensor:
        from gankit.metrics.classifier import to_judge_input

        return self.judge.features(to_judge_input((x + 1) / 2))  # not clamped: values past the range keep their gradient


def content_network(opts: SRGANOptions) -> tuple[nn.Module | None, str | None]:
    """The frozen feature network of the content loss and its weight file's sha256 (None, None for mse)."""
    if opts.content == "mse":
        return None, None
    if opts.content == "judge":
        from gankit.metrics.classifier import judge_record

        return JudgeFeatures(), judge_record()["sha256"]
    if not opts.vgg_weights:
        raise GankitError(
            "options.content=vgg needs options.vgg_weights, a local VGG19 state dict (torchvision's names; never downloaded, "
            "see README); or set options.content=mse (SRGAN-MSE), or judge for digits"
        )
    from pathlib import Path

    from gankit.metrics.classifier import file_sha256

    network = VGG19Features(opts.vgg_weights, opts.vgg_layer)  # one-line errors for a missing or wrong file
    return network, file_sha256(Path(opts.vgg_weights).expanduser())


def dihedral(x: Tensor, k: int) -> Tensor:
    """The ``k``-th (0-7) symmetry of the square: ``k % 4`` quarter turns, then a mirror image for ``k >= 4``."""
    x = torch.rot90(x, k % 4, (-2, -1))
    return x.flip(-1) if k >= 4 else x


def undo_dihedral(x: Tensor, k: int) -> Tensor:
    """The inverse of :func:`dihedral`: ``undo_dihedral(dihedral(x, k), k) == x``."""
    return torch.rot90(x.flip(-1) if k >= 4 else x, -(k % 4), (-2, -1))


def turn_pairs(batch: dict[str, Tensor], fields: tuple[str, ...], rng: torch.Generator) -> dict[str, Tensor]:
    """The batch with each sample's ``fields`` turned by the same random symmetry of the square (one draw per sample)."""
    which = torch.randint(8, (len(batch[fields[0]]),), generator=rng, device=rng.device).tolist()
    return batch | {name: torch.stack([dihedral(x, k) for x, k in zip(batch[name], which, strict=True)]) for name in fields}


@register(
    "srgan",
    "Ledig et al. (2017): SRResNet G trained with MSE, then a VGG (or judge) content loss + 1e-3 adversarial against a VGG-style D",
    players={"g": NetConfig(arch="srresnet", width=64, depth=16, norm="batch"), "d": NetConfig(arch="srgan", width=64, norm="batch")},
    options=SRGANOptions,
    noise=False,
)
def build_srgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    if "a" not in data.fields or "b" not in data.fields:
        raise GankitError(
            f"variant 'srgan' maps low-resolution images a to high-resolution b; data '{cfg.data.name}' has fields {', '.join(data.fields)} "
            "(use sr-digits, sr-photos, or an aligned folder of pairs: A the low-resolution image enlarged to B's size)"
        )
    opts, game, loss = cfg.options, make_game(cfg.loss), cfg.loss
    shape_a, shape_b = tuple(data.fields["a"].shape), tuple(data.fields["b"].shape)
    if opts.dihedral and (shape_a[-1] != shape_a[-2] or shape_b[-1] != shape_b[-2]):
        raise GankitError(
            f"options.dihedral turns training pairs by quarter turns, which needs square images; data '{cfg.data.name}' has "
            f"a {shape_a[-2]}x{shape_a[-1]}, b {shape_b[-2]}x{shape_b[-1]}: set options.dihedral=false or crop the images square"
        )
    players = {"g": build_network(cfg.model.g, shape_a, shape_b).to(device)}
    adversarial = opts.adversarial > 0
    frozen: dict[str, nn.Module] = {}
    sha: dict[str, str] = {}
    if adversarial:
        players["d"] = build_network(cfg.model.d, shape_b, (1,)).to(device)
        with torch.random.fork_rng(devices=[]):  # its construction (and the judge's first load) leaves the global RNG as it was
            network, digest = content_network(opts)
        if network is not None:
            frozen["content"], sha["content"] = network.to(device), digest

    def upsample(g: nn.Module, a: Tensor) -> Tensor:
        out = g(a)
        if opts.residual:
            out = out + F.interpolate(a, size=out.shape[-2:], mode="bicubic", align_corners=False)
        return out

    pixel_error = l1_loss if opts.pixel == "l1" else squared_error

    def pairs(ctx: StepContext) -> tuple[Tensor, Tensor]:
        batch = turn_pairs(ctx.batch, ("a", "b"), ctx.rng) if opts.dihedral else ctx.batch
        return batch["a"], batch["b"]

    def pixel_objective(ctx: StepContext) -> dict[str, Tensor]:
        a, b = pairs(ctx)
        return {f"g_{opts.pixel}": pixel_error(upsample(ctx.players["g"], a), b)}

    def content(fake: Tensor, real: Tensor) -> Tensor:
        if "content" not in frozen:
            return squared_error(fake, real)
        phi = frozen["content"]
        with torch.no_grad():
            target = phi(real)
        return opts.content_weight * squared_error(phi(fake), target)

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        a, b = pairs(ctx)
        fake = upsample(ctx.players["g"], a)
        ctx.scratch.update(real=b, fake=fake.detach())
        return {"g_content": content(fake, b), "g_adv": opts.adversarial * game.g_loss(ctx.players["d"](fake)["logits"])}

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real, fake = ctx.scratch["real"], ctx.scratch["fake"]
        d = ctx.players["d"]
        penalties = d_penalties(loss, lambda x: mean_logit(d, x), real, fake, ctx.rng)
        return game.d_loss(d(real)["logits"], d(fake)["logits"]) | penalties

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        if not opts.self_ensemble:
            return upsample(players["g"], x).clamp(-1, 1)  # bicubic + G's residual can step out of the image range
        total = torch.zeros(())
        for k in range(8):
            total = total + undo_dihedral(upsample(players["g"], dihedral(x, k)), k)
        return (total / 8).clamp(-1, 1)  # clipped after the mean: the eight outputs' own overshoots average out

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        a, b = batches["train"]["a"], batches["train"]["b"]
        return mean_logit(players["d"], b), mean_logit(players["d"], upsample(players["g"], a))

    if adversarial:
        steps = [
            Step("mse", ("g",), pixel_objective, stop=opts.pretrain),
            Step("g", ("g",), g_objective, start=opts.pretrain),
            Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, start=opts.pretrain, streams=()),  # on the G step's batch
        ]
    else:
        steps = [Step("mse", ("g",), pixel_objective)]
    return assemble(
        cfg, players, {name: (name,) for name in players}, steps=steps, frozen=frozen, frozen_sha256=sha, translate=translate,
        directions={"a2b": ("a", "b")}, paired=True, probes={"d": probe} if adversarial else {}, ema_players=("g",),
    )  # fmt: skip
