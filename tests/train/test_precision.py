"""Speed switches: train.precision (bf16, fp16 with checkpointed loss scalers), channels_last, compile, threads."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.train.loop import build_state, checkpoint_payload, resume, run_loop, train
from gankit.train.rundir import create_run_dir
from tests.conftest import TINY
from tests.train.test_resume import assert_identical

SMALL = ["train.progress=none", "train.batch_size=16", "model.g.width=16", "model.d.width=16", "train.sample_every=1000", "train.ckpt_every=1000"]


def _trained(tmp_path, overrides: list[str], steps: int = 1):
    torch.set_num_threads(1)
    state = build_state(load_config("dcgan-mnist", [*TINY, *SMALL, f"train.steps={steps}", *overrides]))
    run_loop(state, create_run_dir(tmp_path, "p"))
    return state


def _weights(state) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.float() for n, m in state.variant.players.items() for k, v in m.state_dict().items() if v.is_floating_point()}


@pytest.mark.parametrize("switch", ["train.precision=bf16", "train.channels_last=true"])
def test_a_switched_step_is_finite_and_close_to_fp32(tmp_path, switch):
    """One step of dcgan-mnist: autocast to bfloat16 (or channels-last memory) changes rounding, not the result."""
    plain, switched = _trained(tmp_path / "a", []), _trained(tmp_path / "b", [switch])
    a, b = _weights(plain), _weights(switched)
    assert all(torch.isfinite(v).all() for v in b.values())
    moved = [(a[k] - b[k]).abs().max().item() for k in a]
    tolerance = 5e-3 if "bf16" in switch else 1e-5
    assert max(moved) < tolerance, max(moved)
    if "bf16" in switch:
        assert max(moved) > 0  # it did run in lower precision


def test_fp16_loss_scalers_are_per_group_and_survive_a_resume(tmp_path):
    torch.set_num_threads(1)
    common = [*TINY, *SMALL, "train.precision=fp16", "train.ckpt_every=2", "train.log_every=2",
              "optim.g.decay_start=1.0", "optim.d.decay_start=1.0"]  # fmt: skip
    straight = train(load_config("dcgan-mnist", [*common, "train.steps=4"]), tmp_path / "straight")
    half = train(load_config("dcgan-mnist", [*common, "train.steps=2"]), tmp_path / "half")
    saved = torch.load(half / "checkpoints" / "last.pt", weights_only=True)["precision"]
    assert set(saved["scalers"]) == {"g", "d"} and saved["scalers"]["g"]["scale"] > 0
    resume(half, ["train.steps=4"])
    a, b = (torch.load(r / "checkpoints" / "last.pt", weights_only=True) for r in (straight, half))
    for key in ("models", "optimizers", "precision"):
        assert_identical(a[key], b[key], key)


@pytest.mark.slow  # compiling on CPU takes about a minute
def test_compile_trains_and_keeps_the_state_dict_keys(tmp_path):
    torch.set_num_threads(1)
    plain = build_state(load_config("gan-ring", [*TINY, "train.progress=none"]))
    compiled = _ring(tmp_path, ["train.compile=true"])
    keys = {n: set(m.state_dict()) for n, m in plain.variant.players.items()}
    assert keys == {n: set(m.state_dict()) for n, m in compiled.variant.players.items()}  # checkpoints stay portable
    assert compiled.step == 3 and all(torch.isfinite(v).all() for v in _weights(compiled).values())


def _ring(tmp_path, overrides):
    state = build_state(load_config("gan-ring", [*TINY, "train.progress=none", "train.steps=3", *overrides]))
    run_loop(state, create_run_dir(tmp_path, "c"))
    return state


def test_threads_sets_torchs_thread_count_and_bad_values_are_refused():
    before = torch.get_num_threads()
    try:
        build_state(load_config("gan-ring", [*TINY, "train.threads=1"]))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(GankitError, match=r"train\.precision: unknown name 'fp8'"):
        load_config("gan-ring", ["train.precision=fp8"])
    with pytest.raises(GankitError, match=r"train\.threads must be zero or more"):
        load_config("gan-ring", ["train.threads=-1"])


def test_fp32_payload_has_no_scalers(tmp_path):
    state = _ring(tmp_path, [])
    assert checkpoint_payload(state)["precision"] == {"name": "fp32", "scalers": {}}
