"""Atomic checkpoints: a writer killed mid-write leaves the previous file loadable."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.errors import GankitError
from gankit.train.checkpoint import REQUIRED_KEYS, load_checkpoint, save_checkpoint

WRITER = r"""
import os, sys, time, torch
from gankit.train.checkpoint import save_checkpoint
path, stall = sys.argv[1], sys.argv[2] == "stall"
if stall:
    real_fsync = os.fsync
    def fsync(fd):
        print("in-fsync", flush=True)
        time.sleep(60)
    os.fsync = fsync
step = 0
while True:
    step += 1
    payload = {k: {} for k in ("models", "ema", "optimizers", "schedulers", "rng", "state", "config")}
    payload.update(gankit_version="test", step=step)
    payload["models"] = {"g": {"w": torch.full((2_000_000,), float(step))}}
    print(f"writing {step}", flush=True)
    save_checkpoint(payload, path)
"""


def payload(step: int) -> dict:
    out = {key: {} for key in REQUIRED_KEYS}
    out.update(gankit_version="test", step=step, models={"g": {"w": torch.full((2_000_000,), float(step))}})
    return out


def check_loadable(path: Path) -> int:
    ckpt = load_checkpoint(path)
    step = ckpt["step"]
    assert torch.equal(ckpt["models"]["g"]["w"], torch.full((2_000_000,), float(step)))
    return step


def test_writer_killed_inside_the_write_leaves_previous_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(payload(0), path)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "stall"], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.strip() == "in-fsync":  # the new file is fully written but not yet renamed into place
                break
        tmp_files = list(tmp_path.glob(".last.pt.*.tmp"))
        assert tmp_files, "the writer should be writing to a temporary file beside the checkpoint"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert check_loadable(path) == 0
    save_checkpoint(payload(7), path)  # the next save cleans the stale temporary file up
    assert check_loadable(path) == 7
    assert not list(tmp_path.glob(".last.pt.*.tmp"))


def test_writer_killed_at_random_moments_never_leaves_a_broken_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(payload(0), path)
    rng = random.Random()
    last = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), "go"], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().startswith("writing")
            time.sleep(rng.uniform(0.0, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        last = check_loadable(path)
    assert last >= 0


def test_truncated_or_foreign_files_are_user_errors(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(payload(3), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GankitError, match="not a readable gankit checkpoint"):
        load_checkpoint(path)
    torch.save({"a": 1}, path)
    with pytest.raises(GankitError, match="missing"):
        load_checkpoint(path)
    with pytest.raises(GankitError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")


def test_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({**payload(1), "extra": Path("x")}, path)  # an arbitrary object: needs full unpickling
    with pytest.raises(GankitError, match="not a readable gankit checkpoint"):
        load_checkpoint(path)
