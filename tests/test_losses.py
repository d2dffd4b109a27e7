"""Losses against their formulas, the seed's gradient argument, and the theory of the optimal discriminator."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.config import DataConfig, LossConfig
from gankit.data.toy import gaussian_1d
from gankit.losses import (
    BCE_GAMES,
    GAMES,
    bce_d_loss,
    hinge_d_loss,
    least_squares_d_loss,
    least_squares_g_loss,
    make_game,
    nonsaturating_g_loss,
    per_sample,
    saturating_g_loss,
    smoothed_bce_d_loss,
    wasserstein_d_loss,
    wasserstein_g_loss,
)
from gankit.nets import MLP


def test_bce_d_loss_matches_log_formula():
    real = torch.tensor([-2.0, 0.0, 3.0])
    fake = torch.tensor([1.5, -0.5, 0.0])
    out = bce_d_loss(real, fake)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    torch.testing.assert_close(out["d_real"], -torch.log(d_real))
    torch.testing.assert_close(out["d_fake"], -torch.log(1 - d_fake))
    # The batch means add up to -V(D, G) of the minimax game.
    value = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    torch.testing.assert_close(out["d_real"].mean() + out["d_fake"].mean(), -value)


def test_generator_losses_match_their_formulas():
    logits = torch.tensor([-3.0, -0.2, 0.0, 2.5])
    p = torch.sigmoid(logits)
    torch.testing.assert_close(saturating_g_loss(logits), torch.log(1 - p))
    torch.testing.assert_close(nonsaturating_g_loss(logits), -torch.log(p))


def test_losses_are_finite_for_extreme_logits():
    logits = torch.tensor([-1e4, -100.0, 100.0, 1e4])
    for values in (*bce_d_loss(logits, logits).values(), saturating_g_loss(logits), nonsaturating_g_loss(logits)):
        assert torch.isfinite(values).all()
    # -log D for a confidently rejected sample is about -logit (softplus, not log(sigmoid) = -inf).
    assert nonsaturating_g_loss(torch.tensor([-100.0])).item() == pytest.approx(100.0)


def test_losses_are_per_sample_for_patch_logits():
    logits = torch.randn(5, 1, 4, 4)
    out = nonsaturating_g_loss(logits)
    assert out.shape == (5,)
    torch.testing.assert_close(out, torch.nn.functional.softplus(-logits).mean(dim=(1, 2, 3)))
    assert per_sample(torch.ones(3, 2, 2)).shape == (3,)
    # a PatchGAN critic's logits come flattened, (B, h*w): the same per-sample loss as its (B, 1, h, w) map
    torch.testing.assert_close(nonsaturating_g_loss(logits.flatten(1)), out)


@pytest.mark.parametrize("logit", [-30.0, -15.0, -8.0])
def test_saturating_gradient_vanishes_where_nonsaturating_does_not(logit: float):
    """Where D(G(z)) -> 0 the minimax generator's gradient vanishes, the non-saturating one does not (seed, NIPS tutorial).

    Closed forms with respect to the logit l: d/dl log(1 - sigmoid(l)) = -sigmoid(l) and
    d/dl [-log sigmoid(l)] = -sigmoid(-l) = -(1 - sigmoid(l)).
    """
    l_sat = torch.tensor([logit], requires_grad=True)
    saturating_g_loss(l_sat).sum().backward()
    l_ns = torch.tensor([logit], requires_grad=True)
    nonsaturating_g_loss(l_ns).sum().backward()
    d_fake = 1 / (1 + math.exp(-logit))
    assert l_sat.grad.item() == pytest.approx(-d_fake, rel=1e-5)
    assert l_ns.grad.item() == pytest.approx(-(1 - d_fake), rel=1e-5)
    assert abs(l_sat.grad.item()) < 5e-4
    assert abs(l_ns.grad.item()) > 0.999


def test_both_games_push_the_generator_the_same_way_near_equilibrium():
    logits = torch.linspace(-1, 1, 9, requires_grad=True)
    for name in BCE_GAMES:
        grad = torch.autograd.grad(make_game(LossConfig(name=name)).g_loss(logits).sum(), logits)[0]
        assert (grad < 0).all()  # both want a larger D(G(z))


REAL = torch.tensor([-2.0, -0.5, 0.0, 0.7, 3.0])
FAKE = torch.tensor([1.5, -1.2, 0.0, 2.0, -4.0])


def test_wasserstein_losses_match_their_formulas():
    out = wasserstein_d_loss(REAL, FAKE)
    torch.testing.assert_close(out["d_real"], -REAL)
    torch.testing.assert_close(out["d_fake"], FAKE)
    # batch means: the critic minimises -(E f(x) - E f(G(z))), the negated Wasserstein estimate
    torch.testing.assert_close(out["d_real"].mean() + out["d_fake"].mean(), -(REAL.mean() - FAKE.mean()))
    torch.testing.assert_close(wasserstein_g_loss(FAKE), -FAKE)


def test_least_squares_losses_match_their_formulas():
    out = least_squares_d_loss(REAL, FAKE, a=-1.0, b=1.0)
    torch.testing.assert_close(out["d_real"], 0.5 * (REAL - 1.0) ** 2)
    torch.testing.assert_close(out["d_fake"], 0.5 * (FAKE + 1.0) ** 2)
    torch.testing.assert_close(least_squares_g_loss(FAKE, c=0.0), 0.5 * FAKE**2)
    game = make_game(LossConfig(name="lsgan", ls_a=-1.0, ls_b=1.0, ls_c=0.0))
    torch.testing.assert_close(game.d_loss(REAL, FAKE)["d_fake"], 0.5 * (FAKE + 1.0) ** 2)
    torch.testing.assert_close(game.g_loss(FAKE), 0.5 * FAKE**2)
    assert game.scores


def test_hinge_losses_match_their_formulas():
    out = hinge_d_loss(REAL, FAKE)
    torch.testing.assert_close(out["d_real"], torch.tensor([3.0, 1.5, 1.0, 0.3, 0.0]))
    torch.testing.assert_close(out["d_fake"], torch.tensor([2.5, 0.0, 1.0, 3.0, 0.0]))
    torch.testing.assert_close(make_game(LossConfig(name="hinge")).g_loss(FAKE), -FAKE)


def test_one_sided_label_smoothing_matches_cross_entropy_with_soft_targets():
    out = smoothed_bce_d_loss(REAL, FAKE, real_label=0.9)
    p = torch.sigmoid(REAL)
    torch.testing.assert_close(out["d_real"], -(0.9 * torch.log(p) + 0.1 * torch.log(1 - p)))
    torch.testing.assert_close(out["d_fake"], bce_d_loss(REAL, FAKE)["d_fake"])  # one-sided: fake targets stay 0
    game = make_game(LossConfig(name="nonsaturating", real_label=0.9))
    torch.testing.assert_close(game.d_loss(REAL, FAKE)["d_real"], out["d_real"])
    # the smoothed discriminator's optimum for a real-only input is D = 0.9, not 1
    logit = torch.tensor([0.0], requires_grad=True)
    opt = torch.optim.SGD([logit], lr=1.0)
    for _ in range(500):
        opt.zero_grad()
        smoothed_bce_d_loss(logit, torch.tensor([-50.0]), 0.9)["d_real"].sum().backward()
        opt.step()
    assert torch.sigmoid(logit).item() == pytest.approx(0.9, abs=1e-4)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_every_game_is_per_sample_and_finite_for_extreme_outputs(name):
    game = make_game(LossConfig(name=name))
    logits = torch.tensor([-1e4, -100.0, 0.0, 100.0, 1e4]).reshape(5, 1)
    for value in (*game.d_loss(logits, logits.flip(0)).values(), game.g_loss(logits)):
        assert value.shape == (5,) and torch.isfinite(value).all()
    patch = torch.randn(3, 1, 2, 2)
    assert game.g_loss(patch).shape == (3,)


def _normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def test_trained_discriminator_is_optimal_and_value_is_jsd():
    """Goodfellow et al. (2014), Prop. 1 and Thm. 1: D*(x) = p_data/(p_data + p_g) and V(D*, G) = -log 4 + 2 JSD."""
    torch.manual_seed(0)
    data = gaussian_1d(DataConfig(name="gaussian1d", mean=4.0, std=0.5))
    g_mean, g_std = 3.3, 0.8  # a fixed generator: x = 3.3 + 0.8 z
    d = MLP(1, (1,), width=64, depth=2, activation="elu", critic=True).double()
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 2500)
    rng = torch.Generator().manual_seed(0)
    for _ in range(2500):
        real = data.sample(512, rng).double()
        fake = g_mean + g_std * torch.randn(512, 1, generator=rng, dtype=torch.float64)
        losses = bce_d_loss(d(real - 4.0)["logits"], d(fake - 4.0)["logits"])  # centring the input is the network's business, not the loss's
        loss = sum(v.mean() for v in losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

    with torch.no_grad():
        grid = torch.linspace(2.6, 5.2, 60, dtype=torch.float64)[:, None]
        p_data, p_g = _normal_pdf(grid, 4.0, 0.5), _normal_pdf(grid, g_mean, g_std)
        optimal = p_data / (p_data + p_g)
        trained = torch.sigmoid(d(grid - 4.0)["logits"])
        assert (trained - optimal).abs().max().item() < 0.05

        x = torch.linspace(-4.0, 12.0, 20001, dtype=torch.float64)[:, None]
        dx = (x[1] - x[0]).item()
        p_data, p_g = _normal_pdf(x, 4.0, 0.5), _normal_pdf(x, g_mean, g_std)
        m = 0.5 * (p_data + p_g)
        kl = lambda p, q: (p * torch.log(torch.clamp(p, min=1e-300) / q)).sum().item() * dx  # noqa: E731
        jsd = 0.5 * kl(p_data, m) + 0.5 * kl(p_g, m)
        logits = d(x - 4.0)["logits"]
        value = (p_data * -nn.functional.softplus(-logits) + p_g * -nn.functional.softplus(logits)).sum().item() * dx
        assert value == pytest.approx(-math.log(4) + 2 * jsd, abs=0.05)
        assert jsd > 0.05  # the distributions differ, so the check is not trivially -log 4


# ------------------------------------------------------------------------------------------ representation learning

from gankit.losses import (  # noqa: E402
    catgan_d_loss,
    catgan_g_loss,
    entropy,
    feature_matching,
    gaussian_kl,
    gaussian_nll,
    kplus1_d_loss,
    laplacian_l1,
    laplacian_pyramid,
    marginal_entropy,
    real_logit,
)


def test_entropies_of_hand_made_class_distributions():
    # a certain prediction has entropy 0, a uniform one log K; the marginal of two opposite certain predictions is uniform
    logits = torch.tensor([[50.0, 0.0], [0.0, 0.0]])
    assert entropy(logits)[0].item() == pytest.approx(0.0, abs=1e-12)
    assert entropy(logits)[1].item() == pytest.approx(math.log(2))
    opposite = torch.tensor([[50.0, 0.0], [0.0, 50.0]])
    assert marginal_entropy(opposite).item() == pytest.approx(math.log(2), rel=1e-6)
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=torch.float64)
    h = -(p * p.log()).sum(dim=1)
    assert torch.allclose(entropy(p.log()), h)
    mean = p.mean(dim=0)
    assert marginal_entropy(p.log()).item() == pytest.approx(float(-(mean * mean.log()).sum()))


def test_catgan_terms_match_springenberg_equations_7_and_8():
    real = torch.tensor([[3.0, -1.0, 0.5], [0.0, 2.0, 1.0]], dtype=torch.float64)
    fake = torch.tensor([[0.2, 0.1, 0.0], [1.0, 1.0, -2.0]], dtype=torch.float64)

    def h(p):
        return -(p * p.log()).sum(dim=-1)

    pr, pf = real.softmax(dim=1), fake.softmax(dim=1)
    d = catgan_d_loss(real, fake)
    assert set(d) == {"d_certain", "d_balance", "d_uncertain"}
    assert torch.allclose(d["d_certain"], h(pr)) and torch.allclose(d["d_uncertain"], -h(pf))
    assert d["d_balance"].dim() == 0 and d["d_balance"].item() == pytest.approx(float(-h(pr.mean(dim=0))))
    # D's cost, batch-averaged, is -(H_X[p(y|D)] - E_x H[p(y|x,D)] + E_z H[p(y|G(z),D)])
    total = sum(v.mean() for v in d.values())
    assert total.item() == pytest.approx(float(-(h(pr.mean(dim=0)) - h(pr).mean() + h(pf).mean())))
    g = catgan_g_loss(fake)
    assert torch.allclose(g["g_certain"], h(pf)) and g["g_balance"].item() == pytest.approx(float(-h(pf.mean(dim=0))))


def test_the_k_plus_1_real_logit_is_the_fake_class_fixed_at_zero():
    logits = torch.tensor([[2.0, -1.0, 0.5], [-30.0, -20.0, -25.0], [40.0, 0.0, 1.0]], dtype=torch.float64)
    full = torch.cat([logits, torch.zeros(3, 1, dtype=torch.float64)], dim=1).softmax(dim=1)  # K+1 classes, fake last
    p_real = 1 - full[:, -1]
    assert torch.allclose(torch.sigmoid(real_logit(logits)), p_real)
    d = kplus1_d_loss(logits, logits)
    assert torch.allclose(d["d_real"], -p_real.log(), rtol=1e-9) and torch.allclose(d["d_fake"], -full[:, -1].log(), rtol=1e-9)
    assert all(torch.isfinite(v).all() for v in kplus1_d_loss(logits * 100, -logits * 100).values())


def test_feature_matching_is_the_squared_distance_of_the_batch_means_and_reaches_g_alone():
    fake = torch.tensor([[1.0, 0.0], [3.0, 2.0]], requires_grad=True)  # mean (2, 1)
    real = torch.tensor([[0.0, 1.0], [0.0, 3.0], [0.0, 2.0]])  # mean (0, 2); batches of different sizes
    cost = feature_matching(fake, real)
    assert cost.item() == pytest.approx(2.0**2 + 1.0**2)
    cost.backward()  # d/d fake_i = 2 (mean_fake - mean_real) / B
    assert torch.allclose(fake.grad, torch.tensor([[2.0, -1.0], [2.0, -1.0]]))
    assert feature_matching(real, real).item() == 0.0


def test_gaussian_kl_and_nll_match_torch_distributions():
    from torch.distributions import Normal, kl_divergence

    mu = torch.tensor([[0.3, -1.2], [2.0, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.1, -0.7], [1.5, 0.0]], dtype=torch.float64)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected)
    x = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    mean = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    assert torch.allclose(gaussian_nll(x, mean, 0.3), -Normal(mean, 0.3).log_prob(x).flatten(1).sum(dim=1))


def test_the_elbo_with_the_exact_posterior_equals_the_log_likelihood_of_a_linear_gaussian_model():
    # p(z) = N(0, 1), p(x|z) = N(z, s²): p(x) = N(0, 1 + s²); the exact posterior is N(x / (1 + s²), s² / (1 + s²)),
    # and with it E_q[-log p(x|z)] + KL(q ‖ p(z)) = -log p(x) (the bound is tight).
    s, x = 0.5, torch.tensor([[1.3]], dtype=torch.float64)
    m, v = x / (1 + s**2), torch.tensor([[s**2 / (1 + s**2)]], dtype=torch.float64)
    kl = gaussian_kl(m, v.log())
    # E_q ½(x - z)²/s² = ½((x - m)² + v)/s²: the nll at the mean plus ½ v / s²
    expected_nll = gaussian_nll(x, m, s) + 0.5 * v.squeeze() / s**2
    exact = -torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(math.sqrt(1 + s**2), dtype=torch.float64)).log_prob(x).squeeze()
    assert (expected_nll + kl).item() == pytest.approx(exact.item(), rel=1e-12)
    # and by Monte Carlo through the reparameterisation the VAE uses
    g = torch.Generator().manual_seed(0)
    z = m + v.sqrt() * torch.randn(400_000, 1, generator=g, dtype=torch.float64)
    mc = gaussian_nll(x.expand(len(z), 1), z, s).mean() + kl
    assert mc.item() == pytest.approx(exact.item(), abs=5e-3)


def test_the_laplacian_pyramid_reconstructs_its_image_and_the_loss_weighs_each_band():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 1, 16, 16, generator=g)
    levels = laplacian_pyramid(x, 4)
    assert [tuple(t.shape[-2:]) for t in levels] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    rebuilt = levels[-1]
    for band in reversed(levels[:-1]):
        rebuilt = band + torch.nn.functional.interpolate(rebuilt, size=band.shape[-2:], mode="bilinear", align_corners=False)
    assert torch.allclose(rebuilt, x, atol=1e-5)
    assert torch.equal(laplacian_l1(x, x), torch.zeros(2))
    y = torch.randn(2, 1, 16, 16, generator=g)
    a, b = laplacian_pyramid(x, 4), laplacian_pyramid(y, 4)
    expected = sum(4.0**j * (p - q).abs().flatten(1).sum(dim=1) for j, (p, q) in enumerate(zip(a, b, strict=True))) / 256
    assert torch.allclose(laplacian_l1(x, y), expected)
    # a constant offset lives only in the coarsest band: 4^3 x its 4 pixels / 256 pixels = the offset itself
    assert torch.allclose(laplacian_l1(x + 0.5, x), torch.full((2,), 0.5), atol=1e-5)
