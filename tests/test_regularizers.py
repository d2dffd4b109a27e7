"""Regularisers against direct computations: gradient penalty, R1/R2, clipping, historical averaging."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import NetConfig
from gankit.nets import build_discriminator
from gankit.regularizers import (
    clip_weights,
    gradient_norms,
    gradient_penalty,
    historical_average_penalty,
    input_gradients,
    interpolates,
    r1_penalty,
    update_historical_average,
)


def _linear_critic(w: list[float]) -> nn.Linear:
    critic = nn.Linear(len(w), 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([w]))
        critic.bias.fill_(0.3)
    return critic


@pytest.mark.parametrize(
    ("w", "mode", "expected"),
    [([3.0, 4.0], "two-sided", 16.0), ([0.6, 0.0], "two-sided", 0.16), ([0.6, 0.0], "one-sided", 0.0), ([3.0, 4.0], "one-sided", 16.0)],
)
def test_gradient_penalty_of_a_linear_critic_is_known(w, mode, expected):
    """D(x) = w·x + b has ∇D = w everywhere: GP = (‖w‖ - 1)² for every interpolate (0 one-sided when ‖w‖ < 1)."""
    critic = _linear_critic(w)
    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0), mode)
    assert gp.shape == (6,)
    torch.testing.assert_close(gp, torch.full((6,), expected), atol=1e-5, rtol=1e-5)


def test_gradient_penalty_trains_the_critic_towards_unit_slope():
    critic = _linear_critic([3.0, 4.0])
    gp = gradient_penalty(critic, torch.randn(4, 2), torch.randn(4, 2), torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad(gp.mean(), critic.weight)
    # d/dw (‖w‖ - 1)² = 2 (‖w‖ - 1) w / ‖w‖ = 2·4·(0.6, 0.8)
    torch.testing.assert_close(grad, torch.tensor([[4.8, 6.4]]))


def test_gradients_are_per_sample_not_of_the_batch_mean():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    x = torch.randn(5, 3)
    batched = input_gradients(critic, x)
    for i in range(5):
        xi = x[i : i + 1].clone().requires_grad_(True)
        (alone,) = torch.autograd.grad(critic(xi).sum(), xi)
        torch.testing.assert_close(batched[i], alone[0])
    # the gradient of the batch mean would be 1/B of these
    norms = gradient_norms(critic, x)
    torch.testing.assert_close(norms, batched.norm(dim=1))


def test_penalties_of_a_network_critic_read_its_logits():
    """A gankit critic's forward gives its dict of heads; the penalties take a function to its logits, and their
    per-sample gradients are those of each sample's own logit."""
    torch.manual_seed(1)
    d = build_discriminator(NetConfig(arch="mlp", width=16, depth=2, activation="tanh"), (3,))
    x = torch.randn(5, 3)
    assert isinstance(d(x), dict)
    logits = lambda v: d(v)["logits"]  # noqa: E731
    expected = []
    for i in range(5):
        xi = x[i : i + 1].clone().requires_grad_(True)
        (alone,) = torch.autograd.grad(d.heads(xi)["logits"].sum(), xi)
        expected.append(alone[0])
    grads = torch.stack(expected)
    torch.testing.assert_close(input_gradients(logits, x), grads)
    torch.testing.assert_close(r1_penalty(logits, x), 0.5 * grads.pow(2).sum(dim=1))
    gp = gradient_penalty(logits, x, torch.randn(5, 3), torch.Generator().manual_seed(0))
    assert gp.shape == (5,) and torch.isfinite(gp).all()


def test_interpolates_lie_on_the_segments():
    real, fake = torch.zeros(500, 2, 3), torch.ones(500, 2, 3)
    x = interpolates(real, fake, torch.Generator().manual_seed(1))
    eps = 1 - x[:, 0, 0]
    assert torch.equal(x, (1 - eps)[:, None, None].expand_as(x))  # one ε per sample, shared by its entries
    assert eps.min() >= 0 and eps.max() <= 1 and abs(eps.mean().item() - 0.5) < 0.05


def test_r1_is_half_the_squared_gradient_norm():
    critic = _linear_critic([3.0, 4.0])
    torch.testing.assert_close(r1_penalty(critic, torch.randn(4, 2)), torch.full((4,), 12.5))
    quadratic = lambda x: (x**2).sum(dim=1)  # noqa: E731  ∇ = 2x, ½‖2x‖² = 2‖x‖²
    x = torch.randn(7, 3)
    torch.testing.assert_close(r1_penalty(quadratic, x), 2 * (x**2).sum(dim=1))


def test_clip_weights_bounds_every_parameter():
    module = nn.Linear(10, 10)
    with torch.no_grad():
        module.weight.mul_(100)
    clip_weights(module, 0.01)
    assert all(p.abs().max() <= 0.01 for p in module.parameters())
    assert (module.weight.abs() == 0.01).any()


def test_historical_average_is_the_running_mean_and_its_penalty_vanishes_there():
    module = nn.Linear(2, 1)
    average: dict[str, torch.Tensor] = {}
    values = []
    for t in range(4):
        with torch.no_grad():
            module.weight.fill_(float(t))
            module.bias.fill_(float(2 * t))
        values.append(module.weight.detach().clone())
        update_historical_average(module, average, t)
    torch.testing.assert_close(average["weight"], torch.stack(values).mean(0))
    with torch.no_grad():
        module.weight.copy_(average["weight"])
        module.bias.copy_(average["bias"])
    assert historical_average_penalty(module, average).item() == 0.0
    with torch.no_grad():
        module.bias.add_(0.5)
    assert historical_average_penalty(module, average).item() == pytest.approx(0.25)
