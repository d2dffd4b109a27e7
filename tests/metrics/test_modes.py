"""VEEGAN mode coverage against hand-made cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.errors import GankitError
from gankit.metrics.modes import mode_coverage


@pytest.fixture
def ring():
    return build_dataset(DataConfig(name="ring"))


def test_real_data_covers_all_modes_with_the_chi_square_share_of_high_quality(ring):
    x = ring.sample(100_000, torch.Generator().manual_seed(0))
    score = mode_coverage(x, ring.centres, ring.std)
    assert score.modes == 8 and score.modes_total == 8
    # In 2-D, P(|x - c| <= 3 std) = 1 - exp(-9/2) for an isotropic Gaussian.
    assert score.high_quality_pct == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.15)
    assert score.reverse_kl < 1e-3


def test_all_samples_on_one_mode_give_one_mode_and_kl_log_k(ring):
    x = ring.centres[3].repeat(2500, 1)
    score = mode_coverage(x, ring.centres, ring.std)
    assert score.modes == 1
    assert score.high_quality_pct == 100.0
    assert score.reverse_kl == pytest.approx(math.log(8))


def test_hand_made_histogram():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    std = 0.1
    samples = torch.tensor(
        [[0.0, 0.0], [0.05, 0.0], [10.0, 0.29], [10.0, 0.31], [4.0, 4.0], [0.0, 10.0]]
    )  # nearest: 0, 0, 1 (HQ), 1 (not HQ: 0.31 > 3 std), 0 (far), 2 (HQ)
    score = mode_coverage(samples, centres, std)
    assert score.modes == 3
    assert score.high_quality_pct == pytest.approx(100 * 4 / 6)
    share = torch.tensor([3, 2, 1]) / 6
    assert score.reverse_kl == pytest.approx(float((share * torch.log(share * 4)).sum()))


def test_far_away_samples_capture_nothing(ring):
    score = mode_coverage(torch.full((100, 2), 50.0), ring.centres, ring.std)
    assert score.modes == 0 and score.high_quality_pct == 0.0


def test_bad_inputs_are_user_errors(ring):
    with pytest.raises(GankitError, match="dimensions"):
        mode_coverage(torch.zeros(10, 3), ring.centres, ring.std)
    with pytest.raises(GankitError, match="not finite"):
        mode_coverage(torch.full((10, 2), float("nan")), ring.centres, ring.std)
