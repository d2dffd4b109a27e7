"""Spectral normalisation (Miyato et al., 2018): a layer whose weight W is used as W / σ(W).

σ(W), the largest singular value of W reshaped to a matrix (output dimension first), is estimated by the power
iteration of the paper's Algorithm 1: ṽ ← Wᵀũ / ‖Wᵀũ‖, ũ ← W ṽ / ‖W ṽ‖, σ ≈ ũᵀ W ṽ. One iteration is done each
time the weight has changed, so once per optimiser step, however many forward passes the step makes (real,
fake, gradient-penalty interpolates). ũ and ṽ are buffers, saved in ``state_dict`` and so in checkpoints: a
resumed run continues the same estimate. σ is differentiated through W (ũ, ṽ held constant), as in the paper.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call


class SpectralNorm(nn.Module):
    """Wraps a Linear / Conv / ConvTranspose / Embedding layer; its forward uses the normalised weight. An embedding's
    (classes, dim) table is normalised as a matrix, as the projection discriminator's class embedding is by
    Miyato & Koyama (2018)."""

    def __init__(self, layer: nn.Module, eps: float = 1e-12) -> None:
        super().__init__()
        self.layer, self.eps = layer, eps
        # ConvTranspose weights are (in, out, ...): the output dimension is 1
        self.dim = 1 if isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) else 0
        matrix = self._matrix(layer.weight.detach())
        generator = torch.Generator(device="cpu").manual_seed(0x5EC7)  # the start vector does not draw on the global RNG
        u = torch.randn(matrix.shape[0], generator=generator).to(matrix)
        self.register_buffer("u", F.normalize(u, dim=0, eps=eps))
        self.register_buffer("v", F.normalize(matrix.t() @ self.u, dim=0, eps=eps))
        self.register_buffer("stale", torch.ones((), dtype=torch.bool))  # W changed since the last iteration (saved)
        self._seen_version = -1
        self.register_load_state_dict_post_hook(_after_load)

    def _matrix(self, weight: Tensor) -> Tensor:
        if self.dim:
            weight = weight.transpose(0, self.dim)
        return weight.reshape(weight.shape[0], -1)

    @torch.no_grad()
    def power_iteration(self, iterations: int = 1) -> None:
        """Refine ũ, ṽ by ``iterations`` steps of the power method on the current weight."""
        matrix = self._matrix(self.layer.weight.detach())
        for _ in range(iterations):
            self.v.copy_(F.normalize(matrix.t() @ self.u, dim=0, eps=self.eps))
            self.u.copy_(F.normalize(matrix @ self.v, dim=0, eps=self.eps))
        self._seen_version = self.layer.weight._version
        self.stale.fill_(False)

    def sigma(self) -> Tensor:
        """The current estimate ũᵀ W ṽ of the largest singular value, differentiable with respect to W."""
        return torch.dot(self.u, self._matrix(self.layer.weight) @ self.v)

    def normalized_weight(self) -> Tensor:
        return self.layer.weight / self.sigma()

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        if self.training and self.layer.weight._version != self._seen_version:  # -1: never iterated, or stale when saved
            self.power_iteration()
        return functional_call(self.layer, {"weight": self.normalized_weight()}, args, kwargs)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        if self.layer.weight._version != self._seen_version:
            self.stale.fill_(True)
        super()._save_to_state_dict(destination, prefix, keep_vars)


def _after_load(module: SpectralNorm, incompatible: Any) -> None:
    """Loading a state dict rewrites the weight in place; that is not a training update. The saved ``stale`` flag
    decides whether the next training forward iterates, exactly as it would have in the run that saved it."""
    module._seen_version = -1 if bool(module.stale) else module.layer.weight._version


def spectral_norm(layer: nn.Module) -> SpectralNorm:
    return SpectralNorm(layer)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Linear, Conv, ConvTranspose and Embedding layer inside ``module`` (in place) and return it."""
    kinds = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Embedding)
    for name, child in list(module.named_children()):
        if isinstance(child, SpectralNorm):
            continue
        if isinstance(child, kinds):
            setattr(module, name, SpectralNorm(child))
        else:
            apply_spectral_norm(child)
    return module
