"""gankit probe's pure parts: the labelled draws, the classifiers against scikit-learn's, the cluster matching."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gankit.config import DataConfig
from gankit.data.combinators import labelled, labelled_subset
from gankit.data.images import mnist5k
from gankit.errors import GankitError
from gankit.metrics.probes import _classifier_labels, cluster_accuracy, per_class_labels, probe_features

CENTRES = np.random.default_rng(99).normal(size=(3, 12)) * 1.5  # three classes, one centre each


def _features(seed: int = 0, n: int = 300):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CENTRES)), n // len(CENTRES))
    return rng.normal(size=(len(labels), CENTRES.shape[1])) + CENTRES[labels], labels


def test_probe_accuracies_equal_scikit_learn_fitted_on_the_same_draws():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    train, train_y = _features(0)
    test, test_y = _features(1)
    out = probe_features(train, train_y, test, test_y, labels=30, seeds=[0, 1, 2], classes=3)
    for i, seed in enumerate([0, 1, 2]):
        idx = labelled_subset(train_y, 10, seed)
        scaler = StandardScaler().fit(train[idx])
        linear = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(train[idx]), train_y[idx])
        assert out["linear"][i] == float((linear.predict(scaler.transform(test)) == test_y).mean())
        nn1 = KNeighborsClassifier(n_neighbors=1).fit(train[idx], train_y[idx])
        assert out["nn1"][i] == float((nn1.predict(test) == test_y).mean())
    assert 0.5 < np.mean(out["linear"]) <= 1.0, "separable clusters should be classified well above chance"


def test_labelled_draws_are_balanced_fixed_by_seed_and_come_from_the_train_split_only():
    train, test = mnist5k(DataConfig(name="mnist5k", split="train")), mnist5k(DataConfig(name="mnist5k", split="test"))
    labels = train.fixed("y").numpy()
    a = labelled_subset(labels, 10, 0)
    assert np.array_equal(a, labelled_subset(labels, 10, 0)) and not np.array_equal(a, labelled_subset(labels, 10, 1))
    assert np.bincount(labels[a], minlength=10).tolist() == [10] * 10
    assert len(set(a.tolist())) == 100 and a.max() < len(labels)
    # the labelled digits are train digits: none of them is a test digit
    train_images = train.fixed("x")[a].reshape(len(a), -1).numpy()
    test_images = test.fixed("x").reshape(len(test), -1).numpy()
    seen = {row.tobytes() for row in test_images}
    assert not any(row.tobytes() in seen for row in train_images)


def test_label_counts_that_the_split_cannot_give_are_refused():
    labels = np.repeat(np.arange(10), 450)
    assert per_class_labels(100, 10, labels) == 10
    assert per_class_labels(4500, 10, labels) == 450
    with pytest.raises(GankitError, match="only 450"):
        per_class_labels(5000, 10, labels)
    with pytest.raises(GankitError, match="multiple of the 10 classes"):
        per_class_labels(105, 10, labels)


def test_cluster_accuracy_is_the_best_one_to_one_matching_or_the_majority_class():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    clusters = np.where(rng.random(200) < 0.8, (labels + 1) % 4, rng.integers(0, 4, 200))
    accuracy, how = cluster_accuracy(clusters, labels, 4, 4)
    best = max(np.mean(np.array(perm)[clusters] == labels) for perm in itertools.permutations(range(4)))
    assert how == "hungarian" and accuracy == pytest.approx(best)
    many = rng.integers(0, 7, 200)
    accuracy, how = cluster_accuracy(many, labels, 7, 4)
    majority = sum(np.bincount(labels[many == c], minlength=4).max() for c in range(7) if (many == c).any()) / 200
    assert how == "majority" and accuracy == pytest.approx(majority)


def test_the_own_classifiers_labels_are_the_runs_labelled_stream():
    from types import SimpleNamespace

    digits = mnist5k(DataConfig(name="mnist5k", split="test"))
    assert _classifier_labels(SimpleNamespace(source=labelled(digits, 2, 3))) == {"labels": 20, "label_seed": 3}
    assert _classifier_labels(SimpleNamespace(source=None)) is None  # trained without a labelled subset
    assert _classifier_labels(SimpleNamespace(source=digits)) is None
