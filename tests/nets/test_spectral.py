"""Spectral normalisation: the power iteration against the SVD, one iteration per weight update, checkpoints."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from gankit.config import NetConfig
from gankit.nets import SpectralNorm, apply_spectral_norm, build_discriminator


def _top_singular_value(layer: SpectralNorm, weight: torch.Tensor) -> float:
    return torch.linalg.svdvals(layer._matrix(weight.detach()))[0].item()


@pytest.mark.parametrize(
    "layer",
    [nn.Linear(20, 30), nn.Conv2d(3, 16, 3), nn.ConvTranspose2d(16, 8, 4, 2, 1)],
    ids=["linear", "conv", "conv-transpose"],
)
def test_power_iteration_converges_to_the_largest_singular_value(layer):
    torch.manual_seed(0)
    sn = SpectralNorm(layer)
    sn.power_iteration(200)
    sigma = _top_singular_value(sn, layer.weight)
    assert abs(sn.sigma().item() - sigma) < 1e-3 * sigma
    assert _top_singular_value(sn, sn.normalized_weight()) == pytest.approx(1.0, abs=1e-3)


def test_conv_transpose_is_normalised_along_its_output_dimension():
    sn = SpectralNorm(nn.ConvTranspose2d(16, 8, 4))
    assert sn._matrix(sn.layer.weight).shape == (8, 16 * 16)


def test_forward_uses_the_normalised_weight():
    torch.manual_seed(1)
    sn = SpectralNorm(nn.Linear(5, 4))
    x = torch.randn(3, 5)
    y = sn(x)  # training mode: one iteration first
    expected = x @ (sn.layer.weight / sn.sigma()).t() + sn.layer.bias
    torch.testing.assert_close(y, expected)


def test_one_iteration_per_weight_update_however_many_forwards():
    torch.manual_seed(2)
    sn = SpectralNorm(nn.Linear(6, 6))
    opt = torch.optim.SGD(sn.parameters(), lr=0.1)
    x = torch.randn(4, 6)
    calls = []
    original = sn.power_iteration
    sn.power_iteration = lambda iterations=1: (calls.append(iterations), original(iterations))  # type: ignore[method-assign]
    for _ in range(3):
        opt.zero_grad()
        loss = sn(x).sum() + sn(x + 1).pow(2).sum() + sn(-x).sum()  # three forwards, one update
        loss.backward()
        opt.step()
    assert calls == [1, 1, 1]
    sn.eval()
    u = sn.u.clone()
    sn(x)
    assert torch.equal(sn.u, u)  # evaluation never iterates


def test_one_iteration_per_step_converges_across_steps_because_u_persists():
    """A single power iteration per update suffices because ũ carries over from step to step: once W stops moving,
    the estimate converges to σ(W) within a few hundred updates (without persistence it would stay one iteration
    from a random start)."""
    torch.manual_seed(3)
    sn = SpectralNorm(nn.Linear(16, 16))
    opt = torch.optim.SGD(sn.parameters(), lr=1e-2)
    x = torch.randn(32, 16)
    for _ in range(100):  # W moves
        opt.zero_grad()
        sn(x).pow(2).mean().neg().backward()
        opt.step()
    for group in opt.param_groups:
        group["lr"] = 0.0  # W stops moving; each update still counts as a change, so each forward iterates once
    for _ in range(400):
        opt.zero_grad()
        sn(x).pow(2).mean().backward()
        opt.step()
    true_sigma = _top_singular_value(sn, sn.layer.weight)
    assert abs(sn.sigma().item() - true_sigma) < 1e-3 * true_sigma
    fresh = SpectralNorm(nn.Linear(16, 16))
    fresh.layer.load_state_dict(sn.layer.state_dict())
    fresh.power_iteration(1)
    assert abs(fresh.sigma().item() - true_sigma) > abs(sn.sigma().item() - true_sigma)


def test_u_and_v_are_saved_and_a_reloaded_copy_continues_identically():
    torch.manual_seed(4)
    net = apply_spectral_norm(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
    assert {"0.u", "0.v", "0.stale", "2.u", "2.v"} <= set(net.state_dict())
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(16, 4)

    def train(module, optimizer, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            module(x).pow(2).mean().backward()
            optimizer.step()

    train(net, opt, 3)
    saved = copy.deepcopy((net.state_dict(), opt.state_dict()))
    train(net, opt, 3)

    torch.manual_seed(99)
    other = apply_spectral_norm(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
    other_opt = torch.optim.Adam(other.parameters(), lr=1e-2)
    other.load_state_dict(saved[0])
    other_opt.load_state_dict(saved[1])
    train(other, other_opt, 3)
    for (name, a), b in zip(net.state_dict().items(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_config_switch_wraps_every_layer_of_a_discriminator():
    d = build_discriminator(NetConfig(arch="dcgan", width=8, norm="none", sn=True), (1, 32, 32))
    wrapped = [m for m in d.modules() if isinstance(m, SpectralNorm)]
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(wrapped) == len(convs) >= 4
    assert d(torch.randn(2, 1, 32, 32))["logits"].shape == (2, 1)
    plain = build_discriminator(NetConfig(arch="mlp", width=8, depth=2), (2,))
    assert not any(isinstance(m, SpectralNorm) for m in plain.modules())


def test_projection_embedding_is_spectrally_normalised():
    """Miyato & Koyama (2018) normalise the class embedding of the projection term too, not only the convolutions."""
    torch.manual_seed(5)
    d = build_discriminator(NetConfig(arch="dcgan", width=8, norm="none", sn=True), (1, 28, 28), num_classes=10, conditioning="projection")
    assert isinstance(d.embed, SpectralNorm) and isinstance(d.embed.layer, nn.Embedding)
    d.embed.power_iteration(200)
    assert _top_singular_value(d.embed, d.embed.normalized_weight()) == pytest.approx(1.0, abs=1e-3)
    # the projection term <embed(y), phi(x)> uses the normalised rows
    d.eval()
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    h = d.body(x)
    plain = d.out(h).flatten(1) + (d.embed.normalized_weight()[y] * h.sum(dim=(2, 3))).sum(dim=1, keepdim=True)
    torch.testing.assert_close(d(x, y)["logits"], plain)


def test_apply_spectral_norm_wraps_embeddings():
    net = apply_spectral_norm(nn.ModuleDict({"embed": nn.Embedding(5, 7), "linear": nn.Linear(7, 1)}))
    assert isinstance(net["embed"], SpectralNorm) and isinstance(net["linear"], SpectralNorm)
    assert net["embed"](torch.tensor([1, 3])).shape == (2, 7)
