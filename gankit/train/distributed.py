"""Data-parallel building blocks (DESIGN.md, "Scale"): which process this is in a torchrun launch, and the few
collective operations the loop needs, written out explicitly rather than through DistributedDataParallel's wrapper
(which does not fit double backward, ``requires_grad`` switching between players, or functional calls).

A single process (no ``WORLD_SIZE`` above 1 in the environment) is world ``(0, 1)``: every function here is then the
identity, with no process group and no cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.train.shared_memory import PeerLost, shared_memory_group


@dataclass(frozen=True)
class World:
    """This process's place: ``rank`` of ``size`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 0  # processes on this machine (torchrun's LOCAL_WORLD_SIZE; 0: not known)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0, the one process that writes the run directory."""
        return self.rank == 0


def world_from_env(environ: dict[str, str] | None = None) -> World:
    """The world torchrun describes in ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` (one process
    when absent)."""
    env = os.environ if environ is None else environ
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
        local_size = int(env.get("LOCAL_WORLD_SIZE", "0"))
    except ValueError:
        raise GankitError(
            "RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be integers (set by torchrun); launch with `torchrun --nproc_per_node=N -m gankit ...`"
        ) from None
    if size < 1 or not 0 <= rank < size:
        raise GankitError(f"this process is rank {rank} of WORLD_SIZE={size}; launch with `torchrun --nproc_per_node=N -m gankit ...`")
    return World(rank, size, local, local_size)


def init_world(world: World, device: torch.device) -> None:
    """Join the process group of a torchrun launch (gloo on CPU; on GPUs nccl for tensors, gloo beside it for the
    few CPU objects); nothing for one process, or where the group exists (a test's own)."""
    if not world.distributed or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("cpu:gloo,cuda:nccl", device_id=device)
    else:
        dist.init_process_group("gloo")


def close_world(clean: bool) -> None:
    """Leave the process group before the interpreter shuts down (nothing where none was joined). Left to the
    interpreter's finalisation, gloo's worker threads can still hold tensors whose release needs the GIL, and the
    process aborts (SIGABRT) after its work is done. ``clean``: every rank got here the same way (the command
    finished, or raised the same error), so a barrier first keeps a rank from leaving while a peer still talks to
    it; otherwise (a peer was lost, or this rank alone failed) the group is left without waiting."""
    if not dist.is_available() or not dist.is_initialized():
        return
    try:
        if clean:
            dist.barrier()
        dist.destroy_process_group()
    except Exception:  # a peer already gone: nothing left to tell it, and the command's own outcome stands
        pass


def rank_seed(seed: int, rank: int) -> int:
    """Rank ``rank``'s seed of a stream of randomness seeded with ``seed`` (noise, dropout): rank 0 keeps ``seed``,
    so one process is seeded exactly as before; others get 32 bits of ``SeedSequence(seed, spawn_key=(rank,))``."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence(seed % 2**64, spawn_key=(rank,)).generate_state(1, np.uint32)[0])


def collective_failure(exc: BaseException) -> bool:
    """Whether an exception is a failed collective (a peer process died or timed out) rather than a bug."""
    if isinstance(exc, PeerLost) or type(exc).__name__ in ("DistBackendError", "DistNetworkError", "DistError"):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(word in text for word in ("gloo", "nccl", "connection", "peer", "socket", "timed out", "broken pipe"))


def _flat_in_place(tensors: Iterable[Tensor], collective: Callable[[Tensor], None]) -> None:
    """Run ``collective`` on the tensors flattened together (one call per dtype) and copy the result back."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        collective(flat)
        offset = 0
        for t in group:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


def average_gradients(parameters: Iterable[nn.Parameter], world: World) -> None:
    """Replace each gradient by its mean over the ranks: one all-reduce of all of them flattened together (per
    dtype), so the applied update is the one a single process would make from the ranks' batches together."""
    if not world.distributed:
        return

    def mean(flat: Tensor) -> None:
        dist.all_reduce(flat)
        flat /= world.size

    _flat_in_place((p.grad for p in parameters if p.grad is not None), mean)


BUCKET_ELEMENTS = 1 << 16  # gradient elements per all-reduce while the backward pass runs (256 KiB of fp32)


class GradientReducer:
    """Averages the gradients of ``params`` over the ranks (DESIGN.md, "Scale"), by one of two transports.

    Ranks on one machine with CPU tensors (:mod:`gankit.train.shared_memory`): after the backward pass, all
    gradients flattened (per dtype) and summed through shared memory, in this process's own thread.

    Otherwise (gloo across machines, nccl on GPUs) while the backward pass still runs: the parameters are cut into
    buckets in reverse order of registration (the output layers', whose gradients are ready first, lead), and a
    bucket whose gradients are all accumulated is flattened and all-reduced asynchronously while the backward pass
    goes on through earlier layers. Buckets start strictly in order, so every rank issues the same collectives in
    the same order whatever order autograd runs in; :meth:`finish` starts the buckets that never filled (parameters
    that got no gradient), waits for all and writes the means back.

    Until :meth:`finish` each ``.grad`` holds this rank's own gradient; after it, the mean over the ranks, equal to
    :func:`average_gradients` (the sums are the same sums). Only gradients accumulated inside :meth:`overlapping`
    start a bucket early (``torch.autograd.grad``, as the penalties' double backward uses, accumulates nothing and
    starts nothing); a backward pass outside it is averaged whole by :meth:`finish`.
    """

    def __init__(self, params: Iterable[nn.Parameter], world: World, bucket_elements: int | None = None) -> None:
        self.world = world
        bucket_elements = bucket_elements or BUCKET_ELEMENTS
        self.params = [p for p in params if p.requires_grad]
        on_cpu = all(p.device.type == "cpu" for p in self.params)
        self.shm = shared_memory_group(world.rank, world.size, world.local_size) if world.distributed and on_cpu else None
        self.buckets: list[list[nn.Parameter]] = []
        for p in reversed(self.params):
            last = self.buckets[-1] if self.buckets else None
            if last is None or last[0].dtype != p.dtype or sum(q.numel() for q in last) + p.numel() > bucket_elements:
                self.buckets.append([p])
            else:
                last.append(p)
        self._bucket_of = {id(p): i for i, bucket in enumerate(self.buckets) for p in bucket}
        self._ready = [0] * len(self.buckets)
        self._next = 0  # the next bucket to start
        self._running: list[tuple[Any, Tensor, list[Tensor]]] = []

    @contextmanager
    def overlapping(self) -> Iterator[None]:
        """Within the block (the loop's backward pass), each bucket starts its all-reduce once it is complete."""
        if not self.world.distributed or self.shm is not None:
            yield
            return
        hooks = [p.register_post_accumulate_grad_hook(self._accumulated) for p in self.params]
        try:
            yield
        finally:
            for hook in hooks:
                hook.remove()

    def _accumulated(self, p: nn.Parameter) -> None:
        self._ready[self._bucket_of[id(p)]] += 1
        while self._next < len(self.buckets) and self._ready[self._next] >= len(self.buckets[self._next]):
            self._start(self._next)

    def _start(self, index: int) -> None:
        self._next = index + 1
        grads = [p.grad for p in self.buckets[index] if p.grad is not None]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            self._running.append((dist.all_reduce(flat, async_op=True), flat, grads))

    def finish(self) -> None:
        """Start what has not started, wait for every bucket and put each gradient's mean over the ranks in place."""
        if not self.world.distributed:
            return
        if self.shm is not None:
            shm = self.shm

            def mean(flat: Tensor) -> None:
                shm.all_reduce(flat)
                flat /= self.world.size

            _flat_in_place((p.grad for p in self.params if p.grad is not None), mean)
            return
        while self._next < len(self.buckets):
            self._start(self._next)
        for work, flat, grads in self._running:
            work.wait()
            flat /= self.world.size
            offset = 0
            for g in grads:
                g.copy_(flat[offset : offset + g.numel()].view_as(g))
                offset += g.numel()
        self._running.clear()
        self._ready = [0] * len(self.buckets)
        self._next = 0


def sync_iteration(modules: dict[str, nn.Module] | None, flags: list[float], world: World, device: torch.device) -> list[list[float]]:
    """The end of a data-parallel iteration in one collective: rank 0's buffers (BatchNorm's running statistics,
    which each rank moves with its own batches; ``modules`` None: none to share) copied to every rank, and every
    rank's ``flags`` (non-finite, stop signal) given to all, as ``[rank][flag]``. One all-reduce (a sum) in float64,
    which holds float32, float16, bfloat16 and integers below 2**53 exactly: rank 0 adds its buffers, the others
    -0.0, which leaves every value as it is (+0.0 and -0.0 included); each rank adds its flags in its own slots."""
    if not world.distributed:
        return [flags]
    buffers = [b for m in modules.values() for b in m.buffers()] if modules else []
    n = sum(b.numel() for b in buffers)
    flat = torch.full((n + world.size * len(flags),), -0.0, dtype=torch.float64, device=device)
    if world.main and buffers:
        torch.cat([b.detach().reshape(-1).to(torch.float64) for b in buffers], out=flat[:n])
    start = n + world.rank * len(flags)
    flat[start : start + len(flags)] = torch.tensor(flags, dtype=torch.float64)
    shm = shared_memory_group(world.rank, world.size, world.local_size) if device.type == "cpu" else None
    if shm is not None:
        shm.all_reduce(flat)
    else:
        dist.all_reduce(flat)
    offset = 0
    for b in buffers:
        b.copy_(flat[offset : offset + b.numel()].view_as(b))
        offset += b.numel()
    table = flat[n:].view(world.size, len(flags)).tolist()
    return [[float(x) for x in row] for row in table]


def mean_over_ranks(values: dict[str, Tensor], world: World) -> dict[str, Tensor]:
    """Each scalar's mean over the ranks (the logged losses), in one all-reduce."""
    if not world.distributed or not values:
        return values
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    dist.all_reduce(stacked)
    stacked /= world.size
    return dict(zip(values, stacked.unbind(), strict=True))


def max_over_ranks(values: list[float], world: World, device: torch.device) -> list[float]:
    """Each number's maximum over the ranks, in one all-reduce."""
    if not world.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [float(x) for x in t.tolist()]


def any_rank(flags: list[bool], world: World, device: torch.device) -> list[bool]:
    """Whether each flag is set on any rank (a non-finite loss, a stop request), so that every rank takes the same
    branch and none waits forever in a collective the others skipped."""
    if not world.distributed:
        return flags
    return [x > 0 for x in max_over_ranks([float(f) for f in flags], world, device)]


def broadcast_modules(modules: dict[str, nn.Module], world: World, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters and buffers (or only its buffers: BatchNorm's running statistics, which each rank
    otherwise moves with its own batches) to every rank: one broadcast per dtype. After it the modules are
    bit-identical everywhere."""
    if not world.distributed:
        return
    tensors = [b for m in modules.values() for b in m.buffers()]
    if not buffers_only:
        tensors = [p.data for m in modules.values() for p in m.parameters()] + tensors
    _flat_in_place(tensors, lambda flat: dist.broadcast(flat, src=0))


def to_cpu(obj: Any) -> Any:
    """Tensors (in dicts, lists and tuples) moved to the CPU, for pickling between ranks and into checkpoints."""
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def gather_to_main(obj: Any, world: World) -> list[Any] | None:
    """Every rank's ``obj`` (CPU tensors inside), as a list by rank on rank 0; None on the other ranks."""
    if not world.distributed:
        return [obj]
    out: list[Any] | None = [None] * world.size if world.main else None
    dist.gather_object(to_cpu(obj), out, dst=0)
    return out


def on_main(fn: Callable[[], Any], world: World) -> Any:
    """Run ``fn`` on rank 0 and give its result (picklable, CPU tensors) to every rank; a GankitError it raises is
    raised on every rank with the same message (``shared``: printed once), so that no rank waits for a result that
    never comes. One process: ``fn()``."""
    if not world.distributed:
        return fn()
    box: list[Any] = [None]
    if world.main:
        try:
            box[0] = ("ok", to_cpu(fn()))
        except GankitError as exc:
            box[0] = ("error", str(exc))
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise shared(GankitError(value))
    return value


def on_every_rank(value: str | None, world: World) -> list[tuple[int, str]]:
    """(rank, value) of every rank whose ``value`` is not None, by rank (every rank gets the same list); called by
    every rank once a flag of :func:`any_rank` said some rank has one."""
    if not world.distributed:
        return [] if value is None else [(0, value)]
    values: list[Any] = [None] * world.size
    dist.all_gather_object(values, value)
    return [(rank, v) for rank, v in enumerate(values) if v is not None]


def shared(exc: BaseException) -> BaseException:
    """Mark an error every rank raises alike: the command line prints it on rank 0 only."""
    exc.shared = True  # type: ignore[attr-defined]
    return exc


class RankLost(GankitError):
    """A collective operation failed: another process of the launch stopped (killed, out of memory, its own error)."""


# ------------------------------------------------------------------------------------------- synchronised BatchNorm

_SYNC = {"active": False}


@contextmanager
def synchronised() -> Iterator[None]:
    """Within the block (the loop's objectives), :class:`SyncBatchNorm` layers in training mode normalise with the
    statistics of the global batch; outside it (pictures, watchdog probes, which rank 0 draws alone) with their own."""
    before = _SYNC["active"]
    _SYNC["active"] = True
    try:
        yield
    finally:
        _SYNC["active"] = before


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) with its gradient: the sum over ranks of the gradients of every rank's loss."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class SyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the batches of all ranks together (``train.sync_bn``): each channel's sum, sum of squares and
    count are all-reduced (through autograd, so gradients flow across ranks as in one process with the whole batch),
    and the running statistics move with the global batch's mean and unbiased variance. Same parameters, buffers and
    state_dict keys as ``nn.BatchNorm*d``; on CPU with gloo as on GPUs with nccl (torch's own SyncBatchNorm needs a
    GPU). One process, or outside :func:`synchronised`: plain batch norm."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-d input (got {input.dim()}-d)")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not (self.training and _SYNC["active"] and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        xf = x.float()
        count = torch.tensor([float(x.numel() // x.shape[1])], device=x.device, dtype=torch.float32)
        stats = _SumOverRanks.apply(torch.cat([xf.sum(dims), (xf * xf).sum(dims), count]))
        c = x.shape[1]
        n = stats[2 * c]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_((var * n / (n - 1).clamp_min(1.0)).detach(), alpha=momentum)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def convert_sync_bn(module: nn.Module) -> nn.Module:
    """``module`` with every ``nn.BatchNorm1d/2d/3d`` replaced by a :class:`SyncBatchNorm` holding the same
    parameters and buffers (in place for children; the converted module is returned)."""
    if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d):
        bn = module
        new = SyncBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        if bn.affine:
            new.weight, new.bias = bn.weight, bn.bias
        if bn.track_running_stats:
            new.running_mean, new.running_var, new.num_batches_tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
        new.train(bn.training)
        return new
    for name, child in module.named_children():
        converted = convert_sync_bn(child)
        if converted is not child:
            setattr(module, name, converted)
    return module
