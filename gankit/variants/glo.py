"""Generative Latent Optimization (Bojanowski et al., 2018): a generator trained without a discriminator, jointly
with one learned latent code per training image, min over θ and the codes z_i of Σ_i ℓ(G_θ(z_i), x_i), every code
projected back onto the unit sphere after each step (the batch's rows: the only ones SGD moves), ℓ the Laplacian-pyramid L1 loss
(:func:`gankit.losses.laplacian_l1`).

The code table is a player (``codes``, an embedding of one row per training image, read by each batch's
``index`` from :func:`gankit.data.indexed`) with its own optimiser group (``optim.codes``; SGD, so that only the
batch's rows move). Samples (``decode``) come from a full-covariance Gaussian fitted to the learned codes, projected
onto the sphere; ``encode`` fits a code to new images by gradient descent on ℓ with G fixed, from the codes'
mean (deterministic), and ``translate`` (``reconstruct``) is G of that code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import Config, NetConfig, _positive
from gankit.data import indexed
from gankit.errors import GankitError
from gankit.losses import laplacian_l1
from gankit.nets import build_generator
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, noise_spec, register

COVARIANCE_JITTER = 1e-5  # added to the fitted covariance's diagonal before its Cholesky factor


@dataclass
class GLOOptions:
    """``levels``: levels of the Laplacian pyramid in the loss; ``encode_steps`` / ``encode_lr``: Adam steps and
    learning rate of the code fitted to each new image (``encode``, ``reconstruct``)."""

    levels: int = 4
    encode_steps: int = 200
    encode_lr: float = 0.05

    def validate(self, cfg: Config) -> None:
        _positive("options.levels", self.levels)
        _positive("options.encode_steps", self.encode_steps)
        _positive("options.encode_lr", self.encode_lr)


def project(z: Tensor) -> Tensor:
    """Codes onto the unit sphere: z / ‖z‖ per row."""
    return F.normalize(z, dim=1)


class CodeTable(nn.Module):
    """One learned d-dimensional code per training image (rows on the unit sphere), read by index."""

    def __init__(self, n: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(project(torch.randn(n, dim, generator=generator)))

    def forward(self, index: Tensor) -> Tensor:
        return self.weight[index]


@register(
    "glo",
    "Bojanowski et al. (2018): a generator and one learned code per image on the unit sphere, Laplacian-pyramid L1; no discriminator",
    players={"g": NetConfig(arch="dcgan", width=32, norm="batch")},
    groups=("g", "codes"),
    options=GLOOptions,
)
def build_glo(cfg: Config, data: Any, device: torch.device) -> Variant:
    opts, z_dim = cfg.options, cfg.model.z_dim
    if cfg.model.z_prior != "normal":
        raise GankitError(f"GLO samples from a Gaussian fitted to its codes: model.z_prior must be normal (got {cfg.model.z_prior})")
    if not hasattr(data, "__len__") or "x" not in data.fields:
        raise GankitError(f"GLO learns one code per image of a fixed set; data '{cfg.data.name}' is not one")
    source = indexed(data)
    shape = tuple(data.fields["x"].shape)
    players = {"g": build_generator(cfg.model.g, z_dim, shape).to(device), "codes": CodeTable(len(source), z_dim).to(device)}

    def objective(ctx: StepContext) -> dict[str, Tensor]:
        batch = ctx.batch
        return {"lap1": laplacian_l1(ctx.players["g"](ctx.players["codes"](batch["index"])), batch["x"], opts.levels)}

    def after(ctx: StepContext) -> None:
        """The batch's codes (the only rows SGD moved) back onto the sphere."""
        with torch.no_grad():
            table, index = ctx.players["codes"].weight, ctx.batch["index"]
            table[index] = project(table[index])

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        codes = players["codes"].weight.detach().double()
        mean = codes.mean(dim=0)
        centred = codes - mean
        cov = centred.T @ centred / max(len(codes) - 1, 1) + COVARIANCE_JITTER * torch.eye(codes.shape[1], dtype=codes.dtype, device=codes.device)
        z = mean + latents["z"].double() @ torch.linalg.cholesky(cov).T
        return players["g"](project(z).to(latents["z"].dtype))

    def encode(players: Players, x: Tensor) -> Tensor:
        g = players["g"]
        start = project(players["codes"].weight.detach().mean(dim=0, keepdim=True))
        z = start.expand(len(x), -1).clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=opts.encode_lr)
        with torch.enable_grad():
            for _ in range(opts.encode_steps):
                loss = laplacian_l1(g(z), x, opts.levels).sum()
                (grad,) = torch.autograd.grad(loss, [z])
                z.grad = grad
                optimizer.step()
                with torch.no_grad():
                    z.copy_(project(z))
        return z.detach()

    def reconstruct(players: Players, x: Tensor, direction: str) -> Tensor:
        return players["g"](encode(players, x))

    return assemble(
        cfg, players, {"g": ("g",), "codes": ("codes",)}, steps=[Step("glo", ("g", "codes"), objective, post=after)], source=source,
        latents=noise_spec(z_dim, "normal"), decode=decode, encode=encode, translate=reconstruct, directions={"reconstruct": ("x", "x")},
    )  # fmt: skip
