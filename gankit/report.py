"""``gankit report RUN_DIR``: one Markdown page per run with loss curves, samples, an interpolation and metrics."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gankit import __version__
from gankit.files import atomic_write
from gankit.train.rundir import read_metrics


def _metric_rows(entries: dict[str, Any], step: int) -> list[str]:
    """One table row per metric (its newest result): value (``mean ± std`` over seeds), the step it was measured at
    (marked stale when the checkpoint has moved on) and its protocol."""
    from gankit.metrics import format_value

    lines = []
    for name, entry in entries.items():
        value, protocol = entry.get("value", {}), entry.get("protocol", {})
        measured = protocol.get("step")
        at = f"{measured}" if measured == step else f"{measured} **(stale: the checkpoint is at step {step})**"
        proto = ", ".join(f"{k}: {v}" for k, v in protocol.items() if k not in ("description", "metric", "step"))
        lines.append(f"| `{name}` | {format_value(value)} | {at} | {proto} |")
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
        v = state.variant
        if v.decode is None and v.translate is not None:
            kind = "fixed inputs; rows: input | output" + (" | round trip" if len(v.directions) > 1 else "") + (" | target" if v.paired else "")
        elif v.decode is None:
            kind = "fixed real inputs in the order of the class the model gives them"
        else:
            coded = v.latents is not None and any(p.kind == "categorical" for p in v.latents.parts)
            kind = "one row per value of a categorical code" if coded else "fixed noise"
        header = "Samples" if v.decode is not None else ("Translations" if v.translate is not None else "Classified inputs")
        lines += [f"## {header}", "", f"{snapshots[-1].name} ({kind}{', EMA players' if state.ema else ''}):", "", "![samples](report/samples.png)", ""]
    if state.data.kind == "images" and state.variant.decode is not None:
        frames = interpolation_frames(state, rows=8, steps=10, seed=seed)
        rows, steps = frames.shape[:2]
        save_image_grid(frames.reshape(rows * steps, *frames.shape[2:]), folder / "interpolation.png", nrow=steps, scale=max(1, 64 // frames.shape[-1]))
        lines += ["## Interpolation", "", "Spherical interpolation in z between random points, one path per row:", ""]
        lines += ["![interpolation](report/interpolation.png)", ""]
        codes = [p for p in state.variant.latents.parts if p.name not in ("z", "label") and (p.kind == "categorical" or p.size == 1)]
        for part in codes:  # structured codes (c1, c2, ... of a latent spec): a traversal each, the other parts held per row
            frames = interpolation_frames(state, rows=8, steps=10, seed=seed, vary=part.name)
            picture = folder / f"traversal-{part.name}.png"
            save_image_grid(frames.reshape(-1, *frames.shape[2:]), picture, nrow=frames.shape[1], scale=max(1, 64 // frames.shape[-1]))
            what = "each of its values" if part.kind == "categorical" else "-2 to 2"
            lines += [f"Traversal of `{part.name}` ({part.kind}) over {what}, one row per draw of the other parts:", ""]
            lines += [f"![{part.name}](report/{picture.name})", ""]
    from gankit.metrics import latest_results, read_eval, suggest_metric

    entries = latest_results(read_eval(path / "eval.json"))
    step = int(payload["step"])
    if entries:
        lines += ["## Metrics", "", "| metric | value | step | protocol |", "|---|---|---|---|", *_metric_rows(entries, step), ""]
        stale = [name for name, e in entries.items() if e.get("protocol", {}).get("step") != step]
        if stale:
            lines += [f"Stale results were measured on an earlier checkpoint: `gankit eval {path} --metrics {','.join(stale)}` "
                      f"measures them at step {step}.", ""]
        for name, entry in entries.items():
            fractions = entry.get("value", {}).get("class_fractions")
            if fractions:
                pct = " · ".join(f"{k}: {100 * f:.1f}%" for k, f in enumerate(fractions))
                lines += [f"Class histogram of `{name}` samples: {pct}", ""]
    else:
        lines += ["## Metrics", "", f"No eval.json yet: run `gankit eval {path} {suggest_metric(state)}`.", ""]
    out = path / "report.md"
    atomic_write(out, lambda f: f.write("\n".join(lines).encode()))
    return out
