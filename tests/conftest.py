"""Shared helpers: run the command line in a subprocess, tiny config overrides for fast runs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Overrides that make any toy preset train in about a second.
TINY = [
    "train.steps=20",
    "train.batch_size=32",
    "train.log_every=5",
    "train.sample_every=10",
    "train.ckpt_every=10",
    "train.sample_n=200",
    "train.device=cpu",
    "train.progress=lines",
]


def set_args(overrides: list[str]) -> list[str]:
    args: list[str] = []
    for item in overrides:
        args += ["--set", item]
    return args


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m gankit ARGS`` and capture its output."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gankit", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


def signal_run(
    args: list[str], runs: Path, *, max_delay: float, signum: int = signal.SIGKILL, after: str = "*/checkpoints/last.pt", env: dict | None = None,
    timeout: float = 180,
) -> tuple[Path, int, str]:
    """Start ``python -m gankit ARGS`` (a training run writing under ``runs``), send it ``signum`` at a random moment
    up to ``max_delay`` seconds after a file matching ``after`` appears under ``runs`` (default: its first
    checkpoint), wait for it; return the run directory, its exit status and its stderr."""
    cmd = [sys.executable, "-m", "gankit", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    try:
        deadline, found = time.monotonic() + timeout, []
        while time.monotonic() < deadline and proc.poll() is None and not found:
            found = list(runs.glob(after))
            time.sleep(0.01)
        assert found, f"no {after} appeared: {proc.stderr.read() if proc.poll() is not None else ''}"
        time.sleep(random.uniform(0.0, max_delay))  # a random step after it
        assert proc.poll() is None, "the run finished before it could be signalled; raise its steps"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = next(p for p in runs.iterdir() if p.is_dir())
    return run, proc.returncode, stderr


def kill_after_first_checkpoint(args: list[str], runs: Path, *, max_delay: float, env: dict | None = None, timeout: float = 180) -> Path:
    """SIGKILL a training run at a random moment up to ``max_delay`` seconds after its first checkpoint; its directory."""
    run, returncode, _ = signal_run(args, runs, max_delay=max_delay, env=env, timeout=timeout)
    assert returncode == -signal.SIGKILL
    return run


@pytest.fixture
def cli():
    return run_cli


def snapshot(root: Path) -> dict[str, tuple]:
    """Every directory and file under ``root``: name -> ('dir',) or (size, sha256)."""
    import hashlib

    state: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir():
            state[rel + "/"] = ("dir",)
        else:
            data = path.read_bytes()
            state[rel] = (len(data), hashlib.sha256(data).hexdigest())
    return state


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    """``gankit ARGS`` run in this process (no interpreter and torch start-up per call): exit status, stdout, stderr."""
    from gankit.cli import main

    argv, sys.argv = sys.argv, ["gankit", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return code, out, err
