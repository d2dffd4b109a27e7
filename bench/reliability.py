"""Reliability benchmark (issue 19's acceptance): kill -9 and SIGTERM at random moments of a run, then resume, and a
table of bad inputs and misuses of every command.

`make bench-reliability` runs it and writes docs/results/reliability.md. Everything goes through the real command
line, each command in its own process with one torch thread, on a small `gan-ring` schedule (600 steps, a checkpoint
every 25, the last 3 kept) that trains in a few seconds:

1. ``kill -9`` at ``--kills`` random moments (seeded): a few early (before the straight run's first checkpoint), a few while
   ``checkpoints/last.pt`` is being written (the temporary file is polled for and the process killed on sight), the
   rest at a uniform moment after the first checkpoint. After each kill every checkpoint on disk is loaded
   (``torch.load(weights_only=True)``); then ``gankit resume RUN`` continues it (a run killed before its first
   checkpoint has nothing to resume and is trained again). The final checkpoint (models, EMA copies, optimisers,
   schedulers, step), the kept checkpoints and metrics.jsonl (every record, ``time`` left out) are compared with a
   straight run's, tensor by tensor.
2. ``SIGTERM`` at ``--sigterms`` random moments of training: the run must exit with 143, say where the run is and the
   exact ``gankit resume`` command, hold a checkpoint of the step it stopped at, and resume bit-identically.
3. Bad inputs and misuses over every command: each must print exactly one stderr line starting ``error:``, exit
   with 2, and change nothing: the whole fixture tree (runs, existing outputs, input files) is hashed, every file's
   bytes and every name, before and after each command.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402

RERUN = "make bench-reliability"
PRESET = "gan-ring"
STEPS, CKPT_EVERY, LOG_EVERY = 600, 25, 10
SCHEDULE = [
    f"train.steps={STEPS}",
    f"train.ckpt_every={CKPT_EVERY}",  # not a multiple of log_every: most checkpoints carry pending loss sums
    "train.keep=3",
    f"train.log_every={LOG_EVERY}",
    "train.sample_every=100",
    "train.sample_n=200",
    "train.watchdog_start=100",  # the watchdog's state and health records are part of what must match
    "train.ema_start=200",  # the EMA copy averages from step 200 on
    "train.progress=none",
    "train.device=cpu",
]
DIGITS = [
    "train.steps=40", "train.ckpt_every=20", "train.keep=2", "train.sample_every=20", "train.log_every=10",
    "model.g.width=8", "model.d.width=8", "train.progress=none", "train.device=cpu",
]  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
CELL = 120  # characters of a stderr line shown in the table


def log(message: str) -> None:
    print(f"[bench-reliability] {message}", flush=True)


def gankit_command() -> list[str]:
    script = Path(sys.executable).with_name("gankit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gankit"]


GANKIT = gankit_command()


def set_args(overrides: list[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


def train_args(runs: Path) -> list[str]:
    return ["train", PRESET, *set_args(SCHEDULE), "--runs-dir", str(runs)]


def run_gankit(args: list[str], cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*GANKIT, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, 124, exc.stdout or "", f"(timed out after {timeout:.0f} s)\n{exc.stderr or ''}")


# ------------------------------------------------------------------------------------------- what a run ended with


def load_plain(path: Path) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def readable(path: Path) -> bool:
    try:
        load_plain(path)
    except Exception:  # any failure to load is an unreadable checkpoint
        return False
    return True


def checkpoint_files(run: Path) -> list[Path]:
    """The checkpoints a reader may open: ``last.pt`` and the kept ``step-*.pt`` (not temporary files)."""
    folder = run / "checkpoints"
    return sorted([*folder.glob("last.pt"), *folder.glob("step-*.pt")]) if folder.is_dir() else []


def temp_files(run: Path) -> list[str]:
    folder = run / "checkpoints"
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def checkpoint_step(path: Path) -> int | None:
    try:
        return int(load_plain(path)["step"])
    except Exception:  # missing or unreadable
        return None


def last_logged_step(run: Path) -> int | None:
    steps = []
    path = run / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                steps.append(int(json.loads(line)["step"]))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by the kill
    return max(steps, default=None)


def outcome(run: Path) -> dict[str, Any]:
    """What must match a straight run: the final checkpoint's players, EMA copies, optimisers, schedulers and step,
    the kept checkpoints' players, EMA copies and optimisers, and every metrics record without its ``time``."""
    last = load_plain(run / "checkpoints" / "last.pt")
    kept = {p.name: load_plain(p) for p in checkpoint_files(run) if p.name != "last.pt"}
    records = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        record.pop("time", None)
        records.append(record)
    return {
        "last": {k: last[k] for k in ("step", "models", "ema", "optimizers", "schedulers")},
        "kept": {name: {k: c[k] for k in ("step", "models", "ema", "optimizers")} for name, c in kept.items()},
        "metrics": records,
    }


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """The places (dotted keys) where ``a`` and ``b`` differ; tensors must match in dtype, shape and every bit."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
        return [] if same else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where} (keys {sorted(set(a) ^ set(b))})"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}.{k}" if where else str(k))]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where} (length {len(a)} vs {len(b)})"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [where]


def compare(reference: dict[str, Any], run: Path) -> tuple[bool, str]:
    """(identical, what differs) of ``run``'s outcome against the straight run's."""
    try:
        got = outcome(run)
    except Exception as exc:  # no final checkpoint or unreadable metrics: not identical
        return False, f"cannot read the result: {type(exc).__name__}: {exc}"[:200]
    parts = {"checkpoint": differences(reference["last"], got["last"]), "kept checkpoints": differences(reference["kept"], got["kept"])}
    parts["metrics.jsonl"] = differences(reference["metrics"], got["metrics"])
    bad = [f"{name}: {', '.join(found[:3])}{' …' if len(found) > 3 else ''}" for name, found in parts.items() if found]
    return not bad, "; ".join(bad)


# ------------------------------------------------------------------------------------------- the straight run


@dataclass
class Timing:
    """Seconds after the process started: training began (metrics.jsonl exists), first checkpoint, exit."""

    train_start: float
    first_checkpoint: float
    end: float


def straight_run(runs: Path) -> tuple[Path, Timing]:
    proc = subprocess.Popen([*GANKIT, *train_args(runs)], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    marks: dict[str, float] = {}
    while proc.poll() is None:
        now = time.monotonic() - t0
        if "train_start" not in marks and list(runs.glob("*/metrics.jsonl")):
            marks["train_start"] = now
        if "first_checkpoint" not in marks and list(runs.glob("*/checkpoints/last.pt")):
            marks["first_checkpoint"] = now
        time.sleep(0.002)
    end = time.monotonic() - t0
    stderr = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"the straight run failed ({proc.returncode}): {stderr}")
    run = next(p for p in runs.iterdir() if p.is_dir())
    return run, Timing(marks.get("train_start", 0.0), marks.get("first_checkpoint", 0.0), end)


# ------------------------------------------------------------------------------------------- signal trials


@dataclass
class Trial:
    number: int
    signal: str
    moment: str  # early (before the first checkpoint), during a checkpoint write, after the first checkpoint, during training
    target: int = 0  # the step drawn: the signal comes within one log interval after the log line at or before it
    at: float = 0.0  # seconds after the process started
    exit: int | None = None
    reached: int | None = None  # last logged step before the signal took effect
    checkpoint: int | None = None  # step of last.pt after the signal
    kept: list[int] = field(default_factory=list)
    temps: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    message: str = ""
    message_ok: bool = True
    run: str = ""  # the run directory
    stopped_at: int | None = None
    continued: str = ""
    identical: bool = False
    detail: str = ""

    @property
    def ok(self) -> bool:
        if self.signal == "SIGTERM":
            return self.identical and self.message_ok and self.exit == 143 and not self.unreadable
        return self.identical and not self.unreadable


def logged_step(runs: Path) -> int:
    """The last step logged by the run under ``runs``: -1 before training begins (no metrics.jsonl), 0 before the
    first log line."""
    found = list(runs.glob("*/metrics.jsonl"))
    return -1 if not found else (last_logged_step(found[0].parent) or 0)


def wait_for(proc: subprocess.Popen, found: Callable[[], bool], interval: float = 0.002) -> bool:
    while proc.poll() is None:
        if found():
            return True
        time.sleep(interval)
    return found()


def writing_checkpoint(runs: Path) -> bool:
    """A temporary ``.last.pt.*.tmp`` is on disk: last.pt is being written."""
    for folder in runs.glob("*/checkpoints"):
        with os.scandir(folder) as entries:
            if any(e.name.startswith(".last.pt.") and e.name.endswith(".tmp") for e in entries):
                return True
    return False


def signal_trial(trial: Trial, folder: Path, timing: Timing, rng: random.Random, reference: dict[str, Any]) -> Trial:
    """Start a training run, signal it at the trial's moment, inspect what it left, continue it and compare."""
    runs = folder / "runs"
    runs.mkdir(parents=True)
    stderr_file = folder / "stderr.txt"
    signum = signal.SIGKILL if trial.signal == "SIGKILL" else signal.SIGTERM
    after = CKPT_EVERY + LOG_EVERY - CKPT_EVERY % LOG_EVERY  # the first log line after the first checkpoint
    low, high = {"early": (0, CKPT_EVERY), "during a checkpoint write": (after, STEPS - CKPT_EVERY)}.get(trial.moment, (after, STEPS - LOG_EVERY))
    if trial.signal == "SIGTERM":
        low = 0  # from the first step on: the signal handlers are installed before metrics.jsonl is opened
    trial.target = rng.randrange(low, high)
    per_log = (timing.end - timing.first_checkpoint) / ((STEPS - CKPT_EVERY) / LOG_EVERY)  # seconds per log interval
    with stderr_file.open("w") as stderr:
        proc = subprocess.Popen([*GANKIT, *train_args(runs)], env=ENV, stdout=subprocess.DEVNULL, stderr=stderr)
        t0 = time.monotonic()
        # the log line at or before the target step, then a uniform part of one log interval
        wait_for(proc, lambda: logged_step(runs) >= trial.target // LOG_EVERY * LOG_EVERY, interval=0.003)
        time.sleep(rng.uniform(0.0, per_log))
        if trial.moment == "during a checkpoint write":
            wait_for(proc, lambda: writing_checkpoint(runs), interval=0.0002)
        trial.at = time.monotonic() - t0
        if proc.poll() is None:
            proc.send_signal(signum)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    trial.exit = proc.returncode
    run = next((p for p in runs.iterdir() if p.is_dir()), None)
    if run is not None:
        trial.run = str(run)
        trial.reached = last_logged_step(run)
        trial.temps = temp_files(run)
        trial.unreadable = [p.name for p in checkpoint_files(run) if not readable(p)]
        trial.checkpoint = checkpoint_step(run / "checkpoints" / "last.pt")
        trial.kept = [int(p.stem.split("-")[1]) for p in checkpoint_files(run) if p.name.startswith("step-")]
    lines = stderr_file.read_text().splitlines()
    if trial.signal == "SIGTERM":
        trial.message = lines[-1] if lines else ""
        check_sigterm_message(trial, run)
    if trial.exit == 0:
        trial.detail = "the run finished before the signal; "
    if run is not None and trial.checkpoint is not None:
        done = run_gankit(["resume", str(run)])
        trial.continued = "resume" if done.returncode == 0 else f"resume failed ({done.returncode})"
        final = run
        if done.returncode != 0:
            trial.detail += (done.stderr.strip().splitlines() or [""])[-1][:200]
    else:  # nothing to resume: a user trains again
        again = folder / "again"
        done = run_gankit(train_args(again))
        trial.continued = "trained again (no checkpoint)" if done.returncode == 0 else f"training again failed ({done.returncode})"
        final = next((p for p in again.iterdir() if p.is_dir()), again) if again.is_dir() else again
    if done.returncode == 0:
        trial.identical, found = compare(reference, final)
        trial.detail += found
    return trial


def check_sigterm_message(trial: Trial, run: Path | None) -> None:
    """Exit 143; the message names the run's real path, the exact resume command and the step saved, and last.pt
    holds that step."""
    problems = []
    if trial.exit != 143:
        problems.append(f"exit {trial.exit}, not 143")
    found = re.search(r"interrupted by SIGTERM at step (\d+)", trial.message)
    trial.stopped_at = int(found.group(1)) if found else None
    if run is None:
        problems.append("no run directory")
    else:
        if f"gankit resume {run}" not in trial.message:
            problems.append("no `gankit resume <run>` command with the real path")
        if trial.stopped_at is None:
            problems.append("no 'interrupted by SIGTERM at step N'")
        elif trial.checkpoint != trial.stopped_at:
            problems.append(f"last.pt holds step {trial.checkpoint}, not the step stopped at ({trial.stopped_at})")
    trial.message_ok = not problems
    if problems:
        trial.detail += "; ".join(problems) + "; "


def signal_trials(work: Path, timing: Timing, reference: dict[str, Any], kills: int, sigterms: int, seed: int) -> list[Trial]:
    rng = random.Random(seed)
    before = max(1, round(0.15 * kills)) if kills >= 3 else 0
    writes = max(1, kills // 4) if kills >= 2 else 0
    moments = ["early"] * before + ["during a checkpoint write"] * writes
    moments += ["after the first checkpoint"] * (kills - len(moments))
    trials = [Trial(i + 1, "SIGKILL", m) for i, m in enumerate(moments[:kills])]
    trials += [Trial(kills + i + 1, "SIGTERM", "during training") for i in range(sigterms)]
    for trial in trials:
        t0 = time.perf_counter()
        signal_trial(trial, work / f"trial-{trial.number:02d}", timing, rng, reference)
        log(
            f"{trial.signal} #{trial.number} ({trial.moment}, target step {trial.target}) at {trial.at:.2f} s: exit {trial.exit}, step ~{trial.reached}, "
            f"checkpoint {trial.checkpoint}, temps {trial.temps or '-'}, unreadable {len(trial.unreadable)}, {trial.continued}, "
            f"identical {'yes' if trial.identical else 'NO'} ({time.perf_counter() - t0:.1f} s){' — ' + trial.detail if trial.detail else ''}"
        )
    return trials


# ------------------------------------------------------------------------------------------- bad inputs


@dataclass
class Case:
    command: str  # the gankit command it exercises
    misuse: str
    args: list[str]
    lock: str | None = None  # hold the writer lock (flock) on this run directory while the command runs
    rc: int | None = None
    stderr: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def one_line(self) -> bool:
        return len(self.stderr) == 1 and self.stderr[0].startswith("error: ")

    @property
    def ok(self) -> bool:
        return self.one_line and self.rc == 2 and not self.changed


def tree_digest(root: Path) -> dict[str, str]:
    """Every name under ``root`` -> 'dir', the link target, or the sha256 of the file's bytes."""
    out: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = f"link to {os.readlink(path)}"
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def tree_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [
        f"{'added' if k not in before else 'removed' if k not in after else 'changed'} {k}"
        for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
    ]  # fmt: skip


RING_RUN = "runs/00000-gan-ring"
DIGITS_RUN = "runs/00001-dcgan-digits"
NO_CKPT = "runs/00002-no-checkpoint"
CORRUPT = "runs/00003-corrupt"
QUICK = ["--set", "train.steps=20", "--set", "train.progress=none", "--set", "train.device=cpu"]  # were a bad input accepted, it trains briefly


def cases() -> list[Case]:
    r, d = RING_RUN, DIGITS_RUN
    train = ["train", "gan-ring", *QUICK]
    runs = ["--runs-dir", "runs"]
    return [
        # train
        Case("train", "unknown preset", ["train", "gan-rnig", *QUICK, *runs]),
        Case("train", "unknown --set key", [*train, "--set", "train.stpes=10", *runs]),
        Case("train", "unknown section", [*train, "--set", "trian.steps=10", *runs]),
        Case("train", "value of the wrong type", [*train, "--set", "train.batch_size=big", *runs]),
        Case("train", "negative steps", [*train, "--set", "train.steps=-5", *runs]),
        Case("train", "--set without '='", [*train, "--set", "train.steps", *runs]),
        Case("train", "empty YAML file", ["train", "empty.yaml", *runs]),
        Case("train", "YAML that is not a mapping", ["train", "list.yaml", *runs]),
        Case("train", "YAML with a syntax error", ["train", "broken.yaml", *runs]),
        Case("train", "config file that does not exist", ["train", "missing.yaml", *runs]),
        Case("train", "`loss.ls_a` with the nonsaturating game", [*train, "--set", "loss.ls_a=0.5", *runs]),
        Case("train", "`data.grid_size` on the ring", [*train, "--set", "data.grid_size=7", *runs]),
        Case("train", "unknown variant", [*train, "--set", "variant=gann", *runs]),
        Case("train", "unknown device", [*train, "--set", "train.device=tpu", *runs]),
        Case("train", "unknown stop signal", [*train, "--set", "train.stop_signals=KILL", *runs]),
        Case("train", "--name with a '/'", [*train, "--name", "a/b", *runs]),
        Case("train", "--runs-dir is a file", [*train, "--runs-dir", "plain.txt"]),
        # resume
        Case("resume", "run directory that does not exist", ["resume", "runs/99999-nothing"]),
        Case("resume", "a directory that is not a run", ["resume", "notarun"]),
        Case("resume", "run without a checkpoint", ["resume", NO_CKPT]),
        Case("resume", "truncated checkpoint", ["resume", CORRUPT, "--set", "train.steps=1200"]),
        Case("resume", "a changed setting", ["resume", r, "--set", "train.steps=1200", "--set", "train.batch_size=64"]),
        Case("resume", "a finished run without raising train.steps", ["resume", r]),
        Case("resume", "train.steps below the checkpoint's step", ["resume", r, "--set", "train.steps=100"]),
        Case("resume", "unknown --set key", ["resume", r, "--set", "train.stepz=1200"]),
        Case("resume", "a second writer (the run's lock is held)", ["resume", r, "--set", "train.steps=1200"], lock=r),
        # sample
        Case("sample", "--out exists, no --overwrite", ["sample", r, "--n", "10", "--out", "out/existing.npz"]),
        Case("sample", "--out folder holds files, no --overwrite", ["sample", d, "--n", "5", "--out", "out/digits"]),
        Case("sample", "--n 0", ["sample", r, "--n", "0", "--out", "out/new.npz"]),
        Case("sample", "--seed -1", ["sample", r, "--seed", "-1", "--out", "out/new.npz"]),
        Case("sample", "--n not a number", ["sample", r, "--n", "many", "--out", "out/new.npz"]),
        Case("sample", "--step of a checkpoint not kept", ["sample", r, "--step", "300", "--out", "out/new.npz"]),
        Case("sample", "--label on an unconditional model", ["sample", r, "--label", "3", "--out", "out/new.npz"]),
        Case("sample", "--fix without '='", ["sample", r, "--fix", "z", "--out", "out/new.npz"]),
        Case("sample", "--fix of a part the model lacks", ["sample", r, "--fix", "c1=3", "--out", "out/new.npz"]),
        Case("sample", "--fix value not a number", ["sample", r, "--fix", "z=abc", "--out", "out/new.npz"]),
        Case("sample", "--truncation 0", ["sample", r, "--truncation", "0", "--out", "out/new.npz"]),
        Case("sample", "a PNG folder for a toy (points) model", ["sample", r, "--out", "out/points"]),
        Case("sample", "--out in a folder that does not exist", ["sample", r, "--out", "nowhere/new.npz"]),
        Case("sample", "truncated checkpoint", ["sample", CORRUPT, "--out", "out/new.npz"]),
        Case("sample", "unknown option", ["sample", r, "--count", "5"]),
        # interpolate
        Case("interpolate", "--out neither .png nor .gif", ["interpolate", d, "--out", "out/path.jpg"]),
        Case("interpolate", "--steps 1", ["interpolate", d, "--steps", "1", "--out", "out/path.png"]),
        Case("interpolate", "--out exists, no --overwrite", ["interpolate", d, "--out", "out/existing.png"]),
        Case("interpolate", "--vary a part the model lacks", ["interpolate", d, "--vary", "c7", "--out", "out/path.png"]),
        # translate, encode
        Case("translate", "a model that does not translate", ["translate", r, "--out", "out/t.png"]),
        Case("translate", "--n 0", ["translate", d, "--n", "0", "--out", "out/t.png"]),
        Case("encode", "a model without an encoder", ["encode", d, "--out", "out/f.npz"]),
        Case("encode", "--out not .npz", ["encode", d, "--out", "out/f.txt"]),
        # eval
        Case("eval", "unknown metric", ["eval", r, "--metrics", "mdoes"]),
        Case("eval", "`modes` (toy metric) on an image run", ["eval", d, "--metrics", "modes", "--n", "100"]),
        Case("eval", "the digit judge on scikit-learn digits", ["eval", d, "--metrics", "judge", "--n", "100"]),
        Case("eval", "the digit judge on a toy run", ["eval", r, "--metrics", "judge", "--n", "100"]),
        Case("eval", "--seed with --seeds", ["eval", r, "--seed", "5", "--seeds", "0,1"]),
        Case("eval", "--seeds not integers", ["eval", r, "--seeds", "a,b"]),
        Case("eval", "unknown --split", ["eval", r, "--split", "dev"]),
        Case("eval", "--step of a checkpoint not kept", ["eval", r, "--step", "300"]),
        Case("eval", "run without a checkpoint", ["eval", NO_CKPT]),
        # stats, fid
        Case("stats", "--out without .npz", ["stats", "digits", "--out", "out/stats.txt", "--extractor", "mnist"]),
        Case("stats", "--out exists, no --overwrite", ["stats", "digits", "--out", "out/existing.npz", "--extractor", "mnist"]),
        Case("stats", "images that do not exist", ["stats", "nowhere", "--out", "out/stats.npz", "--extractor", "mnist"]),
        Case("stats", "unknown extractor", ["stats", "digits", "--out", "out/stats.npz", "--extractor", "vgg"]),
        Case("fid", "a file that does not exist", ["fid", "out/missing.npz", "out/existing.npz", "--extractor", "mnist"]),
        Case("fid", "unknown device", ["fid", "digits", "digits:test", "--extractor", "mnist", "--device", "tpu"]),
        # report, runs, presets, the command line itself
        Case("report", "report.md exists, no --overwrite", ["report", r]),
        Case("report", "run directory that does not exist", ["report", "runs/99999-nothing"]),
        Case("runs", "a directory that does not exist", ["runs", "nowhere"]),
        Case("runs", "a file, not a directory", ["runs", "plain.txt"]),
        Case("presets", "unknown preset", ["presets", "gan-rnig"]),
        Case("gankit", "unknown command", ["trian", "gan-ring"]),
        Case("gankit", "missing argument", ["sample"]),
    ]


def make_fixtures(root: Path, straight: Path) -> None:
    """The tree the bad inputs are tried on: a finished ring run (a copy of the straight run, with a report), a tiny
    digits run, a run without a checkpoint, one with a truncated checkpoint, existing outputs and input files."""
    runs, out = root / "runs", root / "out"
    runs.mkdir(parents=True)
    out.mkdir()
    shutil.copytree(straight, root / RING_RUN)
    done = run_gankit(["train", "dcgan-digits", *set_args(DIGITS), "--runs-dir", "runs"], cwd=root)
    if done.returncode != 0 or not (root / DIGITS_RUN).is_dir():
        raise SystemExit(f"the digits run failed: {done.stderr}")
    for args in (
        ["report", RING_RUN],
        ["sample", RING_RUN, "--n", "10", "--out", "out/existing.npz"],
        ["sample", DIGITS_RUN, "--n", "3", "--out", "out/digits"],
        ["sample", DIGITS_RUN, "--n", "4", "--out", "out/existing.png"],
    ):
        done = run_gankit(args, cwd=root)
        if done.returncode != 0:
            raise SystemExit(f"setting up `gankit {' '.join(args)}` failed: {done.stderr}")
    no_ckpt = root / NO_CKPT
    (no_ckpt / "checkpoints").mkdir(parents=True)
    (no_ckpt / "samples").mkdir()
    for name in ("config.yaml", "metrics.jsonl"):
        shutil.copyfile(root / RING_RUN / name, no_ckpt / name)
    shutil.copytree(straight, root / CORRUPT)
    last = root / CORRUPT / "checkpoints" / "last.pt"
    os.unlink(last)  # a hard link to the kept step-*.pt: give last.pt its own, truncated, bytes
    shutil.copyfile(straight / "checkpoints" / "last.pt", last)
    with last.open("r+b") as f:
        f.truncate(last.stat().st_size // 2)
    (root / "notarun").mkdir()
    (root / "notarun" / "notes.txt").write_text("not a run\n")
    (root / "plain.txt").write_text("a plain file\n")
    (root / "empty.yaml").write_text("")
    (root / "list.yaml").write_text("- train\n- steps\n")
    (root / "broken.yaml").write_text("train: {steps: [10\n")


def run_case(case: Case, root: Path) -> Case:
    before = tree_digest(root)
    fd = None
    if case.lock is not None:
        fd = os.open(root / case.lock, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    t0 = time.perf_counter()
    try:
        done = run_gankit(case.args, cwd=root, timeout=180)
    finally:
        if fd is not None:
            os.close(fd)
    case.seconds = time.perf_counter() - t0
    case.rc = done.returncode
    case.stderr = done.stderr.splitlines()
    case.changed = tree_changes(before, tree_digest(root))
    return case


def bad_inputs(root: Path, straight: Path) -> list[Case]:
    make_fixtures(root, straight)
    results = []
    for i, case in enumerate(cases(), 1):
        run_case(case, root)
        status = "ok" if case.ok else "FAIL"
        first = case.stderr[0] if case.stderr else "(no stderr)"
        changed = f"; changed: {case.changed[:3]}" if case.changed else ""
        log(f"case {i} {status}: gankit {' '.join(case.args)} -> {case.rc}, {len(case.stderr)} line(s): {first[:160]}{changed}")
        results.append(case)
    return results


# ------------------------------------------------------------------------------------------- the page


def _cell(text: str, width: int = CELL) -> str:
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|").replace("`", "'")


def _steps(values: list[int]) -> str:
    return ", ".join(str(v) for v in values) or "—"


def _failing_trials(trials: list[Trial]) -> list[str]:
    failing = [t for t in trials if not t.ok]
    if not failing:
        return []
    lines = ["", f"Failing trials ({len(failing)}):", ""]
    for t in failing:
        unreadable = f"unreadable: {', '.join(t.unreadable)}; " if t.unreadable else ""
        lines.append(f"- #{t.number} ({t.signal}, {t.moment}): {unreadable}{t.detail}")
    return lines


def write_page(out: Path, trials: list[Trial], results: list[Case], meta: dict[str, Any]) -> None:
    kills = [t for t in trials if t.signal == "SIGKILL"]
    terms = [t for t in trials if t.signal == "SIGTERM"]
    unreadable = sum(len(t.unreadable) for t in kills)
    checked = meta["checkpoints_checked"]
    retrained = sum(1 for t in kills if t.continued.startswith("trained again"))
    in_write = sum(1 for t in kills if any(n.startswith(".last.pt.") for n in t.temps))
    timing = meta["timing"]
    lines = [
        "# Reliability: kill -9, SIGTERM and bad inputs",
        "",
        f"Written by `bench/reliability.py` on {meta['date']} (took {meta['minutes']:.1f} min). Re-run: `{RERUN}`"
        + (f" (this run: `{meta['command']}`)." if meta["command"] != "bench/reliability.py" else "."),
        "",
        f"Machine: {machine()}. Every command runs in its own process with `OMP_NUM_THREADS=1`.",
        "",
        "| check (issue 19's acceptance) | measured | goal |",
        "|---|---|---|",
        f"| kill -9 at random moments: continued bit-identically to the straight run | {sum(t.identical for t in kills)} of {len(kills)} | 20 of 20 |",
        f"| unreadable checkpoints after a kill (of {checked} on disk, `last.pt` and kept `step-*.pt`) | {unreadable} | 0 |",
        "| SIGTERM at random moments: exit 143, checkpoint of the step stopped at, message with the real path and `gankit resume` "
        f"command, bit-identical resume | {sum(t.ok for t in terms)} of {len(terms)} | 10 of 10 |",
        f"| bad inputs and misuses: one `error:` line on stderr, exit 2, nothing changed | {sum(c.ok for c in results)} of {len(results)} | all, at least 40 |",
        "",
        "## The run",
        "",
        f"`gankit train {PRESET} {' '.join(set_args(SCHEDULE))} --runs-dir DIR`: {STEPS} steps, a checkpoint every 25 steps",
        "(`checkpoints/last.pt`, written to a temporary file, fsynced and renamed), the last 3 kept as `step-*.pt`, losses",
        "logged every 10 steps (so most checkpoints fall between two log lines and carry pending loss sums), the watchdog's",
        "health records from step 100, the EMA copy averaging from step 200, the learning rates decaying over the second half.",
        f"The straight run took {timing['end']:.1f} s: training began {timing['train_start']:.1f} s after the process",
        f"started and the first checkpoint appeared at {timing['first_checkpoint']:.1f} s. A second straight run was "
        + ("bit-identical to the first" if meta["straight_repeat"] == "" else f"**not** identical to the first ({meta['straight_repeat']})")
        + ", so the comparisons below measure resumption, not run-to-run noise.",
        "",
        "**Identical** means: the final `last.pt`'s players, EMA copies, optimiser states, schedulers and step, the kept",
        "checkpoints' players, EMA copies and optimiser states, and every record of metrics.jsonl (losses and health; the",
        "wall-clock `time` left out) equal the straight run's, every tensor bit for bit (`torch.equal`, same dtype and shape).",
        "",
        "## 1. kill -9 at random moments",
        "",
        f"A moment is a target step drawn with `random.Random({meta['seed']})`; the benchmark waits for the log line at or",
        "before it in metrics.jsonl, then a uniform part of one log interval (its length in the straight run), so that the",
        "moments follow the run's progress whatever the machine's load. *early*: a target before the first checkpoint",
        "(step 25; a run killed before its own first checkpoint has nothing to resume and is trained again, as a user",
        "would); *during a checkpoint write*: a target from step 30 on, then the temporary `checkpoints/.last.pt.*.tmp`",
        "is polled for and the process killed on sight (a leftover temporary file shows the kill landed mid-write); *after",
        "the first checkpoint*: a target from step 30 on. Then every checkpoint on disk is loaded with",
        f"`torch.load(weights_only=True)` and the run is continued with `gankit resume RUN`. {retrained} run(s) trained",
        f"again; {in_write} kill(s) left a half-written `last.pt` temporary file behind. *Kill at*: seconds after the",
        "process started; *step reached*: the last step logged in metrics.jsonl before the kill (logged every 10).",
        "",
        "| # | moment | target step | kill at (s) | step reached | last.pt step | kept | temporary files left | unreadable | continued by | identical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in kills:
        reached, saved = (v if v is not None else "—" for v in (t.reached, t.checkpoint))
        lines.append(
            f"| {t.number} | {t.moment} | {t.target} | {t.at:.2f} | {reached} | {saved} | "
            f"{_steps(t.kept)} | {', '.join(f'`{n}`' for n in t.temps) or '—'} | {len(t.unreadable)} | {t.continued} | "
            f"{'yes' if t.identical else '**no**: ' + _cell(t.detail)} |"
        )
    lines += _failing_trials(kills)
    lines += [
        "",
        "## 2. SIGTERM at random moments",
        "",
        "SIGTERM (what SLURM and Kubernetes send before preempting a job) at a moment drawn as in section 1, a target step",
        f"from 0 to {STEPS - LOG_EVERY - 1} (training has begun: the handlers are installed before metrics.jsonl is opened), then",
        "`gankit resume RUN`. *Message*: the last stderr line, which must hold `interrupted by SIGTERM at step N`, the run's",
        "real path (shown here as RUN) and `gankit resume <path>`; `last.pt` must hold step N.",
        "",
        "| # | target step | signal at (s) | exit | stopped at step | last.pt step | kept | unreadable | message ok | identical | message |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in terms:
        stopped, saved = (v if v is not None else "—" for v in (t.stopped_at, t.checkpoint))
        message = t.message.replace(t.run, "RUN") if t.run else t.message
        lines.append(
            f"| {t.number} | {t.target} | {t.at:.2f} | {t.exit} | {stopped} | {saved} | {_steps(t.kept)} | {len(t.unreadable)} | "
            f"{'yes' if t.message_ok else '**no**'} | {'yes' if t.identical else '**no**'} | {_cell(message, 200)} |"
        )
    lines += _failing_trials(terms)
    lines += [
        "",
        "## 3. Bad inputs and misuses",
        "",
        "Each command runs in a fixture tree: `runs/00000-gan-ring` (a copy of the straight run, finished at step 600, with",
        "`report.md`), `runs/00001-dcgan-digits` (40 steps, width 8, checkpoints 20 and 40 kept), `runs/00002-no-checkpoint`",
        "(config and metrics, no checkpoint), `runs/00003-corrupt` (its `last.pt` cut to half its size), existing outputs",
        "(`out/existing.npz`, `out/existing.png`, `out/digits/` with 3 PNGs), `notarun/`, `plain.txt`, `empty.yaml`,",
        "`list.yaml` (a YAML list) and `broken.yaml` (a YAML syntax error). *Unchanged*: the whole tree hashed (every name,",
        "every file's bytes) before and after the command. Train cases carry `--set train.steps=20` (shown as `…`) so that",
        "an accepted bad input would train briefly. The lock case holds an `fcntl.flock` on the run directory in the",
        "benchmark's process, as a running `train`/`resume` does.",
        "",
        "| # | command | misuse | exit | stderr | one `error:` line | exit 2 | unchanged | pass |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    quick = " ".join(QUICK)
    for i, c in enumerate(results, 1):
        shown = " ".join(c.args).replace(quick, "…")
        first = c.stderr[0] if c.stderr else "(nothing)"
        extra = f" (+{len(c.stderr) - 1} more lines)" if len(c.stderr) > 1 else ""
        unchanged = "yes" if not c.changed else "**no**: " + _cell(", ".join(c.changed[:3]))
        lines.append(
            f"| {i} | `gankit {shown.replace('|', '/')}` | {c.misuse} | {c.rc} | {_cell(first)}{extra} | {'yes' if c.one_line else '**no**'} | "
            f"{'yes' if c.rc == 2 else '**no**'} | {unchanged} | {'yes' if c.ok else '**FAIL**'} |"
        )
    failing = [c for c in results if not c.ok]
    if failing:
        lines += ["", f"Failing cases ({len(failing)}), stderr in full:", ""]
        for c in failing:
            lines += [f"- `gankit {' '.join(c.args)}` (exit {c.rc}):", "", "  ```", *[f"  {line}" for line in c.stderr[:20]], "  ```", ""]
    out.write_text("\n".join(lines).rstrip("\n") + "\n")


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="kill -9 trials")
    parser.add_argument("--sigterms", type=int, default=10, help="SIGTERM trials")
    parser.add_argument("--seed", type=int, default=19, help="seed of the signal moments")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "reliability.md")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temporary directory (its path is printed)")
    args = parser.parse_args()
    if args.kills < 0 or args.sigterms < 0:
        parser.error("--kills and --sigterms must be zero or more")
    import torch

    torch.set_num_threads(1)  # the bench process only loads checkpoints; the machine line says so
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gankit-bench-reliability-"))
    try:
        log(f"working in {work}; gankit is {' '.join(GANKIT)}")
        straight, timing = straight_run(work / "straight")
        log(f"straight run: {timing.end:.1f} s (training from {timing.train_start:.1f} s, first checkpoint at {timing.first_checkpoint:.1f} s)")
        reference = outcome(straight)
        repeat, _ = straight_run(work / "straight-again")
        same, found = compare(reference, repeat)
        log(f"second straight run identical: {'yes' if same else 'NO: ' + found}")
        trials = signal_trials(work, timing, reference, args.kills, args.sigterms, args.seed)
        checked = sum(len(t.kept) + (t.checkpoint is not None or "last.pt" in t.unreadable) for t in trials if t.signal == "SIGKILL")
        results = bad_inputs(work / "cases", straight)
        command = "bench/reliability.py" + "".join(
            f" --{k} {getattr(args, k)}" for k, default in (("kills", 20), ("sigterms", 10), ("seed", 19)) if getattr(args, k) != default
        )
        meta = {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), "minutes": (time.perf_counter() - started) / 60,
            "seed": args.seed, "timing": vars(timing), "straight_repeat": found, "checkpoints_checked": checked, "work": str(work),
            "command": command,
        }  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_page(args.out, trials, results, meta)
        kills = [t for t in trials if t.signal == "SIGKILL"]
        terms = [t for t in trials if t.signal == "SIGTERM"]
        log(
            f"kill -9: {sum(t.identical for t in kills)}/{len(kills)} identical, {sum(len(t.unreadable) for t in kills)} unreadable; "
            f"SIGTERM: {sum(t.ok for t in terms)}/{len(terms)}; bad inputs: {sum(c.ok for c in results)}/{len(results)}; "
            f"{meta['minutes']:.1f} min; wrote {args.out}"
        )
    finally:
        if args.keep_tmp:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
