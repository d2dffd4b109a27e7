"""How good a model's representation is for a task with few labels (``gankit probe``): a linear classifier and a
1-nearest-neighbour classifier fitted on the features of K labelled train items (the same seeded draws for every
model, :func:`gankit.data.combinators.labelled_subset`), scored on the test split; and, for models with their own
classifier, its accuracy on the test split, or for a clustering model the accuracy of its clusters matched to the
classes. Pure functions of features and labels; the classifiers are scikit-learn's."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from gankit.data.combinators import labelled_subset
from gankit.errors import GankitError

LINEAR_C = 1.0  # inverse L2 strength of the logistic regression, on standardised features
LINEAR_MAX_ITER = 2000


def linear_classifier() -> Any:
    """Standardised features into an L2-regularised multinomial logistic regression (lbfgs)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=LINEAR_C, max_iter=LINEAR_MAX_ITER))


def nearest_neighbour() -> Any:
    """1-NN in Euclidean distance on the raw features (the usual protocol for learned encoders' features)."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=1)


def per_class_labels(labels: int, classes: int, available: np.ndarray) -> int:
    """K labels spread evenly over ``classes``: K / classes per class, checked against what the split has."""
    if labels < classes or labels % classes:
        raise GankitError(f"--labels {labels}: give a multiple of the {classes} classes (the labelled items are drawn class-balanced)")
    per_class = labels // classes
    fewest = int(np.bincount(available, minlength=classes).min())
    if per_class > fewest:
        raise GankitError(
            f"--labels {labels} asks for {per_class} per class, but the train split has only {fewest} of its smallest class; use at most {fewest * classes}"
        )
    return per_class


def probe_features(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray, labels: int, seeds: list[int], classes: int
) -> dict[str, Any]:
    """Test accuracy of a linear and a 1-NN classifier fitted on ``labels`` labelled train features (drawn per seed by
    :func:`labelled_subset`): ``{"linear": [acc per seed], "nn1": [...]}``."""
    per_class = per_class_labels(labels, classes, train_labels)
    out: dict[str, list[float]] = {"linear": [], "nn1": []}
    for seed in seeds:
        idx = labelled_subset(train_labels, per_class, seed, classes)
        for name, model in (("linear", linear_classifier()), ("nn1", nearest_neighbour())):
            model.fit(train[idx], train_labels[idx])
            out[name].append(float((model.predict(test) == test_labels).mean()))
    return out


def cluster_accuracy(clusters: np.ndarray, labels: np.ndarray, n_clusters: int, classes: int) -> tuple[float, str]:
    """Unsupervised accuracy of cluster assignments: with as many clusters as classes, the one-to-one matching that
    agrees with the most items (Hungarian); with more clusters, each cluster takes its most frequent class (the
    protocol of Makhzani et al., 2016 for 16 and 30 clusters). Returns the accuracy and the matching's name."""
    counts = np.zeros((n_clusters, classes), dtype=np.int64)
    np.add.at(counts, (clusters.astype(np.int64), labels.astype(np.int64)), 1)
    if n_clusters <= classes:
        rows, cols = linear_sum_assignment(counts, maximize=True)
        return float(counts[rows, cols].sum() / counts.sum()), "hungarian"
    return float(counts.max(axis=1).sum() / counts.sum()), "majority"


def mean_std(values: list[float]) -> dict[str, float]:
    xs = np.asarray(values, dtype=np.float64)
    return {"mean": float(xs.mean()), "std": float(xs.std(ddof=1)) if len(xs) > 1 else 0.0}


def _split(state: Any, split: str, field: str) -> tuple[Any, Any]:
    """Every item of ``split`` of the run's data: inputs (model range) and labels."""
    from dataclasses import replace

    import torch

    from gankit.data import build_dataset
    from gankit.data.base import to_model_range

    data = build_dataset(replace(state.cfg.data, split=split))
    if "y" not in data.fields or data.fields["y"].kind != "label" or data.fixed("y") is None:
        name = state.cfg.data.name
        raise GankitError(f"`gankit probe` needs a fixed set of labelled items; data '{name}' has no labels (for a folder, set data.labels=true)")
    x = data.fixed(field)
    x = to_model_range(x) if x.dtype == torch.uint8 else x
    return x, data.fixed("y").numpy()


def _classifier_labels(variant: Any) -> dict[str, int] | None:
    """The labelled train items a semi-supervised run's own classifier learnt from (its ``labelled`` stream: how many,
    and the draw's seed); None for a run that did not train on a labelled subset."""
    from gankit.data.combinators import Labelled

    source = variant.source
    if not isinstance(source, Labelled):
        return None
    return {"labels": len(source.subset), "label_seed": int(source.seed)}


def probe_run(run: Any, labels: int | None, seeds: list[int], *, step: int | None = None, use_ema: bool = True) -> dict[str, Any]:
    """``gankit probe``: a run's features (``encode``) of the train and test splits of its data, scored by
    :func:`probe_features` with ``labels`` labelled train items per seed (None: every train item), and its own
    classifier (``classify``) on the test split. Merged into ``RUN/eval.json`` under ``probe_<labels>``; returns that
    entry."""
    import json

    from gankit import __version__
    from gankit.files import atomic_write
    from gankit.metrics import _jsonable, merge_results, read_eval
    from gankit.sampling import cannot, classify_inputs, encode_inputs
    from gankit.train.loop import load_run

    if len(set(seeds)) != len(seeds) or not seeds:
        raise GankitError(f"--seeds must be distinct label draws, e.g. 0,1,2,3,4 (got {', '.join(map(str, seeds)) or 'none'})")
    path, state, payload = load_run(run, step=step)
    v = state.variant
    if v.encode is None and v.classify is None:
        raise cannot(state, "probe")
    field = v.encodes
    train_x, train_y = _split(state, "train", field)
    test_x, test_y = _split(state, "test", field)
    classes = int(state.data.fields["y"].classes) or int(max(train_y.max(), test_y.max()) + 1)
    if labels is not None:
        per_class_labels(labels, classes, train_y)
    ema = use_ema and bool(state.ema)
    value: dict[str, Any] = {}
    per_seed: dict[str, Any] = {}
    if v.encode is not None:
        train_f = encode_inputs(state, train_x, use_ema=ema).numpy()
        test_f = encode_inputs(state, test_x, use_ema=ema).numpy()
        if labels is None:
            scores = {"linear": [], "nn1": []}
            for name, model in (("linear", linear_classifier()), ("nn1", nearest_neighbour())):
                model.fit(train_f, train_y)
                scores[name].append(float((model.predict(test_f) == test_y).mean()))
        else:
            scores = probe_features(train_f, train_y, test_f, test_y, labels, seeds, classes)
        value |= {name: mean_std(accs) for name, accs in scores.items()}
        per_seed = {str(s): {name: accs[i] for name, accs in scores.items()} for i, s in enumerate(seeds if labels is not None else seeds[:1])}
        value["features"] = int(train_f.shape[1])
    if v.classify is not None:
        logits = classify_inputs(state, test_x, use_ema=ema)
        predicted = logits.argmax(dim=1).numpy()
        if v.clusters:
            accuracy, matching = cluster_accuracy(predicted, test_y, int(logits.shape[1]), classes)
            value |= {"clusters": accuracy, "cluster_matching": matching}
        else:
            value["classifier"] = float((predicted == test_y).mean())
    trained_on = _classifier_labels(v) if v.classify is not None and not v.clusters else None
    entry = {
        "value": value,
        "protocol": {
            "metric": "probe",
            "description": "linear (standardised features, logistic regression C=1) and 1-NN test accuracy of encoded features fitted on K "
            "labelled train items (class-balanced draws per seed, shared by every model); the model's own classifier (or clusters, "
            "Hungarian-matched for as many clusters as classes, majority class otherwise) on the whole test split",
            "n": labels if labels is not None else len(train_y),
            "seed": seeds if labels is not None else None,
            "ema": ema,
            "step": int(payload["step"]),
            "split": "train (labelled draws) -> test",
            "train_items": len(train_y),
            "test_items": len(test_y),
            "gankit_version": __version__,
        },
    }
    if trained_on is not None:  # the own classifier's labels are the run's, whatever --labels / --seeds the probes use
        entry["protocol"]["classifier_trained_on"] = trained_on
    if per_seed and labels is not None and len(seeds) > 1:
        entry["per_seed"] = per_seed
    key = f"probe_{labels if labels is not None else 'all'}"
    out = path / "eval.json"
    merged = merge_results(read_eval(out), {key: entry})
    atomic_write(out, lambda f: f.write((json.dumps(merged, indent=2, default=_jsonable) + "\n").encode()))
    return {key: entry}
