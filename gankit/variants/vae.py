"""The variational autoencoder (Kingma & Welling, 2014), the non-adversarial baseline of the representation tables:
an encoder q(z|x) = N(μ(x), diag σ²(x)), a decoder p(x|z) = N(G(z), σ_x² I), trained by the loop like any variant
on the negative ELBO per sample, -log p(x|z) + β·KL(q(z|x) ‖ N(0, I)) with z = μ + σ·ε drawn from the loop's
noise generator (the reparameterisation trick). One optimiser group updates both networks.

``decode`` is G on z ~ N(0, I) (samples), ``encode`` the posterior mean μ(x) (features), ``translate``
(direction ``reconstruct``) G(μ(x)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config, NetConfig, _positive
from gankit.errors import GankitError
from gankit.losses import gaussian_kl, gaussian_nll
from gankit.nets import build_generator, build_network
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, noise_spec, register

LOGVAR_LIMIT = 10.0  # log σ² of the posterior is clamped to ±this: exp() stays finite early in training


@dataclass
class VAEOptions:
    """``sigma``: the decoder's standard deviation σ_x in the model's [-1, 1] range; ``beta``: weight of the KL term
    (1: the ELBO)."""

    sigma: float = 0.2
    beta: float = 1.0

    def validate(self, cfg: Config) -> None:
        _positive("options.sigma", self.sigma)
        _positive("options.beta", self.beta, allow_zero=True)
        if cfg.model.z_prior != "normal":
            raise GankitError(f"the VAE's prior is N(0, I): model.z_prior must be normal (got {cfg.model.z_prior})")


@register(
    "vae",
    "Kingma & Welling (2014): encoder q(z|x), decoder p(x|z), the negative ELBO per sample; no discriminator",
    players={"e": NetConfig(arch="dcgan", width=32, norm="batch"), "g": NetConfig(arch="dcgan", width=32, norm="batch")},
    groups=("vae",),
    options=VAEOptions,
)
def build_vae(cfg: Config, data: Any, device: torch.device) -> Variant:
    opts, z_dim = cfg.options, cfg.model.z_dim
    shape = tuple(data.fields["x"].shape)
    players = {"e": build_network(cfg.model.e, shape, (2 * z_dim,), critic=False).to(device), "g": build_generator(cfg.model.g, z_dim, shape).to(device)}

    def posterior(players: Players, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = players["e"](x).chunk(2, dim=1)
        return mu, logvar.clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)

    def objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batch["x"]
        mu, logvar = posterior(ctx.players, x)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=ctx.rng, device=ctx.device, dtype=mu.dtype)
        return {"nll": gaussian_nll(x, ctx.players["g"](z), opts.sigma), "kl": opts.beta * gaussian_kl(mu, logvar)}

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"])

    def encode(players: Players, x: Tensor) -> Tensor:
        return posterior(players, x)[0]

    def reconstruct(players: Players, x: Tensor, direction: str) -> Tensor:
        return players["g"](posterior(players, x)[0])

    return assemble(
        cfg, players, {"vae": ("e", "g")}, steps=[Step("vae", ("vae",), objective)], latents=noise_spec(z_dim, "normal"), decode=decode,
        encode=encode, translate=reconstruct, directions={"reconstruct": ("x", "x")}, ema_players=("g",),
    )  # fmt: skip
