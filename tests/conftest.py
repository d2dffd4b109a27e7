"""Shared helpers: run the command line in a subprocess, tiny config overrides for fast runs."""

from __future__ import annotations

import os
import subprocess
import sys
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


@pytest.fixture
def cli():
    return run_cli
