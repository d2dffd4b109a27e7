"""The EMA of a player: the exponential average of its weights; BatchNorm statistics copied; spectral norm's ũ, ṽ its own."""

from __future__ import annotations

import torch
from torch import nn

from gankit.nets import SpectralNorm, apply_spectral_norm
from gankit.train.ema import make_ema, update_ema


def _train(net: nn.Module, steps: int, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(steps):
        opt.zero_grad()
        x = torch.randn(16, 4, generator=generator)
        (net(x) - x[:, :1].sin()).pow(2).mean().backward()
        opt.step()


def test_batch_norm_statistics_are_copied_and_weights_averaged():
    torch.manual_seed(0)
    players = {"g": nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))}
    ema = make_ema(players, ("g",))
    start = [p.detach().clone() for p in ema["g"].parameters()]
    _train(players["g"], 3)
    update_ema(ema, players, 0.9)
    for avg, p0, p in zip(ema["g"].parameters(), start, players["g"].parameters(), strict=True):
        torch.testing.assert_close(avg, 0.9 * p0 + 0.1 * p)
    live_bn, ema_bn = players["g"][1], ema["g"][1]
    assert torch.equal(ema_bn.running_mean, live_bn.running_mean) and torch.equal(ema_bn.running_var, live_bn.running_var)
    assert ema_bn.num_batches_tracked == live_bn.num_batches_tracked == 3


def test_spectral_norm_vectors_of_the_ema_are_its_own_power_iteration():
    """ũ, ṽ estimate σ of the weight they belong to: the EMA's are one power iteration per update on the averaged
    weight, from its own previous ũ, never the live network's (whose weight is a different matrix)."""
    torch.manual_seed(1)
    players = {"d": apply_spectral_norm(nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)))}
    ema = make_ema(players, ("d",))
    for step in range(5):
        _train(players["d"], 2, seed=step)
        before = {name: m.u.clone() for name, m in ema["d"].named_modules() if isinstance(m, SpectralNorm)}
        update_ema(ema, players, 0.5)
        for name, m in ema["d"].named_modules():
            if not isinstance(m, SpectralNorm):
                continue
            live = players["d"].get_submodule(name)
            assert not torch.equal(m.v, live.v)  # (ũ of the 1-output layer is ±1 in both)
            matrix = m._matrix(m.layer.weight)
            v = nn.functional.normalize(matrix.t() @ before[name], dim=0)
            torch.testing.assert_close(m.v, v)
            torch.testing.assert_close(m.u, nn.functional.normalize(matrix @ v, dim=0))
            assert not m.stale  # its estimate is current: saving the EMA does not flag it as needing an iteration


def test_ema_sigma_estimate_converges_on_the_averaged_weights():
    torch.manual_seed(2)
    players = {"d": apply_spectral_norm(nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)))}
    ema = make_ema(players, ("d",))
    for step in range(200):
        _train(players["d"], 1, seed=step)
        update_ema(ema, players, 0.9)
    for m in ema["d"].modules():
        if isinstance(m, SpectralNorm):
            true_sigma = torch.linalg.svdvals(m._matrix(m.layer.weight))[0].item()
            assert abs(m.sigma().item() - true_sigma) < 1e-3 * true_sigma
