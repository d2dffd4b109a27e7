"""CatGAN: the entropy terms on D's K logits, the labelled cross-entropy of the semi-supervised form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.losses import catgan_d_loss, catgan_g_loss
from gankit.sampling import classify_inputs
from gankit.train.ema import update_ema
from gankit.variants.base import latent
from tests.variants.steps import run_step, step_context, tiny_state

SMALL = ["model.g.width=8", "model.d.width=8", "model.z_dim=6"]


def test_the_d_step_is_the_entropy_terms_of_real_and_generated_batches():
    state = tiny_state("catgan-mnist", SMALL)
    v = state.variant
    step = next(s for s in v.steps if s.name == "d")
    replay = torch.Generator().set_state(state.noise.get_state())
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    with torch.no_grad():
        fake = v.players["g"](latent(ctx.n, 6, "normal", replay, state.device))
        expected = catgan_d_loss(v.players["d"](ctx.batch["x"])["logits"], v.players["d"](fake)["logits"])
    assert set(losses) == set(expected)
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key])
    assert v.classify is not None and v.clusters and v.players["d"](ctx.batch["x"])["logits"].shape == (8, 10)


def test_semi_supervised_catgan_adds_the_labelled_cross_entropy_and_its_classes_are_labels():
    state = tiny_state("catgan-semi-mnist", SMALL)
    v = state.variant
    assert not v.clusters and set(state.streams) == {"train", "labelled"}
    step = next(s for s in v.steps if s.name == "d")
    ctx = step_context(state, step)
    losses = step.objective(ctx)
    labelled = ctx.batches["labelled"]
    with torch.no_grad():
        expected = F.cross_entropy(v.players["d"](labelled["x"])["logits"], labelled["y"], reduction="none")
    assert set(losses) == {"d_certain", "d_balance", "d_uncertain", "d_sup"}
    torch.testing.assert_close(losses["d_sup"], expected)  # batch norm in training mode: the batch's own statistics
    losses, changed = run_step(state, "g")
    assert changed == {"g"} and set(losses) == set(catgan_g_loss(torch.zeros(2, 10)))


def test_catgan_on_the_circles_has_two_categories():
    state = tiny_state("catgan-circles", ["model.g.width=8", "model.d.width=8"])
    v = state.variant
    x = state.streams["train"].next(16)["x"]
    assert x.shape == (16, 2)
    assert v.classify(v.players, x).shape == (16, 2)


def test_catgan_clustering_into_more_categories_than_digits_is_scored_by_majority():
    from gankit.metrics.probes import cluster_accuracy

    state = tiny_state("catgan-cluster-mnist", SMALL)
    v = state.variant
    x = state.streams["train"].next(8)["x"]
    assert v.clusters and v.classify(v.players, x).shape == (8, 30)
    clusters, digits = np.array([0, 0, 0, 29, 29, 5]), np.array([3, 3, 7, 1, 1, 1])  # cluster 0: two 3s and a 7
    assert cluster_accuracy(clusters, digits, 30, 10) == (5 / 6, "majority")


def test_an_averaged_d_classifies_when_asked_and_needs_the_moving_average_on():
    state = tiny_state("catgan-cluster-mnist", [*SMALL, "options.average_d=true", "train.ema=0.5"])
    v = state.variant
    assert set(state.ema) == {"g", "d"}
    run_step(state, "d")
    update_ema(state.ema, v.players, 0.5)
    x = state.streams["train"].next(6)["x"]
    averaged, live = classify_inputs(state, x), classify_inputs(state, x, use_ema=False)
    with torch.no_grad():
        state.ema["d"].eval()
        torch.testing.assert_close(averaged, state.ema["d"](x)["logits"])
    assert not torch.allclose(averaged, live)
    assert set(tiny_state("catgan-mnist", [*SMALL, "train.ema=0.5"]).ema) == {"g"}  # by default only G is averaged
    with pytest.raises(GankitError, match=r"options\.average_d"):
        load_config("catgan-cluster-mnist", ["options.average_d=true", "train.ema=0"])
