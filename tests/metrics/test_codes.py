"""The pieces of the 'codes' metric against closed forms: the Hungarian matching against brute force over every
permutation, image moments of drawn bars, Spearman's rho against ranks and Pearson."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from gankit.metrics.codes import confusion_counts, matched_accuracy, rank_correlation, slant_and_width


def test_matching_is_the_best_permutation():
    rng = np.random.default_rng(0)
    for _ in range(5):
        counts = rng.integers(0, 50, size=(5, 5))
        best = max(sum(counts[i, p[i]] for i in range(5)) for p in itertools.permutations(range(5)))
        accuracy, matching = matched_accuracy(counts)
        assert sorted(matching) == list(range(5))
        assert sum(counts[i, matching[i]] for i in range(5)) == best
        assert accuracy == best / counts.sum()


def test_confusion_counts_and_a_relabelled_perfect_code():
    codes = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    predicted = torch.tensor([2, 2, 0, 0, 1, 1, 0])
    counts = confusion_counts(codes, predicted, 3, 3)
    assert counts.tolist() == [[0, 0, 2], [2, 0, 0], [1, 2, 0]]
    accuracy, matching = matched_accuracy(counts)
    assert matching == [2, 0, 1] and accuracy == 6 / 7


def test_slant_and_width_of_bars():
    upright = torch.zeros(1, 1, 28, 28)
    upright[..., 4:24, 12:16] = 1.0  # 4 columns wide: horizontal variance (4² - 1) / 12
    slant, width = slant_and_width(upright)
    assert abs(float(slant)) < 1e-9
    assert abs(float(width) - ((16 - 1) / 12) ** 0.5) < 1e-9
    sheared = torch.zeros(1, 1, 28, 28)
    for r in range(4, 24):  # one pixel per row, moving one column right every two rows: column = r / 2 + c
        sheared[0, 0, r, 4 + r // 2] = 1.0
    slant, _ = slant_and_width(sheared)
    assert 0.45 < float(slant) < 0.55
    mirrored = sheared.flip(-1)
    assert abs(float(slant_and_width(mirrored)[0]) + float(slant)) < 1e-9


def test_rank_correlation_is_pearson_of_ranks():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.normal(size=200)
    b = b + 0.5 * a
    ranks = [np.argsort(np.argsort(v)).astype(float) for v in (a, b)]
    expected = float(np.corrcoef(*ranks)[0, 1])
    assert abs(rank_correlation(torch.from_numpy(a), torch.from_numpy(b)) - expected) < 1e-12
