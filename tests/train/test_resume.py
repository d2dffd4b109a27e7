"""Exact resume on CPU: N steps straight == N/2 steps + resume, and == killed (SIGKILL) + resume."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import kill_after_first_checkpoint, run_cli, set_args, signal_run

N = 600
OVERRIDES = [
    f"train.steps={N}",
    "train.batch_size=64",
    "train.log_every=30",  # not a divisor of ckpt_every: a checkpoint falls between log lines, with losses pending
    "train.sample_every=100",  # snapshots and watchdog checks on both sides of the resume
    "train.watchdog_start=100",
    "train.ckpt_every=50",
    "train.d_steps=2",
    "train.ema=0.99",
    "train.ema_start=10",
    "train.device=cpu",
    "train.progress=none",
    "model.g.width=64",
    "model.d.width=64",
    # half + resume raises train.steps, and a decaying learning rate is a function of train.steps: constant rates
    # here (tests/variants/test_stabilisation.py resumes a decaying run without raising train.steps)
    "optim.g.decay_start=1.0",
    "optim.d.decay_start=1.0",
]


def assert_identical(a: Any, b: Any, where: str = "checkpoint") -> None:
    """Every tensor torch.equal, every other value ==, recursively."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def load(run: Path) -> dict[str, Any]:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)


def losses(run: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def compare_runs(reference: Path, other: Path) -> None:
    a, b = load(reference), load(other)
    assert a["step"] == b["step"] == N
    for key in ("models", "ema", "optimizers", "schedulers", "rng", "state", "watchdog", "loss_sums"):
        assert_identical(a[key], b[key], key)
    assert a["ema"], "EMA should be part of this test"
    assert a["watchdog"]["data_spread"] and a["watchdog"]["history"], "the watchdog's memory should be part of this test"
    assert losses(reference) == losses(other)  # same losses logged, each step exactly once


def train(runs: Path, overrides: list[str]) -> Path:
    result = run_cli("train", "gan-ring", "--runs-dir", str(runs), *set_args(overrides))
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("straight"), OVERRIDES)


def test_half_then_resume_is_bit_identical(straight, tmp_path):
    run = train(tmp_path, [*OVERRIDES, f"train.steps={N // 2}"])
    assert load(run)["step"] == N // 2
    result = run_cli("resume", str(run), "--set", f"train.steps={N}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(run)
    compare_runs(straight, run)


def test_sigkill_at_a_random_step_then_resume_is_bit_identical(straight, tmp_path):
    run = kill_after_first_checkpoint(["train", "gan-ring", "--runs-dir", str(tmp_path), *set_args(OVERRIDES)], tmp_path, max_delay=0.6, timeout=120)
    killed_at = load(run)["step"]
    assert 50 <= killed_at < N
    result = run_cli("resume", str(run))
    assert result.returncode == 0, result.stderr
    compare_runs(straight, run)


@pytest.mark.parametrize(
    ("signum", "extra"),
    [(signal.SIGTERM, []), (signal.SIGINT, ["train.ckpt_every=100000"])],
    ids=["sigterm", "sigint-before-any-checkpoint"],  # SIGUSR1 takes the same path (tests/train/test_signals.py)
)
def test_a_stop_signal_checkpoints_the_current_step_and_resume_is_bit_identical(straight, tmp_path, signum, extra):
    """SIGTERM (preemption) and Ctrl-C at a random step, also before the first checkpoint: the run writes a
    checkpoint of the step it finished, says where and how to resume, exits 128 + the signal, and resumes exactly."""
    args = ["train", "gan-ring", "--runs-dir", str(tmp_path), *set_args([*OVERRIDES, *extra])]
    run, returncode, stderr = signal_run(args, tmp_path, signum=signum, after="*/metrics.jsonl", max_delay=0.05 if extra else 1.0)
    assert returncode == 128 + signum, stderr
    step = load(run)["step"]
    assert 0 < step < N
    assert not extra or step < 100000  # no checkpoint but the signal's
    last = stderr.strip().splitlines()[-1]
    name = signal.Signals(signum).name
    assert last == f"interrupted by {name} at step {step}: step {step} is saved in {run / 'checkpoints' / 'last.pt'}; continue with: gankit resume {run}"
    result = run_cli("resume", str(run))
    assert result.returncode == 0, result.stderr
    compare_runs(straight, run)


def test_resume_of_a_finished_run_without_more_steps_is_refused(straight):
    before = (straight / "checkpoints" / "last.pt").read_bytes()
    result = run_cli("resume", str(straight))
    assert result.returncode == 2
    assert "already at step" in result.stderr and f"train.steps={N * 2}" in result.stderr
    assert (straight / "checkpoints" / "last.pt").read_bytes() == before


def test_a_second_writer_of_a_run_is_refused_naming_the_holder(straight, tmp_path):
    """While one process trains a run, `gankit resume` of it is refused in one line (exit 2) naming the holder's
    pid, and changes nothing; once the holder is gone (the kernel releases its lock), resume works."""
    import subprocess
    import sys
    import time

    run = train(tmp_path, [*OVERRIDES, "train.steps=60"])
    holder = subprocess.Popen([sys.executable, "-m", "gankit", "resume", str(run), "--set", "train.steps=100000"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "steps: 100000" not in (run / "config.yaml").read_text():  # it holds the lock
            time.sleep(0.05)
        second = run_cli("resume", str(run), "--set", "train.steps=200")
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"is being trained by pid {holder.pid};" in lines[0] and f"`gankit resume {run}`" in lines[0], second.stderr
    finally:
        holder.kill()
        holder.wait()
    assert "steps: 100000" in (run / "config.yaml").read_text()  # the holder's; the refused writer wrote nothing
    third = run_cli("resume", str(run), "--set", f"train.steps={load(run)['step'] + 10}")  # the killed holder's lock went with it
    assert third.returncode == 0, third.stderr
