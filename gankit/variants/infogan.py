"""InfoGAN (Chen et al., 2016): a GAN whose generator input has structured codes c beside the noise z, and which
maximises a variational lower bound of the mutual information I(c; G(z, c)).

G(z, c) takes the noise and the codes (categorical one-hot, continuous as they are); Q(c | x) is a small head on
the discriminator's trunk (D's last hidden features), predicting the categorical code's logits and the
continuous codes' means (a factored Gaussian of unit variance, as the paper found sufficient). Both players
minimise λ·L_I, L_I = cross-entropy(c_cat) + ½‖c_cont - μ‖² on generated samples: Q (and D's trunk) in the D step
on detached fakes, G through Q in the G step. MNIST setting of the paper: c1 ~ Cat(10), c2, c3 ~ U(-1, 1), 62-d
noise, λ = 1. ``encode`` is Q's reading of images: the categorical code's probabilities and the continuous
codes' means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.augment import make_augment
from gankit.config import Config, NetConfig, _positive
from gankit.losses import make_game
from gankit.nets import build_discriminator, build_generator
from gankit.variants.base import LatentPart, LatentSpec, Players, StepContext, Variant, assemble, d_penalties, register
from gankit.variants.gan import adversarial_steps


@dataclass
class InfoGANOptions:
    """``categorical``: values of the categorical code c1 (0: none); ``continuous``: number of U(-1, 1) codes c2, c3,
    ...; ``info_weight``: λ of the categorical term, ``continuous_weight``: λ of the continuous terms."""

    categorical: int = 10
    continuous: int = 2
    info_weight: float = 1.0
    continuous_weight: float = 1.0

    def validate(self, cfg: Config) -> None:
        _positive("options.categorical", self.categorical, allow_zero=True)
        _positive("options.continuous", self.continuous, allow_zero=True)
        _positive("options.info_weight", self.info_weight, allow_zero=True)
        _positive("options.continuous_weight", self.continuous_weight, allow_zero=True)


def code_spec(z_dim: int, prior: str, categorical: int, continuous: int) -> LatentSpec:
    """c1 (categorical), c2, c3, ... (continuous, one dimension each), then the noise z."""
    parts = [LatentPart("c1", "categorical", categorical)] if categorical else []
    parts += [LatentPart(f"c{i + 2 if categorical else i + 1}", "uniform", 1) for i in range(continuous)]
    return LatentSpec((*parts, LatentPart("z", prior, z_dim)))


@register(
    "infogan",
    "Chen et al. (2016): structured codes c beside z, Q(c|x) on D's trunk maximises a bound on I(c; G(z, c))",
    players={"g": NetConfig(arch="fcconv", width=64, norm="batch"), "d": NetConfig(arch="fcconv", width=64, norm="batch"),
             "q": NetConfig(arch="mlp", width=128, depth=1, activation="leaky_relu", norm="batch")},
    groups=("g", "d"),
    options=InfoGANOptions,
    augment=True,
)  # fmt: skip
def build_infogan(cfg: Config, data: Any, device: torch.device) -> Variant:
    game, opts = make_game(cfg.loss), cfg.options
    spec = code_spec(cfg.model.z_dim, cfg.model.z_prior, opts.categorical, opts.continuous)
    codes = [p for p in spec.parts if p.name != "z"]
    cat = next((p for p in codes if p.kind == "categorical"), None)
    cont = [p.name for p in codes if p.kind != "categorical"]
    inputs = sum(p.size for p in spec.parts)
    augment = make_augment(cfg.train.augment, data.kind)
    g = build_generator(cfg.model.g, inputs, data.shape).to(device)
    d = build_discriminator(cfg.model.d, data.shape).to(device)
    with torch.no_grad():
        features = d(torch.zeros(2, *data.shape, device=device))["features"].shape[1]
    q = build_generator(cfg.model.q, features, ((cat.size if cat else 0) + len(cont),)).to(device)
    players = {"g": g, "d": d, "q": q}

    def generator_input(latents: dict[str, Tensor]) -> Tensor:
        parts = []
        for part in spec.parts:
            value = latents[part.name]
            parts.append(F.one_hot(value, part.size).float() if part.kind == "categorical" else value)
        parts = parts[-1:] + parts[:-1]  # z first, then the codes in order
        return torch.cat(parts, dim=1)

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](generator_input(latents))

    def read_codes(players: Players, features: Tensor) -> tuple[Tensor | None, Tensor]:
        out = players["q"](features)
        k = cat.size if cat else 0
        return (out[:, :k] if cat else None), out[:, k:]

    def info_losses(players: Players, features: Tensor, latents: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
        logits, means = read_codes(players, features)
        out = {}
        if cat is not None:
            out[f"{prefix}_info_cat"] = opts.info_weight * F.cross_entropy(logits, latents[cat.name], reduction="none")
        if cont:
            target = torch.cat([latents[name] for name in cont], dim=1)
            out[f"{prefix}_info_cont"] = opts.continuous_weight * 0.5 * (target - means).pow(2).sum(dim=1)
        return out

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real = ctx.batch["x"]
        latents = spec.draw(ctx.n, ctx.rng, ctx.device, balanced=False)
        with torch.no_grad():
            fake = decode(ctx.players, latents)
        d = ctx.players["d"]
        out_real, out_fake = d(augment(real, ctx.rng)), d(augment(fake, ctx.rng))
        losses = game.d_loss(out_real["logits"], out_fake["logits"])
        losses |= d_penalties(cfg.loss, lambda x: d(x)["logits"], real, fake, ctx.rng)
        return losses | info_losses(ctx.players, out_fake["features"], latents, "q")

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        latents = spec.draw(ctx.n, ctx.rng, ctx.device, balanced=False)
        out = ctx.players["d"](augment(decode(ctx.players, latents), ctx.rng))
        return {"g": game.g_loss(out["logits"])} | info_losses(ctx.players, out["features"], latents, "g")

    def encode(players: Players, x: Tensor) -> Tensor:
        logits, means = read_codes(players, players["d"](x)["features"])
        return torch.cat(([logits.softmax(dim=1)] if logits is not None else []) + [means], dim=1)

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        real = batches["train"]["x"]
        fake = decode(players, spec.draw(len(real), rng, rng.device, balanced=False))
        return players["d"](real)["logits"].reshape(-1), players["d"](fake)["logits"].reshape(-1)

    groups = {"g": ("g",), "d": ("d", "q")}  # Q trains with D (it shares D's trunk); G reaches Q's loss through its samples
    return assemble(
        cfg,
        players,
        groups,
        steps=adversarial_steps(cfg, d_objective, g_objective),
        latents=spec,
        decode=decode,
        encode=encode,
        probes={"d": probe},
        ema_players=("g",),
    )
