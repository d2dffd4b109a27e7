"""The VAE: its objective is the negative ELBO with the reparameterised draw from the loop's noise generator."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.losses import gaussian_kl, gaussian_nll
from tests.variants.steps import run_step, step_context, tiny_state

SMALL = ["model.e.width=8", "model.g.width=8", "model.z_dim=4"]


def test_the_objective_is_the_negative_elbo_of_a_reparameterised_draw():
    state = tiny_state("vae-mnist", SMALL)
    v = state.variant
    step = v.steps[0]
    replay = torch.Generator().set_state(state.noise.get_state())
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    x = ctx.batch["x"]
    with torch.no_grad():
        mu, logvar = v.players["e"](x).chunk(2, dim=1)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=replay)
        torch.testing.assert_close(losses["nll"], gaussian_nll(x, v.players["g"](z), 0.2))
        torch.testing.assert_close(losses["kl"], gaussian_kl(mu, logvar))
        assert torch.equal(v.encode(v.players, x), mu)
    assert run_step(state, "vae")[1] == {"e", "g"}


def test_a_uniform_prior_is_refused():
    with pytest.raises(GankitError, match="z_prior must be normal"):
        tiny_state("vae-mnist", [*SMALL, "model.z_prior=uniform"])
