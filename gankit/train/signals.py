"""Stopping a run cleanly on a signal: Ctrl-C (SIGINT), the SIGTERM that SLURM and Kubernetes send before they
preempt a job, and SIGUSR1 (SLURM's ``--signal=USR1@60``), as ``train.stop_signals`` lists. The handler only
records the request; the loop finishes the current iteration, writes a checkpoint and raises :class:`Interrupted`,
whose message holds the run's path and the exact resume command; the command line exits with 128 + the signal's
number (130 for SIGINT, 143 for SIGTERM). A second SIGINT while that checkpoint is pending stops at once
(KeyboardInterrupt): the previous checkpoint is kept."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gankit.errors import GankitError

STOP_SIGNALS = ("INT", "TERM", "USR1", "USR2", "HUP")  # the names train.stop_signals accepts


def parse_signals(text: str) -> list[signal.Signals]:
    """``"INT,TERM,USR1"`` -> the signals (names with or without ``SIG``, any case); '' or 'none': none."""
    names = [part.strip().upper().removeprefix("SIG") for part in text.replace(" ", ",").split(",") if part.strip()]
    if names == ["NONE"]:
        return []
    bad = [name for name in names if name not in STOP_SIGNALS]
    if bad:
        raise GankitError(f"train.stop_signals: unknown signal '{bad[0]}'; a comma-separated list of {', '.join(STOP_SIGNALS)}, or none")
    return [getattr(signal, f"SIG{name}") for name in dict.fromkeys(names)]


class Interrupted(Exception):
    """Training stopped on a signal at ``step``; ``saved``: the step of the run's checkpoint (``checkpoint``), None
    if it has none. The message says where the run is and how to continue it."""

    def __init__(self, run: Path, step: int, signum: int, checkpoint: Path, saved: int | None) -> None:
        self.run, self.step, self.signum, self.checkpoint, self.saved = run, step, signum, checkpoint, saved
        name = signal.Signals(signum).name
        if saved is None:
            tail = f"no checkpoint had been written, so it cannot be resumed; train it again (run directory {run})"
        elif saved == step:
            tail = f"step {step} is saved in {checkpoint}; continue with: gankit resume {run}"
        else:
            tail = f"the last checkpoint (step {saved}) is kept in {checkpoint}; continue with: gankit resume {run}"
        super().__init__(f"interrupted by {name} at step {step}: {tail}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequest:
    """The first stop signal received (``signum``), or None."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextmanager
def stop_on_signals(signals: list[signal.Signals]) -> Iterator[StopRequest]:
    """Within the block, the ``signals`` set the yielded request instead of their default action; the previous
    handlers come back on exit. Outside the main thread (signals cannot be caught there) the request stays empty."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: object) -> None:
        if request and signum == signal.SIGINT:  # a second Ctrl-C: stop now, keep the last checkpoint
            raise KeyboardInterrupt
        request.signum = request.signum or signum

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield request
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


__all__ = ["STOP_SIGNALS", "Interrupted", "StopRequest", "parse_signals", "stop_on_signals"]
