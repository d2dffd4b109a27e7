"""The metric commands end to end, through real subprocesses: `gankit stats`, `gankit fid` and `gankit eval`.

Happy path: a statistics file in pytorch-fid's format, reused by `fid`; a folder of PNGs against itself; two runs
over two seeds summarised. Bad input: as in tests/test_cli.py, each case exits 2 with exactly one ``error: ...``
line on stderr, no traceback, and creates or changes nothing.

The tiny runs are trained once, in this process; the bad-input commands run in the background, ``JOBS`` at a time,
while the happy-path tests proceed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig, load_config
from gankit.data import build_dataset
from gankit.metrics.extractors import build_extractor
from gankit.metrics.fid import feature_statistics, frechet_distance
from gankit.metrics.inception import WEIGHTS_ENV
from gankit.train.loop import train
from tests.conftest import TINY, run_cli, snapshot
from tests.test_cli import JOBS, ONE_THREAD, Outcome, assert_one_clean_error, last_line

IN_PROCESS = [*TINY, "train.progress=none"]
FID_LINE = re.compile(r"^FID: (\S+)$")


@dataclass
class Runs:
    ring: Path
    ring_seed1: Path
    digits: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    """Two tiny gan-ring runs (seeds 0 and 1) and a tiny dcgan-digits run, trained in this process."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    return Runs(
        train(load_config("gan-ring", IN_PROCESS), root),
        train(load_config("gan-ring", [*IN_PROCESS, "train.seed=1"]), root),
        train(load_config("dcgan-digits", [*IN_PROCESS, "train.batch_size=16"]), root),
    )


def copy_run(run: Path, parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(run, parent / run.name))


def write_pngs(folder: Path, images: np.ndarray) -> Path:
    """Greyscale uint8 images (N, H, W) as 00000.png, 00001.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, picture in enumerate(images):
        Image.fromarray(picture).save(folder / f"{i:05d}.png")
    return folder


def mnist_test_digits() -> np.ndarray:
    return build_dataset(DataConfig(name="mnist5k", split="test")).images[:, 0].numpy()


# ------------------------------------------------------------------------------------------ happy path


def test_stats_writes_pytorch_fid_npz_that_fid_reuses(tmp_path):
    out = tmp_path / "test-stats.npz"
    result = run_cli("stats", "mnist5k:test", "--extractor", "mnist", "--out", str(out), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert str(out) in last_line(result.stdout)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary file left behind
    with np.load(out) as f:
        assert sorted(f.files) == ["mu", "sigma"]
        mu, sigma = f["mu"], f["sigma"]
    assert mu.shape == (128,) and sigma.shape == (128, 128)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(sigma, sigma.T)

    result = run_cli("fid", str(out), "mnist5k:train", "--extractor", "mnist", env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    match = FID_LINE.match(last_line(result.stdout))
    assert match, result.stdout
    value = float(match.group(1))
    assert np.isfinite(value) and value > 0

    train_images = build_dataset(DataConfig(name="mnist5k", split="train")).images.float() / 255.0
    train_features = build_extractor("mnist", progress=False)(train_images)
    assert value == pytest.approx(frechet_distance(mu, sigma, *feature_statistics(train_features)), rel=1e-6)


def test_fid_of_a_folder_against_itself_is_zero(tmp_path):
    folder = write_pngs(tmp_path / "digits", mnist_test_digits()[:60])
    result = run_cli("fid", str(folder), str(folder), "--extractor", "mnist", env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    match = FID_LINE.match(last_line(result.stdout))
    assert match, result.stdout
    assert abs(float(match.group(1))) < 1e-6


def test_eval_of_two_runs_over_two_seeds_prints_a_summary(runs, tmp_path):
    one, two = copy_run(runs.ring, tmp_path / "runs"), copy_run(runs.ring_seed1, tmp_path / "runs")
    result = run_cli("eval", str(one), str(two), "--metrics", "fid,modes", "--seeds", "0,1", "--n", "1000", env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("fid", "modes"):
        summary = [line for line in lines if line.startswith(f"2 runs {name}: ")]
        assert len(summary) == 1, result.stdout
        assert "±" in summary[0]
    assert re.search(r"^2 runs fid: fid = \S+ ± \S+", result.stdout, re.MULTILINE), result.stdout
    for run in (one, two):
        assert f"{run / 'eval.json'}" in lines
        assert re.search(rf"^{re.escape(str(run))} fid: fid = \S+ ± \S+", result.stdout, re.MULTILINE), result.stdout  # never raw dicts


# ------------------------------------------------------------------------------------------ bad input


@dataclass
class Workspace:
    """A fresh folder per case; the command runs there."""

    root: Path
    runs: Runs
    outside: list[Path] = field(default_factory=list)  # paths outside root the command must not create

    def run_copy(self, run: Path) -> Path:
        return copy_run(run, self.root / "runs")

    def stats_file(self, name: str, d: int) -> Path:
        path = self.root / name
        rng = np.random.default_rng(d)
        a = rng.standard_normal((d, d))
        np.savez(path, mu=rng.standard_normal(d), sigma=a @ a.T / d)
        return path


@dataclass(frozen=True)
class Case:
    id: str
    prepare: Callable[[Workspace], list[str]]  # sets the workspace up, returns the CLI arguments
    needle: str  # must appear in the error message
    unset: tuple[str, ...] = ()  # environment variables the command runs without


def _existing_out(ws: Workspace) -> list[str]:
    out = ws.stats_file("stats.npz", 4)
    return ["stats", "mnist5k:test", "--extractor", "mnist", "--out", str(out)]


def _mixed_sizes(ws: Workspace) -> list[str]:
    digits = mnist_test_digits()
    folder = write_pngs(ws.root / "mixed", digits[:3])
    for i, picture in enumerate(digits[3:6]):
        Image.fromarray(np.pad(picture, 2)).save(folder / f"big-{i}.png")  # 32x32 beside 28x28
    return ["fid", str(folder), "mnist5k:test", "--extractor", "mnist"]


def _missing_weights(ws: Workspace) -> list[str]:
    missing = Path("/nonexistent.pth")
    ws.outside.append(missing)
    return ["eval", str(ws.run_copy(ws.runs.digits)), "--metrics", "fid", "--extractor", "inception", "--inception-weights", str(missing)]


CASES = [
    # --- stats
    Case("stats-no-inception-weights", lambda ws: ["stats", "mnist5k:test", "--out", str(ws.root / "s.npz")], WEIGHTS_ENV, unset=(WEIGHTS_ENV,)),
    Case("stats-out-exists", _existing_out, "exists"),
    Case("stats-out-not-npz", lambda ws: ["stats", "mnist5k:test", "--extractor", "mnist", "--out", str(ws.root / "s.txt")], ".npz"),
    Case("stats-device-banana", lambda ws: ["stats", "mnist5k:test", "--extractor", "mnist", "--device", "banana", "--out", str(ws.root / "s.npz")], "banana"),
    # --- fid
    Case("fid-missing-path", lambda ws: ["fid", str(ws.root / "nowhere"), "mnist5k:test", "--extractor", "mnist"], "nowhere"),
    Case("fid-stats-dimensions-differ", lambda ws: ["fid", str(ws.stats_file("a.npz", 4)), str(ws.stats_file("b.npz", 3))], "dimensions"),
    Case("fid-folder-mixed-sizes", _mixed_sizes, "different sizes"),
    Case("fid-unknown-extractor", lambda ws: ["fid", "mnist5k:test", "mnist5k:train", "--extractor", "resnet"], "resnet"),
    # --- eval
    Case("eval-seeds-not-integers", lambda ws: ["eval", str(ws.run_copy(ws.runs.ring)), "--metrics", "modes", "--seeds", "0,x"], "--seeds"),
    Case("eval-is-on-toy-run", lambda ws: ["eval", str(ws.run_copy(ws.runs.ring)), "--metrics", "is", "--n", "100"], "point data"),
    Case("eval-inception-weights-missing", _missing_weights, "/nonexistent.pth"),
]
assert len({c.id for c in CASES}) == len(CASES)


def _run(args: list[str], cwd: Path, unset: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **ONE_THREAD}
    for name in unset:
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "gankit", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env, check=False)


def _run_case(ws: Workspace, case: Case) -> Outcome:
    args = case.prepare(ws)
    before = snapshot(ws.root)
    result = _run(args, ws.root, case.unset)
    return Outcome(args, result, before, snapshot(ws.root), [p for p in ws.outside if p.exists()])


@pytest.fixture(scope="module")
def bad_outcomes(request, runs, tmp_path_factory) -> Iterator[dict[str, Future[Outcome]]]:
    """Start the selected bad-input cases, each in its own workspace, ``JOBS`` at a time in the background."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module and "case" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    pool = ThreadPoolExecutor(max_workers=JOBS)
    futures: dict[str, Future[Outcome]] = {}
    try:
        for case in selected:
            futures[case.id] = pool.submit(_run_case, Workspace(tmp_path_factory.mktemp(case.id), runs), case)
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module", autouse=True)
def _bad_cases_run_alongside_the_happy_path(bad_outcomes):
    """Requesting ``bad_outcomes`` from the module's first test starts those runs while the tests above proceed."""


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_one_clean_error_and_changes_nothing(case: Case, bad_outcomes):
    assert_one_clean_error(bad_outcomes[case.id].result(), case.needle)
