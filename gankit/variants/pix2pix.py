"""pix2pix (Isola et al., 2017): image-to-image translation with a conditional GAN on paired data.

G is a U-Net from A to B (skip connections between mirrored encoder and decoder layers; dropout is its only
noise); D is a PatchGAN that classifies each N × N patch of the pair (a, b) as real or fake. G minimises the
conditional-GAN loss plus λ·‖b - G(a)‖₁ (λ = 100); D's objective is halved, as in the paper, to slow it
relative to G. With ``options.gan_weight: 0`` there is no D: G is trained with L1 alone, the paper's ablation.
The G step draws the batch and keeps its outputs in the iteration's scratch; the D step scores them (detached).
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
from gankit.regularizers import clip_weights
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, d_penalties, register


@dataclass
class Pix2PixOptions:
    """``l1_weight``: λ of ‖b - G(a)‖₁ (100 in the paper); ``gan_weight``: weight of G's conditional-GAN loss (0:
    L1 only, no discriminator); ``d_scale``: factor of D's objective (½ in the paper)."""

    l1_weight: float = 100.0
    gan_weight: float = 1.0
    d_scale: float = 0.5

    def validate(self, cfg: Config) -> None:
        _positive("options.l1_weight", self.l1_weight, allow_zero=True)
        _positive("options.gan_weight", self.gan_weight, allow_zero=True)
        _positive("options.d_scale", self.d_scale)
        if not self.l1_weight and not self.gan_weight:
            raise GankitError("options.l1_weight and options.gan_weight are both 0: G would have no loss; set one of them")


@register(
    "pix2pix",
    "Isola et al. (2017): paired A->B translation, U-Net G, PatchGAN D on (a, b), cGAN + lambda L1",
    players={"g": NetConfig(arch="unet", width=64, depth=8, norm="batch"), "d": NetConfig(arch="patchgan", width=64, depth=3, norm="batch")},
    options=Pix2PixOptions,
    noise=False,
)
def build_pix2pix(cfg: Config, data: Any, device: torch.device) -> Variant:
    if "a" not in data.fields or "b" not in data.fields:
        raise GankitError(
            f"variant 'pix2pix' translates paired images a -> b; data '{cfg.data.name}' has fields {', '.join(data.fields)} "
            "(use a paired dataset: edges2digits, gray2color, aligned)"
        )
    opts, game, loss = cfg.options, make_game(cfg.loss), cfg.loss
    shape_a, shape_b = tuple(data.fields["a"].shape), tuple(data.fields["b"].shape)
    players = {"g": build_network(cfg.model.g, shape_a, shape_b).to(device)}
    adversarial = opts.gan_weight > 0
    if adversarial:
        players["d"] = build_network(cfg.model.d, (shape_a[0] + shape_b[0], *shape_a[1:]), (1,)).to(device)

    def pair(a: Tensor, b: Tensor) -> Tensor:
        return torch.cat([a, b], dim=1)

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        a, b = ctx.batch["a"], ctx.batch["b"]
        fake = ctx.players["g"](a)
        ctx.scratch.update(a=a, b=b, fake=fake.detach())
        losses = {"g_l1": opts.l1_weight * l1_loss(fake, b)} if opts.l1_weight else {}
        if adversarial:
            losses["g"] = opts.gan_weight * game.g_loss(ctx.players["d"](pair(a, fake))["logits"])
        return losses

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        a, b, fake = ctx.scratch["a"], ctx.scratch["b"], ctx.scratch["fake"]
        d = ctx.players["d"]
        terms = game.d_loss(d(pair(a, b))["logits"], d(pair(a, fake))["logits"])
        losses = {k: opts.d_scale * v for k, v in terms.items()}
        return losses | d_penalties(loss, lambda x: d(x)["logits"].mean(dim=1), pair(a, b), pair(a, fake), ctx.rng)

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        return players["g"](x)

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        a, b = batches["train"]["a"], batches["train"]["b"]
        d = players["d"]
        return d(pair(a, b))["logits"].mean(dim=1), d(pair(a, players["g"](a)))["logits"].mean(dim=1)

    groups = {name: (name,) for name in players}
    steps = [Step("g", ("g",), g_objective)]
    if adversarial:
        post = (lambda ctx: clip_weights(ctx.players["d"], loss.clip)) if loss.clip else None
        steps.append(Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, streams=(), post=post))  # k D steps on the G step's batch
    return assemble(
        cfg,
        players,
        groups,
        steps=steps,
        translate=translate,
        directions={"a2b": ("a", "b")},
        paired=True,
        probes={"d": probe} if adversarial else {},
        ema_players=("g",),
    )
