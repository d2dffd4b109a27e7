"""The toy distributions: centres, spreads, and a data stream that can be resumed exactly."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.errors import GankitError


def test_ring_has_8_modes_of_radius_2_at_angles_2pi_k_over_8():
    ring = build_dataset(DataConfig(name="ring"))
    assert ring.centres.shape == (8, 2)
    assert ring.std == 0.02
    torch.testing.assert_close(ring.centres.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(ring.centres[:, 1], ring.centres[:, 0]) % (2 * math.pi)
    torch.testing.assert_close(angles, 2 * math.pi * torch.arange(8) / 8, atol=1e-5, rtol=0)


def test_grid_has_25_modes_on_minus4_to_4():
    grid = build_dataset(DataConfig(name="grid"))
    assert grid.std == 0.05
    points = {(round(x), round(y)) for x, y in grid.centres.tolist()}
    assert points == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


def test_gaussian_1d_is_the_seeds_example():
    g = build_dataset(DataConfig(name="gaussian1d"))
    assert g.centres.tolist() == [[4.0]] and g.std == 0.5
    x = g.sample(200_000, torch.Generator().manual_seed(0))
    assert x.shape == (200_000, 1)
    assert x.mean().item() == pytest.approx(4.0, abs=0.01)
    assert x.std().item() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("name", ["gaussian1d", "ring", "grid"])
def test_samples_spread_around_their_nearest_centre_with_the_given_std(name: str):
    data = build_dataset(DataConfig(name=name))
    x = data.sample(50_000, torch.Generator().manual_seed(1))
    _, nearest = torch.cdist(x, data.centres).min(dim=1)
    per_axis_std = (x - data.centres[nearest]).std(dim=0)
    torch.testing.assert_close(per_axis_std, torch.full((data.dim,), data.std), rtol=0.03, atol=0)
    counts = torch.bincount(nearest, minlength=len(data.centres)).float()
    assert counts.min() > 0.8 * counts.mean()  # equally weighted components


def test_log_density_integrates_to_one_in_1d():
    g = build_dataset(DataConfig(name="gaussian1d"))
    x = torch.linspace(-2, 10, 20001)[:, None]
    total = g.log_density(x).exp().sum().item() * (x[1] - x[0]).item()
    assert total == pytest.approx(1.0, abs=1e-4)


def test_overrides_change_the_distribution():
    ring = build_dataset(DataConfig(name="ring", modes=5, radius=3.0, std=0.1))
    assert ring.centres.shape == (5, 2) and ring.std == 0.1
    torch.testing.assert_close(ring.centres.norm(dim=1), torch.full((5,), 3.0))


def test_stream_is_deterministic_and_resumes_from_its_state():
    data = build_dataset(DataConfig(name="ring"))
    a, b = data.stream(16, seed=3), data.stream(16, seed=3)
    torch.testing.assert_close(a.next()["x"], b.next()["x"])
    state = a.state_dict()
    expected = [a.next()["x"] for _ in range(3)]
    c = data.stream(16, seed=99)
    c.load_state_dict(state)
    for want in expected:
        assert torch.equal(c.next()["x"], want)
    assert not torch.equal(data.stream(16, seed=4).next()["x"], data.stream(16, seed=3).next()["x"])


@pytest.mark.parametrize("name", ["circles", "moons"])
def test_two_class_point_sets_are_scikit_learns_fixed_draws_with_disjoint_splits(name):
    from sklearn.datasets import make_circles, make_moons

    train = build_dataset(DataConfig(name=name, split="train"))
    again = build_dataset(DataConfig(name=name, split="train"))
    test = build_dataset(DataConfig(name=name, split="test"))
    assert len(train) == len(test) == 1000 and train.fields["x"].shape == (2,) and train.fields["y"].classes == 2
    assert torch.equal(train.fixed("x"), again.fixed("x")) and not torch.equal(train.fixed("x"), test.fixed("x"))
    if name == "circles":
        x, y = make_circles(1000, noise=0.05, factor=0.5, random_state=0)
        assert torch.allclose(train.fixed("x"), torch.from_numpy(x).float()) and torch.equal(train.fixed("y"), torch.from_numpy(y))
        radius = train.fixed("x").norm(dim=1)
        assert radius[train.fixed("y") == 0].mean() > 0.9 and radius[train.fixed("y") == 1].mean() < 0.6  # outer, inner
    else:
        x, _ = make_moons(1000, noise=0.05, random_state=0)
        assert torch.allclose(train.fixed("x") + torch.tensor([0.5, 0.25]), torch.from_numpy(x).float())
    batch = train.streams(0)["train"].next(7)
    assert batch["x"].dtype == torch.float32 and batch["y"].dtype == torch.int64
    with pytest.raises(GankitError, match="splits train, test"):
        build_dataset(DataConfig(name=name, split="val"))
