"""Standing statistics (gankit.sampling.standing): an EMA copy with batch norm samples with statistics of its own."""

from __future__ import annotations

import torch

from gankit.config import load_config
from gankit.sampling import draw_samples
from gankit.train.loop import build_state
from gankit.variants.base import latent


def test_ema_generator_with_batchnorm_samples_with_standing_statistics():
    """The EMA copy's BatchNorm statistics are recomputed for its own weights, whatever its buffers hold."""
    state = build_state(load_config("gan-ring", ["train.ema=0.99", "train.device=cpu"]))  # G has BatchNorm
    g_ema = state.ema["g"]
    for m in g_ema.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.fill_(50.0)  # garbage statistics, as if copied from a very different live generator
            m.running_var.fill_(1e-4)
    buffers = {k: v.clone() for k, v in g_ema.state_dict().items()}
    samples = draw_samples(state, 4096, seed=1)
    assert all(torch.equal(buffers[k], v) for k, v in g_ema.state_dict().items())  # the EMA copy itself is untouched
    with torch.no_grad():
        z = latent(4096, 2, "normal", torch.Generator().manual_seed(1), torch.device("cpu"))
        reference = g_ema.train()(z)  # batch statistics of 4,096 samples ~ the population statistics
        g_ema.eval()
    assert (samples - reference).abs().mean() < 0.05


def test_standing_copies_are_reused_until_a_weight_or_buffer_changes():
    from gankit.sampling.standing import with_standing_statistics

    state = build_state(load_config("gan-ring", ["train.ema=0.99", "train.device=cpu"]))
    first = with_standing_statistics(state, state.sampling_players)["g"]
    assert with_standing_statistics(state, state.sampling_players)["g"] is first  # same weights: no recomputation
    before = draw_samples(state, 64, seed=3)
    with torch.no_grad():
        next(state.ema["g"].parameters()).mul_(1.5)  # an in-place update, as an EMA step or a checkpoint load makes
    second = with_standing_statistics(state, state.sampling_players)["g"]
    assert second is not first
    stats = lambda net: torch.cat([m.running_mean for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)])  # noqa: E731
    assert not torch.allclose(stats(first), stats(second))
    assert not torch.equal(before, draw_samples(state, 64, seed=3))
