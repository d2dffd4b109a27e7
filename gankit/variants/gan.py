"""The GAN of Goodfellow et al. (2014): Algorithm 1 with k discriminator steps per generator step.

The game (``loss.name``) picks both players' costs: ``minimax`` (G minimises log(1 - D(G(z)))), ``nonsaturating``
(-log D(G(z))), and the stabilised games of the lectures: ``wgan``, ``lsgan``, ``hinge``. The discriminator's
regularisers (gradient penalty, R1/R2, weight clipping, label smoothing) and spectral normalisation
(``model.d.sn``) compose with any of them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.augment import make_augment
from gankit.config import Config
from gankit.losses import make_game
from gankit.nets import build_discriminator, build_generator
from gankit.variants.base import (
    HistoricalAverage,
    StepContext,
    Variant,
    adversarial_pair,
    d_penalties,
    latent,
    pack_samples,
    packed_shape,
    register,
    unpack_losses,
)

PACK_PARTNERS = 64  # partner sets per sample for the per-sample log-ratio of a packing D
PACK_BATCH = 8192  # packs per D call there
PARTNER_SEED = 0x9A4


@register("gan", "Goodfellow et al. (2014) and its stabilised forms: any game, penalties, SN, packing, Improved-GAN terms")
def build_gan(cfg: Config, data: Any, device: torch.device) -> Variant:
    game, loss = make_game(cfg.loss), cfg.loss
    z_dim, prior, m = cfg.model.z_dim, cfg.model.z_prior, cfg.model.pack
    augment = make_augment(cfg.train.augment, data.kind)  # DiffAugment: random differentiable transforms of both real and fake inputs of D
    players = {
        "g": build_generator(cfg.model.g, z_dim, data.shape).to(device),
        "d": build_discriminator(cfg.model.d, packed_shape(data.shape, m)).to(device),
    }
    state: dict[str, Any] = {}
    history = HistoricalAverage(players, state, loss.historical) if loss.historical else None
    adversarial, matching = loss.g_objective in ("adversarial", "both"), loss.g_objective in ("feature_matching", "both")

    def discriminate(d: nn.Module, x: Tensor, rng: torch.Generator) -> dict[str, Tensor]:
        return d.heads(pack_samples(augment(x, rng), m))

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real = ctx.batch["x"]
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        d = ctx.players["d"]
        losses = game.d_loss(discriminate(d, real, ctx.rng)["logits"], discriminate(d, fake, ctx.rng)["logits"])
        losses |= d_penalties(loss, d, pack_samples(real, m), pack_samples(fake, m), ctx.rng)
        if history is not None:
            losses["d_hist"] = history.penalty("d", d)
        return unpack_losses(losses, m)

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        out = discriminate(ctx.players["d"], fake, ctx.rng)
        losses: dict[str, Tensor] = {}
        if adversarial:
            losses["g"] = game.g_loss(out["logits"])
        if matching:  # ‖E f(x) - E f(G(z))‖² on D's last hidden features (Salimans et al., 2016); a batch statistic
            with torch.no_grad():
                real_features = discriminate(ctx.players["d"], ctx.batch["x"], ctx.rng)["features"].mean(dim=0)
            losses["g_fm"] = loss.feature_matching * (out["features"].mean(dim=0) - real_features).pow(2).sum()
        if history is not None:
            losses["g_hist"] = history.penalty("g", ctx.players["g"])
        return unpack_losses(losses, m)

    def decode(players: dict[str, nn.Module], z: Tensor, labels: Tensor | None = None) -> Tensor:
        return players["g"](z)

    def probe(players: dict[str, nn.Module], x: Tensor) -> Tensor:
        """D(x) per sample; with packing, D's decision on a pack of m copies of the sample."""
        return game.probability(players["d"](pack_samples(x.repeat_interleave(m, dim=0), m))).reshape(-1)

    # D's logit estimates log p_data/p_g when D plays a cross-entropy game on un-augmented input (one sample, or a
    # pack of them: see log_ratio) with target 1 for real data: its optimum is D*(x) = p_data / (p_data + p_g)
    # (Goodfellow et al., 2014, Prop. 1).
    # Batch norm in D makes its training-time output on a sample depend on the rest of the batch, so the eval-mode
    # logit (running statistics of real and fake batches mixed) is not the function that was trained.
    blockers = [
        text
        for text, present in (
            (f"loss {loss.name} (needs minimax or nonsaturating)", loss.name not in ("minimax", "nonsaturating")),
            (f"loss.real_label {loss.real_label:g} (needs 1)", loss.real_label != 1.0),
            ("minibatch discrimination in D", bool(cfg.model.d.minibatch)),
            ("train.augment", bool(cfg.train.augment)),
            ("batch norm in D (set model.d.norm to layer or none)", cfg.model.d.norm == "batch"),
        )
        if present
    ]

    def log_ratio(players: dict[str, nn.Module], x: Tensor) -> Tensor:
        if m == 1:
            return players["d"](x).reshape(-1)
        # A pack is m independent draws, so the optimal D's logit on it is the sum of its members' log-ratios: a
        # sample's own log-ratio is, up to a constant (which the rejection bound absorbs), D's logit on packs of it
        # with fixed partners drawn from G, averaged over PACK_PARTNERS partner sets and over its place in the pack.
        # Such packs are what D was trained on as fake ones (all members from G).
        seed = torch.Generator(device=x.device).manual_seed(PARTNER_SEED)
        partners = players["g"](latent(PACK_PARTNERS * (m - 1), z_dim, prior, seed, x.device)).reshape(PACK_PARTNERS, m - 1, *x.shape[1:])
        out = []
        for part in x.split(max(1, PACK_BATCH // (PACK_PARTNERS * m))):
            n, total = len(part), torch.zeros(len(part), device=x.device)
            for place in range(m):
                members = [
                    partners[None, :, :place].expand(n, -1, -1, *x.shape[1:]),
                    part[:, None, None].expand(-1, PACK_PARTNERS, 1, *x.shape[1:]),
                    partners[None, :, place:].expand(n, -1, -1, *x.shape[1:]),
                ]
                packs = pack_samples(torch.cat(members, dim=2).reshape(n * PACK_PARTNERS * m, *x.shape[1:]), m)
                total += players["d"](packs).reshape(n, PACK_PARTNERS).mean(dim=1)
            out.append(total / m)
        return torch.cat(out)

    def critic(ctx: StepContext, x: Tensor) -> Tensor:  # x is already packed (adversarial_pair packs it)
        return ctx.players["d"](x)

    return adversarial_pair(
        cfg, players, d_objective, g_objective, decode, critic, probe=probe, state=state,
        log_ratio=None if blockers else log_ratio, no_ratio="; ".join(blockers),
        d_post=history.update("d") if history else None, g_post=history.update("g") if history else None, g_uses_data=matching,
    )  # fmt: skip
