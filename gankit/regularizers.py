"""Penalties and constraints on the discriminator: gradient penalty, R1/R2, weight clipping.

The penalties are pure functions returning per-sample tensors, like the losses; a variant puts them into the
discriminator step's loss dict (weighted), so they share its backward pass. ``critic`` is any callable mapping a
batch to one output per sample; every sample's gradient is taken with respect to that sample alone: the gradient
of the *sum* of the outputs, whose row i is ∇ₓ D(xᵢ) when D treats samples independently (no batch norm), not the
gradient of the batch mean (which would shrink every row by 1/B).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

Critic = Callable[[Tensor], Tensor]
GP_MODES = ("two-sided", "one-sided")


def interpolates(real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
    """x̂ = ε x + (1 - ε) x̃ with one ε ~ U[0, 1] per sample (Gulrajani et al., 2017)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=rng, device=real.device, dtype=real.dtype)
    return eps * real.detach() + (1.0 - eps) * fake.detach()


def input_gradients(critic: Critic, x: Tensor) -> Tensor:
    """(B, numel) per-sample gradients ∇ₓ D(xᵢ), differentiable (create_graph) so that a penalty on them trains D."""
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(grad.shape[0], -1)


def gradient_norms(critic: Critic, x: Tensor) -> Tensor:
    """‖∇ₓ D(xᵢ)‖₂ per sample; a tiny constant under the root keeps the norm differentiable at a zero gradient."""
    return torch.sqrt(input_gradients(critic, x).pow(2).sum(dim=1) + 1e-12)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, rng: torch.Generator, mode: str = "two-sided") -> Tensor:
    """WGAN-GP's penalty on random interpolates: (‖∇D(x̂)‖ - 1)² (two-sided, Gulrajani et al., 2017) or
    max(0, ‖∇D(x̂)‖ - 1)² (one-sided: only gradients steeper than 1 are penalised). Per sample, unweighted (λ = 10
    is the variant's weight)."""
    norms = gradient_norms(critic, interpolates(real, fake, rng))
    excess = norms - 1.0
    if mode == "one-sided":
        excess = excess.clamp(min=0.0)
    elif mode != "two-sided":
        raise ValueError(f"gradient penalty mode must be one of {GP_MODES}, not {mode!r}")
    return excess.pow(2)


def r1_penalty(critic: Critic, x: Tensor) -> Tensor:
    """½‖∇ₓ D(x)‖² per sample (Mescheder et al., 2018): on real samples it is R1, on generated ones R2. Unweighted
    (γ is the variant's weight)."""
    return 0.5 * input_gradients(critic, x).pow(2).sum(dim=1)


@torch.no_grad()
def clip_weights(module: nn.Module, c: float) -> None:
    """WGAN's weight clipping (Arjovsky et al., 2017): every parameter into [-c, c] after each critic update."""
    for p in module.parameters():
        p.clamp_(-c, c)


def historical_average_penalty(module: nn.Module, average: dict[str, Tensor]) -> Tensor:
    """Historical averaging (Salimans et al., 2016): ‖θ - (1/t) Σᵢ θᵢ‖² over the module's parameters, against the
    running average ``average`` (name -> tensor) of their past values. A scalar: it concerns the weights, not the
    samples. Zero when the weights equal their average."""
    total = torch.zeros((), device=next(module.parameters()).device)
    for name, p in module.named_parameters():
        total = total + (p - average[name]).pow(2).sum()
    return total


@torch.no_grad()
def update_historical_average(module: nn.Module, average: dict[str, Tensor], count: int) -> None:
    """Fold the current weights into the running mean of ``count`` earlier values (in place; ``count`` = 0 starts it)."""
    for name, p in module.named_parameters():
        if count == 0 or name not in average:
            average[name] = p.detach().clone()
        else:
            average[name].mul_(count / (count + 1)).add_(p.detach(), alpha=1.0 / (count + 1))
