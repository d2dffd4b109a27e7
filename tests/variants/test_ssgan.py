"""The K+1 semi-supervised GAN: D's costs through the fixed fake logit, feature matching, the averaged D classifies."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.losses import real_logit
from gankit.sampling import classify_inputs
from gankit.train.ema import update_ema
from gankit.variants.base import latent
from tests.variants.steps import run_step, step_context, tiny_state

SMALL = ["model.g.width=16", "model.d.width=16", "model.z_dim=6", "train.ema=0.5"]


def test_d_costs_are_the_labelled_cross_entropy_and_the_k_plus_1_real_fake_terms():
    state = tiny_state("ssgan-mnist", [*SMALL, "model.d.input_noise=0", "model.d.noise=0"])  # no noise layers: D deterministic
    v = state.variant
    step = next(s for s in v.steps if s.name == "d")
    assert step.streams == ("train", "labelled")
    replay = torch.Generator().set_state(state.noise.get_state())
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    d, w = v.players["d"], state.cfg.options.unsupervised
    assert w == 0.5  # the preset weighs the real/fake terms as the authors' code
    with torch.no_grad():
        fake = v.players["g"](latent(ctx.n, 6, "uniform", replay, state.device))
        labelled = ctx.batches["labelled"]
        torch.testing.assert_close(losses["d_sup"], F.cross_entropy(d(labelled["x"])["logits"], labelled["y"], reduction="none"))
        p_real = torch.sigmoid(real_logit(d(ctx.batches["train"]["x"])["logits"]).double())  # float64: D(G(z)) may round to 1 in float32
        torch.testing.assert_close(losses["d_real"].double(), -w * p_real.log(), rtol=1e-4, atol=1e-5)
        p_fake_real = torch.sigmoid(real_logit(d(fake)["logits"]).double())
        torch.testing.assert_close(losses["d_fake"].double(), -w * (1 - p_fake_real).log(), rtol=1e-4, atol=1e-5)


def test_g_matches_d_features_and_the_polyak_averaged_d_classifies():
    state = tiny_state("ssgan-mnist", SMALL)
    v = state.variant
    run_step(state, "d")  # the loop's first step: D's weight norm is initialised on its first batch
    losses, changed = run_step(state, "g")
    assert changed == {"g"} and set(losses) == {"g_fm"} and losses["g_fm"].dim() == 0
    run_step(state, "d")
    assert set(state.ema) == {"d"}
    update_ema(state.ema, v.players, 0.5)
    x = state.streams["train"].next(6)["x"]
    averaged = classify_inputs(state, x)
    live = classify_inputs(state, x, use_ema=False)
    with torch.no_grad():
        state.ema["d"].eval()
        torch.testing.assert_close(averaged, state.ema["d"](x)["logits"])
    assert not torch.allclose(averaged, live)
