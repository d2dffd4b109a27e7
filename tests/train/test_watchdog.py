"""A non-finite loss or weight stops the run at once and keeps the last good checkpoint."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import load_config, save_config
from gankit.errors import TrainingDiverged
from gankit.train.checkpoint import load_checkpoint
from gankit.train.loop import build_state, run_loop
from gankit.train.rundir import create_run_dir, read_metrics
from gankit.train.watchdog import find_non_finite, lr_advice, raise_diverged
from tests.conftest import TINY


def poisoned_state(tmp_path, poison):
    cfg = load_config("gan-ring", [*TINY, "train.steps=40", "train.ckpt_every=10", "train.progress=none"])
    state = build_state(cfg)
    run = create_run_dir(tmp_path, cfg.name)
    save_config(cfg, run / "config.yaml")
    step = state.variant.steps[-1]
    original = step.objective

    def objective(ctx):
        out = original(ctx)
        if ctx.iteration == 15:
            poison(ctx, out)
        return out

    step.objective = objective
    return state, run


def test_nan_loss_stops_the_run_within_the_step(tmp_path):
    def poison(ctx, out):
        out["g"] = out["g"] * math.nan

    state, run = poisoned_state(tmp_path, poison)
    with pytest.raises(TrainingDiverged) as info:
        run_loop(state, run)
    message = str(info.value)
    assert "step 15" in message and "loss 'g'" in message and "(step 10)" in message
    assert "learning rates may be too high (optim.g.lr=0.0002, optim.d.lr=0.0002)" in message and "\n" not in message
    assert state.step == 14
    ckpt = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 10
    assert all(torch.isfinite(t).all() for m in ckpt["models"].values() for t in m.values())
    assert max(r["step"] for r in read_metrics(run / "metrics.jsonl")) <= 14


def test_non_finite_weight_is_caught(tmp_path):
    def poison(ctx, out):
        with torch.no_grad():
            next(ctx.players["g"].parameters()).view(-1)[0] = math.inf

    state, run = poisoned_state(tmp_path, poison)
    with pytest.raises(TrainingDiverged, match="weights of player 'g'"):
        run_loop(state, run)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 10


def test_find_non_finite_names_the_culprit():
    players = {"g": torch.nn.Linear(2, 2)}
    assert find_non_finite({"a": torch.tensor(1.0)}, players) is None
    assert "loss 'b'" in find_non_finite({"a": torch.tensor(1.0), "b": torch.tensor(math.inf)}, players)
    with torch.no_grad():
        players["g"].weight[0, 0] = math.nan
    assert find_non_finite({"a": torch.tensor(1.0)}, players) == "weights of player 'g' are not finite"
    assert find_non_finite({"a": torch.tensor(1.0)}, players, check_weights=False) is None  # losses only, between log lines
    assert find_non_finite({"a": torch.tensor(math.nan)}, players, check_weights=False) == "loss 'a' is nan"


def test_a_non_finite_weight_between_log_lines_is_caught_before_any_checkpoint(tmp_path):
    """Weights are read at log lines and checkpoints only: a weight poisoned at step 13 (no log line: every 5) is
    caught by step 14's non-finite losses, and the checkpoint of step 10 is the one kept."""
    state, run = poisoned_state(tmp_path, lambda ctx, out: None)
    original = state.variant.steps[-1].objective

    def objective(ctx):
        out = original(ctx)
        if ctx.iteration == 13:
            with torch.no_grad():
                next(ctx.players["g"].parameters()).view(-1)[0] = math.inf
        return out

    state.variant.steps[-1].objective = objective
    with pytest.raises(TrainingDiverged, match=r"at step 1[45]"):
        run_loop(state, run)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 10


def test_lr_advice_names_each_group_its_rate_and_a_lower_one():
    cfg = load_config("gan-ring", ["optim.g.lr=10", "optim.d.lr=10"])
    assert lr_advice(cfg.optim) == (
        "the learning rates may be too high (optim.g.lr=10, optim.d.lr=10): lower them, e.g. --set optim.g.lr=0.0002 --set optim.d.lr=0.0002"
    )
    low = lr_advice(load_config("gan-1d").optim)  # a tenth of each, both being at most the default
    assert "(optim.g.lr=0.0001, optim.d.lr=0.001)" in low and "--set optim.g.lr=1e-05 --set optim.d.lr=0.0001" in low


def test_divergence_message_names_the_learning_rates_and_the_checkpoint():
    cfg = load_config("gan-ring", ["optim.g.lr=10", "optim.d.lr=10"])
    with pytest.raises(TrainingDiverged) as info:
        raise_diverged("loss 'd_fake' is inf", 37, "the last good checkpoint (step 30) is kept at runs/x/checkpoints/last.pt", cfg.optim)
    message = str(info.value)
    assert message.startswith("training diverged at step 37: loss 'd_fake' is inf; stopped, the last good checkpoint (step 30) is kept at ")
    assert "The learning rates may be too high (optim.g.lr=10, optim.d.lr=10): lower them, e.g. --set optim.g.lr=0.0002" in message
    assert message.endswith("or change the loss or the seed, and train again")
