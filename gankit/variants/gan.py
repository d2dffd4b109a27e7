"""The GAN of Goodfellow et al. (2014): Algorithm 1 with k discriminator steps per generator step.

The game (``loss.name``) picks both players' costs: ``minimax`` (G minimises log(1 - D(G(z)))), ``nonsaturating``
(-log D(G(z))), and the stabilised games of the lectures: ``wgan``, ``lsgan``, ``hinge``. The discriminator's
regularisers (gradient penalty, R1/R2, weight clipping, label smoothing) and spectral normalisation
(``model.d.sn``) compose with any of them. Its own options: PacGAN packing and the Improved-GAN generator terms.
With a convolutional D that exposes its activation maps (``dcgan``), ``encode`` gives D's features as Radford et al.
(2016) use them for classification: every block max-pooled to 4 x 4 and concatenated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.augment import make_augment
from gankit.config import Config, _choice, _positive
from gankit.errors import GankitError
from gankit.losses import feature_matching, make_game
from gankit.nets import build_discriminator, build_generator
from gankit.regularizers import clip_weights, r1_penalty
from gankit.variants.base import (
    HistoricalAverage,
    Players,
    Step,
    StepContext,
    Variant,
    assemble,
    d_penalties,
    latent,
    noise_spec,
    pack_samples,
    packed_shape,
    register,
    unpack_losses,
)

PACK_PARTNERS = 64  # partner sets per sample for the per-sample log-ratio of a packing D
PACK_BATCH = 8192  # packs per D call there
PARTNER_SEED = 0x9A4
FEATURE_GRID = 4  # D's activation maps are max-pooled to 4 x 4 for its features (encode)


@dataclass
class GanOptions:
    """``pack``: PacGAN (Lin et al., 2018), m samples per D decision. Improved-GAN terms (Salimans et al., 2016):
    ``g_objective`` adversarial, feature_matching (weight ``feature_matching`` on ‖E f(x) - E f(G(z))‖², D's last
    hidden features) or both; ``historical``: weight of ‖θ - θ̄‖² for both players (0: off)."""

    pack: int = 1
    g_objective: str = "adversarial"
    feature_matching: float = 1.0
    historical: float = 0.0

    def validate(self, cfg: Config) -> None:
        _positive("options.pack", self.pack)
        _choice("options.g_objective", self.g_objective, ["adversarial", "feature_matching", "both"])
        _positive("options.feature_matching", self.feature_matching)
        _positive("options.historical", self.historical, allow_zero=True)
        if cfg.train.batch_size % self.pack:
            raise GankitError(f"options.pack={self.pack} packs samples into D's inputs: train.batch_size ({cfg.train.batch_size}) must be a multiple of it")


def adversarial_steps(
    cfg: Config,
    d_objective: Callable[[StepContext], dict[str, Tensor]],
    g_objective: Callable[[StepContext], dict[str, Tensor]],
    lazy: Callable[[StepContext], dict[str, Tensor]] | None = None,
    *,
    d_post: Callable[[StepContext], None] | None = None,
    g_post: Callable[[StepContext], None] | None = None,
    g_streams: tuple[str, ...] = (),
) -> list[Step]:
    """The common shape of Algorithm 1 for players ``g`` and ``d``: ``train.d_steps`` discriminator steps on real
    batches (weights clipped after each when ``loss.clip`` > 0), lazy R1/R2 (``lazy``, every ``loss.reg_every``
    iterations when that is > 1), then one generator step (on noise alone unless ``g_streams``)."""
    loss = cfg.loss

    def after_d(ctx: StepContext) -> None:
        if loss.clip:
            clip_weights(ctx.players["d"], loss.clip)
        if d_post is not None:
            d_post(ctx)

    steps = [Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, post=after_d if loss.clip or d_post else None)]
    if (loss.r1 or loss.r2) and loss.reg_every > 1 and lazy is not None:
        steps.append(Step("d_reg", ("d",), lazy, every=loss.reg_every))
    steps.append(Step("g", ("g",), g_objective, streams=g_streams, post=g_post))
    return steps


def lazy_r1_r2(
    cfg: Config, critic: Callable[[StepContext, Tensor], Tensor], fakes: Callable[[StepContext], Tensor], m: int = 1
) -> Callable[[StepContext], dict[str, Tensor]]:
    """Lazy R1/R2 (Karras et al., 2020): γ·½‖∇D‖² on real (``ctx.batch["x"]``) and generated samples every
    ``loss.reg_every`` iterations, scaled by the interval. ``critic(ctx, x)`` is D's logit on x (with the
    batch's labels for conditional variants), ``fakes(ctx)`` the generated samples it is taken at."""
    loss = cfg.loss

    def objective(ctx: StepContext) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if loss.r1:
            out["r1"] = loss.reg_every * loss.r1 * r1_penalty(lambda x: critic(ctx, x), pack_samples(ctx.batch["x"], m))
        if loss.r2:
            with torch.no_grad():
                fake = fakes(ctx)
            out["r2"] = loss.reg_every * loss.r2 * r1_penalty(lambda x: critic(ctx, x), pack_samples(fake, m))
        return unpack_losses(out, m)

    return objective


@register("gan", "Goodfellow et al. (2014) and its stabilised forms: any game, penalties, SN, packing, Improved-GAN terms", options=GanOptions, augment=True)
def build_gan(cfg: Config, data: Any, device: torch.device) -> Variant:
    game, loss, opts = make_game(cfg.loss), cfg.loss, cfg.options
    z_dim, prior, m = cfg.model.z_dim, cfg.model.z_prior, opts.pack
    augment = make_augment(cfg.train.augment, data.kind)  # DiffAugment: random differentiable transforms of both real and fake inputs of D
    players = {
        "g": build_generator(cfg.model.g, z_dim, data.shape).to(device),
        "d": build_discriminator(cfg.model.d, packed_shape(data.shape, m)).to(device),
    }
    history = HistoricalAverage(players, ("g", "d"), opts.historical) if opts.historical else None
    adversarial, matching = opts.g_objective in ("adversarial", "both"), opts.g_objective in ("feature_matching", "both")

    def discriminate(d: nn.Module, x: Tensor, rng: torch.Generator) -> dict[str, Tensor]:
        return d(pack_samples(augment(x, rng), m))

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real = ctx.batch["x"]
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        d = ctx.players["d"]
        losses = game.d_loss(discriminate(d, real, ctx.rng)["logits"], discriminate(d, fake, ctx.rng)["logits"])
        losses |= d_penalties(loss, lambda x: d(x)["logits"], pack_samples(real, m), pack_samples(fake, m), ctx.rng)
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
                real_features = discriminate(ctx.players["d"], ctx.batch["x"], ctx.rng)["features"]
            losses["g_fm"] = opts.feature_matching * feature_matching(out["features"], real_features)
        if history is not None:
            losses["g_hist"] = history.penalty("g", ctx.players["g"])
        return unpack_losses(losses, m)

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"])

    def score(players: Players, x: Tensor) -> Tensor:
        """D(x) per sample; with packing, D's decision on a pack of m copies of the sample."""
        return game.probability(players["d"](pack_samples(x.repeat_interleave(m, dim=0), m))["logits"]).reshape(-1)

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        real = batches["train"]["x"]
        return score(players, real), score(players, players["g"](latent(len(real), z_dim, prior, rng, rng.device)))

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

    def log_ratio(players: Players, x: Tensor) -> Tensor:
        if m == 1:
            return players["d"](x)["logits"].reshape(-1)
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
                total += players["d"](packs)["logits"].reshape(n, PACK_PARTNERS).mean(dim=1)
            out.append(total / m)
        return torch.cat(out)

    def critic(ctx: StepContext, x: Tensor) -> Tensor:  # x is already packed (lazy_r1_r2 packs it)
        return ctx.players["d"](x)["logits"]

    def fakes(ctx: StepContext) -> Tensor:
        return ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))

    def encode(players: Players, x: Tensor) -> Tensor:
        """D's features as a representation (Radford et al., 2016): every convolutional block's activations
        max-pooled to 4 x 4 and concatenated."""
        return torch.cat([F.adaptive_max_pool2d(h, FEATURE_GRID).flatten(1) for h in players["d"].feature_maps(x)], dim=1)

    groups = {"g": ("g",), "d": ("d",)}
    steps = adversarial_steps(
        cfg, d_objective, g_objective, lazy_r1_r2(cfg, critic, fakes, m),
        d_post=history.update("d") if history else None, g_post=history.update("g") if history else None,
        g_streams=("train",) if matching else (),
    )  # fmt: skip
    return assemble(
        cfg,
        players,
        groups,
        steps=steps,
        state={"historical_average": history} if history is not None else {},
        latents=noise_spec(z_dim, prior),
        decode=decode,
        probes={"d": probe},
        score=score,
        ema_players=("g",),
        log_ratio=None if blockers else log_ratio,
        no_ratio="; ".join(blockers),
        encode=encode if m == 1 and hasattr(players["d"], "feature_maps") else None,
    )
