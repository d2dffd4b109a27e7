"""The ``gankit`` command line. It parses, calls library functions, and maps GankitError to exit status 2."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gankit.errors import GankitError
from gankit.train.signals import Interrupted

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="gankit: train, resume, sample and evaluate GANs with one command each.",
)


def _print_version(value: bool) -> None:
    if value:
        from gankit import __version__

        typer.echo(f"gankit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", "-V", help="print gankit's version and exit", is_eager=True, callback=_print_version)] = False,
) -> None:
    """gankit: train, resume, sample and evaluate GANs with one command each."""

SetOption = Annotated[list[str] | None, typer.Option("--set", help="override a config key: --set train.steps=1000 (repeatable)")]


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr, force=True)


@app.command()
def presets(
    name: Annotated[str | None, typer.Argument(help="a preset: print its YAML (what `gankit train NAME` runs)")] = None,
) -> None:
    """List the ready-made experiments (and the variants they use) with one-line descriptions, or print one."""
    import difflib
    from importlib import resources

    from gankit.config import preset_names, read_preset
    from gankit.variants import VARIANTS

    names = preset_names()
    if name is not None:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise GankitError(f"unknown preset '{name}'; {hint}`gankit presets` lists them")
        typer.echo((resources.files("gankit.presets") / f"{name}.yaml").read_text().rstrip("\n"))
        return
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
    if not _rank():  # one line, from rank 0, under torchrun
        typer.echo(str(run))


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="a run directory made by `gankit train`")],
    set_: SetOption = None,
) -> None:
    """Continue a run from its last checkpoint (only train.steps may be changed)."""
    from gankit.train.loop import resume as resume_run

    run = resume_run(run_dir, set_ or [])
    if not _rank():
        typer.echo(str(run))


@app.command()
def runs(
    runs_dir: Annotated[Path, typer.Argument(metavar="[DIR]", help="the directory of run directories (gankit train's --runs-dir)")] = Path("runs"),
) -> None:
    """List the runs under DIR: step of the newest checkpoint / train.steps, status (running, finished, diverged,
    interrupted), last logged losses and last metrics (eval.json). Reads only: nothing is written or waited for."""
    from gankit.train.runs import format_runs, list_runs

    for line in format_runs(list_runs(runs_dir)):
        typer.echo(line)


OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="replace an existing output file or folder (default: refuse)")]
StepOption = Annotated[
    int | None, typer.Option("--step", help="use the kept checkpoint of step N (train.keep; default: the newest)", show_default=False)
]


def _check_output(out: Path, overwrite: bool) -> None:
    """The one overwrite policy of the commands that write: an existing output file or a non-empty output folder is
    refused unless ``--overwrite``; the writers then replace it whole (atomically), never mixing two outputs."""
    parent = out.parent
    if not parent.exists():
        raise GankitError(f"cannot write {out}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise GankitError(f"cannot write {out}: directory {parent} is not writable")
    if out.is_dir() and out.suffix:
        raise GankitError(f"cannot write {out}: it is a directory")
    if overwrite:
        return
    if out.is_dir():
        count = sum(1 for _ in out.iterdir())
        if count:
            raise GankitError(f"{out}/ already holds {count} file(s); pass --overwrite to replace the folder, or choose a new or empty --out")
    elif out.exists():
        raise GankitError(f"{out} exists; pass --overwrite to replace it, or choose another --out")


def _parse_fix(items: list[str]) -> dict[str, object]:
    """``PART=VALUE`` strings -> {part: int | float | list of floats}."""
    fixed: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise GankitError(f"--fix takes PART=VALUE, e.g. --fix c1=3 or --fix c2=0.5 (got '{item}')")
        name, text = (part.strip() for part in item.split("=", 1))
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise GankitError(f"--fix {name}=...: the value must be a number or comma-separated numbers (got '{text}')") from None
        if len(values) == 1:
            fixed[name] = int(values[0]) if values[0].is_integer() and "." not in text else values[0]
        else:
            fixed[name] = values
    return fixed


FixOption = Annotated[list[str] | None, typer.Option("--fix", help="hold a latent part at a value: --fix c1=3, --fix c2=0.5 (repeatable)")]


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    n: Annotated[int, typer.Option("--n", help="number of samples")] = 64,
    out: Annotated[Path, typer.Option("--out", help="OUT.npz (arrays), OUT.png (a picture) or OUT/ (one PNG per sample)")] = Path("samples.npz"),
    seed: Annotated[int, typer.Option("--seed", help="noise seed")] = 0,
    fix: FixOption = None,
    label: Annotated[int | None, typer.Option("--label", help="class label of a conditional model (short for --fix label=L)")] = None,
    truncation: Annotated[float | None, typer.Option("--truncation", help="redraw normal latents beyond ±T (the truncation trick)")] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
    step: StepOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Draw N samples from a run's last checkpoint (or the kept one of --step N)."""
    import torch

    from gankit.sampling import cannot, draw_samples, save_samples
    from gankit.train.loop import load_run

    if n <= 0:
        raise GankitError(f"--n must be a positive number of samples (got {n})")
    if seed < 0:
        raise GankitError(f"--seed must be zero or more (got {seed})")
    if truncation is not None and not truncation > 0:
        raise GankitError(f"--truncation must be greater than zero (got {truncation})")
    fixed = _parse_fix(fix or [])
    _check_output(out, overwrite)
    _, state, _ = load_run(run_dir, step=step)
    v = state.variant
    if v.decode is None or v.latents is None:
        raise cannot(state, "sample")
    if label is not None:
        classes = v.num_classes
        if not classes:
            raise GankitError(f"--label is for class-conditional models; {run_dir} ({state.cfg.variant}) has latent parts {v.latents.describe()}: use --fix")
        if "label" in fixed:
            raise GankitError("--label L is short for --fix label=L; give one of them")
        if not 0 <= label < classes:
            raise GankitError(f"--label must be between 0 and {classes - 1} for this model (got {label})")
        fixed["label"] = label
    for name, value in fixed.items():
        v.latents.fixed_value(name, value, 1, state.device)  # checks the part and the value before drawing
    labels = None
    if v.num_classes:
        labels = torch.full((n,), int(fixed.pop("label")), dtype=torch.long) if "label" in fixed else torch.arange(n) % v.num_classes
    if not out.suffix and state.data.kind != "images":
        raise GankitError(f"a directory of per-sample PNGs is for image models; {state.cfg.data.name} samples are points: use --out {out}.npz or {out}.png")
    samples = draw_samples(state, n, seed, use_ema=not no_ema, labels=labels, fixed=fixed, truncation=truncation)
    save_samples(state, samples, out, labels=labels)
    typer.echo(str(out))


@app.command()
def interpolate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of an image model")],
    out: Annotated[Path, typer.Option("--out", help="OUT.png (a grid, one path per row) or OUT.gif (an animation)")] = Path("interpolation.png"),
    vary: Annotated[str | None, typer.Option("--vary", help="latent part to move (default z); a categorical or 1-d code: a traversal")] = None,
    fix: FixOption = None,
    steps: Annotated[int, typer.Option("--steps", help="images per path (PNG) or per leg (GIF)")] = 10,
    rows: Annotated[int, typer.Option("--rows", help="number of paths")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="noise seed")] = 0,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
    step: StepOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Paths through one latent part: spherical interpolation in z between random points (a PNG strip per row, or
    a looping GIF), or a traversal of a code (--vary)."""
    from gankit.sampling import interpolation_frames
    from gankit.train.loop import load_run
    from gankit.viz import image_grid, save_gif, save_image_grid

    if steps < 2 or rows < 1:
        raise GankitError(f"--steps must be at least 2 and --rows at least 1 (got {steps}, {rows})")
    suffix = out.suffix.lower()
    if suffix not in (".png", ".gif"):
        raise GankitError(f"--out must end in .png or .gif (got '{out}')")
    fixed = _parse_fix(fix or [])
    _check_output(out, overwrite)
    _, state, _ = load_run(run_dir, step=step)
    try:
        if suffix == ".png":
            frames = interpolation_frames(state, rows, steps, seed, use_ema=not no_ema, vary=vary, fixed=fixed)
            save_image_grid(frames.reshape(-1, *frames.shape[2:]), out, nrow=frames.shape[1], scale=max(1, 64 // frames.shape[-1]))
        else:
            frames = interpolation_frames(state, rows, steps, seed, keyframes=4, use_ema=not no_ema, vary=vary, fixed=fixed)
            scale = max(1, 64 // frames.shape[-1])
            pictures = []
            for t in range(frames.shape[1]):
                grid = image_grid(frames[:, t], nrow=min(rows, 8))
                pictures.append(grid.repeat(scale, 0).repeat(scale, 1))
            save_gif(pictures, out)
    except OSError as exc:
        raise GankitError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None
    typer.echo(str(out))


def _inputs(state, spec: str, fields: list[str], limit: int | None) -> dict:
    """Inputs for translate/encode (model range): a split of the run's own data (train, val, test, all), a folder
    of images, or an .npz of images, checked against the shape the model reads (the first of ``fields``)."""
    from dataclasses import replace

    from gankit.data import build_dataset
    from gankit.data.base import check_field
    from gankit.data.images import image_folder, npz_images
    from gankit.sampling.pictures import real_examples

    source = fields[0]
    shape = tuple(state.data.fields[source].shape)
    if spec in ("train", "val", "test", "all"):
        data = build_dataset(replace(state.cfg.data, split=spec))
        present = [f for f in fields if f in data.fields]
        for f in present:
            check_field(data, f)
        count = limit or 10_000
        out = real_examples(data, present, count, seed=0)
        if "y" in data.fields and all(len(out[f]) == len(out[present[0]]) for f in present):
            labels = real_examples(data, ["y"], count, seed=0)
            out["labels"] = labels["y"]
        return out
    path = Path(spec)
    if not path.exists():
        raise GankitError(f"--input {spec} is neither a split (train, val, test, all), a folder of images nor an .npz file")
    from gankit.config import DataConfig

    channels, size = shape[0], shape[-1]
    if path.is_dir():
        images = image_folder(DataConfig(name="folder", root=str(path), image_size=size, channels=channels)).images
    elif path.suffix == ".npz":
        images = npz_images(DataConfig(name="npz", root=str(path), image_size=size if size else None)).images
    else:
        raise GankitError(f"--input {spec}: give a folder of images, an .npz file or a split name (train, val, test, all)")
    if tuple(images.shape[1:]) != shape:
        raise GankitError(f"--input {spec} holds images of shape {tuple(images.shape[1:])}; this model reads {shape} (channels, height, width)")
    if limit:
        images = images[:limit]
    return {source: images.float() / 127.5 - 1}


@app.command()
def translate(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of a model that translates")],
    input_: Annotated[str, typer.Option("--input", help="a split of the run's data (train, val, test), a folder of images or an .npz")] = "test",
    out: Annotated[
        Path, typer.Option("--out", help="OUT/ (one PNG per output), OUT.npz (inputs, outputs, targets) or OUT.png (input | output | target rows)")
    ] = Path("translations.png"),
    direction: Annotated[str | None, typer.Option("--direction", help="a2b or b2a for two-way models (default: the first)")] = None,
    n: Annotated[int | None, typer.Option("--n", help="at most this many inputs (default: all; 16 for a .png)")] = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
    step: StepOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Translate inputs with a run's last checkpoint (or the kept one of --step N)."""
    from gankit.sampling import translate_inputs, translation_picture
    from gankit.sampling.draw import check_direction
    from gankit.sampling.pictures import save_images
    from gankit.train.loop import load_run

    if n is not None and n <= 0:
        raise GankitError(f"--n must be a positive number of inputs (got {n})")
    _check_output(out, overwrite)
    _, state, _ = load_run(run_dir, step=step)
    direction = check_direction(state, direction)
    source, target = state.variant.directions[direction]
    limit = n or (16 if out.suffix.lower() == ".png" else None)
    inputs = _inputs(state, input_, [source, *([target] if state.variant.paired else [])], limit)
    if out.suffix.lower() == ".png":
        translation_picture(state, inputs, out, direction, use_ema=not no_ema)
    else:
        outputs = translate_inputs(state, inputs[source], direction, use_ema=not no_ema)
        unit = (outputs.clamp(-1, 1) + 1) / 2
        extra = {"inputs": (inputs[source] + 1) / 2} | ({"targets": (inputs[target] + 1) / 2} if target in inputs else {})
        extra |= {"labels": inputs["labels"]} if "labels" in inputs else {}
        save_images(unit, out, extra if out.suffix.lower() == ".npz" else None)
    typer.echo(str(out))


@app.command()
def encode(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of a model that encodes")],
    input_: Annotated[str, typer.Option("--input", help="a split of the run's data (train, val, test), a folder of images or an .npz")] = "test",
    out: Annotated[Path, typer.Option("--out", help="FEATURES.npz: `features` (N, D) [and `labels`]")] = Path("features.npz"),
    n: Annotated[int | None, typer.Option("--n", help="at most this many inputs (default: all)")] = None,
    step: StepOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Encode inputs with a run's encoder; writes their features (and labels, for a labelled split)."""
    import numpy as np

    from gankit.files import atomic_write
    from gankit.sampling import cannot, encode_inputs
    from gankit.train.loop import load_run

    if out.suffix != ".npz":
        raise GankitError(f"--out must end in .npz (got {out})")
    _check_output(out, overwrite)
    _, state, _ = load_run(run_dir, step=step)
    if state.variant.encode is None:
        raise cannot(state, "encode")
    inputs = _inputs(state, input_, [state.variant.encodes], n)
    features = encode_inputs(state, inputs[state.variant.encodes], use_ema=False)
    arrays = {"features": features.numpy()} | ({"labels": inputs["labels"].numpy()} if "labels" in inputs else {})
    try:
        atomic_write(out, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise GankitError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None
    typer.echo(f"{len(features)} x {features.shape[1]} features -> {out}")


@app.command()
def probe(
    run_dir: Annotated[Path, typer.Argument(help="a run directory of a model that encodes or classifies")],
    labels: Annotated[str, typer.Option("--labels", help="labelled train items the classifiers are fitted on (a multiple of the classes), or all")] = "100",
    seeds: Annotated[str, typer.Option("--seeds", help="label draws, e.g. 0,1,2,3,4: mean ± std over them")] = "0,1,2,3,4",
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw players, not their moving averages")] = False,
    step: StepOption = None,
) -> None:
    """Linear and 1-NN test accuracy of the run's encoded features fitted on K labelled train items (the same seeded
    draws for every model), and its own classifier's or clusters' test accuracy; results go to RUN_DIR/eval.json."""
    from gankit.metrics import format_value
    from gankit.metrics.probes import probe_run

    if labels.strip().lower() == "all":
        count = None
    else:
        try:
            count = int(labels)
        except ValueError:
            raise GankitError(f"--labels must be a number of labelled items (e.g. 100) or all, not {labels!r}") from None
        if count < 1:
            raise GankitError(f"--labels must be at least 1 (got {count})")
    try:
        draws = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise GankitError(f"--seeds must be comma-separated integers, e.g. 0,1,2,3,4 (got {seeds!r})") from None
    results = probe_run(run_dir, count, draws, step=step, use_ema=not no_ema)
    for key, entry in results.items():
        typer.echo(f"{key}: {format_value(entry['value'])}")
        trained_on = entry["protocol"].get("classifier_trained_on")
        if trained_on is not None and (trained_on["labels"] != count or draws != [trained_on["label_seed"]]):
            typer.echo(
                f"note: the model's own classifier learnt from the {trained_on['labels']} labels of draw {trained_on['label_seed']} it was trained "
                f"with; --labels and --seeds choose the linear / 1-NN probes' labels only",
                err=True,
            )
    typer.echo(str(Path(run_dir) / "eval.json"))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run directory")],
    seed: Annotated[int, typer.Option("--seed", help="noise seed for the interpolation")] = 0,
    overwrite: OverwriteOption = False,
) -> None:
    """Write RUN_DIR/report.md (and its pictures in RUN_DIR/report/): loss curves, latest samples, an interpolation
    and the metrics of eval.json. An existing report is replaced only with --overwrite."""
    from gankit.report import write_report

    report_file = Path(run_dir) / "report.md"
    if report_file.exists() and not overwrite:
        raise GankitError(f"{report_file} exists; pass --overwrite to write it anew (after a resume or a new eval)")
    typer.echo(str(write_report(run_dir, seed=seed)))


ExtractorOption = Annotated[
    str | None, typer.Option("--extractor", help="features: mnist (the digit judge), inception (needs --inception-weights), raw (toy points)")
]
ImageExtractorOption = Annotated[
    str | None, typer.Option("--extractor", help="image features: inception (the default; needs --inception-weights) or mnist (the digit judge)")
]
SkipBadOption = Annotated[bool, typer.Option("--skip-bad", help="skip unreadable image files in a folder (default: refuse)")]
WeightsOption = Annotated[
    str | None,
    typer.Option("--inception-weights", help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or set GANKIT_INCEPTION_WEIGHTS); never downloaded"),
]


@app.command(name="eval")
def eval_(
    run_dirs: Annotated[list[Path], typer.Argument(help="one or more run directories")],
    metrics: Annotated[str, typer.Option("--metrics", help="comma-separated: fid,kid,is,pr,dc,parzen,modes,judge,codes,translation")] = "modes",
    n: Annotated[int | None, typer.Option("--n", help="number of samples (default: the metric's protocol)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="noise seed (default 0)")] = None,
    seeds: Annotated[str | None, typer.Option("--seeds", help="several noise seeds, e.g. 0,1,2: mean ± std over them")] = None,
    extractor: ExtractorOption = None,
    inception_weights: WeightsOption = None,
    no_ema: Annotated[bool, typer.Option("--no-ema", help="use the raw generator, not its moving average")] = False,
    split: Annotated[str | None, typer.Option("--split", help="data split a translation is measured on (translation metric; default test)")] = None,
    direction: Annotated[str | None, typer.Option("--direction", help="a2b or b2a, for the translation metric of two-way models")] = None,
    step: StepOption = None,
) -> None:
    """Evaluate runs' last checkpoints; results (with their protocol) go to each RUN_DIR/eval.json. Several runs
    (or seeds) are summarised as mean ± std."""
    import json

    from gankit.metrics import evaluate, format_value, parse_metric_names, summarise

    names = parse_metric_names(metrics)
    if seed is not None and seeds is not None:
        raise GankitError(f"--seed {seed} and --seeds {seeds} conflict: give --seeds alone (it lists every seed), or --seed alone")
    seed = 0 if seed is None else seed
    seed_list = _parse_seeds(seeds) if seeds is not None else None
    per_run = []
    for run_dir in run_dirs:
        if split is not None and split not in ("train", "val", "test", "all"):
            raise GankitError(f"--split must be train, val, test or all (got {split!r})")
        results = evaluate(
            run_dir, names, n=n, seed=seed, use_ema=not no_ema, seeds=seed_list, extractor=extractor, inception_weights=inception_weights,
            split=split, direction=direction, step=step,
        )  # fmt: skip
        per_run.append(results)
        for name, entry in results.items():
            prefix = f"{run_dir} " if len(run_dirs) > 1 else ""
            shown = format_value(entry["value"]) if seed_list and len(seed_list) > 1 else json.dumps(entry["value"])
            typer.echo(f"{prefix}{name}: {shown}")
        typer.echo(str(Path(run_dir) / "eval.json"))
    if len(run_dirs) > 1:
        for name in names:
            values = [r[name]["value"] for r in per_run]
            if seed_list and len(seed_list) > 1:
                values = [{k: v["mean"] for k, v in value.items()} for value in values]
            typer.echo(f"{len(run_dirs)} runs {name}: {format_value(summarise(values))}")


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise GankitError(f"--seeds takes comma-separated integers, e.g. 0,1,2 (got {text!r})") from None
    if not seeds:
        raise GankitError("--seeds is empty; give comma-separated integers, e.g. 0,1,2")
    return seeds


@app.command()
def stats(
    source: Annotated[str, typer.Argument(help="a folder of images, an .npz of images, or a dataset name (mnist5k[:split], digits[:split])")],
    out: Annotated[Path, typer.Option("--out", help="STATS.npz: `mu` and `sigma`, the format pytorch-fid reads")],
    extractor: ImageExtractorOption = None,
    inception_weights: WeightsOption = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto")] = "auto",
    skip_bad: SkipBadOption = False,
    overwrite: OverwriteOption = False,
) -> None:
    """Feature mean and covariance of a set of images, for FID (pytorch-fid's .npz format)."""
    from gankit.metrics.fid import feature_statistics, save_stats

    if out.suffix != ".npz":
        raise GankitError(f"--out must end in .npz (got {out})")
    _check_output(out, overwrite)
    name = extractor or "inception"
    source_ = _load_images(source, name, skip_bad)
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
    extractor: ImageExtractorOption = None,
    inception_weights: WeightsOption = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto")] = "auto",
    skip_bad: SkipBadOption = False,
) -> None:
    """Fréchet distance between two sets of images or their statistics; prints `FID: <value>`."""
    from gankit.metrics.fid import feature_statistics, frechet_distance

    name = extractor or "inception"
    pairs = []
    for spec in (a, b):
        source_ = _load_images(spec, name, skip_bad)
        if source_.is_stats:
            pairs.append((source_.mu, source_.sigma))
        else:
            pairs.append(feature_statistics(_extractor(name, inception_weights, device)(source_.images)))
    (mu1, s1), (mu2, s2) = pairs
    typer.echo(f"FID: {frechet_distance(mu1, s1, mu2, s2)}")


def _load_images(spec: str, extractor: str, skip_bad: bool = False):
    from gankit.metrics.extractors import EXTRACTORS
    from gankit.metrics.sources import load_source

    if extractor not in EXTRACTORS:
        raise GankitError(f"unknown extractor '{extractor}'; choose from: {', '.join(EXTRACTORS)}")
    return load_source(spec, channels=3 if extractor == "inception" else None, skip_bad=skip_bad)


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


def _rank() -> int:
    """This process's rank in a torchrun launch (0 outside one, or where its environment is malformed)."""
    from gankit.train.distributed import world_from_env

    try:
        return world_from_env().rank
    except GankitError:
        return 0


def main() -> None:
    _setup_logging()
    rank = _rank()
    if rank:  # under torchrun the other ranks stay quiet but for warnings and their own errors
        logging.getLogger("gankit").setLevel(logging.WARNING)
    from gankit.train.distributed import close_world

    clean = False
    try:
        try:
            rc = app(standalone_mode=False)
            clean = True  # every rank of a launch finished its command
        except GankitError as exc:
            clean = bool(getattr(exc, "shared", False))  # raised by every rank alike
            if not (rank and getattr(exc, "shared", False)):  # an error every rank raised alike is printed by rank 0
                _print_error(f"rank {rank}: {exc}" if rank else str(exc))
            sys.exit(2)
        except Interrupted as exc:  # a training run stopped on a signal, with its checkpoint written
            if not rank:
                print(str(exc), file=sys.stderr)
            sys.exit(exc.exit_code)
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
                    _print_error(f"{message.rstrip('.')}; see `gankit --help`")
                sys.exit(exc.exit_code)
            raise
        if rc == 130:  # Ctrl-C outside training (typer turns it into exit status 130)
            print("interrupted", file=sys.stderr)
        sys.exit(rc if isinstance(rc, int) else 0)
    finally:
        close_world(clean)  # under torchrun: leave the process group before the interpreter shuts down
