"""SimGAN (Shrivastava et al., 2017): learning from simulated and unsupervised images through adversarial training.

A refiner R maps a synthetic image x to a refined one x̃ = R(x) that a discriminator D cannot tell from real,
unlabelled images y, while staying close to x so that x's label (known from the simulator) still holds:

    L_R = Σ_patches ℓ_G(D(x̃)) + λ·‖x̃ - x‖₁        L_D = Σ_patches ℓ_D(D(y), D(x̃))

The adversarial loss is local: D is fully convolutional (a PatchGAN, by default one stride-2 layer: 16 px patches; two
give 34 px ones, whole digits at 32 px, and the refiner then rewrites them) and its map of per-patch logits is scored patch
by patch, each patch's loss averaged (the paper sums; ``options.adversarial`` scales). The self-regularisation L1 is
the mean absolute difference over pixels, weighted by λ = ``options.self_reg``. D sees refined images through a
history buffer (:class:`~gankit.variants.base.ImagePool`): once it is full, about half of each batch of refined
images D sees are earlier refiners' outputs, which keeps D from forgetting the artefacts it learnt to catch; the
buffer is checkpointed. R is first trained on the self-regularisation alone for ``options.pretrain`` iterations
(the paper's 1,000; it makes R start as the identity), then R and D alternate (R ``options.r_steps`` times per
iteration, the paper's K_g = 2; D ``train.d_steps`` times, K_d = 1). ``translate`` (direction ``refine``: a -> b)
refines synthetic images; their labels carry over, which is what the refined set is for (training a classifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config, NetConfig, _positive
from gankit.errors import GankitError
from gankit.losses import l1_loss, make_game
from gankit.nets import build_network
from gankit.variants.base import ImagePool, Players, Step, StepContext, Variant, assemble, d_penalties, mean_logit, register


@dataclass
class SimGANOptions:
    """``self_reg``: λ of the self-regularisation L1 (mean over pixels); ``adversarial``: weight of R's local adversarial
    loss; ``pool``: refined images the history buffer holds (0: none); ``pretrain``: iterations of R on the
    self-regularisation alone before the adversarial phase; ``r_steps``: R updates per iteration in that phase."""

    self_reg: float = 0.5
    adversarial: float = 1.0
    pool: int = 512
    pretrain: int = 200
    r_steps: int = 2

    def validate(self, cfg: Config) -> None:
        _positive("options.self_reg", self.self_reg, allow_zero=True)
        _positive("options.adversarial", self.adversarial)
        _positive("options.pool", self.pool, allow_zero=True)
        _positive("options.pretrain", self.pretrain, allow_zero=True)
        _positive("options.r_steps", self.r_steps)


def self_regularisation(refined: Tensor, synthetic: Tensor) -> Tensor:
    """‖x̃ - x‖₁ as the mean absolute difference over each image's pixels: (B,) (pix2pix's per-sample L1, named
    for the paper's term)."""
    return l1_loss(refined, synthetic)


@register(
    "simgan",
    "Shrivastava et al. (2017): a refiner makes synthetic images realistic; local (patch) adversarial loss, self-regularisation L1, history buffer",
    players={"r": NetConfig(arch="refiner", width=64, depth=4, norm="batch"), "d": NetConfig(arch="patchgan", width=32, depth=1, norm="batch")},
    options=SimGANOptions,
    noise=False,
)
def build_simgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    if "a" not in data.fields or "b" not in data.fields:
        raise GankitError(
            f"variant 'simgan' refines synthetic images a towards real images b; data '{cfg.data.name}' has fields {', '.join(data.fields)} "
            "(use fonts2mnist or an unaligned folder with trainA = synthetic, trainB = real)"
        )
    opts, game, loss = cfg.options, make_game(cfg.loss), cfg.loss
    shape_a, shape_b = tuple(data.fields["a"].shape), tuple(data.fields["b"].shape)
    if shape_a != shape_b:
        raise GankitError(f"SimGAN refines an image into one of the same shape: synthetic images are {shape_a}, real ones {shape_b}; set data.image_size")
    players = {"r": build_network(cfg.model.r, shape_a, shape_b).to(device), "d": build_network(cfg.model.d, shape_b, (1,)).to(device)}
    buffer = {"history": ImagePool(opts.pool)}

    def pretrain_objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batches["a"]["a"]
        return {"r_pretrain": self_regularisation(ctx.players["r"](x), x)}

    def r_objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batches["a"]["a"]
        refined = ctx.players["r"](x)
        ctx.scratch["refined"] = refined.detach()
        losses = {"r_adv": opts.adversarial * game.g_loss(ctx.players["d"](refined)["logits"])}
        if opts.self_reg:
            losses["r_self_reg"] = opts.self_reg * self_regularisation(refined, x)
        return losses

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real = ctx.batches["b"]["b"]
        shown = buffer["history"].query(ctx.scratch["refined"], ctx.rng)
        d = ctx.players["d"]
        penalties = d_penalties(loss, lambda x: mean_logit(d, x), real, shown, ctx.rng)
        return game.d_loss(d(real)["logits"], d(shown)["logits"]) | penalties

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        return players["r"](x)

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        return mean_logit(players["d"], batches["b"]["b"]), mean_logit(players["d"], players["r"](batches["a"]["a"]))

    steps = [
        Step("pretrain", ("r",), pretrain_objective, stop=opts.pretrain, streams=("a",)),
        Step("r", ("r",), r_objective, repeat=opts.r_steps, start=opts.pretrain, streams=("a",)),
        Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, start=opts.pretrain, streams=("b",)),  # the last R step's refined batch
    ]
    return assemble(
        cfg, players, {"r": ("r",), "d": ("d",)}, steps=steps, state=buffer, translate=translate, directions={"refine": ("a", "b")},
        probes={"d": probe}, ema_players=("r",),
    )  # fmt: skip
