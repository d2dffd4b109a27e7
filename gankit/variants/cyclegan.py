"""CycleGAN (Zhu et al., 2017): unpaired translation between domains A and B.

Two generators G_AB and G_BA (one optimiser) and two discriminators D_A and D_B (one optimiser) play two
adversarial games on independent streams of A and B images (the LSGAN game in the paper), tied by the cycle
consistency λ·(‖G_BA(G_AB(a)) - a‖₁ + ‖G_AB(G_BA(b)) - b‖₁), λ = 10, and the identity term
0.5λ·(‖G_AB(b) - b‖₁ + ‖G_BA(a) - a‖₁), which keeps colours (and, for digits, ink) where the input already is in
the target domain. Each D sees generated images through a pool of the last 50 (Shrivastava et al., 2017), half
of each batch from history, and its objective is halved. The pools are checkpointed. The G step draws a batch
from each stream and keeps its fakes in the iteration's scratch; the D step scores them through the pools.
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
from gankit.variants.base import ImagePool, Players, Step, StepContext, Variant, assemble, d_penalties, register


@dataclass
class CycleGANOptions:
    """``cycle``: λ of the cycle-consistency terms (10); ``identity``: weight of the identity terms as a fraction
    of λ (0.5; 0: off); ``pool``: generated images each D's pool holds (50; 0: no pool); ``d_scale``: factor of
    the discriminators' objective (½)."""

    cycle: float = 10.0
    identity: float = 0.5
    pool: int = 50
    d_scale: float = 0.5

    def validate(self, cfg: Config) -> None:
        _positive("options.cycle", self.cycle, allow_zero=True)
        _positive("options.identity", self.identity, allow_zero=True)
        _positive("options.pool", self.pool, allow_zero=True)
        _positive("options.d_scale", self.d_scale)


@register(
    "cyclegan",
    "Zhu et al. (2017): unpaired A<->B translation, two generators, two discriminators, cycle and identity terms, image pools",
    players={
        "g_ab": NetConfig(arch="unet", width=64, depth=8, norm="batch"),
        "g_ba": NetConfig(arch="unet", width=64, depth=8, norm="batch"),
        "d_a": NetConfig(arch="patchgan", width=64, depth=3, norm="batch"),
        "d_b": NetConfig(arch="patchgan", width=64, depth=3, norm="batch"),
    },
    groups=("g", "d"),
    options=CycleGANOptions,
    noise=False,
)
def build_cyclegan(cfg: Config, data: Any, device: torch.device) -> Variant:
    if "a" not in data.fields or "b" not in data.fields:
        raise GankitError(
            f"variant 'cyclegan' translates between domains a and b; data '{cfg.data.name}' has fields {', '.join(data.fields)} (use digits2mnist or unaligned)"
        )
    opts, game = cfg.options, make_game(cfg.loss)
    shape_a, shape_b = tuple(data.fields["a"].shape), tuple(data.fields["b"].shape)
    if opts.identity and shape_a[0] != shape_b[0]:
        raise GankitError(f"options.identity compares an image with its translation: A has {shape_a[0]} channel(s), B {shape_b[0]}; set options.identity=0")
    players = {
        "g_ab": build_network(cfg.model.g_ab, shape_a, shape_b).to(device),
        "g_ba": build_network(cfg.model.g_ba, shape_b, shape_a).to(device),
        "d_a": build_network(cfg.model.d_a, shape_a, (1,)).to(device),
        "d_b": build_network(cfg.model.d_b, shape_b, (1,)).to(device),
    }
    pools = {"pool_a": ImagePool(opts.pool), "pool_b": ImagePool(opts.pool)}

    def logits(d: Any, x: Tensor) -> Tensor:
        return d(x)["logits"]

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        p = ctx.players
        a, b = ctx.batches["a"]["a"], ctx.batches["b"]["b"]
        fake_b, fake_a = p["g_ab"](a), p["g_ba"](b)
        ctx.scratch.update(a=a, b=b, fake_a=fake_a.detach(), fake_b=fake_b.detach())
        losses = {"g_ab": game.g_loss(logits(p["d_b"], fake_b)), "g_ba": game.g_loss(logits(p["d_a"], fake_a))}
        if opts.cycle:
            losses["cycle_a"] = opts.cycle * l1_loss(p["g_ba"](fake_b), a)
            losses["cycle_b"] = opts.cycle * l1_loss(p["g_ab"](fake_a), b)
        if opts.cycle and opts.identity:
            losses["identity_a"] = opts.identity * opts.cycle * l1_loss(p["g_ba"](a), a)
            losses["identity_b"] = opts.identity * opts.cycle * l1_loss(p["g_ab"](b), b)
        return losses

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        p, s = ctx.players, ctx.scratch
        shown_a = pools["pool_a"].query(s["fake_a"], ctx.rng)
        shown_b = pools["pool_b"].query(s["fake_b"], ctx.rng)
        terms_a = game.d_loss(logits(p["d_a"], s["a"]), logits(p["d_a"], shown_a))
        terms_b = game.d_loss(logits(p["d_b"], s["b"]), logits(p["d_b"], shown_b))
        terms_a |= d_penalties(cfg.loss, lambda x: logits(p["d_a"], x).mean(dim=1), s["a"], shown_a, ctx.rng)
        terms_b |= d_penalties(cfg.loss, lambda x: logits(p["d_b"], x).mean(dim=1), s["b"], shown_b, ctx.rng)
        return {f"{k}_a": opts.d_scale * v for k, v in terms_a.items()} | {f"{k}_b": opts.d_scale * v for k, v in terms_b.items()}

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        return players["g_ab" if direction == "a2b" else "g_ba"](x)

    def probe_a(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        return logits(players["d_a"], batches["a"]["a"]).mean(dim=1), logits(players["d_a"], players["g_ba"](batches["b"]["b"])).mean(dim=1)

    def probe_b(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        return logits(players["d_b"], batches["b"]["b"]).mean(dim=1), logits(players["d_b"], players["g_ab"](batches["a"]["a"])).mean(dim=1)

    def clip(ctx: StepContext) -> None:
        for name in ("d_a", "d_b"):
            clip_weights(ctx.players[name], cfg.loss.clip)

    groups = {"g": ("g_ab", "g_ba"), "d": ("d_a", "d_b")}
    return assemble(
        cfg,
        players,
        groups,
        steps=[
            Step("g", ("g",), g_objective, streams=("a", "b")),
            Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, streams=(), post=clip if cfg.loss.clip else None),
        ],
        state=pools,
        translate=translate,
        directions={"a2b": ("a", "b"), "b2a": ("b", "a")},
        probes={"d_a": probe_a, "d_b": probe_b},
        ema_players=("g_ab", "g_ba"),
    )
