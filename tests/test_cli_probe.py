"""gankit probe: features of a run's encoder scored with K labelled train digits per seed, the run's own classifier
on the test split, results in eval.json; and its bad input (a run without encode, more labels than the split has,
data without labels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY, in_process, set_args, snapshot

QUICK = [*TINY, "train.steps=10", "train.sample_every=10", "train.ckpt_every=10", "train.batch_size=16", "train.sample_n=16"]


def train(capsys, root: Path, preset: str, *extra: str) -> Path:
    code, out, err = in_process(capsys, "train", preset, "--runs-dir", str(root), *set_args([*QUICK, *extra]))
    assert code == 0, err
    return Path(out.strip().splitlines()[-1])


def test_probe_scores_features_per_label_draw_and_the_own_classifier(tmp_path, capsys):
    run = train(capsys, tmp_path, "supervised-mnist", "model.c.width=8")
    code, out, err = in_process(capsys, "probe", str(run), "--labels", "20", "--seeds", "0,1")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(run / "eval.json")
    entry = json.loads((run / "eval.json").read_text())["probe_20"]
    value, protocol = entry["value"], entry["protocol"]
    assert set(entry["per_seed"]) == {"0", "1"}
    for name in ("linear", "nn1"):
        accs = [entry["per_seed"][s][name] for s in ("0", "1")]
        assert value[name]["mean"] == pytest.approx(np.mean(accs)) and value[name]["std"] == pytest.approx(np.std(accs, ddof=1))
        assert all(0.0 <= a <= 1.0 for a in accs)
    assert 0.0 <= value["classifier"] <= 1.0 and value["features"] > 0
    assert protocol["n"] == 20 and protocol["seed"] == [0, 1] and protocol["train_items"] == 4500 and protocol["test_items"] == 500
    # the own classifier learnt from the run's labels (the preset's 100 of draw 0), whatever labels the probes draw
    assert protocol["classifier_trained_on"] == {"labels": 100, "label_seed": 0}
    assert "own classifier learnt from the 100 labels of draw 0" in err
    code, _, err = in_process(capsys, "probe", str(run), "--labels", "100", "--seeds", "0")
    assert code == 0 and "note:" not in err
    code, _, err = in_process(capsys, "report", str(run))  # a model that only classifies: its picture is real inputs by class
    assert code == 0, err
    page = (run / "report.md").read_text()
    assert "## Classified inputs" in page and "probe_20" in page

    # the same features and draws, scored directly, give the same accuracies
    from dataclasses import replace

    from gankit.data import build_dataset
    from gankit.data.base import to_model_range
    from gankit.metrics.probes import probe_features
    from gankit.sampling import encode_inputs
    from gankit.train.loop import load_run

    _, state, _ = load_run(run)
    splits = {s: build_dataset(replace(state.cfg.data, split=s)) for s in ("train", "test")}
    features = {s: encode_inputs(state, to_model_range(d.fixed("x"))).numpy() for s, d in splits.items()}
    labels = {s: d.fixed("y").numpy() for s, d in splits.items()}
    direct = probe_features(features["train"], labels["train"], features["test"], labels["test"], 20, [0, 1], 10)
    assert [entry["per_seed"][s]["linear"] for s in ("0", "1")] == direct["linear"]
    assert [entry["per_seed"][s]["nn1"] for s in ("0", "1")] == direct["nn1"]


def test_probe_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path, capsys):
    run = train(capsys, tmp_path, "supervised-mnist", "model.c.width=8")
    ring = train(capsys, tmp_path, "gan-ring")
    npz = tmp_path / "unlabelled.npz"
    np.savez(npz, images=np.random.default_rng(0).integers(0, 255, (40, 28, 28), dtype=np.uint8))
    vae = train(capsys, tmp_path, "vae-mnist", "data.name=npz", f"data.root={npz}", "model.e.width=8", "model.g.width=8")
    cases = [
        (["probe", str(ring)], "needs a model that can probe"),
        (["probe", str(run), "--labels", "5000"], "only 450"),
        (["probe", str(run), "--labels", "15"], "multiple of the 10 classes"),
        (["probe", str(run), "--labels", "many"], "--labels must be"),
        (["probe", str(run), "--seeds", "0,0"], "--seeds must be distinct"),
        (["probe", str(vae)], "has no labels"),
    ]
    before = snapshot(tmp_path)
    for args, message in cases:
        code, _, err = in_process(capsys, *args)
        assert code == 2, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, err)
    assert snapshot(tmp_path) == before
