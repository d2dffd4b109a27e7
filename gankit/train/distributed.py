"""Data-parallel building blocks (DESIGN.md, "Scale"): which process this is in a torchrun launch, and the few
collective operations the loop needs, written out explicitly rather than through DistributedDataParallel's wrapper
(which does not fit double backward, ``requires_grad`` switching between players, or functional calls).

A single process (no ``WORLD_SIZE`` above 1 in the environment) is world ``(0, 1)``: every function here is then the
identity, with no process group and no cost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import GankitError


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0, the one process that writes the run directory."""
        return self.rank == 0


def world_from_env(environ: dict[str, str] | None = None) -> World:
    """The world torchrun describes in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (one process when absent)."""
    env = os.environ if environ is None else environ
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise GankitError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun); launch with `torchrun --nproc_per_node=N -m gankit ...`"
        ) from None
    if size < 1 or not 0 <= rank < size:
        raise GankitError(f"this process is rank {rank} of WORLD_SIZE={size}; launch with `torchrun --nproc_per_node=N -m gankit ...`")
    return World(rank, size, local)


def init_world(world: World, device: torch.device) -> None:
    """Join the process group of a torchrun launch (gloo on CPU, nccl on GPUs); nothing for one process."""
    if not world.distributed or dist.is_initialized():
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def average_gradients(parameters: Iterable[nn.Parameter], world: World) -> None:
    """Replace each gradient by its mean over the ranks: one all-reduce of all of them flattened together (per
    dtype), so the applied update is the one a single process would make from the ranks' batches together."""
    if not world.distributed:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for group in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= world.size
        offset = 0
        for g in group:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()


def mean_over_ranks(values: dict[str, Tensor], world: World) -> dict[str, Tensor]:
    """Each scalar's mean over the ranks (the logged losses), in one all-reduce."""
    if not world.distributed or not values:
        return values
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    dist.all_reduce(stacked)
    stacked /= world.size
    return dict(zip(values, stacked.unbind(), strict=True))


def any_rank(flags: list[bool], world: World, device: torch.device) -> list[bool]:
    """Whether each flag is set on any rank (a non-finite loss, a stop request), so that every rank takes the same
    branch and none waits forever in a collective the others skipped."""
    if not world.distributed:
        return flags
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(x) for x in t.tolist()]
