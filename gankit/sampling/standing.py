"""Standing statistics (Brock et al., 2019): EMA copies of players with batch norm get normalisation statistics
recomputed for their averaged weights, since the live player's running statistics, which the EMA copy carries, do
not match them. Used by every command that draws from a run (``sample``, ``interpolate``, ``translate``, pictures,
metrics), so that the same latents give the same images everywhere."""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

STANDING_BATCHES, STANDING_BATCH_SIZE = 16, 256
STANDING_SEED = 0x57A4D
# EMA copy -> (fingerprint of the players it was computed with, its copy with standing statistics): the commands and
# pictures of one run draw several times from the same weights; the fingerprint (tensor versions, which every
# in-place update such as an optimiser or EMA step or a checkpoint load bumps) says when it must be recomputed.
_CACHE: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, nn.Module]] = weakref.WeakKeyDictionary()


def _fingerprint(players: dict[str, nn.Module]) -> tuple:
    return tuple(
        (name, id(m), m.training, tuple(t._version for t in (*m.parameters(), *m.buffers())))
        for name, m in sorted(players.items())
    )  # fmt: skip


@contextmanager
def eval_mode(players: dict[str, nn.Module]) -> Iterator[None]:
    """Put players in eval mode (BatchNorm uses running statistics, nothing is updated), then restore."""
    modes = {name: m.training for name, m in players.items()}
    for m in players.values():
        m.eval()
    try:
        yield
    finally:
        for name, m in players.items():
            m.train(modes[name])


def _has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@torch.no_grad()
def with_standing_statistics(state: Any, players: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """``players`` with each EMA copy that has batch norm replaced by a copy whose statistics are the cumulative
    average over STANDING_BATCHES forward passes in training mode: of decoded latents for a noise model, of the
    run's real inputs for a translation model. Works on copies with its own fixed seed: the training state, the
    checkpoint and the training random streams are untouched. The copies are cached until any player's weights or
    buffers change."""
    from gankit.data.real import real_samples

    v = state.variant
    out = dict(players)
    key = (_fingerprint(players), id(state.data))
    for name, ema in state.ema.items():
        if not _has_batch_norm(ema) or players.get(name) is not ema:
            continue
        cached = _CACHE.get(ema)
        if cached is not None and cached[0] == key:
            out[name] = cached[1]
            continue
        fresh = copy.deepcopy(ema)
        for m in fresh.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the batches below
        fresh.train()
        rng = torch.Generator(device=state.device).manual_seed(STANDING_SEED)
        trial = {**out, name: fresh}
        real_rng = torch.Generator().manual_seed(STANDING_SEED)
        with torch.random.fork_rng(devices=[state.device] if state.device.type == "cuda" else []):
            for _ in range(STANDING_BATCHES):
                if v.decode is not None and v.latents is not None:
                    v.generate(trial, STANDING_BATCH_SIZE, rng)
                elif v.translate is not None:  # every direction, so that each generator sees its own inputs
                    for direction, (source, _) in v.directions.items():
                        x = real_samples(state.data, STANDING_BATCH_SIZE, real_rng, field=source)
                        v.translate(trial, x.to(state.device), direction)
        out[name] = fresh.eval()
        _CACHE[ema] = (key, out[name])
    return out
