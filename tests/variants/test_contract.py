"""The contract every registered variant (through every preset) must keep."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import apply_overrides, load_config, preset_names, save_config
from gankit.sampling import draw_samples
from gankit.train.checkpoint import load_checkpoint
from gankit.train.loop import build_state, checkpoint_payload, restore_state, run_loop
from gankit.train.rundir import create_run_dir, read_metrics
from gankit.variants import VARIANTS, StepContext
from tests.conftest import TINY
from tests.train.test_resume import assert_identical

PRESETS = preset_names()
CONTRACT = [*TINY, "train.steps=2", "train.log_every=1", "train.ckpt_every=1", "train.sample_every=1", "train.ema=0.9", "model.drs_refit_steps=20"]


def test_every_variant_has_a_preset_and_a_description():
    covered = {load_config(name).variant for name in PRESETS}
    assert set(VARIANTS) <= covered, f"variants without a preset: {sorted(set(VARIANTS) - covered)}"
    for name, entry in VARIANTS.items():
        assert entry.description, name


@pytest.mark.parametrize("preset", PRESETS)
def test_variant_contract(preset, tmp_path):
    cfg = load_config(preset, CONTRACT)
    state = build_state(cfg)
    v = state.variant

    # Players are modules, every optimiser group names existing players, every step names existing groups.
    assert v.players and set(v.optimizers) == set(v.groups)
    assert all(p in v.players for players in v.groups.values() for p in players)
    assert all(g in v.groups for step in v.steps for g in step.updates)

    # Each objective returns per-sample (B,) or scalar losses with names unique across steps.
    seen: set[str] = set()
    for step in v.steps:
        batch = state.stream.next() if step.uses_data else {}
        losses = step.objective(StepContext(v.players, batch, cfg.train.batch_size, state.noise, 1, state.device))
        assert losses, step.name
        for key, value in losses.items():
            assert key not in seen, f"loss name '{key}' used by two steps"
            seen.add(key)
            assert value.dim() == 0 or value.shape == (cfg.train.batch_size,), f"{key}: shape {tuple(value.shape)}"
            assert torch.isfinite(value).all(), key

    # Two training iterations on CPU, finite losses logged, checkpoint and picture written.
    state = build_state(cfg)
    run = create_run_dir(tmp_path, cfg.name)
    save_config(cfg, run / "config.yaml")
    run_loop(state, run)
    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2]
    assert all(math.isfinite(value) for r in records for value in r.values())
    assert (run / "samples" / "step-000002.png").stat().st_size > 0

    # Checkpoint round trip: a freshly built state (other seed) restored from the file is the same state.
    payload = load_checkpoint(run / "checkpoints" / "last.pt")
    other = build_state(apply_overrides(cfg, ["train.seed=12345"]))
    restore_state(other, payload, run / "checkpoints" / "last.pt")
    again = checkpoint_payload(other)
    for key in ("models", "ema", "optimizers", "schedulers", "rng", "state", "watchdog", "loss_sums"):
        assert_identical(payload[key], again[key], key)
    assert other.step == 2

    # Sample shape and determinism.
    a = draw_samples(other, 7, seed=3)
    assert a.shape == (7, *state.data.shape) and a.dtype == torch.float32
    assert torch.equal(a, draw_samples(other, 7, seed=3))
    assert not torch.equal(a, draw_samples(other, 7, seed=4))
