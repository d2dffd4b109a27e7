"""Stops a run the moment a loss or a weight stops being finite."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import OptimizerConfig
from gankit.errors import TrainingDiverged


def find_non_finite(losses: dict[str, Tensor], players: dict[str, nn.Module], check_weights: bool = True) -> str | None:
    """Name the first non-finite loss or player weight, or None; one device synchronisation in all. Without
    ``check_weights`` only the losses are read (the loop's other iterations: a non-finite weight makes the next
    losses non-finite); the loop reads the weights too on every iteration that logs or checkpoints, so that no
    checkpoint holds a non-finite weight."""
    parts = [v.detach().float().reshape(1) for v in losses.values()]
    norms = _weight_norms(players) if check_weights else {}
    if torch.isfinite(torch.cat(parts + list(norms.values()))).all():
        return None
    for key, value in losses.items():
        if not torch.isfinite(value).all():
            return f"loss '{key}' is {value.item()}"
    for name, norm in (norms or _weight_norms(players)).items():
        if not torch.isfinite(norm).all():
            return f"weights of player '{name}' are not finite"
    return "a value is not finite"


def _weight_norms(players: dict[str, nn.Module]) -> dict[str, Tensor]:
    norms: dict[str, Tensor] = {}
    for name, module in players.items():
        params = [p.detach() for p in module.parameters()]
        if params:
            norms[name] = torch.stack(torch._foreach_norm(params)).float().sum().reshape(1)
    return norms


def lr_advice(optim: Any) -> str:
    """The hint for exploding losses, naming the config's optimiser groups and learning rates: 'the learning rates
    may be too high (optim.g.lr=10, optim.d.lr=10): lower them, e.g. --set optim.g.lr=0.0002 --set optim.d.lr=0.0002'.
    The lower value is a tenth, at most the toolkit's default learning rate."""
    groups = {f.name: getattr(optim, f.name).lr for f in dataclasses.fields(optim)} if dataclasses.is_dataclass(optim) else {}
    if not groups:
        return "the learning rates may be too high: lower optim.*.lr"
    now = ", ".join(f"optim.{name}.lr={lr:g}" for name, lr in groups.items())
    lower = " ".join(f"--set optim.{name}.lr={min(lr / 10, OptimizerConfig.lr):g}" for name, lr in groups.items())
    rates, them = ("learning rate", "it") if len(groups) == 1 else ("learning rates", "them")
    return f"the {rates} may be too high ({now}): lower {them}, e.g. {lower}"


def raise_diverged(what: str, step: int, last_ckpt: str, optim: Any = None) -> None:
    """Stop the run: ``what`` became non-finite at ``step``; the message names the learning rates of ``optim`` (the
    config's section) and the last good checkpoint."""
    advice = lr_advice(optim)
    raise TrainingDiverged(
        f"training diverged at step {step}: {what}; stopped, {last_ckpt}. {advice[0].upper()}{advice[1:]}, or change the loss or the seed, and train again"
    )
