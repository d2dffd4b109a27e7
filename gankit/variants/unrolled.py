"""Unrolled GAN (Metz et al., 2017): the generator's loss is taken against the discriminator as it will be after
k more of its own updates, and G differentiates through those updates.

The discriminator step is the usual one. In the generator step, D's parameters are copied into a differentiable
graph and updated k times with the same rule as D's optimiser (Adam from its current
moments, or SGD; ``options.unroll_steps``), each time on the step's real batch and new samples of G; G's loss is then -log D_k(G(z)), with
gradients flowing through the k updates (second order). Only the copy moves: the real D, its optimiser state and
its BatchNorm statistics are left exactly as they were. A G that collapses onto one mode is punished by the
unrolled D, which would move to reject that mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gankit.augment import make_augment
from gankit.config import Config, _positive
from gankit.errors import GankitError
from gankit.losses import make_game
from gankit.nets import build_discriminator, build_generator
from gankit.variants.base import Players, StepContext, Variant, assemble, d_penalties, latent, noise_spec, register
from gankit.variants.gan import adversarial_steps, lazy_r1_r2


@dataclass
class UnrolledOptions:
    """``unroll_steps``: k, the D updates G's loss looks ahead through (Metz et al. use 5)."""

    unroll_steps: int = 5

    def validate(self, cfg: Config) -> None:
        _positive("options.unroll_steps", self.unroll_steps)
        if cfg.model.d.sn:
            raise GankitError("variant 'unrolled' unrolls D's plain weights; spectral norm's power iteration is not unrolled: set model.d.sn=false")


def unrolled_parameters(d: nn.Module, optimizer: torch.optim.Optimizer, d_loss: Any, steps: int, create_graph: bool = True) -> dict[str, Tensor]:
    """D's parameters after ``steps`` functional updates; ``d_loss(params, buffers)`` is the batch-mean D loss.
    Adam continues from the optimiser's moments (fresh ones if D has not stepped yet); other optimisers unroll as
    SGD with their learning rate."""
    names = [name for name, p in d.named_parameters()]
    params = {name: p.detach().clone().requires_grad_(True) for name, p in d.named_parameters()}  # a copy: D itself never moves
    buffers = {name: b.clone() for name, b in d.named_buffers()}  # BatchNorm statistics move in the copy only
    group = optimizer.param_groups[0]
    adam = isinstance(optimizer, torch.optim.Adam)
    states = [optimizer.state.get(p, {}) for p in d.parameters()]
    m = [s["exp_avg"].clone() if "exp_avg" in s else torch.zeros_like(p) for s, p in zip(states, params.values(), strict=True)]
    v = [s["exp_avg_sq"].clone() if "exp_avg_sq" in s else torch.zeros_like(p) for s, p in zip(states, params.values(), strict=True)]
    t0 = [float(s["step"]) if "step" in s else 0.0 for s in states]
    lr = group["lr"]
    for i in range(steps):
        loss = d_loss(params, buffers)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        new = {}
        for j, (name, g) in enumerate(zip(names, grads, strict=True)):
            p = params[name]
            if adam:
                beta1, beta2 = group["betas"]
                t = t0[j] + i + 1
                m[j] = beta1 * m[j] + (1 - beta1) * g
                v[j] = beta2 * v[j] + (1 - beta2) * g * g
                m_hat, v_hat = m[j] / (1 - beta1**t), v[j] / (1 - beta2**t)
                new[name] = p - lr * m_hat / (torch.sqrt(v_hat + 1e-16) + group["eps"])
            else:
                new[name] = p - lr * g
        params = new
    return params | buffers


@register("unrolled", "Metz et al. (2017): G's loss against D after k unrolled D updates, differentiated through them", options=UnrolledOptions, augment=True)
def build_unrolled(cfg: Config, data: Any, device: torch.device) -> Variant:
    game, loss, k = make_game(cfg.loss), cfg.loss, cfg.options.unroll_steps
    z_dim, prior = cfg.model.z_dim, cfg.model.z_prior
    augment = make_augment(cfg.train.augment, data.kind)
    players = {
        "g": build_generator(cfg.model.g, z_dim, data.shape).to(device),
        "d": build_discriminator(cfg.model.d, data.shape).to(device),
    }

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real = ctx.batch["x"]
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        d = ctx.players["d"]
        losses = game.d_loss(d(augment(real, ctx.rng))["logits"], d(augment(fake, ctx.rng))["logits"])
        return losses | d_penalties(loss, lambda x: d(x)["logits"], real, fake, ctx.rng)

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        d, g, real = ctx.players["d"], ctx.players["g"], ctx.batch["x"]

        def d_loss(params: dict[str, Tensor], buffers: dict[str, Tensor]) -> Tensor:
            fake = g(latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
            state = params | buffers
            terms = game.d_loss(functional_call(d, state, (augment(real, ctx.rng),))["logits"], functional_call(d, state, (augment(fake, ctx.rng),))["logits"])
            return sum(term.mean() for term in terms.values())

        unrolled = unrolled_parameters(d, ctx.optimizers["d"], d_loss, k)
        fake = g(latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        return {"g": game.g_loss(functional_call(d, unrolled, (augment(fake, ctx.rng),))["logits"])}

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"])

    def score(players: Players, x: Tensor) -> Tensor:
        return game.probability(players["d"](x)["logits"]).reshape(-1)

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        real = batches["train"]["x"]
        return score(players, real), score(players, players["g"](latent(len(real), z_dim, prior, rng, rng.device)))

    def critic(ctx: StepContext, x: Tensor) -> Tensor:
        return ctx.players["d"](x)["logits"]

    def fakes(ctx: StepContext) -> Tensor:
        return ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))

    groups = {"g": ("g",), "d": ("d",)}
    return assemble(
        cfg,
        players,
        groups,
        steps=adversarial_steps(cfg, d_objective, g_objective, lazy_r1_r2(cfg, critic, fakes), g_streams=("train",)),
        latents=noise_spec(z_dim, prior),
        decode=decode,
        probes={"d": probe},
        score=score,
        ema_players=("g",),
    )
