"""The supervised-only baseline learns from the labelled stream alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from tests.variants.steps import run_step, tiny_state


def test_the_baseline_trains_on_the_labelled_items_only():
    state = tiny_state("supervised-mnist", ["model.c.width=8"])
    v = state.variant
    (step,) = v.steps
    assert step.streams == ("labelled",)
    subset = state.variant.source.subset
    assert len(subset) == 100
    batch = state.streams["labelled"].next(100)
    labels = state.data.fixed("y")[subset]
    assert sorted(batch["y"].tolist()) == sorted(labels.tolist())
    losses, changed = run_step(state, "c")
    assert changed == {"c"} and set(losses) == {"ce"}
    x = batch["x"][:5]
    with torch.no_grad():
        assert v.classify(v.players, x).shape == (5, 10)
    assert F.softmax(v.classify(v.players, x), dim=1).sum(dim=1).allclose(torch.ones(5))


def test_label_counts_that_are_not_class_balanced_are_refused():
    with pytest.raises(GankitError, match="multiple of the 10 classes"):
        tiny_state("supervised-mnist", ["options.labels=105"])
    with pytest.raises(GankitError, match="fewer than"):
        tiny_state("supervised-mnist", ["options.labels=5000"])
