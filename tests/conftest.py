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


def kill_after_first_checkpoint(args: list[str], runs: Path, *, max_delay: float, env: dict | None = None, timeout: float = 180) -> Path:
    """Start ``python -m gankit ARGS`` (a training run writing under ``runs``), SIGKILL it at a random moment up to
    ``max_delay`` seconds after its first checkpoint appears, and return the run directory."""
    cmd = [sys.executable, "-m", "gankit", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    try:
        deadline, ckpt = time.monotonic() + timeout, None
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(runs.glob("*/checkpoints/last.pt"))
            if found:
                ckpt = found[0]
                break
            time.sleep(0.01)
        assert ckpt is not None, f"no checkpoint appeared: {proc.stderr.read() if proc.poll() is not None else ''}"
        time.sleep(random.uniform(0.0, max_delay))  # a random step after the first checkpoint
        assert proc.poll() is None, "the run finished before it could be killed; raise its steps"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    return ckpt.parent.parent


@pytest.fixture
def cli():
    return run_cli
