"""``gankit report RUN_DIR``: one Markdown page per run with loss curves, samples, an interpolation and metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from gankit import __version__
from gankit.train.rundir import read_metrics


def _metric_rows(entries: dict[str, Any]) -> list[str]:
    lines = []
    for name, entry in entries.items():
        value, protocol = entry.get("value", {}), entry.get("protocol", {})
        shown = {k: v for k, v in value.items() if not isinstance(v, list)}
        cells = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in shown.items())
        proto = ", ".join(f"{k}: {v}" for k, v in protocol.items() if k not in ("description", "metric"))
        lines.append(f"| `{name}` | {cells} | {proto} |")
    return lines


def write_report(run: str | Path, seed: int = 0) -> Path:
    """Write ``RUN/report.md`` (and its PNGs under ``RUN/report/``); return the report's path."""
    from gankit.sampling import interpolation_frames
    from gankit.train.loop import load_run
    from gankit.viz import plot_losses, save_image_grid

    path, state, payload = load_run(run)
    folder = path / "report"
    folder.mkdir(exist_ok=True)
    cfg = state.cfg
    lines = [f"# {path.name}", "", f"{cfg.description or cfg.name}", ""]
    lines += [
        f"- variant `{cfg.variant}`, data `{cfg.data.name}`, loss `{cfg.loss.name}`",
        f"- step {payload['step']} of {cfg.train.steps}, batch {cfg.train.batch_size}, seed {cfg.train.seed}, "
        f"training time {payload.get('elapsed', 0.0) / 60:.1f} min",
        f"- EMA of G: {'decay ' + str(cfg.train.ema) if cfg.train.ema else 'off'}; gankit {__version__}",
        "",
    ]
    records = read_metrics(path / "metrics.jsonl") if (path / "metrics.jsonl").exists() else []
    if records:
        plot_losses(records, folder / "losses.png", title=f"{cfg.name}: losses")
        lines += ["## Losses", "", "![losses](report/losses.png)", ""]
    snapshots = sorted((path / "samples").glob("step-*.png"))
    if snapshots:
        shutil.copyfile(snapshots[-1], folder / "samples.png")
        kind = "per-class rows" if state.variant.num_classes else "fixed noise"
        lines += ["## Samples", "", f"{snapshots[-1].name} ({kind}{', EMA generator' if state.ema else ''}):", "", "![samples](report/samples.png)", ""]
    if state.data.kind == "images" and state.variant.decode is not None:
        frames = interpolation_frames(state, rows=8, steps=10, seed=seed)
        rows, steps = frames.shape[:2]
        save_image_grid(frames.reshape(rows * steps, *frames.shape[2:]), folder / "interpolation.png", nrow=steps, scale=max(1, 64 // frames.shape[-1]))
        lines += ["## Interpolation", "", "Spherical interpolation in z between random points, one path per row:", ""]
        lines += ["![interpolation](report/interpolation.png)", ""]
    eval_file = path / "eval.json"
    if eval_file.exists():
        entries = json.loads(eval_file.read_text())
        lines += ["## Metrics", "", "| metric | value | protocol |", "|---|---|---|", *_metric_rows(entries), ""]
        for name, entry in entries.items():
            fractions = entry.get("value", {}).get("class_fractions")
            if fractions:
                pct = " · ".join(f"{k}: {100 * f:.1f}%" for k, f in enumerate(fractions))
                lines += [f"Class histogram of `{name}` samples: {pct}", ""]
    else:
        lines += ["## Metrics", "", f"No eval.json yet: run `gankit eval {path}`.", ""]
    out = path / "report.md"
    out.write_text("\n".join(lines))
    return out
