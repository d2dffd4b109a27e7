"""Progress reporting: a tqdm bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta

from tqdm import tqdm

log = logging.getLogger("gankit")


def _format(values: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in values.items())


class Progress:
    """``mode``: ``bar`` (tqdm), ``lines`` (one log line per update), ``none``; ``auto`` picks ``bar`` on a TTY.
    ``unit`` names what is counted in ``lines`` mode ("step 20/100 …" for training; other work names its own)."""

    def __init__(self, mode: str, start: int, total: int, desc: str, unit: str = "step") -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.mode = mode
        self.start, self.total, self.unit = start, total, unit
        self.t0 = time.perf_counter()
        self.bar = tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True, file=sys.stderr) if mode == "bar" else None

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)

    def report(self, step: int, values: dict[str, float]) -> None:
        shown = dict(values)
        if self.bar is not None:
            self.bar.set_postfix_str(_format(shown), refresh=False)
            self.bar.update(step - self.bar.n)
        elif self.mode == "lines":
            elapsed = time.perf_counter() - self.t0
            rate = (step - self.start) / elapsed if elapsed > 0 else 0.0
            eta = timedelta(seconds=round((self.total - step) / rate)) if rate > 0 else "?"
            log.info("%s %d/%d %s | %.1f it/s | ETA %s", self.unit, step, self.total, _format(shown), rate, eta)

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            log.info(message)

    def warn(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(f"warning: {message}", file=sys.stderr)
        else:
            log.warning(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
