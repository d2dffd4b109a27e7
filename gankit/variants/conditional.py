"""Conditional GANs: G(z, y) and D(x, y) model p(x | y).

- ``cgan``: the label is an input of both players (Mirza & Osindero, 2014): one-hot concatenated to z in G,
  one-hot planes concatenated to the image in D.
- ``projection``: D adds the projection term <embed(y), phi(x)> to its logit (Miyato & Koyama, 2018).
- ``acgan``: D is unconditional but has an auxiliary classifier head; both players also minimise the class
  cross-entropy, weighted by ``options.class_weight`` (Odena et al., 2017).

Real labels come with the batch; fake labels are drawn uniformly at random. The latents have a categorical part
``label`` (``gankit sample --label L`` is ``--fix label=L``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit.augment import make_augment
from gankit.config import Config, _positive
from gankit.errors import GankitError
from gankit.losses import classification_loss, make_game
from gankit.nets import build_discriminator, build_generator
from gankit.variants.base import Players, StepContext, Variant, assemble, conditional_penalties, latent, noise_spec, random_labels, register
from gankit.variants.gan import adversarial_steps, lazy_r1_r2


@dataclass
class ACGANOptions:
    """``class_weight``: weight of both players' class cross-entropy (Odena et al., 2017)."""

    class_weight: float = 1.0

    def validate(self, cfg: Config) -> None:
        _positive("options.class_weight", self.class_weight, allow_zero=True)


def _build_conditional(cfg: Config, data: Any, device: torch.device, conditioning: str) -> Variant:
    classes = getattr(data, "num_classes", 0)
    if not classes:
        raise GankitError(f"variant '{cfg.variant}' needs labelled data; '{cfg.data.name}' has no labels (for a folder, --set data.labels=true)")
    game = make_game(cfg.loss)
    z_dim, prior = cfg.model.z_dim, cfg.model.z_prior
    auxiliary = conditioning == "aux"
    weight = cfg.options.class_weight if auxiliary else 0.0
    augment = make_augment(cfg.train.augment, data.kind)  # DiffAugment: random differentiable transforms of both real and fake inputs of D
    players = {
        "g": build_generator(cfg.model.g, z_dim, data.shape, num_classes=classes).to(device),
        "d": build_discriminator(cfg.model.d, data.shape, num_classes=classes, conditioning=conditioning).to(device),
    }

    def discriminate(d: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> dict[str, Tensor]:
        return d(augment(x, rng), None if auxiliary else y)

    def given(d: nn.Module, y: Tensor):
        return lambda x: d(x, None if auxiliary else y)["logits"]

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real, y_real = ctx.batch["x"], ctx.batch["y"]
        y_fake = random_labels(ctx.n, classes, ctx.rng, ctx.device)
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device), y_fake)
        d = ctx.players["d"]
        out_real, out_fake = discriminate(d, real, y_real, ctx.rng), discriminate(d, fake, y_fake, ctx.rng)
        losses = game.d_loss(out_real["logits"], out_fake["logits"])
        # R1 on the real samples with their labels, R2 on the fakes with theirs; the gradient penalty's interpolates
        # between a real and a fake sample are scored with the real one's
        losses |= conditional_penalties(cfg.loss, given(d, y_real), given(d, y_fake), real, fake, ctx.rng)
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

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"], latents["label"])

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        real, y = batches["train"]["x"], batches["train"]["y"]
        fake = players["g"](latent(len(real), z_dim, prior, rng, rng.device), y)
        d = players["d"]
        return d(real, None if auxiliary else y)["logits"].reshape(-1), d(fake, None if auxiliary else y)["logits"].reshape(-1)

    def critic(ctx: StepContext, x: Tensor) -> Tensor:
        return ctx.players["d"](x, None if auxiliary else ctx.batch["y"])["logits"]

    def fakes(ctx: StepContext) -> Tensor:  # lazy R2: fakes of the batch's labels, scored with them
        return ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device), ctx.batch["y"])

    groups = {"g": ("g",), "d": ("d",)}
    return assemble(
        cfg,
        players,
        groups,
        steps=adversarial_steps(cfg, d_objective, g_objective, lazy_r1_r2(cfg, critic, fakes)),
        latents=noise_spec(z_dim, prior, label=classes),
        decode=decode,
        probes={"d": probe},
        ema_players=("g",),
        no_ratio=f"a class-conditional model ({cfg.variant}): discriminator rejection sampling draws unconditional samples",
    )


@register("cgan", "Mirza & Osindero (2014): label concatenated to G's noise and to D's input", augment=True)
def build_cgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    return _build_conditional(cfg, data, device, "concat")


@register("projection", "Miyato & Koyama (2018): projection discriminator, logit + <embed(y), phi(x)>", augment=True)
def build_projection(cfg: Config, data: Any, device: torch.device) -> Variant:
    return _build_conditional(cfg, data, device, "projection")


@register("acgan", "Odena et al. (2017): auxiliary classifier GAN, D also predicts the class", options=ACGANOptions, augment=True)
def build_acgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    return _build_conditional(cfg, data, device, "aux")
