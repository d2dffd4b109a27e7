"""Toy pictures: generated points outside the data's range are clipped onto the border, marked and counted."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.data.toy import GaussianMixture
from gankit.viz import clip_to_limits, outside_note, plot_1d, plot_2d

RING = GaussianMixture("ring", torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]]), 0.02)
LINE = GaussianMixture("gaussian1d", torch.tensor([[4.0]]), 0.5)
SPAN = 2.0 + 6 * 0.02 + 0.5  # plot_2d's limits for RING


def test_clip_to_limits_moves_outside_points_onto_the_box_and_marks_them():
    points = np.array([[0.0, 0.0], [5.0, 0.5], [-1.0, -7.0], [1.0, 1.0], [math.nan, 0.0], [math.inf, 0.0]])
    clipped, outside = clip_to_limits(points, np.array([-1.0, -2.0]), np.array([1.0, 2.0]))
    assert outside.tolist() == [False, True, True, False, True, True]
    assert int(outside.sum()) == 4
    assert clipped[:4].tolist() == [[0.0, 0.0], [1.0, 0.5], [-1.0, -2.0], [1.0, 1.0]]  # the border itself is inside
    assert math.isnan(clipped[4, 0]) and clipped[5].tolist() == [1.0, 0.0]


def test_outside_note_counts_what_the_picture_cannot_place():
    assert outside_note(0, 2500, "shown on its border") == ""
    assert outside_note(412, 2500, "shown on its border") == "412 of 2500 generated points outside the plot (shown on its border)"
    assert outside_note(0, 10, "x", not_finite=3) == "3 of 10 not finite (not shown)"


def _note(fig) -> str:
    return " ".join(t.get_text() for t in fig.texts)


def _border_points(fig) -> np.ndarray:
    ax = fig.axes[0]
    parts = [c.get_offsets() for c in ax.collections if c.get_gid() == "outside"]
    return np.concatenate(parts) if parts else np.zeros((0, 2))


def test_2d_picture_draws_outside_points_on_the_border_and_says_how_many(tmp_path):
    inside = RING.sample(96, torch.Generator().manual_seed(0))
    far = torch.tensor([[-8.3, 11.9], [-8.3, 11.9], [40.0, 1.0], [0.5, -30.0]])
    fig = plot_2d(RING, torch.cat([inside, far]), tmp_path / "p.png", real=inside)
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert "4 of 100 generated points outside the plot (shown on its border)" in _note(fig)
    on = sorted(map(tuple, _border_points(fig).round(5).tolist()))
    assert on == sorted(map(tuple, np.round([(-SPAN, SPAN), (-SPAN, SPAN), (SPAN, 1.0), (0.5, -SPAN)], 5).tolist()))
    ax = fig.axes[0]
    sides = [c for c in ax.collections if c.get_gid() == "outside"]
    assert len(sides) == 3  # one marker per side left by: the top (both at (-8.3, 11.9)), the right, the bottom
    assert ax.get_xlim() == pytest.approx((-SPAN, SPAN)) and ax.get_ylim() == pytest.approx((-SPAN, SPAN))  # the data's limits


def test_2d_picture_of_points_in_range_has_no_note_or_border_markers(tmp_path):
    fig = plot_2d(RING, RING.sample(200, torch.Generator().manual_seed(1)), tmp_path / "p.png")
    assert _note(fig) == "" and len(_border_points(fig)) == 0


def test_1d_picture_counts_far_samples_in_marked_edge_bins(tmp_path):
    near = 4 + 0.5 * torch.randn(90, generator=torch.Generator().manual_seed(0))
    x = torch.cat([near, torch.full((7,), 1e6), torch.full((2,), -1e6), torch.tensor([math.nan])])
    fig = plot_1d(LINE, x[:, None], tmp_path / "p.png")
    assert "9 of 100 generated points outside the plot (counted in its edge bins, marked)" in _note(fig)
    assert "1 of 100 not finite" in _note(fig)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert hi - lo < 20  # widened towards the far samples by at most a data width a side, not out to 1e6
    bars = ax.patches
    width = bars[0].get_width()
    assert sum(b.get_height() for b in bars) * width == pytest.approx(1.0)  # the far mass is in the bins, not dropped
    assert bars[-1].get_height() * width * 99 == pytest.approx(7, abs=0.5) and bars[0].get_height() * width * 99 >= 2
    marked = [c.get_offsets()[0, 0] for c in ax.collections]
    assert marked == pytest.approx([lo, hi])


def test_1d_picture_of_samples_in_range_keeps_the_old_limits_and_has_no_note(tmp_path):
    x = 4 + 0.5 * torch.randn(500, generator=torch.Generator().manual_seed(0))
    fig = plot_1d(LINE, x[:, None], tmp_path / "p.png")
    assert _note(fig) == "" and len(fig.axes[0].collections) == 0
    lo = min(1.5, float(np.percentile(x.numpy(), 0.5)))
    hi = max(6.5, float(np.percentile(x.numpy(), 99.5)))
    pad = 0.05 * (hi - lo)
    assert fig.axes[0].get_xlim() == pytest.approx((lo - pad, hi + pad))
