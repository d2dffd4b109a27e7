"""The GAN of Goodfellow et al. (2014): Algorithm 1 with k discriminator steps per generator step.

The game (``loss.name``) picks the generator's cost: ``minimax`` (saturating log(1 - D(G(z)))) or
``nonsaturating`` (-log D(G(z))); the discriminator always minimises the cross-entropy.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.augment import make_augment
from gankit.config import Config
from gankit.losses import GAMES
from gankit.nets import build_discriminator, build_generator
from gankit.variants.base import StepContext, Variant, adversarial_pair, latent, register


@register("gan", "Goodfellow et al. (2014): G and D, minimax or non-saturating game, k D-steps per G-step")
def build_gan(cfg: Config, data: Any, device: torch.device) -> Variant:
    game = GAMES[cfg.loss.name]
    z_dim, prior = cfg.model.z_dim, cfg.model.z_prior
    augment = make_augment(cfg.train.augment, data.kind)  # DiffAugment: random differentiable transforms of both real and fake inputs of D
    players = {
        "g": build_generator(cfg.model.g, z_dim, data.shape).to(device),
        "d": build_discriminator(cfg.model.d, data.shape).to(device),
    }

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real = ctx.batch["x"]
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        return game.d_loss(ctx.players["d"](augment(real, ctx.rng)), ctx.players["d"](augment(fake, ctx.rng)))

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        return {"g": game.g_loss(ctx.players["d"](augment(fake, ctx.rng)))}

    def decode(players: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None) -> Tensor:
        return players["g"](z)

    def probe(players: dict[str, nn.Module], x: Tensor) -> Tensor:
        return game.probability(players["d"](x)).reshape(-1)

    return adversarial_pair(cfg, players, d_objective, g_objective, decode, probe=probe)
