"""Stops a run the moment a loss or a weight stops being finite."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import TrainingDiverged


def find_non_finite(losses: dict[str, Tensor], players: dict[str, nn.Module]) -> str | None:
    """Name the first non-finite loss or player weight, or None. One device synchronisation in all."""
    parts = [v.detach().float().reshape(1) for v in losses.values()]
    norms: dict[str, Tensor] = {}
    for name, module in players.items():
        params = [p.detach() for p in module.parameters()]
        if params:
            norms[name] = torch.stack(torch._foreach_norm(params)).float().sum().reshape(1)
    if torch.isfinite(torch.cat(parts + list(norms.values()))).all():
        return None
    for key, value in losses.items():
        if not torch.isfinite(value).all():
            return f"loss '{key}' is {value.item()}"
    for name, norm in norms.items():
        if not torch.isfinite(norm).all():
            return f"weights of player '{name}' are not finite"
    return "a value is not finite"


def raise_diverged(what: str, step: int, last_ckpt: str) -> None:
    raise TrainingDiverged(
        f"training diverged at step {step}: {what}; stopped, {last_ckpt}. "
        "Lower optim.*.lr, change the loss or the seed, and train again"
    )
