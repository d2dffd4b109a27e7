"""Numbered run directories: ``runs/NNNNN-<name>/`` with config, metrics, samples, checkpoints."""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.files import atomic_write

RUN_PATTERN = re.compile(r"^(\d{5})-")


def create_run_dir(runs_dir: Path, name: str) -> Path:
    """Create ``runs_dir/NNNNN-name`` with the next free number (never reuses an existing directory or a number another
    run took, even one started at the same moment: the numbering holds :func:`directory_lock` on ``runs_dir``)."""
    runs_dir = Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create runs directory {runs_dir}: {exc.strerror}; choose another with --runs-dir") from None
    if not runs_dir.is_dir():
        raise GankitError(f"{runs_dir} is not a directory; choose another with --runs-dir")
    if not os.access(runs_dir, os.W_OK):
        raise GankitError(f"runs directory {runs_dir} is not writable; choose another with --runs-dir")
    with directory_lock(runs_dir, "the numbering of its runs"):  # two runs started together get two numbers
        taken = [int(m.group(1)) for p in runs_dir.iterdir() if (m := RUN_PATTERN.match(p.name))]
        number = max(taken, default=-1) + 1
        while True:
            path = runs_dir / f"{number:05d}-{name}"
            try:
                path.mkdir()
            except FileExistsError:
                number += 1
                continue
            except OSError as exc:
                raise GankitError(f"cannot create run directory {path}: {exc.strerror}") from None
            break
    (path / "samples").mkdir()
    (path / "checkpoints").mkdir()
    return path


def lock_holder(path: Path) -> str:
    """The pid holding a flock on ``path``, read from /proc/locks (Linux), or 'another process'."""
    try:
        inode = os.stat(path).st_ino
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "FLOCK" in fields and len(fields) > 5 and fields[5].rsplit(":", 1)[-1] == str(inode):
                return f"pid {fields[4]}"
    except (OSError, IndexError):
        pass
    return "another process"


@contextmanager
def directory_lock(path: Path, what: str, busy: Callable[[], GankitError] | None = None) -> Iterator[None]:
    """Hold an OS lock (exclusive flock) on the directory ``path`` itself for the block: the kernel releases it when
    the process ends, however it ends, and it writes nothing into the directory. Without ``busy`` it waits for the
    holder; with it, it raises ``busy()`` at once instead. ``what``: what the lock guards, for the error message."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise GankitError(f"cannot open {path} to lock {what}: {exc.strerror or exc}; check the directory's permissions") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if busy is None else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy() from None
        yield
    finally:
        os.close(fd)  # releases the lock


def writer_lock(run: Path) -> AbstractContextManager[None]:
    """The run's one-writer lock (:func:`directory_lock` on the run directory). A second writer (``train``/``resume``
    of the same run) gets a one-line error naming the holder's pid. Readers (sample, eval, report, ...) never take it."""

    def busy() -> GankitError:
        return GankitError(
            f"{run} is being trained by {lock_holder(run)}; one process writes a run at a time: wait for it to finish, "
            f"or stop it (kill -TERM checkpoints it) and then `gankit resume {run}`"
        )

    return directory_lock(run, "the run", busy)


def checkpoint_path(run: Path) -> Path:
    return Path(run) / "checkpoints" / "last.pt"


STEP_CHECKPOINT = re.compile(r"^step-(\d{8})\.pt$")


def step_checkpoint_path(run: Path, step: int) -> Path:
    return Path(run) / "checkpoints" / f"step-{step:08d}.pt"


def kept_checkpoints(run: Path) -> dict[int, Path]:
    """The older checkpoints kept by ``train.keep`` (step -> path), newest last."""
    folder = Path(run) / "checkpoints"
    found = {int(m.group(1)): p for p in folder.glob("step-*.pt") if (m := STEP_CHECKPOINT.match(p.name))} if folder.is_dir() else {}
    return dict(sorted(found.items()))


def keep_checkpoints(run: Path, step: int, keep: int) -> None:
    """After ``last.pt`` of ``step`` is written: with ``keep`` > 1, give it a second name ``step-NNNNNNNN.pt`` (a hard
    link, so no copy and no extra space; a copy where links are not supported), then remove the kept checkpoints
    beyond the newest ``keep``. Each name appears whole (link or copy to a temporary name, then rename)."""
    if keep <= 1:
        return
    last, target = checkpoint_path(run), step_checkpoint_path(run, step)
    tmp = target.with_name(f".{target.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(last, tmp)
    except OSError:
        atomic_write(tmp, lambda f: f.write(last.read_bytes()))
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    steps = list(kept_checkpoints(run))
    for old in steps[: max(0, len(steps) - keep)]:
        step_checkpoint_path(run, old).unlink(missing_ok=True)


def select_checkpoint(run: Path, step: int | None) -> Path:
    """The checkpoint of ``step`` (``None``: the newest, ``last.pt``); an unknown step is a GankitError listing the
    kept ones. Whether ``last.pt`` is that step is checked by the caller once it is loaded."""
    if step is None:
        return checkpoint_path(run)
    if step < 0:
        raise GankitError(f"--step must be zero or more (got {step})")
    kept = kept_checkpoints(run)
    return kept.get(step, checkpoint_path(run))


def missing_step(run: Path, step: int, last_step: int) -> GankitError:
    kept = sorted({*kept_checkpoints(run), last_step}, reverse=True)
    listed = ", ".join(f"{s}{' (newest)' if s == last_step else ''}" for s in kept)
    return GankitError(
        f"{run} has no checkpoint of step {step}; kept: {listed}. Give one of these to --step, or train with "
        "--set train.keep=K to keep the last K checkpoints"
    )


def open_run_dir(run: str | Path, *, need_checkpoint: bool = True) -> Path:
    """Check that ``run`` is a gankit run directory (and has a checkpoint); return its path."""
    path = Path(run)
    if not path.exists():
        raise GankitError(f"run directory {path} does not exist; give a directory made by `gankit train` (e.g. runs/00000-gan-ring)")
    if not path.is_dir():
        raise GankitError(f"{path} is not a directory; give a run directory made by `gankit train`")
    if not (path / "config.yaml").is_file():
        raise GankitError(f"{path} is not a gankit run directory (no config.yaml); give a directory made by `gankit train`")
    if need_checkpoint and not checkpoint_path(path).is_file():
        raise GankitError(
            f"{path} has no checkpoint yet (checkpoints/last.pt); train longer than train.ckpt_every steps or resume it"
        )
    return path


class MetricsLog:
    """Appends one JSON object per log interval to ``metrics.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file = self.path.open("a")

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def truncate_metrics(path: Path, step: int) -> None:
    """Drop records logged after ``step`` (they belong to steps that are about to be redone on resume)."""
    path = Path(path)
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and record.get("step", 0) <= step:
            kept.append(line)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
