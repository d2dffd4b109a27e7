"""The one loop: repeat (k D-steps), every (lazy terms), who gets updated, logging, EMA."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import torch
from torch import nn

from gankit.config import load_config, save_config
from gankit.train.ema import make_ema, update_ema
from gankit.train.loop import TrainState, build_state, derived_seeds, run_loop
from gankit.train.rundir import create_run_dir, read_metrics
from gankit.variants import Step, Variant
from gankit.variants.base import noise_spec
from tests.conftest import TINY


def counting_state(steps: int):
    cfg = load_config("gan-ring", [*TINY, f"train.steps={steps}", "train.log_every=1", "train.progress=none"])
    base = build_state(cfg)
    players = {"a": nn.Linear(2, 1), "b": nn.Linear(2, 1), "g": nn.Linear(2, 2)}
    calls: list[tuple[str, int, bool, bool]] = []

    def objective_a(ctx):
        calls.append(("a", ctx.iteration, players["a"].weight.requires_grad, players["b"].weight.requires_grad))
        return {"a": players["a"](ctx.batch["x"]).reshape(-1) ** 2}

    def objective_b(ctx):
        assert ctx.batch == {}
        calls.append(("b", ctx.iteration, players["a"].weight.requires_grad, players["b"].weight.requires_grad))
        return {"b": players["b"](torch.ones(ctx.n, 2)).reshape(-1)}

    variant = Variant(
        players=players,
        groups={"a": ("a",), "b": ("b",)},
        optimizers={"a": torch.optim.SGD(players["a"].parameters(), lr=0.1), "b": torch.optim.SGD(players["b"].parameters(), lr=0.1)},
        steps=[Step("a", ("a",), objective_a, repeat=3), Step("b", ("b",), objective_b, every=4, streams=())],
        latents=noise_spec(2, "normal"),
        decode=lambda p, latents: p["g"](latents["z"]),
    )
    state = TrainState(cfg, base.device, base.data, variant, base.streams, base.noise)
    return state, calls


def test_repeat_every_and_only_updated_players_train(tmp_path):
    state, calls = counting_state(8)
    b_before = state.variant.players["b"].weight.detach().clone()
    g_before = state.variant.players["g"].weight.detach().clone()
    run = create_run_dir(tmp_path, "count")
    save_config(state.cfg, run / "config.yaml")
    run_loop(state, run)
    a_calls = [c for c in calls if c[0] == "a"]
    b_calls = [c for c in calls if c[0] == "b"]
    assert len(a_calls) == 3 * 8
    assert [c[1] for c in b_calls] == [4, 8]
    assert all(c[2] and not c[3] for c in a_calls)  # during a's step only a is trainable
    assert all(c[3] and not c[2] for c in b_calls)
    assert not torch.equal(state.variant.players["b"].weight, b_before)
    assert torch.equal(state.variant.players["g"].weight, g_before)  # in no optimiser group: never changes
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 9))
    assert "b" in records[3] and "b" not in records[0]


def test_progress_lines_are_logged(tmp_path, caplog):
    cfg = load_config("gan-ring", [*TINY, "train.steps=10", "train.log_every=5", "train.progress=lines"])
    state = build_state(cfg)
    run = create_run_dir(tmp_path, "lines")
    with caplog.at_level(logging.INFO, logger="gankit"):
        run_loop(state, run)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert len(lines) == 2 and lines[-1].startswith("step 10/10 ") and "it/s" in lines[-1] and "ETA" in lines[-1]


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed")
def test_tensorboard_events_are_written_when_installed(tmp_path):
    cfg = load_config("gan-ring", [*TINY, "train.steps=5", "train.log_every=1", "train.progress=none"])
    run = create_run_dir(tmp_path, "tb")
    run_loop(build_state(cfg), run)
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tb").iterdir())


def test_ema_is_the_exponential_average():
    players = {"g": nn.Linear(3, 3)}
    ema = make_ema(players, ("g",))
    start = ema["g"].weight.detach().clone()
    with torch.no_grad():
        players["g"].weight.add_(1.0)
    update_ema(ema, players, 0.9)
    torch.testing.assert_close(ema["g"].weight, 0.9 * start + 0.1 * players["g"].weight)
    assert not ema["g"].weight.requires_grad and not ema["g"].training


def test_same_seed_same_init_other_seed_other_init():
    cfg = load_config("gan-ring", TINY)
    a, b = build_state(cfg), build_state(cfg)
    assert torch.equal(next(a.variant.players["g"].parameters()), next(b.variant.players["g"].parameters()))
    assert len(set(derived_seeds(0))) == 3 and derived_seeds(0) != derived_seeds(1)


def test_logged_losses_are_means_over_repeats_and_iterations(tmp_path):
    state, _ = counting_state(4)
    players = state.variant.players
    step_a = state.variant.steps[0]
    step_a.objective = lambda ctx: {"a": (players["a"].weight.sum() * 0 + 1.0).expand(ctx.n)}  # repeat=3: three 1.0s per iteration
    run = create_run_dir(tmp_path, "means")
    run_loop(state, run)
    assert all(r["a"] == 1.0 for r in read_metrics(run / "metrics.jsonl"))


def test_active_windows_named_streams_batch_sizes_and_the_context(tmp_path):
    """Steps run inside their start/stop window, draw from the streams they name at their own batch size (a function
    of the iteration too), and see the iteration, the total, the state, the optimisers and one scratch dict per
    iteration shared by the steps."""
    cfg = load_config("gan-ring", [*TINY, "train.steps=6", "train.log_every=1", "train.progress=none", "train.batch_size=8"])
    base = build_state(cfg)
    players = {"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)}
    seen: list[tuple] = []

    def pretrain(ctx):
        ctx.scratch["from_pretrain"] = ctx.iteration
        seen.append(("pre", ctx.iteration, ctx.total, sorted(ctx.batches), ctx.batch["x"].shape[0], ctx.n))
        return {"pre": players["a"](ctx.batches["train"]["x"]).reshape(-1) ** 2}

    def adversarial(ctx):
        seen.append(("adv", ctx.iteration, ctx.scratch.get("from_pretrain"), ctx.batches["train"]["x"].shape[0], sorted(ctx.optimizers)))
        ctx.scratch["from_adv"] = True
        return {"adv": players["b"](ctx.batches["train"]["x"]).reshape(-1) ** 2}

    def last(ctx):
        assert ctx.batches == {} and ctx.scratch.get("from_adv") and ctx.state == {"marker": marker}
        seen.append(("last", ctx.iteration))
        return {"last": players["b"].weight.sum() ** 2}

    class Marker:
        def state_dict(self):
            return {}

        def load_state_dict(self, state, device):
            pass

    marker = Marker()
    variant = Variant(
        players=players,
        groups={"a": ("a",), "b": ("b",)},
        optimizers={"a": torch.optim.SGD(players["a"].parameters(), lr=0.01), "b": torch.optim.SGD(players["b"].parameters(), lr=0.01)},
        steps=[
            Step("pre", ("a",), pretrain, stop=2, batch_size=lambda it: 4 * it),
            Step("adv", ("b",), adversarial, start=2, batch_size=5),
            Step("last", ("b",), last, start=4, streams=()),
        ],
        state={"marker": marker},
        latents=noise_spec(2, "normal"),
        decode=lambda p, latents: latents["z"],
    )
    state = TrainState(cfg, base.device, base.data, variant, base.streams, base.noise)
    run_loop(state, create_run_dir(tmp_path, "windows"))
    assert seen[0] == ("pre", 1, 6, ["train"], 4, 4) and seen[1] == ("pre", 2, 6, ["train"], 8, 8)
    assert [s[:4] for s in seen if s[0] == "adv"] == [("adv", it, None, 5) for it in (3, 4, 5, 6)]
    assert seen[2][4] == ["a", "b"]
    assert [s[1] for s in seen if s[0] == "last"] == [5, 6]
