"""The ``gankit`` command line. It parses, calls library functions, and maps GankitError to exit status 2."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gankit.errors import GankitError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="gankit: train, resume, sample and evaluate GANs with one command each.",
)

SetOption = Annotated[list[str] | None, typer.Option("--set", help="override a config key: --set train.steps=1000 (repeatable)")]


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)


@app.command()
def presets() -> None:
    """List the ready-made experiments (and the variants they use) with one-line descriptions."""
    from gankit.config import preset_names, read_preset
    from gankit.variants import VARIANTS

    names = preset_names()
    width = max(len(n) for n in [*names, *VARIANTS])
    for name in names:
        description = read_preset(name).get("description", "")
        typer.echo(f"{name:<{width}}  {description}")
    typer.echo("\nvariants (config key `variant`):")
    for name, entry in sorted(VARIANTS.items()):
        typer.echo(f"{name:<{width}}  {entry.description}")


@app.command()
def train(
    source: Annotated[str, typer.Argument(metavar="PRESET|FILE.yaml", help="a preset name (see `gankit presets`) or a YAML config")],
    set_: SetOption = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="where numbered run directories are made")] = Path("runs"),
    name: Annotated[str | None, typer.Option("--name", help="run name (default: the config's name)")] = None,
) -> None:
    """Train a model; the last line printed is the run directory."""
    from gankit.config import load_config
    from gankit.train.loop import train as train_run

    cfg = load_config(source, set_ or [])
    if name is not None and (not name or "/" in name or name.startswith(".")):
        raise GankitError(f"--name must be a plain name without '/' (got {name!r})")
    run = train_run(cfg, runs_dir, name)
    typer.echo(str(run))


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="a run directory made by `gankit train`")],
    set_: SetOption = None,
) -> None:
    """Continue a run from its last checkpoint (only train.steps may be changed)."""
    from gankit.train.loop import resume as resume_run

    run = resume_run(run_dir, set_ or [])
    typer.echo(str(run))


def _check_output(out: Path) -> None:
    parent = out.parent
    if not parent.exists():
        raise GankitError(f"cannot write {out}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise GankitError(f"cannot write {out}: directory {parent} is not writable")
    if out.is_dir() and out.suffix:
        raise GankitError(f"cannot write {out}: it is a directory")


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    n: Annotated[int, typer.Option("--n", help="number of samples")] = 64,
    out: Annotated[Path, typer.Option("--out", help="OUT.npz (arrays), OUT.png (a picture) or OUT/ (one PNG per sample)")] = Path("samples.npz"),
    seed: Annotated[int, typer.Option("--seed", help="noise seed")] = 0,
    label: Annotated[int | None, typer.Option("--label", help="class label, for conditional models")] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
) -> None:
    """Draw N samples from a run's last checkpoint."""
    import torch

    from gankit.sampling import draw_samples, save_samples
    from gankit.train.loop import load_run

    if n <= 0:
        raise GankitError(f"--n must be a positive number of samples (got {n})")
    if seed < 0:
        raise GankitError(f"--seed must be zero or more (got {seed})")
    _check_output(out)
    _, state, _ = load_run(run_dir)
    labels = None
    if label is not None:
        classes = state.variant.num_classes
        if not classes:
            raise GankitError(f"--label is for conditional models; {run_dir} ({state.cfg.variant}) is unconditional")
        if not 0 <= label < classes:
            raise GankitError(f"--label must be between 0 and {classes - 1} for this model (got {label})")
        labels = torch.full((n,), label, dtype=torch.long)
    elif state.variant.num_classes:
        labels = torch.arange(n) % state.variant.num_classes
    if not out.suffix and state.data.kind != "images":
        raise GankitError(f"a directory of per-sample PNGs is for image models; {state.cfg.data.name} samples are points: use --out {out}.npz or {out}.png")
    samples = draw_samples(state, n, seed, use_ema=not no_ema, labels=labels)
    save_samples(state, samples, out, labels=labels)
    typer.echo(str(out))


@app.command()
def interpolate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of an image model")],
    out: Annotated[Path, typer.Option("--out", help="OUT.png (a grid, one path per row) or OUT.gif (an animation)")] = Path("interpolation.png"),
    steps: Annotated[int, typer.Option("--steps", help="images per path (PNG) or per leg (GIF)")] = 10,
    rows: Annotated[int, typer.Option("--rows", help="number of paths")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="noise seed")] = 0,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
) -> None:
    """Spherical interpolation in z between random points: a PNG strip per row, or a looping GIF."""
    from gankit.sampling import interpolation_frames
    from gankit.train.loop import load_run
    from gankit.viz import image_grid, save_gif, save_image_grid

    if steps < 2 or rows < 1:
        raise GankitError(f"--steps must be at least 2 and --rows at least 1 (got {steps}, {rows})")
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif"):
        raise GankitError(f"--out must end in .png or .gif (got '{out}')")
    _check_output(out)
    _, state, _ = load_run(run_dir)
    try:
        if suffix == ".png":
            frames = interpolation_frames(state, rows, steps, seed, use_ema=not no_ema)
            save_image_grid(frames.reshape(-1, *frames.shape[2:]), out, nrow=steps)
        else:
            frames = interpolation_frames(state, rows, steps, seed, keyframes=4, use_ema=not no_ema)
            scale = max(1, 64 // frames.shape[-1])
            pictures = []
            for t in range(frames.shape[1]):
                grid = image_grid(frames[:, t], nrow=min(rows, 8))
                pictures.append(grid.repeat(scale, 0).repeat(scale, 1))
            save_gif(pictures, out)
    except OSError as exc:
        raise GankitError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None
    typer.echo(str(out))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    seed: Annotated[int, typer.Option("--seed", help="noise seed for the interpolation")] = 0,
) -> None:
    """Write RUN_DIR/report.md: loss curves, latest samples, an interpolation and the metrics of eval.json."""
    from gankit.report import write_report

    typer.echo(str(write_report(run_dir, seed=seed)))


ExtractorOption = Annotated[
    str | None, typer.Option("--extractor", help="features: mnist (the digit judge), inception (needs --inception-weights), raw (toy points)")
]
WeightsOption = Annotated[
    str | None,
    typer.Option("--inception-weights", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or set GANKIT_INCEPTION_WEIGHTS); never downloaded"),
]


@app.command(name="eval")
def eval_(
    run_dirs: Annotated[list[Path], typer.Argument(help="one or more run directories")],
    metrics: Annotated[str, typer.Option("--metrics", help="comma-separated: fid,kid,is,pr,dc,parzen,modes,judge")] = "modes",
    n: Annotated[int | None, typer.Option("--n", help="number of samples (default: the metric's protocol)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="noise seed")] = 0,
    seeds: Annotated[str | None, typer.Option("--seeds", help="several noise seeds, e.g. 0,1,2: mean ± std over them")] = None,
    extractor: ExtractorOption = None,
    inception_weights: WeightsOption = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
) -> None:
    """Evaluate runs' last checkpoints; results (with their protocol) go to each RUN_DIR/eval.json. Several runs
    (or seeds) are summarised as mean ± std."""
    import json

    from gankit.metrics import evaluate, parse_metric_names, summarise

    names = parse_metric_names(metrics)
    seed_list = _parse_seeds(seeds) if seeds is not None else None
    per_run = []
    for run_dir in run_dirs:
        results = evaluate(run_dir, names, n=n, seed=seed, use_ema=not no_ema, seeds=seed_list, extractor=extractor, inception_weights=inception_weights)
        per_run.append(results)
        for name, entry in results.items():
            prefix = f"{run_dir} " if len(run_dirs) > 1 else ""
            typer.echo(f"{prefix}{name}: {json.dumps(entry['value'])}")
        typer.echo(str(Path(run_dir) / "eval.json"))
    if len(run_dirs) > 1:
        for name in names:
            values = [r[name]["value"] for r in per_run]
            if seed_list and len(seed_list) > 1:
                values = [{k: v["mean"] for k, v in value.items()} for value in values]
            typer.echo(f"{len(run_dirs)} runs {name}: {_format_value(summarise(values))}")


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise GankitError(f"--seeds takes comma-separated integers, e.g. 0,1,2 (got {text!r})") from None
    if not seeds:
        raise GankitError("--seeds is empty; give comma-separated integers, e.g. 0,1,2")
    return seeds


def _format_value(value: dict) -> str:
    parts = []
    for key, v in value.items():
        if isinstance(v, dict) and set(v) == {"mean", "std"}:
            parts.append(f"{key}={v['mean']:.6g} ± {v['std']:.2g}")
        elif isinstance(v, float):
            parts.append(f"{key}={v:.6g}")
        elif isinstance(v, (int, str)):
            parts.append(f"{key}={v}")
    return " ".join(parts)


@app.command()
def stats(
    source: Annotated[str, typer.Argument(help="a folder of images, an .npz of images, or a dataset name (mnist5k[:split], digits[:split])")],
    out: Annotated[Path, typer.Option("--out", help="STATS.npz: `mu` and `sigma`, the format pytorch-fid reads")],
    extractor: ExtractorOption = None,
    inception_weights: WeightsOption = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto")] = "auto",
) -> None:
    """Feature mean and covariance of a set of images, for FID (pytorch-fid's .npz format)."""
    from gankit.metrics.fid import feature_statistics, save_stats

    if out.suffix != ".npz":
        raise GankitError(f"--out must end in .npz (got {out})")
    if out.exists():
        raise GankitError(f"{out} exists; remove it or choose another --out (gankit does not overwrite)")
    name = extractor or "inception"
    source_ = _load_images(source, name)
    if source_.is_stats:
        raise GankitError(f"{source} already holds statistics; give images")
    features = _extractor(name, inception_weights, device)(source_.images)
    mu, sigma = feature_statistics(features)
    save_stats(out, mu, sigma)
    typer.echo(f"{source_.description}: {len(features)} x {features.shape[1]} {name} features -> {out}")


@app.command()
def fid(
    a: Annotated[str, typer.Argument(help="image folder, .npz of images, stats .npz (gankit's or pytorch-fid's), or mnist5k[:split]")],
    b: Annotated[str, typer.Argument(help="the same kinds as A")],
    extractor: ExtractorOption = None,
    inception_weights: WeightsOption = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto")] = "auto",
) -> None:
    """Fréchet distance between two sets of images or their statistics; prints `FID: <value>`."""
    from gankit.metrics.fid import feature_statistics, frechet_distance

    name = extractor or "inception"
    pairs = []
    for spec in (a, b):
        source_ = _load_images(spec, name)
        if source_.is_stats:
            pairs.append((source_.mu, source_.sigma))
        else:
            pairs.append(feature_statistics(_extractor(name, inception_weights, device)(source_.images)))
    (mu1, s1), (mu2, s2) = pairs
    typer.echo(f"FID: {frechet_distance(mu1, s1, mu2, s2)}")


def _load_images(spec: str, extractor: str):
    from gankit.metrics.extractors import EXTRACTORS
    from gankit.metrics.sources import load_source

    if extractor not in EXTRACTORS:
        raise GankitError(f"unknown extractor '{extractor}'; choose from: {', '.join(EXTRACTORS)}")
    return load_source(spec, channels=3 if extractor == "inception" else None)


_EXTRACTOR_CACHE: dict = {}


def _extractor(name: str, weights: str | None, device: str):
    from gankit.metrics.extractors import build_extractor
    from gankit.train.loop import resolve_device

    if device not in ("auto", "cpu", "cuda"):
        raise GankitError(f"--device must be auto, cpu or cuda (got {device!r})")
    key = (name, weights, device)
    if key not in _EXTRACTOR_CACHE:
        _EXTRACTOR_CACHE[key] = build_extractor(name, inception_weights=weights, device=str(resolve_device(device)))
    return _EXTRACTOR_CACHE[key]


def _print_error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


def main() -> None:
    _setup_logging()
    try:
        rc = app(standalone_mode=False)
    except GankitError as exc:
        _print_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        rc = 130
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        # Usage errors from typer's click (bundled or not): duck-typed, printed on one line.
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            message = exc.format_message()
            if type(exc).__name__ == "NoArgsIsHelpError":
                print(message, file=sys.stderr)
            else:
                _print_error(f"{message}; see `gankit --help`")
            sys.exit(exc.exit_code)
        raise
    if rc == 130:
        print("interrupted; `gankit resume RUN_DIR` continues from the last checkpoint", file=sys.stderr)
    sys.exit(rc if isinstance(rc, int) else 0)
