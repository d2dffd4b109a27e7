"""UNIT (Liu, Breuel & Kautz, 2017): unsupervised image-to-image translation with a shared latent space.

Two VAE-GANs, one per domain, whose codes live in one space. Each encoder is a private low-level part E_a, E_b
(image -> a feature map at a quarter of the side) followed by high-level layers E_s shared by both; each generator
is shared first layers G_s followed by a private decoder G_a, G_b (map -> image). The code of a is
z_a = μ_a + ε with μ_a = E_s(E_a(a)) and ε ~ N(0, I): the paper's posterior of unit variance, whose KL divergence
from the prior N(0, I) is ½‖μ‖². Translation decodes a's code with the other domain's decoder,
a -> b = G_b(G_s(z_a)), and at test time uses μ, without noise. Objectives, per domain (a shown; b alike):

- VAE: λ1·KL(q(z_a|a) ‖ N(0, I)) + λ2·‖G_a(G_s(z_a)) - a‖₁ (a Laplacian decoder);
- GAN: λ0 times the game's losses, D_b on real b against G_b(G_s(z_a)), and the generator's term for that fake;
- cycle consistency: re-encode the translation, z_aba = E_s(E_b(G_b(G_s(z_a)))) + ε', and
  λ3·KL(q(z_aba|a->b) ‖ N(0, I)) + λ4·‖G_a(G_s(z_aba)) - a‖₁.

The paper's weights are λ0 = 10, λ1 = λ3 = 0.1, λ2 = λ4 = 100. The KL term here is ½ mean_j μ_j² per sample, the
mean over the code's entries (as the authors' code takes it, and as the L1 terms take the mean over pixels), not
the sum. The paper's cycle term also repeats λ3·KL of the first code; as in the authors' code it is counted once,
in the VAE term. One optimiser group trains the encoders and generators, another the two discriminators. The G
step draws a batch from each stream and leaves its (detached) translations in the scratch for the D step.

The default networks are the ResNet translator's halves (``resnet``: image -> (K, H/4, W/4) and back) around
``resblocks`` for the shared layers, with layer norm: a batch holds one domain, so batch norm in the shared layers
would normalise each domain by its own statistics in training and by their mixture at test time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config, NetConfig, _positive
from gankit.errors import GankitError
from gankit.losses import l1_loss, make_game, per_sample
from gankit.nets import build_network
from gankit.regularizers import clip_weights
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, d_penalties, register

TRANSLATION_PLAYERS = ("e_a", "e_b", "e_shared", "g_shared", "g_a", "g_b")


def unit_kl(mu: Tensor) -> Tensor:
    """KL(N(μ, I) ‖ N(0, I)) per code entry, averaged over the entries: ½ mean_j μ_j², (B, ...) -> (B,)."""
    return 0.5 * per_sample(mu.pow(2))


@dataclass
class UNITOptions:
    """``latent``: channels K of the shared code, a (K, H/4, W/4) map; the weights of the objective (the paper's):
    ``gan`` λ0 = 10, ``kl`` λ1 = 0.1, ``recon`` λ2 = 100 (L1 reconstruction), ``cycle_kl`` λ3 = 0.1 and ``cycle``
    λ4 = 100 (L1 cycle reconstruction)."""

    latent: int = 256
    gan: float = 10.0
    kl: float = 0.1
    recon: float = 100.0
    cycle_kl: float = 0.1
    cycle: float = 100.0

    def validate(self, cfg: Config) -> None:
        if isinstance(self.latent, bool) or not isinstance(self.latent, int) or self.latent < 1:
            raise GankitError(f"options.latent is the number of channels of the shared code, a positive integer (got {self.latent!r})")
        _positive("options.gan", self.gan)
        for key in ("kl", "recon", "cycle_kl", "cycle"):
            _positive(f"options.{key}", getattr(self, key), allow_zero=True)


@register(
    "unit",
    "Liu et al. (2017): unpaired A<->B translation, two VAE-GANs sharing the latent space (shared high-level encoder and generator layers), cycle terms",
    players={
        "e_a": NetConfig(arch="resnet", width=64, depth=3, norm="layer"),
        "e_b": NetConfig(arch="resnet", width=64, depth=3, norm="layer"),
        "e_shared": NetConfig(arch="resblocks", depth=1, norm="layer"),
        "g_shared": NetConfig(arch="resblocks", depth=1, norm="layer"),
        "g_a": NetConfig(arch="resnet", width=64, depth=3, norm="layer"),
        "g_b": NetConfig(arch="resnet", width=64, depth=3, norm="layer"),
        "d_a": NetConfig(arch="patchgan", width=64, depth=3, norm="batch"),
        "d_b": NetConfig(arch="patchgan", width=64, depth=3, norm="batch"),
    },
    groups=("g", "d"),
    options=UNITOptions,
    noise=False,
)
def build_unit(cfg: Config, data: Any, device: torch.device) -> Variant:
    if "a" not in data.fields or "b" not in data.fields:
        raise GankitError(
            f"variant 'unit' translates between domains a and b; data '{cfg.data.name}' has fields {', '.join(data.fields)} (use digits2mnist or unaligned)"
        )
    opts, game, m = cfg.options, make_game(cfg.loss), cfg.model
    shape_a, shape_b = tuple(data.fields["a"].shape), tuple(data.fields["b"].shape)
    if len(shape_a) != 3 or len(shape_b) != 3 or shape_a[1:] != shape_b[1:] or shape_a[1] % 4 or shape_a[2] % 4:
        raise GankitError(f"UNIT's shared code is a map at a quarter of the side: A and B must be images of one size divisible by 4, not {shape_a}, {shape_b}")
    code = (opts.latent, shape_a[1] // 4, shape_a[2] // 4)
    players = {
        "e_a": build_network(m.e_a, shape_a, code, critic=False),
        "e_b": build_network(m.e_b, shape_b, code, critic=False),
        "e_shared": build_network(m.e_shared, code, code, critic=False),
        "g_shared": build_network(m.g_shared, code, code, critic=False),
        "g_a": build_network(m.g_a, code, shape_a, critic=False),
        "g_b": build_network(m.g_b, code, shape_b, critic=False),
        "d_a": build_network(m.d_a, shape_a, (1,)),
        "d_b": build_network(m.d_b, shape_b, (1,)),
    }
    players = {name: net.to(device) for name, net in players.items()}

    def logits(d: Any, x: Tensor) -> Tensor:
        return d(x)["logits"]

    def mean_code(p: Players, x: Tensor, domain: str) -> Tensor:
        """μ = E_s(E_domain(x)): the posterior's mean, in the shared space."""
        return p["e_shared"](p[f"e_{domain}"](x))

    def sample_code(mu: Tensor, ctx: StepContext) -> Tensor:
        """z = μ + ε, ε ~ N(0, I) from the loop's generator (the reparameterisation of the unit-variance posterior)."""
        return mu + torch.randn(mu.shape, generator=ctx.rng, device=ctx.device, dtype=mu.dtype)

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        p = ctx.players
        a, b = ctx.batches["a"]["a"], ctx.batches["b"]["b"]
        mu_a, mu_b = mean_code(p, a, "a"), mean_code(p, b, "b")
        h_a, h_b = p["g_shared"](sample_code(mu_a, ctx)), p["g_shared"](sample_code(mu_b, ctx))
        fake_b, fake_a = p["g_b"](h_a), p["g_a"](h_b)
        ctx.scratch.update(a=a, b=b, fake_a=fake_a.detach(), fake_b=fake_b.detach())
        losses = {
            "g_ab": opts.gan * game.g_loss(logits(p["d_b"], fake_b)),
            "g_ba": opts.gan * game.g_loss(logits(p["d_a"], fake_a)),
        }
        if opts.kl:
            losses["kl_a"], losses["kl_b"] = opts.kl * unit_kl(mu_a), opts.kl * unit_kl(mu_b)
        if opts.recon:
            losses["recon_a"], losses["recon_b"] = opts.recon * l1_loss(p["g_a"](h_a), a), opts.recon * l1_loss(p["g_b"](h_b), b)
        if opts.cycle or opts.cycle_kl:
            mu_aba, mu_bab = mean_code(p, fake_b, "b"), mean_code(p, fake_a, "a")
            if opts.cycle_kl:
                losses["cycle_kl_a"], losses["cycle_kl_b"] = opts.cycle_kl * unit_kl(mu_aba), opts.cycle_kl * unit_kl(mu_bab)
            if opts.cycle:
                cycle_a = p["g_a"](p["g_shared"](sample_code(mu_aba, ctx)))
                cycle_b = p["g_b"](p["g_shared"](sample_code(mu_bab, ctx)))
                losses["cycle_a"], losses["cycle_b"] = opts.cycle * l1_loss(cycle_a, a), opts.cycle * l1_loss(cycle_b, b)
        return losses

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        p, s = ctx.players, ctx.scratch
        terms_a = game.d_loss(logits(p["d_a"], s["a"]), logits(p["d_a"], s["fake_a"]))
        terms_b = game.d_loss(logits(p["d_b"], s["b"]), logits(p["d_b"], s["fake_b"]))
        terms_a = {k: opts.gan * v for k, v in terms_a.items()} | d_penalties(cfg.loss, lambda x: logits(p["d_a"], x).mean(dim=1), s["a"], s["fake_a"], ctx.rng)
        terms_b = {k: opts.gan * v for k, v in terms_b.items()} | d_penalties(cfg.loss, lambda x: logits(p["d_b"], x).mean(dim=1), s["b"], s["fake_b"], ctx.rng)
        return {f"{k}_a": v for k, v in terms_a.items()} | {f"{k}_b": v for k, v in terms_b.items()}

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        """a2b: G_b(G_s(μ_a)); b2a: G_a(G_s(μ_b)), from the posterior means (no noise)."""
        source, target = ("a", "b") if direction == "a2b" else ("b", "a")
        return players[f"g_{target}"](players["g_shared"](mean_code(players, x, source)))

    def probe_a(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        return logits(players["d_a"], batches["a"]["a"]).mean(dim=1), logits(players["d_a"], translate(players, batches["b"]["b"], "b2a")).mean(dim=1)

    def probe_b(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        return logits(players["d_b"], batches["b"]["b"]).mean(dim=1), logits(players["d_b"], translate(players, batches["a"]["a"], "a2b")).mean(dim=1)

    def clip(ctx: StepContext) -> None:
        for name in ("d_a", "d_b"):
            clip_weights(ctx.players[name], cfg.loss.clip)

    groups = {"g": TRANSLATION_PLAYERS, "d": ("d_a", "d_b")}
    return assemble(
        cfg,
        players,
        groups,
        steps=[
            Step("g", ("g",), g_objective, streams=("a", "b")),
            Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, streams=(), post=clip if cfg.loss.clip else None),
        ],
        translate=translate,
        directions={"a2b": ("a", "b"), "b2a": ("b", "a")},
        probes={"d_a": probe_a, "d_b": probe_b},
        ema_players=TRANSLATION_PLAYERS,
    )
