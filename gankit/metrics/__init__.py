"""Metrics of a trained run, each returned with the protocol it was measured under."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gankit import __version__
from gankit.errors import GankitError
from gankit.metrics.modes import PROTOCOL_SAMPLES, THRESHOLD_STDS, mode_coverage


@dataclass(frozen=True)
class Metric:
    compute: Callable[..., dict[str, Any]]
    default_n: int
    description: str
    protocol: Callable[[], dict[str, Any]] = dict


def _judge_protocol() -> dict[str, Any]:
    from gankit.metrics.classifier import judge_record

    record = judge_record()
    return {
        "extractor": "mnist judge",
        "weights_sha256": record["sha256"],
        "judge_test_accuracy": record["test_accuracy"],
        "resize": "32 px: centre 28 crop; other sizes: bilinear to 28",
        "splits": 10,
    }


def _modes(state, n: int, seed: int, use_ema: bool) -> dict[str, Any]:
    from gankit.sampling import draw_samples

    data = state.data
    if not hasattr(data, "centres"):
        raise GankitError(f"metric 'modes' needs a toy mixture with known centres (ring, grid, gaussian1d), not '{state.cfg.data.name}'")
    samples = draw_samples(state, n, seed, use_ema=use_ema)
    return mode_coverage(samples, data.centres, data.std).as_dict()


def _judge(state, n: int, seed: int, use_ema: bool) -> dict[str, Any]:
    from gankit.data.images import to_unit_range
    from gankit.metrics.classifier import inception_score, judge_outputs
    from gankit.sampling import draw_samples

    data = state.data
    if data.kind != "images" or state.cfg.data.name == "photos":
        raise GankitError(f"metric 'judge' scores digit images; '{state.cfg.data.name}' is not a digit dataset")
    classes = state.variant.num_classes
    labels = torch.arange(n) % classes if classes else None
    images = to_unit_range(draw_samples(state, n, seed, use_ema=use_ema, labels=labels))
    probs, _ = judge_outputs(images)
    predicted = probs.argmax(dim=1)
    value: dict[str, Any] = {}
    if images.shape[1] == 3:  # Stacked MNIST: one digit per channel, 1,000 modes
        digits = predicted.reshape(-1, 3)
        modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
        counts = torch.bincount(modes, minlength=1000).double()
        share = counts / counts.sum()
        nonzero = share[share > 0]
        value.update(modes=int((counts > 0).sum()), modes_total=1000, kl_to_uniform=float((nonzero * torch.log(nonzero * 1000)).sum()))
        return value
    mean, std = inception_score(probs, splits=10)
    fractions = torch.bincount(predicted, minlength=10).double() / len(predicted)
    value.update(
        inception_score=mean,
        inception_score_std=std,
        class_fractions=[round(float(f), 5) for f in fractions],
        min_class_pct=100 * float(fractions.min()),
        max_class_pct=100 * float(fractions.max()),
        mean_confidence=float(probs.max(dim=1).values.mean()),
    )
    if labels is not None:
        value["label_accuracy"] = float((predicted == labels).double().mean())
    return value


METRICS: dict[str, Metric] = {
    "judge": Metric(
        _judge,
        10_000,
        "digit judge (CNN trained on MNIST-5k train): classifier Inception Score over 10 splits, class histogram, "
        "label accuracy of conditional samples; Stacked MNIST: modes out of 1,000 and KL to uniform",
        _judge_protocol,
    ),
    "modes": Metric(_modes, PROTOCOL_SAMPLES, f"VEEGAN mode coverage: modes captured, % within {THRESHOLD_STDS:g} std, reverse KL"),
}


def parse_metric_names(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise GankitError(f"--metrics is empty; choose from: {', '.join(sorted(METRICS))}")
    for name in names:
        if name not in METRICS:
            raise GankitError(f"unknown metric '{name}'; choose from: {', '.join(sorted(METRICS))}")
    return names


def evaluate(run: str | Path, names: list[str], n: int | None = None, seed: int = 0, use_ema: bool = True) -> dict[str, Any]:
    """Compute metrics of a run's last checkpoint and merge them into ``RUN/eval.json``; return the new entries."""
    from gankit.train.loop import load_run

    if n is not None and n <= 0:
        raise GankitError(f"--n must be a positive number of samples (got {n})")
    path, state, payload = load_run(run)
    results = {}
    for name in names:
        metric = METRICS[name]
        count = n or metric.default_n
        value = metric.compute(state, count, seed, use_ema and bool(state.ema))
        results[name] = {
            "value": value,
            "protocol": {
                "metric": name,
                "description": metric.description,
                "n": count,
                "seed": seed,
                "ema": use_ema and bool(state.ema),
                "step": int(payload["step"]),
                "gankit_version": __version__,
                **metric.protocol(),
            },
        }
    out = path / "eval.json"
    existing: dict[str, Any] = {}
    if out.exists():
        try:
            existing = json.loads(out.read_text())
        except json.JSONDecodeError:
            existing = {}
    existing.update(results)
    tmp = out.with_name(".eval.json.tmp")
    tmp.write_text(json.dumps(existing, indent=2) + "\n")
    os.replace(tmp, out)
    return results
