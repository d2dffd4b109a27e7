"""Metrics of a trained run, each returned with the protocol it was measured under."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit import __version__
from gankit.errors import GankitError
from gankit.metrics.modes import PROTOCOL_SAMPLES, THRESHOLD_STDS, mode_coverage


@dataclass(frozen=True)
class Metric:
    compute: Callable[..., dict[str, Any]]
    default_n: int
    description: str


def _modes(state, n: int, seed: int, use_ema: bool) -> dict[str, Any]:
    from gankit.sampling import draw_samples

    data = state.data
    if not hasattr(data, "centres"):
        raise GankitError(f"metric 'modes' needs a toy mixture with known centres (ring, grid, gaussian1d), not '{state.cfg.data.name}'")
    samples = draw_samples(state, n, seed, use_ema=use_ema)
    return mode_coverage(samples, data.centres, data.std).as_dict()


METRICS: dict[str, Metric] = {
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
