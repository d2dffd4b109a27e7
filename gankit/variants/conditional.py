"""Conditional GANs: G(z, y) and D(x, y) model p(x | y).

- ``cgan``: the label is an input of both players (Mirza & Osindero, 2014): one-hot concatenated to z in G,
  one-hot planes concatenated to the image in D.
- ``projection``: D adds the projection term <embed(y), phi(x)> to its logit (Miyato & Koyama, 2018).
- ``acgan``: D is unconditional but has an auxiliary classifier head; both players also minimise the class
  cross-entropy, weighted by ``loss.class_weight`` (Odena et al., 2017).

Real labels come with the batch; fake labels are drawn uniformly at random.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.augment import make_augment
from gankit.config import Config
from gankit.errors import GankitError
from gankit.losses import classification_loss, make_game
from gankit.nets import build_discriminator, build_generator
from gankit.variants.base import StepContext, Variant, adversarial_pair, d_penalties, latent, random_labels, register


def _build_conditional(cfg: Config, data: Any, device: torch.device, conditioning: str) -> Variant:
    classes = getattr(data, "num_classes", 0)
    if not classes:
        raise GankitError(f"variant '{cfg.variant}' needs labelled data; '{cfg.data.name}' has no labels (for a folder, --set data.labels=true)")
    unsupported = [
        key
        for key, on in (
            ("model.pack", cfg.model.pack > 1),
            ("loss.historical", cfg.loss.historical > 0),
            ("loss.g_objective", cfg.loss.g_objective != "adversarial"),
        )
        if on
    ]
    if unsupported:
        raise GankitError(f"variant '{cfg.variant}' does not support {', '.join(unsupported)}; they are options of the 'gan' variant")
    game = make_game(cfg.loss)
    z_dim, prior, weight = cfg.model.z_dim, cfg.model.z_prior, cfg.loss.class_weight
    auxiliary = conditioning == "aux"
    augment = make_augment(cfg.train.augment, data.kind)  # DiffAugment: random differentiable transforms of both real and fake inputs of D
    players = {
        "g": build_generator(cfg.model.g, z_dim, data.shape, num_classes=classes).to(device),
        "d": build_discriminator(cfg.model.d, data.shape, num_classes=classes, conditioning=conditioning).to(device),
    }

    def discriminate(d: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> dict[str, Tensor]:
        return d.heads(augment(x, rng), None if auxiliary else y)

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real, y_real = ctx.batch["x"], ctx.batch["y"]
        y_fake = random_labels(ctx.n, classes, ctx.rng, ctx.device)
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device), y_fake)
        out_real, out_fake = discriminate(ctx.players["d"], real, y_real, ctx.rng), discriminate(ctx.players["d"], fake, y_fake, ctx.rng)
        losses = game.d_loss(out_real["logits"], out_fake["logits"])
        # penalties on the real labels: the interpolates between a real and a fake sample are scored with the real one's
        losses |= d_penalties(cfg.loss, lambda x: ctx.players["d"](x, None if auxiliary else y_real), real, fake, ctx.rng)
        if auxiliary:
            losses["d_class_real"] = weight * classification_loss(out_real["class_logits"], y_real)
            losses["d_class_fake"] = weight * classification_loss(out_fake["class_logits"], y_fake)
        return losses

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        y_fake = random_labels(ctx.n, classes, ctx.rng, ctx.device)
        fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device), y_fake)
        out = discriminate(ctx.players["d"], fake, y_fake, ctx.rng)
        losses = {"g": game.g_loss(out["logits"])}
        if auxiliary:
            losses["g_class"] = weight * classification_loss(out["class_logits"], y_fake)
        return losses

    def decode(players: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            labels = torch.arange(len(z), device=z.device) % classes
        return players["g"](z, labels.to(z.device))

    def critic(ctx: StepContext, x: Tensor) -> Tensor:
        return ctx.players["d"](x, None if auxiliary else ctx.batch["y"])

    return adversarial_pair(cfg, players, d_objective, g_objective, decode, critic, num_classes=classes)


@register("cgan", "Mirza & Osindero (2014): label concatenated to G's noise and to D's input")
def build_cgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    return _build_conditional(cfg, data, device, "concat")


@register("projection", "Miyato & Koyama (2018): projection discriminator, logit + <embed(y), phi(x)>")
def build_projection(cfg: Config, data: Any, device: torch.device) -> Variant:
    return _build_conditional(cfg, data, device, "projection")


@register("acgan", "Odena et al. (2017): auxiliary classifier GAN, D also predicts the class")
def build_acgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    return _build_conditional(cfg, data, device, "aux")
