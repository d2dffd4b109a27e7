"""Exponential moving average of players' weights (e.g. of G, as in Karras et al., 2018; Yazici et al., 2019)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from gankit.nets.spectral import SpectralNorm


def make_ema(players: dict[str, nn.Module], names: tuple[str, ...]) -> dict[str, nn.Module]:
    """Frozen copies of the named players, in eval mode."""
    ema = {}
    for name in names:
        copy_ = copy.deepcopy(players[name]).eval()
        copy_.requires_grad_(False)
        ema[name] = copy_
    return ema


def _power_iteration_buffers(module: nn.Module) -> set[str]:
    """Names of spectral norm's buffers (ũ, ṽ, stale) inside ``module``: state of the estimate of σ of *its* weights."""
    names = set()
    for prefix, m in module.named_modules():
        if isinstance(m, SpectralNorm):
            names |= {f"{prefix}.{b}" if prefix else b for b, _ in m.named_buffers(recurse=False)}
    return names


@torch.no_grad()
def update_ema(ema: dict[str, nn.Module], players: dict[str, nn.Module], decay: float) -> None:
    """theta_ema <- decay * theta_ema + (1 - decay) * theta; buffers (BatchNorm statistics) are copied, except spectral
    norm's ũ, ṽ (Miyato et al., 2018): the average keeps its own, refined by one power iteration per update on the
    averaged weights, as the live network's are once per step on its own (the live ones estimate σ of another matrix)."""
    for name, average in ema.items():
        source = players[name]
        for p_avg, p in zip(average.parameters(), source.parameters(), strict=True):
            p_avg.lerp_(p.detach(), 1.0 - decay)
        own = _power_iteration_buffers(average)
        for (b_name, b_avg), (_, b) in zip(average.named_buffers(), source.named_buffers(), strict=True):
            if b_name not in own:
                b_avg.copy_(b)
        for m in average.modules():
            if isinstance(m, SpectralNorm):
                m.power_iteration()
