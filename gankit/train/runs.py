"""Runs at a glance (``gankit runs DIR``): each run directory's variant, checkpoint step, status, last logged losses
and last metrics, read cheaply (no checkpoint is loaded while its sidecar is current) and without writing anything.

Besides what every run holds (``config.yaml``, ``metrics.jsonl``, ``checkpoints/last.pt``, ``eval.json``), the loop
records two small files for this, each written atomically (:func:`gankit.files.atomic_write`):

- ``checkpoints/last.json`` (:func:`record_checkpoint`), right after each checkpoint: its step and the identity of
  the ``last.pt`` it describes (inode, size, mtime). A reader trusts it only while it matches the ``last.pt`` on
  disk; a sidecar that lags (a kill between the two writes, a copied run, a run older than the sidecar) is ignored
  and the step is read from the checkpoint itself, memory-mapped, so that its tensors are not read.
- ``diverged.json`` (:func:`mark_diverged`), when a loss or a weight stops being finite: the step and what was not
  finite. It marks the run diverged while its checkpoint is older than that step (a resume that got past it
  makes it stale).

Status: ``running`` (another process holds the writer lock, :func:`gankit.train.rundir.writer_lock`),
``finished`` (the checkpoint is at ``train.steps``), ``diverged``, or ``interrupted`` (behind ``train.steps``,
also with no checkpoint yet: ``gankit resume`` continues it).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import GankitError
from gankit.files import atomic_write
from gankit.train.rundir import checkpoint_path

DIVERGED_FILE = "diverged.json"
NOT_LOSSES = ("step", "time")  # the numbers of a metrics.jsonl record that are not losses


def checkpoint_info_path(ckpt_file: Path) -> Path:
    """The sidecar of a checkpoint: ``checkpoints/last.json`` beside ``checkpoints/last.pt``."""
    return Path(ckpt_file).with_suffix(".json")


def _identity(st: os.stat_result) -> dict[str, int]:
    return {"inode": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def record_checkpoint(ckpt_file: Path, step: int) -> None:
    """Write the sidecar of the checkpoint just saved at ``ckpt_file``: its ``step`` and the file's identity."""
    ckpt_file = Path(ckpt_file)
    info = checkpoint_info_path(ckpt_file)
    for stale in info.parent.glob(f".{info.name}.*.tmp"):  # left by a writer killed mid-write
        stale.unlink(missing_ok=True)
    record = {"step": int(step), "checkpoint": _identity(ckpt_file.stat())}
    atomic_write(info, lambda f: f.write((json.dumps(record) + "\n").encode()))


def mark_diverged(run: Path, step: int, what: str) -> None:
    """Record in the run directory that training diverged at ``step`` (``what``: the value that was not finite)."""
    record = {"step": int(step), "what": what}
    atomic_write(Path(run) / DIVERGED_FILE, lambda f: f.write((json.dumps(record) + "\n").encode()))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def checkpoint_step(ckpt_file: Path) -> int | None:
    """The step of the checkpoint at ``ckpt_file`` (None: there is none, or it is unreadable), from its sidecar when
    that describes this very file, else from the checkpoint (memory-mapped: only its pickled metadata is read)."""
    ckpt_file = Path(ckpt_file)
    try:
        st = ckpt_file.stat()
    except OSError:
        return None
    info = _read_json(checkpoint_info_path(ckpt_file))
    if isinstance(info, dict) and info.get("checkpoint") == _identity(st) and isinstance(info.get("step"), int):
        return info["step"]
    import torch

    try:
        return int(torch.load(ckpt_file, map_location="cpu", weights_only=True, mmap=True)["step"])
    except Exception:  # truncated, corrupt or foreign: no usable step
        return None


def is_running(run: Path) -> bool:
    """Whether another process holds the run's writer lock. Probes it without waiting: a shared flock, taken and
    released at once (closing the descriptor), which writes nothing; a writer starting in that instant is refused
    as if the run were busy."""
    try:
        fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def last_losses(metrics_file: Path, chunk: int = 8192) -> dict[str, float]:
    """The losses of the last loss record of ``metrics.jsonl`` (health records and a line cut short are skipped),
    reading the file from its end."""
    try:
        with Path(metrics_file).open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            while True:
                start = max(0, end - chunk)
                f.seek(start)
                lines = f.read(end - start).splitlines()
                for line in reversed(lines[1:] if start > 0 else lines):  # the first line of a chunk may be cut
                    try:
                        record = json.loads(line)
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        continue
                    if isinstance(record, dict):
                        losses = {k: float(v) for k, v in record.items() if k not in NOT_LOSSES and _is_number(v)}
                        if losses:
                            return losses
                if start == 0:
                    return {}
                chunk *= 4
    except OSError:
        return {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def latest_metrics(eval_file: Path) -> dict[str, dict[str, Any]]:
    """The metric entries of ``eval.json`` (``{metric: {"value": ..., "protocol": ...}}``), its ``history`` left out."""
    data = _read_json(Path(eval_file))
    if not isinstance(data, dict):
        return {}
    return {k: e for k, e in data.items() if k != "history" and isinstance(e, dict) and isinstance(e.get("value"), dict)}


@dataclass(frozen=True)
class RunInfo:
    """One run directory as ``gankit runs`` shows it. ``step``: the newest checkpoint's (None: none yet);
    ``steps``: ``train.steps`` of its config; ``metrics``: eval.json's entries by metric name."""

    path: Path
    variant: str
    step: int | None
    steps: int | None
    status: str
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name


def _config_summary(config_file: Path) -> tuple[str, int | None]:
    """The variant and ``train.steps`` of a run's config.yaml, read as plain YAML (a config of another gankit version
    still lists)."""
    try:
        raw = yaml.safe_load(config_file.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "?", None
    if not isinstance(raw, dict):
        return "?", None
    train = raw.get("train")
    steps = train.get("steps") if isinstance(train, dict) else None
    return str(raw.get("variant", "?")), int(steps) if _is_number(steps) else None


def read_run(run: Path) -> RunInfo:
    """Read one run directory (one with a ``config.yaml``); nothing is written and no lock is waited for."""
    run = Path(run)
    variant, steps = _config_summary(run / "config.yaml")
    step = checkpoint_step(checkpoint_path(run))
    diverged = _read_json(run / DIVERGED_FILE)
    diverged_at = diverged.get("step") if isinstance(diverged, dict) and isinstance(diverged.get("step"), int) else None
    if is_running(run):
        status = "running"
    elif step is not None and steps is not None and step >= steps:
        status = "finished"
    elif diverged_at is not None and (step is None or diverged_at > step):
        status = "diverged"
    else:
        status = "interrupted"
    return RunInfo(run, variant, step, steps, status, last_losses(run / "metrics.jsonl"), latest_metrics(run / "eval.json"))


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """The run directories directly under ``runs_dir`` (those with a ``config.yaml``), by name; other entries are
    skipped. A missing ``runs_dir``, or one without runs, is a GankitError saying what to do."""
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise GankitError(f"runs directory {runs_dir} does not exist; give the directory `gankit train` wrote runs to (its --runs-dir, default runs)")
    if not runs_dir.is_dir():
        raise GankitError(f"{runs_dir} is not a directory; give the directory that holds run directories (gankit train's --runs-dir)")
    try:
        entries = sorted(runs_dir.iterdir())
    except OSError as exc:
        raise GankitError(f"cannot list {runs_dir}: {exc.strerror or exc}; check its permissions") from None
    runs = [p for p in entries if not p.name.startswith(".") and p.is_dir() and (p / "config.yaml").is_file()]
    if not runs:
        if (runs_dir / "config.yaml").is_file():
            raise GankitError(f"{runs_dir} is a run directory, not a directory of runs; list its parent: gankit runs {runs_dir.parent}")
        raise GankitError(f"no runs in {runs_dir} (no sub-directory with a config.yaml); train one with `gankit train PRESET --runs-dir {runs_dir}`")
    return [read_run(p) for p in runs]


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.3g}"


def format_losses(losses: dict[str, float]) -> str:
    """``d=0.693 g=0.712``: each loss to 3 significant digits."""
    return " ".join(f"{k}={_number(v)}" for k, v in losses.items())


def format_metric(name: str, value: dict[str, Any]) -> str:
    """A metric's first one or two numbers (means, for results over seeds): ``modes=8/8`` (a count and its total),
    ``kid=0.012±0.003`` (a value and its spread), ``precision=0.9 recall=0.8``, ``fid=12.3``."""
    numbers = []
    for key, v in value.items():
        if isinstance(v, dict) and _is_number(v.get("mean")):
            v = v["mean"]
        if _is_number(v):
            numbers.append((key, float(v)))
    if not numbers:
        return ""
    key, first = numbers[0]
    label = name if key in ("mean", "value") else key
    if len(numbers) == 1:
        return f"{label}={_number(first)}"
    second_key, second = numbers[1]
    if second_key in (f"{key}_total", "total"):
        return f"{label}={_number(first)}/{_number(second)}"
    if second_key in (f"{key}_std", f"{key}_stderr", "std", "stderr"):
        return f"{label}={_number(first)}±{_number(second)}"
    return f"{label}={_number(first)} {second_key}={_number(second)}"


def format_metrics(info: RunInfo) -> str:
    """Each metric of eval.json, with ``@STEP`` where it measured another checkpoint than the newest."""
    parts = []
    for name, entry in info.metrics.items():
        text = format_metric(name, entry["value"])
        protocol = entry.get("protocol")
        measured = protocol.get("step") if isinstance(protocol, dict) else None
        if text and measured is not None and measured != info.step:
            text += f"@{measured}"
        if text:
            parts.append(text)
    return " ".join(parts)


def format_runs(runs: list[RunInfo]) -> list[str]:
    """The table ``gankit runs`` prints: a header and one line per run, columns aligned."""
    rows = [("run", "variant", "step", "status", "losses", "metrics")]
    for info in runs:
        step = f"{'-' if info.step is None else info.step}/{'?' if info.steps is None else info.steps}"
        rows.append((info.name, info.variant, step, info.status, format_losses(info.losses) or "-", format_metrics(info) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip() for row in rows]


__all__ = ["RunInfo", "checkpoint_step", "format_runs", "is_running", "list_runs", "mark_diverged", "read_run", "record_checkpoint"]
