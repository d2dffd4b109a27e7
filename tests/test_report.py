"""`gankit report`: each metric's step (stale ones marked), mean ± std over seeds, a hint that names a valid metric."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.metrics import evaluate
from gankit.report import write_report
from gankit.train.loop import resume, train
from tests.conftest import TINY


@pytest.fixture(scope="module")
def ring(tmp_path_factory):
    torch.set_num_threads(1)
    return train(load_config("gan-ring", [*TINY, "train.progress=none"]), tmp_path_factory.mktemp("runs"))


def test_without_eval_the_hint_names_a_metric_that_serves_the_run(ring):
    text = write_report(ring).read_text()
    assert f"No eval.json yet: run `gankit eval {ring} --metrics modes`" in text


def test_metrics_show_their_step_and_stale_ones_are_marked(ring):
    evaluate(ring, ["modes"], n=500)
    evaluate(ring, ["fid"], n=500, seeds=[0, 1])
    text = write_report(ring).read_text()
    assert "| metric | value | step | protocol |" in text
    fid_row = next(line for line in text.splitlines() if line.startswith("| `fid` |"))
    assert "fid = " in fid_row and " ± " in fid_row and "'mean'" not in fid_row  # mean ± std, not a raw dict
    assert "stale" not in text
    resume(ring, ["train.steps=30"])
    evaluate(ring, ["modes"], n=500)  # modes measured anew at step 30; fid is still of step 20
    text = write_report(ring).read_text()
    fid_row = next(line for line in text.splitlines() if line.startswith("| `fid` |"))
    modes_row = next(line for line in text.splitlines() if line.startswith("| `modes` |"))
    assert "| 20 **(stale: the checkpoint is at step 30)** |" in fid_row
    assert "| 30 |" in modes_row and "stale" not in modes_row
    assert f"`gankit eval {ring} --metrics fid` measures them at step 30" in text
