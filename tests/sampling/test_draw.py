"""Drawing from trained runs (gankit.sampling.draw): spherical interpolation, and interpolations drawn with the same
players as samples."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.config import load_config
from gankit.data.images import to_unit_range
from gankit.sampling import draw_samples, interpolation_frames, slerp
from gankit.train.loop import load_run, train


def test_slerp_endpoints_and_norm():
    z0, z1 = torch.randn(4, 16), torch.randn(4, 16)
    torch.testing.assert_close(slerp(z0, z1, torch.tensor(0.0)), z0)
    torch.testing.assert_close(slerp(z0, z1, torch.tensor(1.0)), z1, atol=1e-5, rtol=1e-5)
    a, b = torch.nn.functional.normalize(torch.randn(3, 16), dim=1), torch.nn.functional.normalize(torch.randn(3, 16), dim=1)
    for t in (0.25, 0.5, 0.8):
        torch.testing.assert_close(slerp(a, b, torch.tensor(t)).norm(dim=1), torch.ones(3))  # stays on the sphere


DIGITS_TINY = [
    "train.steps=4",
    "train.batch_size=16",
    "train.log_every=2",
    "train.sample_every=4",
    "train.ckpt_every=4",
    "train.sample_n=10",
    "train.device=cpu",
    "train.progress=none",
    "train.ema=0.5",
    "train.ema_start=0",
    "model.g.width=8",
    "model.d.width=8",
]


def test_interpolation_frames_use_the_players_samples_use(tmp_path):
    """`interpolate` and `sample` draw with the same players: the EMA generator with standing batch-norm statistics.
    The first frame of each row of an interpolation is the image of that row's first latent point, so it must equal
    draw_samples' image of the same z. (Version 1's interpolate decoded with the EMA copy's stored statistics, which
    the live generator's batches left there, and failed this.)"""
    run = train(load_config("dcgan-digits", DIGITS_TINY), Path(tmp_path))  # G with batch norm, an EMA of it
    _, state, _ = load_run(run)
    rows, steps, seed = 5, 4, 7
    frames = interpolation_frames(state, rows, steps, seed)
    assert frames.shape == (rows, steps, *state.data.shape)

    # interpolation_frames draws rows x (keyframes + 1) points from the spec; each row's path starts at its first point
    points = state.variant.latents.draw(rows * 2, torch.Generator(device=state.device).manual_seed(seed), state.device)
    z = points["z"][:rows]
    samples = draw_samples(state, rows, seed=0, codes={"z": z})
    torch.testing.assert_close(frames[:, 0], to_unit_range(samples), atol=1e-5, rtol=0)

    # the test tells the two apart: the EMA copy with its stored statistics makes other images of the same z
    g_ema = state.sampling_players["g"]
    with torch.no_grad():
        stored = to_unit_range(g_ema.eval()(z))
    assert (stored - frames[:, 0]).abs().max() > 0.05
