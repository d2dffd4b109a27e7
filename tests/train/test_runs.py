"""``gankit runs DIR``: each run's step, status, last losses and metrics, read without writing or waiting."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from gankit.config import load_config, save_config
from gankit.errors import GankitError, TrainingDiverged
from gankit.train.checkpoint import load_checkpoint, save_checkpoint
from gankit.train.loop import build_state, run_loop, train
from gankit.train.rundir import checkpoint_path, create_run_dir, writer_lock
from gankit.train.runs import (
    DIVERGED_FILE,
    checkpoint_info_path,
    checkpoint_step,
    format_metric,
    last_losses,
    list_runs,
    read_run,
    record_checkpoint,
)
from tests.conftest import TINY, in_process, snapshot

QUIET = [*TINY, "train.progress=none"]  # 20 steps, checkpoints at 10 and 20


def set_steps(run: Path, steps: int) -> None:
    """What `gankit resume RUN --set train.steps=N` writes before it trains."""
    raw = yaml.safe_load((run / "config.yaml").read_text())
    raw["train"]["steps"] = steps
    (run / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def train_diverging(root: Path, at: int) -> Path:
    """A gan-ring run whose G loss turns NaN at iteration ``at`` (checkpoints every 10 steps)."""
    cfg = load_config("gan-ring", [*QUIET, "train.steps=40"])
    state = build_state(cfg)
    run = create_run_dir(root, "nan")
    save_config(cfg, run / "config.yaml")
    step = state.variant.steps[-1]
    original = step.objective

    def objective(ctx):
        out = original(ctx)
        if ctx.iteration == at:
            out["g"] = out["g"] * math.nan
        return out

    step.objective = objective
    with pytest.raises(TrainingDiverged):
        run_loop(state, run)
    return run


EVAL = {
    "modes": {"value": {"modes": 8, "modes_total": 8, "high_quality_pct": 91.5, "reverse_kl": 0.01}, "protocol": {"metric": "modes", "step": 20}},
    "fid": {"value": {"fid": {"mean": 12.345, "std": 0.5}}, "protocol": {"metric": "fid", "step": 10}},
    "history": [{"value": {"modes": 3, "modes_total": 8}, "protocol": {"metric": "modes", "step": 10}}],
}


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """00000-done (finished, with eval.json), 00001-nan (diverged at 15, checkpoint at 10), 00002-more (steps raised
    to 40, a stale divergence marker), 00003-fresh (no checkpoint yet), and entries that are not runs."""
    root = tmp_path_factory.mktemp("runs")
    done = train(load_config("gan-ring", QUIET), root, "done")
    (done / "eval.json").write_text(json.dumps(EVAL))
    train_diverging(root, at=15)
    more = root / "00002-more"
    shutil.copytree(done, more)  # a copy: its checkpoint sidecar no longer describes the file (another inode)
    set_steps(more, 40)
    (more / DIVERGED_FILE).write_text(json.dumps({"step": 15, "what": "loss 'g' is nan"}))  # diverged once, resumed past it
    fresh = root / "00003-fresh"
    (fresh / "checkpoints").mkdir(parents=True)
    shutil.copy(done / "config.yaml", fresh / "config.yaml")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a run\n")
    (root / ".hidden").mkdir()
    shutil.copy(done / "config.yaml", root / ".hidden" / "config.yaml")
    (root / "config.yaml").mkdir()  # a directory, not a config: still not a run
    (root / "README.txt").write_text("runs\n")
    return root


def test_each_run_gets_its_step_and_status_and_non_runs_are_skipped(runs_dir):
    runs = {info.name: info for info in list_runs(runs_dir)}
    assert list(runs) == ["00000-done", "00001-nan", "00002-more", "00003-fresh"]
    assert {name: (info.variant, info.step, info.steps, info.status) for name, info in runs.items()} == {
        "00000-done": ("gan", 20, 20, "finished"),
        "00001-nan": ("gan", 10, 40, "diverged"),
        "00002-more": ("gan", 20, 40, "interrupted"),
        "00003-fresh": ("gan", None, 20, "interrupted"),
    }
    last = json.loads((runs_dir / "00000-done" / "metrics.jsonl").read_text().splitlines()[-1])
    assert runs["00000-done"].losses == pytest.approx({k: v for k, v in last.items() if k not in ("step", "time")})
    assert set(runs["00000-done"].losses) == {"d_real", "d_fake", "g"}
    assert list(runs["00000-done"].metrics) == ["modes", "fid"]  # history left out
    assert runs["00003-fresh"].losses == {} and runs["00003-fresh"].metrics == {}


def test_the_loop_records_divergence_and_checkpoint_steps(runs_dir):
    assert json.loads((runs_dir / "00001-nan" / DIVERGED_FILE).read_text()) == {"step": 15, "what": "loss 'g' is nan"}
    assert not (runs_dir / "00000-done" / DIVERGED_FILE).exists()
    sidecar = json.loads(checkpoint_info_path(checkpoint_path(runs_dir / "00000-done")).read_text())
    assert sidecar["step"] == 20
    assert json.loads(checkpoint_info_path(checkpoint_path(runs_dir / "00001-nan")).read_text())["step"] == 10


def test_a_current_sidecar_spares_loading_the_checkpoint(runs_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load called")

    monkeypatch.setattr(torch, "load", refuse)
    assert checkpoint_step(checkpoint_path(runs_dir / "00000-done")) == 20
    assert checkpoint_step(checkpoint_path(runs_dir / "00002-more")) is None  # a copy: the sidecar is not trusted


def test_a_lagging_sidecar_is_not_trusted(runs_dir, tmp_path):
    """A kill between the checkpoint and its sidecar: the sidecar names the previous checkpoint; the step (and so the
    status) comes from the checkpoint on disk."""
    run = tmp_path / "00000-done"
    shutil.copytree(runs_dir / "00000-done", run)
    ckpt = checkpoint_path(run)
    record_checkpoint(ckpt, 20)
    assert checkpoint_step(ckpt) == 20
    save_checkpoint({**load_checkpoint(ckpt), "step": 30}, ckpt)  # the next checkpoint, its sidecar never written
    set_steps(run, 30)
    assert json.loads(checkpoint_info_path(ckpt).read_text())["step"] == 20
    assert checkpoint_step(ckpt) == 30
    assert read_run(run).status == "finished"
    ckpt.write_bytes(b"truncated")  # not a checkpoint: no step
    assert checkpoint_step(ckpt) is None


def test_a_run_whose_writer_lock_is_held_is_running_and_the_probe_releases_it(runs_dir):
    run = runs_dir / "00002-more"
    with writer_lock(run):  # another open file description: the same conflict as another process
        assert read_run(run).status == "running"
        assert {info.name: info.status for info in list_runs(runs_dir)}["00002-more"] == "running"
    assert read_run(run).status == "interrupted"
    with writer_lock(run):  # the probe left no lock behind
        pass


def test_the_command_prints_a_table_and_writes_nothing(runs_dir, capsys):
    before = snapshot(runs_dir)
    with writer_lock(runs_dir / "00000-done"):
        code, out, err = in_process(capsys, "runs", str(runs_dir))
    assert snapshot(runs_dir) == before
    assert code == 0 and err == "", err
    header, *lines = out.splitlines()
    assert header.split() == ["run", "variant", "step", "status", "losses", "metrics"]
    rows = {line.split()[0]: line.split() for line in lines}
    assert list(rows) == ["00000-done", "00001-nan", "00002-more", "00003-fresh"]
    assert rows["00000-done"][1:4] == ["gan", "20/20", "running"]
    assert rows["00000-done"][-2:] == ["modes=8/8", "fid=12.3@10"]  # the FID measured the step-10 checkpoint
    assert [k.split("=")[0] for k in rows["00000-done"][4:7]] == ["d_real", "d_fake", "g"]
    assert rows["00001-nan"][2:4] == ["10/40", "diverged"]
    assert rows["00002-more"][2:4] == ["20/40", "interrupted"]
    assert rows["00003-fresh"][2:] == ["-/20", "interrupted", "-", "-"]


@pytest.mark.parametrize(("kind", "needle"), [("missing", "does not exist"), ("empty", "no runs in"), ("file", "is not a directory")])
def test_a_dir_without_runs_is_a_one_line_error(tmp_path, capsys, kind, needle):
    target = tmp_path / kind
    if kind == "empty":
        target.mkdir()
        (target / "notes").mkdir()  # not a run
    elif kind == "file":
        target.write_text("")
    code, out, err = in_process(capsys, "runs", str(target))
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and needle in err, err


def test_a_run_directory_given_as_dir_points_to_its_parent(runs_dir):
    with pytest.raises(GankitError, match=r"is a run directory.*gankit runs "):
        list_runs(runs_dir / "00000-done")


def test_last_losses_skips_health_records_and_cut_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [{"step": s, "d": 0.5 + s, "g": 0.7, "time": 0.1} for s in range(1, 30)]
    lines = [json.dumps(r) for r in records] + [json.dumps({"step": 29, "health": {"auc": 0.6}, "warnings": []}), '{"step": 30, "d": 0.']
    path.write_text("\n".join(lines))
    assert last_losses(path, chunk=16) == {"d": 29.5, "g": 0.7}  # read from the end in chunks smaller than a line
    assert last_losses(tmp_path / "none.jsonl") == {}


def test_metric_summaries():
    assert format_metric("modes", EVAL["modes"]["value"]) == "modes=8/8"
    assert format_metric("fid", {"fid": 12.345}) == "fid=12.3"
    assert format_metric("fid", EVAL["fid"]["value"]) == "fid=12.3"
    assert format_metric("kid", {"kid": 0.01234, "kid_std": 0.002}) == "kid=0.0123±0.002"
    assert format_metric("pr", {"precision": 0.91, "recall": 0.8, "k": 3}) == "precision=0.91 recall=0.8"
    assert format_metric("parzen", {"mean": -12.5, "stderr": 0.25, "sigmas": [0.1, 0.2]}) == "parzen=-12.5±0.25"
    assert format_metric("translation", {"direction": "a2b", "psnr": 21.04}) == "psnr=21"
    assert format_metric("codes", {"matching": [1, 0]}) == ""
