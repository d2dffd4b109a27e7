"""The command line end to end, through real subprocesses (``python -m gankit``).

Happy path: train, resume, sample, eval and presets on tiny toy runs.
Bad input: every foreseeable user error exits 2 with exactly one ``error: ...`` line on stderr, no traceback,
and leaves everything that existed before untouched (run directories, checkpoints, runs dir, outputs).

Each subprocess pays ~1.5 s for importing torch, so the trained runs are made once per module and copied where a
test would change them, and the bad-input commands (independent of each other) run in the background, two at a
time (GANKIT_TEST_JOBS=1 for one), while the happy-path tests proceed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import TINY, run_cli, set_args, snapshot

# How many CLI subprocesses may run at once (the machine has 2 cores; each process is one torch thread).
JOBS = max(1, min(2, int(os.environ.get("GANKIT_TEST_JOBS", os.cpu_count() or 1))))
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOY_PRESETS = {"gan-1d", "gan-ring", "gan-grid", "minimax-ring"}
TINY_INT = {key: int(value) for key, value in (item.split("=", 1) for item in TINY) if value.isdigit()}
STEPS, MORE = TINY_INT["train.steps"], TINY_INT["train.steps"] + 10  # a tiny run, and the step count it is resumed to


def on_schedule(every: int, start: int, end: int) -> list[int]:
    """The steps in (start, end] at which the loop logs/samples/checkpoints: every ``every`` steps and at the end."""
    return [s for s in range(start + 1, end + 1) if s % every == 0 or s == end]


def run_many(commands: list[list[str]], cwds: list[Path | None] | None = None) -> list[subprocess.CompletedProcess]:
    """Run independent CLI commands, ``JOBS`` at a time, in order of the list."""
    cwds = cwds or [None] * len(commands)
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        futures = [pool.submit(run_cli, *args, cwd=cwd, env=ONE_THREAD) for args, cwd in zip(commands, cwds, strict=True)]
        return [f.result() for f in futures]


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert lines, "nothing on stdout"
    return lines[-1]


def load_ckpt(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ trained runs


@dataclass
class Trained:
    runs_dir: Path
    ring: subprocess.CompletedProcess
    one_d: subprocess.CompletedProcess

    @property
    def ring_run(self) -> Path:
        assert self.ring.returncode == 0, self.ring.stderr
        return Path(last_line(self.ring.stdout))

    @property
    def one_d_run(self) -> Path:
        assert self.one_d.returncode == 0, self.one_d.stderr
        return Path(last_line(self.one_d.stdout))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    """One tiny gan-ring run and one tiny gan-1d run (TINY: STEPS steps each), trained side by side."""
    runs_dir = tmp_path_factory.mktemp("runs")
    ring, one_d = run_many([["train", name, "--runs-dir", str(runs_dir), *set_args(TINY)] for name in ("gan-ring", "gan-1d")])
    return Trained(runs_dir, ring, one_d)


def copy_run(run: Path, dest_parent: Path) -> Path:
    dest_parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(run, dest_parent / run.name))


# ------------------------------------------------------------------------------------------ happy path


def test_presets_lists_the_toy_presets():
    result = run_cli("presets")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert listed >= TOY_PRESETS
    for line in result.stdout.splitlines():
        if line.split() and line.split()[0] in TOY_PRESETS:
            assert len(line.split()) > 1, f"preset without a description: {line!r}"


def test_version_short_help_and_one_preset_printed():
    from gankit import __version__

    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"gankit {__version__}"
    short = run_cli("sample", "-h")
    assert short.returncode == 0 and "--overwrite" in short.stdout and "--out" in short.stdout
    shown = run_cli("presets", "gan-ring")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "name: gan-ring" and "variant: gan" in shown.stdout
    unknown = run_cli("presets", "gan-rng")
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: unknown preset 'gan-rng'; did you mean 'gan-ring'? `gankit presets` lists them"


def test_train_writes_the_run_directory(trained):
    result = trained.ring
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    run = Path(last_line(result.stdout))
    assert run.is_dir() and run.parent == trained.runs_dir and run.name.endswith("-gan-ring")
    assert run.name[:5].isdigit()

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["name"] == "gan-ring" and cfg["train"]["steps"] == STEPS and cfg["train"]["batch_size"] == TINY_INT["train.batch_size"]

    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records] == on_schedule(TINY_INT["train.log_every"], 0, STEPS)
    for record in records:
        assert isinstance(record["time"], (int, float)) and record["time"] >= 0
        losses = {k: v for k, v in record.items() if k not in ("step", "time")}
        assert losses, f"no loss in {record}"
        assert all(isinstance(v, float) and np.isfinite(v) for v in losses.values()), record

    samples = sorted(p.name for p in (run / "samples").glob("step-*.png"))
    assert samples == [f"step-{s:06d}.png" for s in [0, *on_schedule(TINY_INT["train.sample_every"], 0, STEPS)]]
    assert all((run / "samples" / name).read_bytes().startswith(PNG_MAGIC) for name in samples)

    payload = load_ckpt(run)
    assert payload["step"] == STEPS
    for key in ("gankit_version", "config", "models", "ema", "optimizers", "schedulers", "rng"):
        assert key in payload
    assert payload["config"]["train"]["steps"] == STEPS


def test_resume_continues_to_the_raised_step_count(trained, tmp_path):
    run = copy_run(trained.ring_run, tmp_path / "runs")
    result = run_cli("resume", str(run), "--set", f"train.steps={MORE}")
    assert result.returncode == 0, result.stderr
    assert Path(last_line(result.stdout)) == run

    records = read_jsonl(run / "metrics.jsonl")
    every = TINY_INT["train.log_every"]
    assert [r["step"] for r in records] == on_schedule(every, 0, STEPS) + on_schedule(every, STEPS, MORE)  # none lost, none twice
    assert load_ckpt(run)["step"] == MORE
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == MORE
    assert (run / "samples" / f"step-{MORE:06d}.png").is_file()


def test_sample_writes_npz_and_png_without_touching_the_run(trained, tmp_path):
    run = trained.ring_run
    before = snapshot(run)
    npz, png = tmp_path / "x.npz", tmp_path / "x.png"
    result = run_cli("sample", str(run), "--n", "50", "--out", str(npz))
    assert result.returncode == 0, result.stderr
    with np.load(npz) as f:
        samples = f["samples"]
    assert samples.shape == (50, 2) and samples.dtype == np.float32
    assert np.isfinite(samples).all()

    result = run_cli("sample", str(run), "--n", "50", "--out", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz", "x.png"]  # no temporary files left behind
    assert snapshot(run) == before


def test_eval_modes_writes_eval_json_with_protocol(trained, tmp_path):
    run = copy_run(trained.ring_run, tmp_path / "runs")
    result = run_cli("eval", str(run), "--metrics", "modes")
    assert result.returncode == 0, result.stderr
    assert Path(last_line(result.stdout)) == run / "eval.json"
    assert any(line.startswith("modes:") for line in result.stdout.splitlines())

    report = json.loads((run / "eval.json").read_text())
    entry = report["modes"]
    assert "value" in entry and "protocol" in entry
    assert entry["protocol"]["n"] == 2500
    assert entry["protocol"]["metric"] == "modes"
    assert entry["protocol"]["step"] == STEPS


def test_gan_1d_trains_and_samples_one_dimensional_points(trained, tmp_path):
    run = trained.one_d_run
    assert run.name.endswith("-gan-1d")
    assert load_ckpt(run)["step"] == STEPS
    assert (run / "samples" / f"step-{STEPS:06d}.png").is_file()
    out = tmp_path / "one.npz"
    result = run_cli("sample", str(run), "--n", "40", "--out", str(out))
    assert result.returncode == 0, result.stderr
    with np.load(out) as f:
        assert f["samples"].shape == (40, 1) and f["samples"].dtype == np.float32


# ------------------------------------------------------------------------------------------ bad input


@dataclass
class Workspace:
    """A fresh folder per case: the command runs there, with ``runs/`` holding a copy of the trained ring run."""

    root: Path
    run: Path
    outside: list[Path] = field(default_factory=list)  # paths outside root the command must not create
    restore: list[Callable[[], None]] = field(default_factory=list)

    @property
    def runs_dir(self) -> Path:
        return self.run.parent

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def train(self, source: str, *overrides: str) -> list[str]:
        # TINY first so that, should the bad value be accepted, the run is short and the test fails fast.
        return ["train", source, "--runs-dir", str(self.runs_dir), *set_args([*TINY, *overrides])]


@dataclass(frozen=True)
class Case:
    id: str
    prepare: Callable[[Workspace], list[str]]  # sets the workspace up, returns the CLI arguments
    needle: str  # must appear in the error message
    skip: str | None = None
    xfail: str | None = None


def _chmod_protects() -> bool:
    """Whether a 0o555 directory is really unwritable here (not when running as root)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o555)
        try:
            return not os.access(folder, os.W_OK)
        finally:
            os.chmod(folder, 0o755)


CHMOD_PROTECTS = _chmod_protects()


def _unwritable_out(ws: Workspace) -> list[str]:
    if CHMOD_PROTECTS:
        locked = ws.root / "locked"
        locked.mkdir()
        os.chmod(locked, 0o555)
        ws.restore.append(lambda: os.chmod(locked, 0o755))
        out = locked / "gankit-out.npz"
    else:  # root writes through 0o555; nothing can create files in /proc
        out = Path("/proc/gankit-out.npz")
        ws.outside.append(out)
    return ["sample", str(ws.run), "--n", "5", "--out", str(out)]


def _corrupt_checkpoint(ws: Workspace) -> list[str]:
    ckpt = ws.run / "checkpoints" / "last.pt"
    ckpt.write_bytes(b"PK\x03\x04 this is not a checkpoint " + bytes(range(256)) * 4)
    return ["resume", str(ws.run), "--set", f"train.steps={MORE}"]


def _foreign_checkpoint(ws: Workspace) -> list[str]:
    torch.save({"a": 1}, ws.run / "checkpoints" / "last.pt")
    return ["resume", str(ws.run), "--set", f"train.steps={MORE}"]


def _not_a_run(ws: Workspace) -> list[str]:
    folder = ws.root / "not-a-run"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello\n")
    return ["resume", str(folder), "--set", f"train.steps={MORE}"]


CASES = [
    # --- train: the config
    Case("yaml-malformed", lambda ws: ws.train(str(ws.write("bad.yaml", "train: {steps: [1, 2\nname: x\n"))), "bad.yaml"),
    Case("yaml-is-a-list", lambda ws: ws.train(str(ws.write("list.yaml", "- train\n- steps\n"))), "mapping"),
    # a config file names its variant and data (the variant types the rest); the unknown key is its only fault
    Case("yaml-unknown-top-key", lambda ws: ws.train(str(ws.write("top.yaml", "variant: gan\ndata: {name: ring}\ncolour: red\n"))), "colour"),
    Case("yaml-unknown-nested-key", lambda ws: ws.train(str(ws.write("nested.yaml", "variant: gan\ndata: {name: ring}\ntrain: {stepz: 3}\n"))), "train.stepz"),
    Case("yaml-without-variant-or-data", lambda ws: ws.train(str(ws.write("bare.yaml", "train: {steps: 3}\n"))), "'variant' or 'data'"),
    Case("set-unknown-nested-key", lambda ws: ws.train("gan-ring", "train.stepz=3"), "train.stepz"),
    Case("set-not-an-integer", lambda ws: ws.train("gan-ring", "train.steps=abc"), "train.steps"),
    Case("set-betas-not-a-pair", lambda ws: ws.train("gan-ring", "optim.g.betas=0.5"), "optim.g.betas"),
    Case("set-negative-lr", lambda ws: ws.train("gan-ring", "optim.d.lr=-0.001"), "optim.d.lr"),
    Case("set-zero-batch-size", lambda ws: ws.train("gan-ring", "train.batch_size=0"), "train.batch_size"),
    Case("set-unknown-loss", lambda ws: ws.train("gan-ring", "loss.name=wasserstein-ish"), "loss.name"),
    Case("set-unknown-dataset", lambda ws: ws.train("gan-ring", "data.name=spiral"), "data.name"),
    Case("set-unknown-variant", lambda ws: ws.train("gan-ring", "variant=foogan"), "variant"),
    Case("set-without-equals", lambda ws: ws.train("gan-ring", "train.steps"), "key=value"),
    Case("unknown-preset", lambda ws: ws.train("gan-rnig"), "gan-rnig"),
    Case("config-file-missing", lambda ws: ws.train(str(ws.root / "missing.yaml")), "missing.yaml"),
    Case(
        "device-cuda-without-gpu",
        lambda ws: ws.train("gan-ring", "train.device=cuda"),
        "cuda",
        skip="CUDA is available here" if torch.cuda.is_available() else None,
    ),
    Case(
        "seed-too-large",
        lambda ws: ws.train("gan-ring", "train.seed=5000000000"),
        "train.seed",
    ),
    # --- resume
    Case("resume-missing-dir", lambda ws: ["resume", str(ws.runs_dir / "99999-nope"), "--set", f"train.steps={MORE}"], "99999-nope"),
    Case("resume-not-a-run", _not_a_run, "config.yaml"),
    Case("resume-corrupt-checkpoint", _corrupt_checkpoint, "last.pt"),
    Case("resume-foreign-checkpoint", _foreign_checkpoint, "last.pt"),
    Case("resume-changed-setting", lambda ws: ["resume", str(ws.run), "--set", f"train.steps={MORE}", "--set", "optim.g.lr=0.1"], "optim.g.lr"),
    Case("resume-steps-not-raised", lambda ws: ["resume", str(ws.run), "--set", f"train.steps={STEPS // 2}"], "train.steps"),
    # --- sample
    Case("sample-n-zero", lambda ws: ["sample", str(ws.run), "--n", "0", "--out", str(ws.root / "x.npz")], "--n"),
    Case("sample-n-negative", lambda ws: ["sample", str(ws.run), "--n", "-3", "--out", str(ws.root / "x.npz")], "--n"),
    Case(
        "sample-n-not-a-number",
        lambda ws: ["sample", str(ws.run), "--n", "abc", "--out", str(ws.root / "x.npz")],
        "--n",
    ),
    Case("sample-out-dir-missing", lambda ws: ["sample", str(ws.run), "--n", "5", "--out", str(ws.root / "nope" / "x.npz")], "nope"),
    Case(
        "sample-out-unwritable",
        _unwritable_out,
        "gankit-out.npz",
    ),
    Case("sample-label-unconditional", lambda ws: ["sample", str(ws.run), "--n", "5", "--label", "3", "--out", str(ws.root / "x.npz")], "--label"),
    Case("sample-out-bad-suffix", lambda ws: ["sample", str(ws.run), "--n", "5", "--out", str(ws.root / "x.txt")], ".txt"),
    # --- eval
    Case("eval-unknown-metric", lambda ws: ["eval", str(ws.run), "--metrics", "modes,nosuchmetric"], "nosuchmetric"),
    Case("eval-n-zero", lambda ws: ["eval", str(ws.run), "--metrics", "modes", "--n", "0"], "--n"),
    Case("eval-seed-with-seeds", lambda ws: ["eval", str(ws.run), "--metrics", "modes", "--seed", "5", "--seeds", "0,1"], "conflict"),
]
assert len({c.id for c in CASES}) == len(CASES)


def _param(case: Case):
    marks = []
    if case.skip:
        marks.append(pytest.mark.skip(reason=case.skip))
    if case.xfail:
        marks.append(pytest.mark.xfail(reason=case.xfail, strict=True))
    return pytest.param(case, id=case.id, marks=marks)


@dataclass
class Outcome:
    args: list[str]
    result: subprocess.CompletedProcess
    before: dict[str, tuple]
    after: dict[str, tuple]
    outside_created: list[Path]


def _run_case(ws: Workspace, args: list[str]) -> Outcome:
    before = snapshot(ws.root)
    try:
        result = run_cli(*args, cwd=ws.root, env=ONE_THREAD)
        after = snapshot(ws.root)
    finally:
        for undo in ws.restore:
            undo()
    return Outcome(args, result, before, after, [p for p in ws.outside if p.exists()])


@pytest.fixture(scope="module")
def bad_outcomes(request, trained, tmp_path_factory) -> Iterator[dict[str, Future[Outcome]]]:
    """Start the selected bad-input cases, each in its own workspace, ``JOBS`` at a time in the background."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module and "case" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    source = trained.ring_run
    pool = ThreadPoolExecutor(max_workers=JOBS)
    futures: dict[str, Future[Outcome]] = {}
    try:
        for case in selected:
            if case.skip:
                continue
            root = tmp_path_factory.mktemp(case.id)
            ws = Workspace(root, copy_run(source, root / "runs"))
            futures[case.id] = pool.submit(_run_case, ws, case.prepare(ws))
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after -x stops the session, do not run the rest


@pytest.fixture(scope="module", autouse=True)
def _bad_cases_run_alongside_the_happy_path(bad_outcomes):
    """Requesting ``bad_outcomes`` from the module's first test starts those runs while the tests above proceed."""


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_is_one_clean_error_and_changes_nothing(case: Case, bad_outcomes):
    assert_one_clean_error(bad_outcomes[case.id].result(), case.needle)


def assert_one_clean_error(outcome: Outcome, needle: str) -> None:
    """Exit 2, exactly one ``error: ...`` line naming ``needle``, no traceback, nothing created or changed."""
    result = outcome.result
    shown = f"gankit {' '.join(outcome.args)}\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.returncode == 2, shown
    assert result.stdout == "", shown
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, f"stderr must be exactly one line\n{shown}"
    line = result.stderr.rstrip("\n")
    assert line.startswith("error: ") and line[len("error: ") :].strip(), shown
    assert needle in line, f"the message should name {needle!r}\n{shown}"

    changed = sorted(k for k in outcome.before.keys() | outcome.after.keys() if outcome.before.get(k) != outcome.after.get(k))
    assert not changed, f"files changed, created or removed: {changed}\n{shown}"
    assert not outcome.outside_created, shown


def test_corrupt_checkpoint_is_left_byte_identical(bad_outcomes):
    """Spelled out for the case that matters most: a damaged checkpoint is reported, never rewritten."""
    if "resume-corrupt-checkpoint" not in bad_outcomes:
        pytest.skip("case not selected")
    outcome = bad_outcomes["resume-corrupt-checkpoint"].result()
    key = next(k for k in outcome.before if k.endswith("checkpoints/last.pt"))
    assert outcome.after[key] == outcome.before[key]
    assert outcome.result.returncode == 2
