"""Toy benchmark: mode coverage of the plain GAN on the ring and the grid of Gaussians (VEEGAN protocol).

`make bench-toy` runs it and writes docs/results/toy.md, with the final samples of every seed under
docs/results/toy/ and the raw numbers in docs/results/toy/results.json. For each preset and each seed
0..N-1: train the preset as shipped (only `train.seed` changes), draw 2,500 samples from the generator
(its EMA copy where the preset keeps one) and count the modes captured (Srivastava et al., 2017).
`--presets` re-runs a subset; the other presets' rows are kept from results.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, mean_std  # noqa: E402
from gankit.config import Config, load_config  # noqa: E402
from gankit.metrics import evaluate  # noqa: E402
from gankit.metrics.modes import PROTOCOL_SAMPLES, THRESHOLD_STDS  # noqa: E402
from gankit.train.loop import train  # noqa: E402

PRESETS = ["gan-ring", "gan-grid", "minimax-ring"]
# The plain GAN row of PacGAN (Lin et al., 2018), same data and protocol: (modes captured, % high quality).
PUBLISHED = {"gan-ring": (6.3, 98.2), "gan-grid": (17.3, 94.8)}
RERUN = "make bench-toy"


@dataclass
class SeedResult:
    seed: int
    modes: int
    modes_total: int
    high_quality_pct: float
    reverse_kl: float
    minutes: float
    cpu_minutes: float
    picture: str


@dataclass
class PresetResult:
    preset: str
    description: str
    settings: str
    steps: int
    measured: str
    machine: str
    seeds: list[SeedResult]


def settings(cfg: Config) -> str:
    """The hyperparameters that matter for these presets, in one line."""
    g, d, og, od, t = cfg.model.g, cfg.model.d, cfg.optim.g, cfg.optim.d, cfg.train

    def net(n: Any) -> str:
        return f"MLP {n.depth}×{n.width} {n.activation}" + ("" if n.norm == "none" else f" + {n.norm} norm")

    def opt(o: Any) -> str:
        decay = f", decaying linearly to 0 from {o.decay_start:.0%} of the steps" if o.decay_start < 1 else ""
        return f"{o.name} lr {o.lr:g} betas ({o.betas[0]:g}, {o.betas[1]:g}){decay}"

    ema = f", EMA of G {t.ema:g} from step {t.ema_start}" if t.ema > 0 else ""
    return (
        f"loss `{cfg.loss.name}`; G: {net(g)}, z_dim {cfg.model.z_dim} ({cfg.model.z_prior}); D: {net(d)}; "
        f"G {opt(og)}; D {opt(od)}; batch {t.batch_size}, {t.d_steps} D step(s) per G step, {t.steps} steps{ema}"
    )


def run_seed(preset: str, seed: int, runs: Path, pictures: Path, overrides: list[str]) -> tuple[Config, SeedResult]:
    """Train one seed of a preset, score its last checkpoint, copy its final samples picture."""
    cfg = load_config(preset, [*overrides, f"train.seed={seed}", "train.progress=off"])
    t0, c0 = time.perf_counter(), time.process_time()
    run = train(cfg, runs, name=f"{preset}-seed{seed}")
    value = evaluate(run, ["modes"], seed=0)["modes"]["value"]
    minutes, cpu_minutes = (time.perf_counter() - t0) / 60, (time.process_time() - c0) / 60
    picture = f"{preset}-seed{seed}.png"
    shutil.copyfile(sorted((run / "samples").glob("step-*.png"))[-1], pictures / picture)
    return cfg, SeedResult(seed, value["modes"], value["modes_total"], value["high_quality_pct"], value["reverse_kl"], minutes, cpu_minutes, picture)


def run_preset(preset: str, seeds: int, runs: Path, pictures: Path, overrides: list[str]) -> PresetResult:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = []
    cfg = None
    for seed in range(seeds):
        cfg, result = run_seed(preset, seed, runs, pictures, overrides)
        print(f"[bench-toy] {preset} seed {seed}: {result.modes}/{result.modes_total} modes, {result.high_quality_pct:.1f}% HQ, "
              f"reverse KL {result.reverse_kl:.3f}, {result.minutes:.1f} min ({result.cpu_minutes:.1f} CPU)", flush=True)
        results.append(result)
    assert cfg is not None
    return PresetResult(preset, cfg.description, settings(cfg), cfg.train.steps, started, machine(), results)


# ------------------------------------------------------------------------------------------- the page


def outcome(r: SeedResult) -> str:
    """All modes, some missed, or collapsed (fewer than half of the modes)."""
    if r.modes == r.modes_total:
        return "all modes"
    if 2 * r.modes < r.modes_total:
        return f"**collapsed** ({r.modes_total - r.modes} missed)"
    return f"missed {r.modes_total - r.modes}"


def collapse_sentence(p: PresetResult) -> str:
    collapsed = [r.seed for r in p.seeds if 2 * r.modes < r.modes_total]
    partial = [r.seed for r in p.seeds if r.modes < r.modes_total and r.seed not in collapsed]

    def names(seeds: list[int]) -> str:
        return ("seeds " if len(seeds) > 1 else "seed ") + ", ".join(str(s) for s in seeds)

    if not collapsed and not partial:
        return f"Every seed captured all {p.seeds[0].modes_total} modes; no seed collapsed."
    parts = [f"collapsed (fewer than half of the modes): {names(collapsed)}" if collapsed else "no seed collapsed"]
    if partial:
        parts.append(f"missed some modes: {names(partial)}")
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def summary_row(p: PresetResult) -> str:
    s = p.seeds
    published = PUBLISHED.get(p.preset)
    reference = f"{published[0]:g} / {published[1]:g}%" if published else "—"
    return (
        f"| `{p.preset}` | {len(s)} | {mean_std([r.modes for r in s], 1)} / {s[0].modes_total} | "
        f"{mean_std([r.high_quality_pct for r in s], 1)} | {mean_std([r.reverse_kl for r in s], 3)} | {reference} | "
        f"{mean_std([r.minutes for r in s], 1)} ({mean_std([r.cpu_minutes for r in s], 1)} CPU) | {sum(r.minutes for r in s):.1f} |"
    )


def preset_section(p: PresetResult, folder: str) -> list[str]:
    lines = [
        f"## {p.preset}",
        "",
        f"{p.description}. Measured {p.measured} on: {p.machine}.",
        "",
        f"Settings: {p.settings}.",
        "",
        "| seed | modes captured | high quality | reverse KL | outcome | minutes (wall) | CPU minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in p.seeds:
        lines.append(
            f"| {r.seed} | {r.modes} / {r.modes_total} | {r.high_quality_pct:.1f}% | {r.reverse_kl:.3f} | {outcome(r)} | "
            f"{r.minutes:.1f} | {r.cpu_minutes:.1f} |"
        )
    s = p.seeds
    lines += [
        f"| mean ± std | {mean_std([r.modes for r in s], 1)} | {mean_std([r.high_quality_pct for r in s], 1)}% | "
        f"{mean_std([r.reverse_kl for r in s], 3)} | | {sum(r.minutes for r in s):.1f} in all | "
        f"{sum(r.cpu_minutes for r in s):.1f} in all |",
        "",
        collapse_sentence(p),
        "",
        "Final samples (orange) against real data (grey), one picture per seed:",
        "",
        " ".join(f"![{p.preset} seed {r.seed}]({folder}/{r.picture})" for r in s),
        "",
    ]
    return lines


def write_markdown(results: list[PresetResult], out: Path, overrides: list[str]) -> None:
    total = sum(r.minutes for p in results for r in p.seeds)
    lines = [
        "# Toy benchmark: mode coverage of the plain GAN",
        "",
        f"Written by `bench/toy.py`. Re-run: `{RERUN}` (= `python bench/toy.py --seeds 3 --out docs/results/toy.md`); "
        f"one preset: `python bench/toy.py --presets gan-ring` (the other rows are kept from `{out.stem}/results.json`)"
        + (f". This run used overrides: `{' '.join(overrides)}`" if overrides else "") + ".",
        "",
        "Protocol (VEEGAN, Srivastava et al., 2017; as reported by PacGAN, Lin et al., 2018): each preset is trained as",
        "shipped, once per seed (`train.seed` = 0, 1, …), on the CPU. After the last step, "
        f"{PROTOCOL_SAMPLES:,} samples are drawn from the",
        "generator (its EMA copy where the preset keeps one) with noise seed 0. Each sample is assigned to its nearest",
        f"mixture centre; it is *high quality* (HQ) if it lies within {THRESHOLD_STDS:g} standard deviations of that centre. A mode is",
        "*captured* if at least one HQ sample is assigned to it. Reverse KL is KL(q ‖ uniform) of the histogram q of",
        "nearest-centre assignments over the modes (0 = balanced, log K = everything at one mode). A seed *collapsed* if",
        "it captured fewer than half of the modes. Minutes cover training and evaluation of one run: wall-clock minutes",
        "include waiting for a core on a shared machine; CPU minutes (the process's CPU time, one torch thread) do not.",
        "",
        "Plain GAN only: no gradient penalty, spectral norm, unrolling or minibatch features. `minimax-ring` is",
        "`gan-ring` with the saturating minimax loss and nothing else changed. Like every toy preset, they share one",
        "schedule: learning rates fall linearly to 0 over the second half of the steps, samples come from an EMA of G.",
        "",
        "| preset | seeds | modes captured | high quality % | reverse KL | published GAN (modes / HQ) | minutes per run (CPU) | minutes in all |",
        "|---|---|---|---|---|---|---|---|",
        *[summary_row(p) for p in results],
        "",
        "Measured on: " + " | ".join(sorted({p.machine for p in results})) + ".",
        "",
        f"Total: {total:.1f} minutes for {sum(len(p.seeds) for p in results)} runs. Published: the plain GAN row of PacGAN's table.",
        "",
    ]
    for p in results:
        lines += preset_section(p, out.stem)
    out.write_text("\n".join(lines))


# ------------------------------------------------------------------------------------------- main


def load_previous(path: Path) -> dict[str, PresetResult]:
    if not path.exists():
        return {}
    previous = {}
    for raw in json.loads(path.read_text()):
        seeds = [SeedResult(**s) for s in raw.pop("seeds")]
        previous[raw["preset"]] = PresetResult(**raw, seeds=seeds)
    return previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="train seeds 0..N-1 of every preset (default 3)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "toy.md")
    parser.add_argument("--presets", nargs="+", default=PRESETS, help=f"presets to (re-)run (default: {' '.join(PRESETS)})")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: these small MLPs gain nothing from more, and lose much on a busy machine)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every preset (for smoke runs)")
    parser.add_argument("--page-only", action="store_true", help="rewrite the page from results.json without running anything")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    torch.set_num_threads(args.threads)
    pictures = args.out.parent / args.out.stem
    pictures.mkdir(parents=True, exist_ok=True)
    store = pictures / "results.json"
    results = load_previous(store)
    if args.page_only:
        write_markdown(list(results.values()), args.out, args.overrides)
        print(f"wrote {args.out} from {store}")
        return
    with tempfile.TemporaryDirectory(prefix="gankit-bench-toy-") as tmp:
        for preset in args.presets:
            results[preset] = run_preset(preset, args.seeds, Path(tmp), pictures, args.overrides)
    ordered = [results[p] for p in PRESETS if p in results] + [r for p, r in results.items() if p not in PRESETS]
    store.write_text(json.dumps([asdict(p) for p in ordered], indent=2) + "\n")
    write_markdown(ordered, args.out, args.overrides)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
