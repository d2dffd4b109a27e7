"""Run directories: kept checkpoints (train.keep) and choosing one by step."""

from __future__ import annotations

import os

import pytest
import torch

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.sampling import draw_samples
from gankit.train.checkpoint import load_checkpoint
from gankit.train.loop import load_run, resume, train
from gankit.train.rundir import checkpoint_path, kept_checkpoints
from tests.conftest import TINY


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    torch.set_num_threads(1)
    cfg = load_config("gan-ring", [*TINY, "train.steps=50", "train.keep=3", "train.progress=none"])
    return train(cfg, tmp_path_factory.mktemp("runs"))


def test_keep_holds_the_newest_k_checkpoints_as_links_of_last(kept_run):
    kept = kept_checkpoints(kept_run)
    assert list(kept) == [30, 40, 50]  # checkpoints every 10 steps: the newest 3
    assert os.path.samefile(kept[50], checkpoint_path(kept_run))  # the newest is last.pt under a second name
    for step, path in kept.items():
        assert int(load_checkpoint(path)["step"]) == step


def test_step_selects_a_kept_checkpoint_and_refuses_others(kept_run):
    _, state, payload = load_run(kept_run, step=30)
    assert payload["step"] == 30 and state.step == 30
    _, newest, _ = load_run(kept_run)
    assert newest.step == 50
    assert not torch.equal(draw_samples(state, 16, 0), draw_samples(newest, 16, 0))
    assert load_run(kept_run, step=50)[1].step == 50
    with pytest.raises(GankitError, match=r"no checkpoint of step 20; kept: 50 \(newest\), 40, 30.*train\.keep"):
        load_run(kept_run, step=20)
    with pytest.raises(GankitError, match="zero or more"):
        load_run(kept_run, step=-1)


def test_the_default_keeps_last_only_and_resume_goes_on_pruning(tmp_path):
    torch.set_num_threads(1)
    run = train(load_config("gan-ring", [*TINY, "train.progress=none"]), tmp_path)
    assert kept_checkpoints(run) == {}
    with pytest.raises(GankitError, match=r"kept: 20 \(newest\)"):
        load_run(run, step=10)
    kept = train(load_config("gan-ring", [*TINY, "train.keep=2", "train.progress=none"]), tmp_path)
    resume(kept, ["train.steps=40"])
    assert list(kept_checkpoints(kept)) == [30, 40]


def _make_runs(args):
    from gankit.train.rundir import create_run_dir

    runs_dir, name, count, start = args
    start.wait()
    return [create_run_dir(runs_dir, name).name[:5] for _ in range(count)]


def test_concurrent_runs_with_different_names_never_share_a_number(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(4) as pool:
            pending = pool.map_async(_make_runs, [(tmp_path, f"job{i}", 25, start) for i in range(4)])
            start.set()
            numbers = [n for part in pending.get(timeout=60) for n in part]
    assert len(numbers) == 100
    assert sorted(numbers) == [f"{i:05d}" for i in range(100)]  # one number each, no gaps
    assert sorted(p.name[:5] for p in tmp_path.iterdir()) == sorted(numbers)  # the runs directory holds the runs alone
