"""The contract every registered variant (through every preset) must keep."""

from __future__ import annotations

import math
import os

import pytest
import torch

from gankit.config import apply_overrides, load_config, preset_names, save_config
from gankit.sampling import draw_samples, encode_inputs, translate_inputs
from gankit.sampling.pictures import real_examples
from gankit.train.checkpoint import load_checkpoint
from gankit.train.loop import build_state, checkpoint_payload, restore_state, run_loop
from gankit.train.rundir import create_run_dir, read_metrics
from gankit.variants import VARIANTS, StepContext
from tests.conftest import TINY
from tests.train.test_resume import assert_identical

PRESETS = preset_names()
CONTRACT = [*TINY, "train.steps=2", "train.log_every=1", "train.ckpt_every=1", "train.sample_every=1", "train.ema=0.9"]


def random_vgg19() -> str:
    """A VGG19 state dict of random weights in torchvision's names, saved once (SRGAN's VGG content loss reads a local
    file; tests never have the pretrained one)."""
    import tempfile
    from pathlib import Path

    from gankit.nets.vgg import VGG19

    path = Path(tempfile.gettempdir()) / f"gankit-test-vgg19-{os.getpid()}.pth"
    if not path.exists():
        torch.manual_seed(0)
        torch.save(VGG19().state_dict(), path)
    return str(path)


def contract_config(preset: str):
    """The preset at the contract's tiny size; a refitted rejection sampler fits for 20 steps (the setting exists only
    where the preset uses one: elsewhere it would do nothing, and is refused); a VGG content loss reads random VGG19
    weights, and its photos are 32 px."""
    base = load_config(preset)
    refit = base.sampler.estimator == "refit" and base.sampler.name == "drs"
    vgg = getattr(base.options, "content", None) == "vgg"
    extra = [*(["sampler.refit_steps=20"] if refit else []), *([f"options.vgg_weights={random_vgg19()}", "data.image_size=32"] if vgg else [])]
    return load_config(preset, [*CONTRACT, *extra])


def test_every_variant_has_a_preset_and_a_description():
    covered = {load_config(name).variant for name in PRESETS}
    assert set(VARIANTS) <= covered, f"variants without a preset: {sorted(set(VARIANTS) - covered)}"
    for name, entry in VARIANTS.items():
        assert entry.description, name


@pytest.fixture(autouse=True)
def quick_standing_statistics(monkeypatch):
    """Standing statistics from 2 batches of 32 (16 of 256 by default): the contract is about shapes, determinism
    and round trips, and a translation model recomputes them for every picture and every translation."""
    import gankit.sampling.standing as standing

    monkeypatch.setattr(standing, "STANDING_BATCHES", 2)
    monkeypatch.setattr(standing, "STANDING_BATCH_SIZE", 32)


@pytest.fixture(autouse=True)
def quick_rejection_sampling(monkeypatch):
    """Rejection sampling's bound from 500 proposals, calibrated on 500 real samples, proposals drawn 512 at a time
    (10,000, 10,000 and 8,192 by default): each picture and draw of a DRS preset otherwise runs its full-size networks
    on tens of thousands of samples; the sampler's statistics are tested in tests/samplers/test_drs.py."""
    import gankit.samplers.drs as drs

    monkeypatch.setattr(drs, "DRS_BURN_IN", 500)
    monkeypatch.setattr(drs, "DRS_CALIBRATION", 500)
    monkeypatch.setattr(drs, "CHUNK", 512)


def sample_shape(data) -> tuple[int, ...]:
    """What a noise model's samples look like: the data's ``x`` field."""
    return tuple(data.fields["x"].shape) if "x" in data.fields else tuple(data.shape)


@pytest.mark.parametrize("preset", PRESETS)
def test_variant_contract(preset, tmp_path):
    cfg = contract_config(preset)
    state = build_state(cfg)
    v = state.variant

    # Players are modules, every optimiser group names existing players, every step names existing groups and
    # streams the data gives.
    assert v.players and set(v.optimizers) == set(v.groups)
    assert all(p in v.players for players in v.groups.values() for p in players)
    assert all(g in v.groups for step in v.steps for g in step.updates)
    assert all(name in state.streams for step in v.steps for name in step.streams)
    assert v.capabilities(), "a variant must offer at least one of decode, translate, encode"

    # Each objective returns per-sample (B,) or scalar losses with names unique across steps. The steps of one
    # iteration run in order and share its scratch (a step without streams may read what an earlier one left).
    seen: set[str] = set()
    scratch: dict = {}
    last: dict[str, dict[str, torch.Tensor]] = {}
    for step in v.steps:
        n = step.size(1, cfg.train.batch_size)
        batches = {name: state.streams[name].next(n) for name in step.streams}
        last.update(batches)
        ctx = StepContext(v.players, batches, n, state.noise, 1, cfg.train.steps, state.device, v.state, scratch, v.optimizers)
        losses = step.objective(ctx)
        assert losses, step.name
        for key, value in losses.items():
            assert key not in seen, f"loss name '{key}' used by two steps"
            seen.add(key)
            assert value.dim() == 0 or value.shape == (n,), f"{step.name}.{key}: shape {tuple(value.shape)}, batch {n}"
            assert torch.isfinite(value).all(), key

    # Each discriminator's probe scores real and fake samples, one score each.
    for name, probe in v.probes.items():
        with torch.no_grad():
            real_scores, fake_scores = probe(v.players, last, torch.Generator(device=state.device).manual_seed(0))
        assert real_scores.dim() == 1 and fake_scores.dim() == 1, name
        assert torch.isfinite(real_scores).all() and torch.isfinite(fake_scores).all(), name

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

    # The outputs the variant declares have the data's shapes and are deterministic.
    data = other.data
    if v.decode is not None and v.latents is not None:
        a = draw_samples(other, 7, seed=3)
        assert a.shape == (7, *sample_shape(data)) and a.dtype == torch.float32
        assert torch.equal(a, draw_samples(other, 7, seed=3))
        assert not torch.equal(a, draw_samples(other, 7, seed=4))
    if v.translate is not None:
        assert v.directions, "a translation model names its directions"
        for direction, (source, target) in v.directions.items():
            inputs = real_examples(data, [source], 5, seed=0)[source]
            out = translate_inputs(other, inputs, direction)
            assert out.shape == (5, *data.fields[target].shape) and out.dtype == torch.float32, direction
            assert torch.isfinite(out).all(), direction
            assert torch.equal(out, translate_inputs(other, inputs, direction)), direction
    if v.encode is not None:
        x = real_examples(data, [v.encodes], 5, seed=0)[v.encodes]
        features = encode_inputs(other, x)
        assert features.dim() == 2 and len(features) == 5 and features.dtype == torch.float32
        assert torch.isfinite(features).all()
        assert torch.equal(features, encode_inputs(other, x))
