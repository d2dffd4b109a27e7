"""All-reduce through shared memory for the ranks of a one-machine CPU launch (DESIGN.md, "Scale").

gloo moves CPU tensors between processes over loopback TCP, through its own threads: on a small machine an
all-reduce of a DCGAN's gradients costs each rank milliseconds of CPU (copies through the kernel, thread wake-ups),
and the ranks have no core to spare for it. Ranks on one machine can instead share one memory segment: each
writes its tensor into its own slot, publishes a sequence number, waits until every rank has published, and sums
the slots itself in rank order, so every rank computes the same sum with the same rounding (bit-identical results,
as gloo's). Two sets of slots alternate, so a slot is written again only after every rank has read it: a rank
reaching call ``s`` has seen every rank publish call ``s - 1``, which each rank does after reading call ``s - 2``.

The segment lives in ``/dev/shm`` only while the ranks map it (rank 0 removes its name once all have), so nothing is
left behind when processes are killed. A rank that waits for a peer checks, once a second, that the peer's process
is still alive, and raises :class:`PeerLost` if it is not (or after ``TIMEOUT_S``, gloo's default timeout).

Used where every rank of the launch is on this machine (torchrun's ``LOCAL_WORLD_SIZE`` equals ``WORLD_SIZE``), the
tensors are on the CPU, and the machine is x86-64, whose stores become visible to other cores in program order (the
slot is written before its sequence number); elsewhere gloo (or nccl on GPUs) serves. ``GANKIT_SHM=0`` turns it off.
"""

from __future__ import annotations

import mmap
import os
import platform
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

TIMEOUT_S = 1800.0  # as gloo's default
LINE = 64  # bytes: each rank's sequence number on a cache line of its own
_SPINS = 2000  # yields before a waiting rank starts to sleep between looks


class PeerLost(RuntimeError):
    """A peer rank stopped (or did not arrive within the timeout) while this rank waited for it in a collective."""


class SharedMemoryGroup:
    """An all-reduce (sum) over the ranks of a one-machine launch through one shared segment; created collectively
    (every rank calls the constructor at the same point, gloo carrying the segment's name)."""

    def __init__(self, rank: int, size: int, capacity: int = 1 << 20) -> None:
        self.rank, self.size = rank, size
        self.pids = [0] * size
        dist.all_gather_object(self.pids, os.getpid())
        self._map(capacity)

    def _map(self, capacity: int) -> None:
        """Create (rank 0) and map (every rank) a segment whose slots hold ``capacity`` bytes each; an OSError on every
        rank when any rank cannot."""
        self.capacity = capacity
        self.header = LINE * self.size
        nbytes = self.header + 2 * self.size * capacity
        box: list[str | None] = [None]
        if self.rank == 0:
            try:
                fd, name = tempfile.mkstemp(prefix="gankit-allreduce-", dir="/dev/shm")
                try:
                    os.ftruncate(fd, nbytes)
                finally:
                    os.close(fd)
                box[0] = name
            except OSError:
                pass
        dist.broadcast_object_list(box, src=0)
        mapped = None
        if box[0] is not None:
            try:
                fd = os.open(box[0], os.O_RDWR)
                try:
                    mapped = mmap.mmap(fd, nbytes)
                finally:
                    os.close(fd)
            except OSError:
                mapped = None
        failed = torch.tensor([float(mapped is None)])
        dist.all_reduce(failed)  # also the point after which every rank has mapped it: the name is no longer needed
        if self.rank == 0 and box[0] is not None:
            os.unlink(box[0])
        if failed.item():
            raise OSError("a rank could not map the shared all-reduce segment in /dev/shm")
        self.mm = mapped
        self.flags = np.frombuffer(self.mm, dtype=np.int64, count=self.header // 8)[:: LINE // 8]
        self.seq = 0

    def all_reduce(self, flat: Tensor) -> None:
        """``flat`` (contiguous, CPU) replaced by its sum over the ranks, added in rank order on every rank."""
        if flat.nbytes > self.capacity:  # every rank reaches this with the same size: grown together (the old
            self._map(max(flat.nbytes, 2 * self.capacity))  # segment is unmapped once nothing refers to it)
        self.seq += 1
        n = flat.numel()
        base = self.header + (self.seq % 2) * self.size * self.capacity
        slots = [torch.frombuffer(self.mm, dtype=flat.dtype, count=n, offset=base + r * self.capacity) for r in range(self.size)]
        slots[self.rank].copy_(flat.reshape(-1))
        self.flags[self.rank] = self.seq
        self._wait(self.seq)
        out = flat.view(-1)
        out.copy_(slots[0])
        for slot in slots[1:]:
            out.add_(slot)

    def _wait(self, seq: int) -> None:
        """Until every rank has published call ``seq``."""
        flags = self.flags
        spins, began, checked = 0, 0.0, 0.0
        while flags.min() < seq:
            spins += 1
            if spins < _SPINS:
                os.sched_yield()
                continue
            now = time.monotonic()
            if not began:
                began = checked = now
            if now - checked > 1.0:
                checked = now
                self._check_peers(seq, now - began)
            time.sleep(0.0001)

    def _check_peers(self, seq: int, waited: float) -> None:
        for r in range(self.size):
            if self.flags[r] < seq and not _alive(self.pids[r]):
                raise PeerLost(f"rank {r} (pid {self.pids[r]}) stopped during an all-reduce in shared memory (peer lost)")
        if waited > TIMEOUT_S:
            late = [r for r in range(self.size) if self.flags[r] < seq]
            raise PeerLost(f"rank(s) {late} did not reach an all-reduce in shared memory within {TIMEOUT_S:.0f} s (timed out)")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet collected by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


_GROUPS: dict[int, SharedMemoryGroup | None] = {}


def usable(rank: int, size: int, local_size: int) -> bool:
    """Whether this launch can all-reduce CPU tensors in shared memory (the same answer on every rank)."""
    return (
        size > 1
        and local_size == size
        and os.environ.get("GANKIT_SHM", "1") != "0"
        and platform.machine().lower() in ("x86_64", "amd64")
        and os.path.isdir("/dev/shm")
        and os.access("/dev/shm", os.W_OK)
    )


def shared_memory_group(rank: int, size: int, local_size: int) -> SharedMemoryGroup | None:
    """The launch's shared-memory group, made on first use (collectively: every rank calls this at the same point),
    or None where it cannot serve; every rank gets the same answer (one that cannot map the segment makes all fall
    back to gloo)."""
    key = id(dist.group.WORLD)
    if key not in _GROUPS:
        group = None
        if usable(rank, size, local_size):
            try:
                group = SharedMemoryGroup(rank, size)
            except OSError:  # raised on every rank alike
                group = None
        _GROUPS[key] = group
    return _GROUPS[key]
