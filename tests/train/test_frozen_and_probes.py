"""Frozen networks are used but never trained, saved or NaN-scanned; the watchdog's probes score the players in
training mode without changing them (no deep copies: buffers are put back and the global RNG is forked)."""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import load_config
from gankit.train.loop import TrainState, build_state, checkpoint_payload, preserved, run_loop
from gankit.train.rundir import create_run_dir
from gankit.variants import Step, Variant
from gankit.variants.base import noise_spec
from tests.conftest import TINY
from tests.train.test_resume import assert_identical


def test_frozen_networks_are_never_trained_saved_or_scanned(tmp_path):
    cfg = load_config("gan-ring", [*TINY, "train.steps=4", "train.log_every=1", "train.progress=none"])
    base = build_state(cfg)
    g = nn.Linear(2, 2)
    judge = nn.Sequential(nn.Linear(2, 1), nn.Dropout(0.5))
    with torch.no_grad():
        judge[0].weight.fill_(float("nan"))  # a NaN in a frozen network must not stop the run

    def objective(ctx):
        assert ctx.players["g"].training and not judge.training  # frozen: in eval mode while the players train
        fake = ctx.players["g"](torch.randn(ctx.n, 2, generator=ctx.rng))
        return {"g": (fake - ctx.batch["x"]).pow(2).mean(dim=1)}

    variant = Variant(
        players={"g": g},
        groups={"g": ("g",)},
        optimizers={"g": torch.optim.SGD(g.parameters(), lr=0.01)},
        steps=[Step("g", ("g",), objective)],
        frozen={"judge": judge},
        latents=noise_spec(2, "normal"),
        decode=lambda p, latents: p["g"](latents["z"]),
    )
    for module in variant.frozen.values():  # what build_state does for every variant's frozen networks
        module.requires_grad_(False).eval()
    before = {k: v.clone() for k, v in judge.state_dict().items()}
    state = TrainState(cfg, base.device, base.data, variant, base.streams, base.noise)
    run_loop(state, create_run_dir(tmp_path, "frozen"))
    assert state.step == 4
    assert all(not p.requires_grad for p in judge.parameters()) and not judge.training
    payload = checkpoint_payload(state)
    assert set(payload["models"]) == {"g"} and "judge" not in payload["optimizers"]
    for key, value in judge.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, equal_nan=True)


def test_probes_leave_the_players_and_the_global_rng_as_they_were():
    cfg = load_config("dcgan-digits", ["train.device=cpu"])
    state = build_state(cfg)
    players = state.variant.players
    for m in players.values():
        m.train()
    snapshot = {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in players.items()}
    rng_before = torch.get_rng_state()
    batches = {"train": state.streams["train"].next(16)}
    with torch.no_grad(), preserved(players):
        real, fake = state.variant.probes["d"](players, batches, torch.Generator().manual_seed(1))
        torch.rand(3)  # anything drawing on the global RNG inside is forked away
    assert real.shape == fake.shape == (16,)
    assert torch.equal(torch.get_rng_state(), rng_before)
    for name, m in players.items():
        assert_identical({k: v for k, v in m.state_dict().items()}, snapshot[name], name)


def test_the_watchdog_does_not_change_training(tmp_path):
    """The same run with and without the watchdog's checks (probes of D every snapshot) ends with the same weights."""
    common = [*TINY, "train.steps=12", "train.sample_every=3", "train.progress=none"]
    payloads = []
    for watchdog in (["train.watchdog=true", "train.watchdog_start=0"], ["train.watchdog=false"]):
        cfg = load_config("dcgan-digits", [*common, *watchdog, "model.g.width=8", "model.d.width=8"])
        state = build_state(cfg)
        run_loop(state, create_run_dir(tmp_path / watchdog[0].split("=")[1], "w"))
        payloads.append(checkpoint_payload(state))
    for key in ("models", "optimizers", "rng"):
        assert_identical(payloads[0][key], payloads[1][key], key)


def test_load_frozen_reads_a_local_state_dict_records_its_sha256_and_refuses_bad_files(tmp_path):
    import hashlib

    import pytest

    from gankit.errors import GankitError
    from gankit.variants.base import load_frozen

    source = nn.Linear(3, 2)
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    module, digest = load_frozen(nn.Linear(3, 2), str(path), "options.weights")
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert torch.equal(module.weight, source.weight) and not module.training and not any(p.requires_grad for p in module.parameters())
    with pytest.raises(GankitError, match=r"options\.weights is not set"):
        load_frozen(nn.Linear(3, 2), None, "options.weights")
    with pytest.raises(GankitError, match="does not exist"):
        load_frozen(nn.Linear(3, 2), str(tmp_path / "nope.pt"), "options.weights")
    torch.save(nn.Linear(4, 2).state_dict(), tmp_path / "other.pt")
    with pytest.raises(GankitError, match="not a state dict of this network"):
        load_frozen(nn.Linear(3, 2), str(tmp_path / "other.pt"), "options.weights")
