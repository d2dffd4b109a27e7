"""UNIT: the VAE, GAN and cycle terms against their formulas, the shared layers, translation and bad input."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.losses import gaussian_kl
from gankit.train.loop import build_state, make_trainable, optimise
from gankit.variants import StepContext
from gankit.variants.unit import TRANSLATION_PLAYERS, unit_kl
from tests.conftest import TINY
from tests.variants.steps import step_context, tiny_state, weights

SMALL = [
    "model.e_a.width=4", "model.e_b.width=4", "model.g_a.width=4", "model.g_b.width=4", "model.d_a.width=4", "model.d_b.width=4", "options.latent=8",
]  # fmt: skip


def test_unit_kl_is_half_the_mean_squared_code():
    mu = torch.tensor([[[1.0, -2.0], [0.0, 3.0]], [[0.5, 0.5], [0.5, 0.5]]])  # (2, 2, 2): two codes of 4 entries
    torch.testing.assert_close(unit_kl(mu), torch.tensor([0.5 * 14 / 4, 0.5 * 0.25]))
    # KL(N(μ, I) ‖ N(0, I)) over the entries, divided by their number
    torch.testing.assert_close(unit_kl(mu), gaussian_kl(mu.flatten(1), torch.zeros(2, 4)) / 4)


def test_g_objective_is_the_vae_gan_and_cycle_terms_of_the_paper():
    state = tiny_state("unit-digits2mnist", SMALL)
    v, p = state.variant, state.variant.players
    step = next(s for s in v.steps if s.name == "g")
    ctx = step_context(state, step)
    noise = ctx.rng.get_state()
    losses = step.objective(ctx)
    assert set(losses) == {"g_ab", "g_ba", "kl_a", "kl_b", "recon_a", "recon_b", "cycle_kl_a", "cycle_kl_b", "cycle_a", "cycle_b"}
    assert all(value.shape == (8,) for value in losses.values())

    # The same computation written out, replaying the loop's noise: ε_a, ε_b, then the cycle codes' ε.
    ctx.rng.set_state(noise)
    a, b = ctx.batches["a"]["a"], ctx.batches["b"]["b"]

    def eps(like):
        return torch.randn(like.shape, generator=ctx.rng)

    def l1(x, y):
        return (x - y).abs().mean(dim=(1, 2, 3))

    with torch.no_grad():
        mu_a, mu_b = p["e_shared"](p["e_a"](a)), p["e_shared"](p["e_b"](b))
        assert mu_a.shape == (8, 8, 8, 8)  # (B, K, H/4, W/4)
        h_a, h_b = p["g_shared"](mu_a + eps(mu_a)), p["g_shared"](mu_b + eps(mu_b))
        fake_b, fake_a = p["g_b"](h_a), p["g_a"](h_b)
        mu_aba, mu_bab = p["e_shared"](p["e_b"](fake_b)), p["e_shared"](p["e_a"](fake_a))
        cycle_a = p["g_a"](p["g_shared"](mu_aba + eps(mu_aba)))
        cycle_b = p["g_b"](p["g_shared"](mu_bab + eps(mu_bab)))
        d_b = p["d_b"](fake_b)["logits"].flatten(1)
    close = {"atol": 1e-5, "rtol": 1e-4}
    torch.testing.assert_close(losses["kl_a"], 0.1 * 0.5 * mu_a.pow(2).mean(dim=(1, 2, 3)), **close)
    torch.testing.assert_close(losses["kl_b"], 0.1 * 0.5 * mu_b.pow(2).mean(dim=(1, 2, 3)), **close)
    torch.testing.assert_close(losses["recon_a"], 100 * l1(p["g_a"](h_a), a), **close)
    torch.testing.assert_close(losses["recon_b"], 100 * l1(p["g_b"](h_b), b), **close)
    torch.testing.assert_close(losses["g_ab"], 10 * (0.5 * (d_b - 1) ** 2).mean(dim=1), **close)  # the preset's LSGAN, λ0 = 10
    torch.testing.assert_close(losses["cycle_kl_a"], 0.1 * 0.5 * mu_aba.pow(2).mean(dim=(1, 2, 3)), **close)
    torch.testing.assert_close(losses["cycle_kl_b"], 0.1 * 0.5 * mu_bab.pow(2).mean(dim=(1, 2, 3)), **close)
    torch.testing.assert_close(losses["cycle_a"], 100 * l1(cycle_a, a), **close)
    torch.testing.assert_close(losses["cycle_b"], 100 * l1(cycle_b, b), **close)
    torch.testing.assert_close(ctx.scratch["fake_b"], fake_b, **close)


def test_zero_weights_drop_their_terms():
    state = tiny_state("unit-digits2mnist", [*SMALL, "options.kl=0", "options.cycle=0", "options.cycle_kl=0"])
    step = next(s for s in state.variant.steps if s.name == "g")
    assert set(step.objective(step_context(state, step))) == {"g_ab", "g_ba", "recon_a", "recon_b"}


def test_shared_layers_are_one_parameter_set_trained_by_both_domains():
    state = tiny_state("unit-digits2mnist", SMALL)
    v, p = state.variant, state.variant.players
    assert v.groups == {"g": TRANSLATION_PLAYERS, "d": ("d_a", "d_b")}
    # every parameter belongs to one player and one optimiser, once
    ids = [id(t) for m in p.values() for t in m.parameters()]
    assert len(ids) == len(set(ids))
    for group, names in v.groups.items():
        optimised = [id(t) for g in v.optimizers[group].param_groups for t in g["params"]]
        assert len(optimised) == len(set(optimised)) and set(optimised) == {id(t) for n in names for t in p[n].parameters()}
    # the shared layers are in the state dict once: no private player holds a copy of them
    shared = {id(t) for name in ("e_shared", "g_shared") for t in p[name].parameters()}
    assert not shared & {id(t) for name in ("e_a", "e_b", "g_a", "g_b") for t in p[name].parameters()}
    # each domain's reconstruction alone sends gradients through both shared modules
    step = next(s for s in v.steps if s.name == "g")
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    for domain in ("a", "b"):
        grads = torch.autograd.grad(losses[f"recon_{domain}"].mean(), [*p["e_shared"].parameters(), *p["g_shared"].parameters()], retain_graph=True)
        assert all(g.abs().sum() > 0 for g in grads), domain
    # changing the shared encoder changes both directions' translations (in training mode: batch statistics)
    x_a, x_b = ctx.batches["a"]["a"], ctx.batches["b"]["b"]
    with torch.no_grad():
        before = v.translate(p, x_a, "a2b"), v.translate(p, x_b, "b2a")
        next(p["e_shared"].parameters()).add_(0.5)
        after = v.translate(p, x_a, "a2b"), v.translate(p, x_b, "b2a")
    assert not torch.equal(before[0], after[0]) and not torch.equal(before[1], after[1])


def test_g_step_trains_encoders_and_generators_and_the_d_step_the_discriminators():
    state = tiny_state("unit-digits2mnist", SMALL)
    v = state.variant
    g_step, d_step = (next(s for s in v.steps if s.name == name) for name in ("g", "d"))
    assert g_step.streams == ("a", "b") and d_step.streams == ()  # D scores the G step's batches and translations
    before = weights(state)
    ctx = step_context(state, g_step)
    make_trainable(v, g_step)
    optimise(v, g_step, ctx)
    middle = weights(state)
    make_trainable(v, d_step)
    d_ctx = StepContext(v.players, {}, ctx.n, ctx.rng, 1, ctx.total, ctx.device, v.state, ctx.scratch, v.optimizers)  # the iteration's scratch
    d_losses, _ = optimise(v, d_step, d_ctx)
    after = weights(state)

    def changed(x, y):
        return {n for n in x if any(not torch.equal(x[n][k], y[n][k]) for k in x[n])}

    assert changed(before, middle) == set(TRANSLATION_PLAYERS)
    assert changed(middle, after) == {"d_a", "d_b"}
    assert set(d_losses) == {"d_real_a", "d_fake_a", "d_real_b", "d_fake_b"}


def test_translate_uses_the_posterior_mean_and_keeps_the_shapes():
    state = tiny_state("unit-digits2mnist", SMALL)
    v, p = state.variant, state.variant.players
    assert v.directions == {"a2b": ("a", "b"), "b2a": ("b", "a")}
    for m in p.values():
        m.eval()
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        out = v.translate(p, x, "a2b")
        assert out.shape == (5, 1, 32, 32) and out.abs().max() <= 1
        assert torch.equal(out, v.translate(p, x, "a2b"))  # no noise at test time
        torch.testing.assert_close(out, p["g_b"](p["g_shared"](p["e_shared"](p["e_a"](x)))))
        torch.testing.assert_close(v.translate(p, x, "b2a"), p["g_a"](p["g_shared"](p["e_shared"](p["e_b"](x)))))


def test_bad_input_and_options_are_user_errors():
    with pytest.raises(GankitError, match=r"variant 'unit' translates between domains a and b; data 'mnist5k' has fields"):
        build_state(load_config("unit-digits2mnist", [*TINY, *SMALL, "data.name=mnist5k"]))
    with pytest.raises(GankitError, match=r"options\.latent"):
        load_config("unit-digits2mnist", ["options.latent=0"])
    with pytest.raises(GankitError, match=r"options\.gan"):
        load_config("unit-digits2mnist", ["options.gan=0"])
    with pytest.raises(GankitError, match=r"options\.cycle must be zero or more"):
        load_config("unit-digits2mnist", ["options.cycle=-1"])
    with pytest.raises(GankitError, match="divisible by 4"):
        build_state(load_config("unit-digits2mnist", [*TINY, *SMALL, "data.image_size=30"]))
