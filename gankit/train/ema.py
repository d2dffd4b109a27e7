"""Exponential moving average of players' weights (e.g. of G, as in Karras et al., 2018; Yazici et al., 2019)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(players: dict[str, nn.Module], names: tuple[str, ...]) -> dict[str, nn.Module]:
    """Frozen copies of the named players, in eval mode."""
    ema = {}
    for name in names:
        copy_ = copy.deepcopy(players[name]).eval()
        copy_.requires_grad_(False)
        ema[name] = copy_
    return ema


@torch.no_grad()
def update_ema(ema: dict[str, nn.Module], players: dict[str, nn.Module], decay: float) -> None:
    """theta_ema <- decay * theta_ema + (1 - decay) * theta; buffers (BatchNorm statistics) are copied."""
    for name, average in ema.items():
        source = players[name]
        for p_avg, p in zip(average.parameters(), source.parameters(), strict=True):
            p_avg.lerp_(p.detach(), 1.0 - decay)
        for b_avg, b in zip(average.buffers(), source.buffers(), strict=True):
            b_avg.copy_(b)
