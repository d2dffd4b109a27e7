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


def _trained_checkpoint(tmp_path, preset: str, overrides: list[str]):
    from gankit.train.checkpoint import load_checkpoint
    from gankit.train.loop import train

    cfg = load_config(preset, [*TINY, "train.progress=none", *overrides])
    run = train(cfg, tmp_path)
    path = run / "checkpoints" / "last.pt"
    return cfg, load_checkpoint(path), path


def test_restore_moves_the_variant_state_to_the_runs_device(tmp_path):
    """restore_state hands every state object the run's device: improved-ring's historical averages (loaded on the
    CPU by load_checkpoint) end up on ``state.device``. The meta device stands in for a GPU on this CPU machine: a
    tensor moved there says ``device.type == 'meta'``. Version 1 put the loaded dict into the variant state as it
    was (``v.state.update(payload['variant_state'])``), so its tensors stayed on the CPU and this failed."""
    from gankit.train.loop import restore_state

    cfg, payload, path = _trained_checkpoint(tmp_path, "improved-ring", ["train.steps=4"])
    saved = payload["state"]["historical_average"]
    assert saved["average"]["d"] and all(t.device.type == "cpu" for t in saved["average"]["d"].values())
    state = build_state(cfg)
    state.device = torch.device("meta")  # the device restore_state passes to each state object's load_state_dict
    restore_state(state, payload, path)
    history = state.variant.state["historical_average"]
    assert set(history.average) == {"g", "d"} and history.count == {"g": 5, "d": 5}  # the initial weights + 4 steps
    for name, average in history.average.items():
        assert set(average) == set(saved["average"][name])
        for key, tensor in average.items():
            assert tensor.device.type == "meta", f"{name}.{key} left on {tensor.device}"
            assert tensor.shape == saved["average"][name][key].shape


def test_resume_with_more_steps_restores_the_learning_rate_of_the_new_schedule(tmp_path):
    """The learning rate after a restore is base_lr · factor(step) of the schedule of the new train.steps: with
    decay_start s and T steps, factor(k) = 1 for k < ⌊sT⌋, then max(T - k, 1) / (T - ⌊sT⌋). A checkpoint at step 8
    of 8 holds the old schedule's last rate (lr/4 for G, lr/6 for D); without the recomputation in restore_state
    the first iteration of a run raised to 16 steps would run at that rate, not at the new schedule's."""
    from gankit.config import apply_overrides
    from gankit.train.loop import restore_state

    steps, more = 8, 16
    cfg, payload, path = _trained_checkpoint(tmp_path, "gan-ring", [f"train.steps={steps}", "optim.g.decay_start=0.5", "optim.d.decay_start=0.25"])
    assert payload["step"] == steps

    def factor(done: int, total: int, decay_start: float) -> float:
        start = int(decay_start * total)
        return 1.0 if done < start else max(total - done, 1) / (total - start)

    settings = {"g": cfg.optim.g, "d": cfg.optim.d}
    for group, opt in settings.items():  # what the checkpoint holds: the old schedule's rate
        assert payload["optimizers"][group]["param_groups"][0]["lr"] == pytest.approx(opt.lr * factor(steps, steps, opt.decay_start))
    state = build_state(apply_overrides(cfg, [f"train.steps={more}"]))
    restore_state(state, payload, path)
    for group, opt in settings.items():
        expected = opt.lr * factor(steps, more, opt.decay_start)
        assert expected != pytest.approx(opt.lr * factor(steps, steps, opt.decay_start))
        assert state.variant.optimizers[group].param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12), group
        assert state.variant.schedulers[group].last_epoch == steps
