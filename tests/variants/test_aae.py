"""The adversarial autoencoder's phases: which players each updates, on which stream, with which losses."""

from __future__ import annotations

import pytest
import torch

from tests.variants.steps import run_step, tiny_state

SMALL = ["model.e.width=16", "model.g.width=16", "model.dz.width=16", "model.dy.width=16", "model.z_dim=4"]


@pytest.mark.parametrize("preset", ["aae-mnist", "aae-semi-mnist", "aae-cluster-mnist"])
def test_each_phase_updates_only_its_players(preset):
    state = tiny_state(preset, SMALL)
    v = state.variant
    k = 0 if preset == "aae-mnist" else (10 if "semi" in preset else 30)
    losses, changed = run_step(state, "recon")
    assert set(losses) == {"recon"} and changed == {"e", "g"}
    losses, changed = run_step(state, "d")
    assert changed == ({"dz", "dy"} if k else {"dz"})
    assert set(losses) == ({"dz_prior", "dz_code", "dy_prior", "dy_code"} if k else {"dz_prior", "dz_code"})
    losses, changed = run_step(state, "gen")
    assert changed == {"e"} and set(losses) == ({"e_z", "e_y"} if k else {"e_z"})
    if "semi" in preset:
        step = next(s for s in v.steps if s.name == "sup")
        assert step.streams == ("labelled",)
        losses, changed = run_step(state, "sup")
        assert changed == {"e"} and set(losses) == {"sup"}
    else:
        assert "sup" not in {s.name for s in v.steps}
    x = state.streams["train"].next(5)["x"]
    with torch.no_grad():
        assert v.encode(v.players, x).shape == (5, k + 4)
        if k:
            assert v.classify(v.players, x).shape == (5, k)
            assert v.clusters == (preset == "aae-cluster-mnist")
        else:
            assert v.classify is None
        assert v.translate(v.players, x, "reconstruct").shape == x.shape


def test_the_reconstruction_phase_is_the_mean_squared_error_of_g_of_e():
    state = tiny_state("aae-mnist", SMALL)
    v = state.variant
    step = next(s for s in v.steps if s.name == "recon")
    x = state.streams["train"].next(8)["x"]
    from gankit.variants import StepContext

    ctx = StepContext(v.players, {"train": {"x": x}}, 8, state.noise, 1, 20, state.device)
    losses = step.objective(ctx)
    expected = (v.players["g"](v.players["e"](x)) - x).pow(2).flatten(1).mean(dim=1)
    torch.testing.assert_close(losses["recon"], expected)


def test_code_norm_standardises_each_categorys_logit_over_the_batch():
    state = tiny_state("aae-cluster-mnist", [*SMALL, "options.clusters=16", "options.code_norm=true"])
    v = state.variant
    x = state.streams["train"].next(32)["x"]
    v.players["e"].train()
    logits = v.classify(v.players, x)
    torch.testing.assert_close(logits.mean(dim=0), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(logits.var(dim=0, unbiased=False), torch.ones(16), atol=0.05, rtol=0)  # up to eps in var + eps
    assert (logits.argmax(dim=1).bincount(minlength=16) < 32).all()  # no one category holds every item
    assert v.encode(v.players, x).shape == (32, 16 + 4)


def test_code_norm_needs_a_category():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="code_norm"):
        tiny_state("aae-mnist", [*SMALL, "options.code_norm=true"])
