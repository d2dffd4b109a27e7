"""The conditional variants (cgan, projection, acgan): penalties taken with each batch's own labels."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.train.loop import build_state
from gankit.variants import StepContext
from gankit.variants.base import latent, random_labels
from tests.conftest import TINY

SMALL = [*TINY, "train.batch_size=8", "model.g.width=8", "model.d.width=8"]


@pytest.mark.parametrize("preset", ["cgan-mnist", "projection-mnist"])
def test_r2_scores_the_fakes_with_their_own_labels(preset):
    """R2 (reg_every 1) is γ·½‖∇ₓ D(x̃, ỹ)‖² at the fakes x̃ = G(z, ỹ), with the labels ỹ they were generated with.
    Version 1 scored them with the real batch's labels: D(x̃, y_real), a gradient at a point of no game."""
    state = build_state(load_config(preset, [*SMALL, "loss.r2=2.0", "loss.reg_every=1"]))
    v, cfg, device = state.variant, state.cfg, state.device
    step = next(s for s in v.steps if s.name == "d")
    n = step.size(1, cfg.train.batch_size)
    batches = {name: state.streams[name].next(n) for name in step.streams}
    replay = torch.Generator(device=device)
    replay.set_state(state.noise.get_state())  # a clone of the noise generator, to rebuild the D step's draws
    losses = step.objective(StepContext(v.players, batches, n, state.noise, 1, cfg.train.steps, device, v.state, {}, v.optimizers))

    # the D step draws the fakes' labels, then their noise, from the loop's noise generator
    y_fake = random_labels(n, v.num_classes, replay, device)
    z = latent(n, cfg.model.z_dim, cfg.model.z_prior, replay, device)
    with torch.no_grad():
        fake = v.players["g"](z, y_fake)

    def r2(labels: torch.Tensor) -> torch.Tensor:
        x = fake.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(v.players["d"].heads(x, labels)["logits"].sum(), x)  # D in training mode, as in the step
        return cfg.loss.r2 * 0.5 * grad.pow(2).flatten(1).sum(dim=1)

    assert losses["r2"].shape == (n,)
    torch.testing.assert_close(losses["r2"], r2(y_fake), rtol=1e-5, atol=1e-8)
    y_real = batches["train"]["y"]
    assert not torch.equal(y_real, y_fake)
    assert not torch.allclose(losses["r2"], r2(y_real), rtol=1e-3, atol=0)  # the version-1 value differs
