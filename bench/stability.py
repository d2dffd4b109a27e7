"""Stability benchmark: every stabilisation family side by side with the plain GAN, on the same protocols.

`make bench-stability` runs it and writes docs/results/stability.md (pictures under docs/results/stability/, raw
numbers in docs/results/stability/results.json). Three parts, each runnable alone (``--part``); rows already in
results.json are kept, so the parts and families can be (re-)run one at a time, and ``--first-seed`` adds seeds to
a preset's rows (kept when run with the same overrides):

1. ``toys``: the ring of 8 and the grid of 25 Gaussians, VEEGAN protocol (2,500 samples; modes captured, % high
   quality, reverse KL), every family's ``<family>-ring`` / ``<family>-grid`` preset as shipped, ``--seeds`` seeds.
2. ``stacked``: Stacked MNIST (1,000 modes), 26,000 samples, the digit judge on each channel: modes covered and KL
   of the mode histogram to uniform, for ``dcgan-stacked`` and the ``<family>-stacked`` presets.
3. ``mnist``: MNIST-5k, every loss family's ``<family>-mnist`` preset trained for the same wall time (the time
   ``dcgan-mnist`` takes for its schedule on this machine, ``--budget-minutes``): its steps are set from a short
   timed calibration run, then classifier IS and judge-feature FID (10,000 samples).

Runs execute ``--jobs`` at a time, each in its own process with one torch thread.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, mean_std  # noqa: E402
from gankit.config import ModelConfig  # noqa: E402

RERUN = "make bench-stability"
TOY_FAMILIES = ["gan", "lsgan", "wgan", "wgan-gp", "sngan", "improved", "pacgan", "unrolled", "drs", "pacgan-drs", "pacgan-refit"]
STACKED_PRESETS = ["dcgan-stacked", "wgan-gp-stacked", "pacgan-stacked", "drs-stacked"]
MNIST_PRESETS = ["dcgan-mnist", "lsgan-mnist", "wgan-mnist", "wgan-gp-mnist", "sngan-mnist"]
# PacGAN (Lin et al., 2018), Table 2, same data and protocol: (modes, high quality %, reverse KL)
PUBLISHED_TOYS = {
    "ring": {"GAN": (6.3, 98.2, 0.45), "PacGAN2": (7.8, 95.9, 0.07)},
    "grid": {"GAN": (17.3, 94.8, 0.70), "PacGAN2": (24.8, 93.6, 0.04)},
}
PUBLISHED_STACKED = {"DCGAN": (99, 3.4), "PacDCGAN2": (1000, 0.06)}  # Lin et al. (2018), Table 3: (modes, KL)
TOY_GOALS = {"ring": (8.0, 97.0), "grid": (25.0, 95.0)}
STACKED_GOAL = (990, 0.1)


def log(message: str) -> None:
    print(f"[bench-stability] {message}", flush=True)


# ------------------------------------------------------------------------------------------- one run (child process)


def one_run(job: dict[str, Any]) -> dict[str, Any]:
    """Train ``job['preset']`` with ``job['seed']`` and score it; runs in a worker process with one torch thread."""
    import torch

    torch.set_num_threads(1)
    from gankit.config import load_config
    from gankit.metrics import evaluate
    from gankit.train.loop import train

    cfg = load_config(job["preset"], [*job["overrides"], f"train.seed={job['seed']}", "train.progress=none"])
    t0, c0 = time.perf_counter(), time.process_time()
    run = train(cfg, Path(job["runs"]), name=f"{job['preset']}-seed{job['seed']}")
    train_minutes = (time.perf_counter() - t0) / 60
    if job["part"] == "mnist":
        results = evaluate(run, ["judge", "fid"], n=10_000, seed=0, extractor="mnist")
        value = {"inception_score": results["judge"]["value"]["inception_score"], "fid": results["fid"]["value"]["fid"]}
    elif job["part"] == "stacked":
        judged = evaluate(run, ["judge"], seed=0)["judge"]["value"]  # 26,000 samples, one judge call per channel
        value = {"modes": judged["modes"], "kl": judged["kl_to_uniform"]}
    else:
        value = evaluate(run, ["modes"], seed=0)["modes"]["value"]
    picture = Path(job["pictures"]) / f"{job['preset']}-seed{job['seed']}.png"
    shutil.copyfile(sorted((run / "samples").glob("step-*.png"))[-1], picture)
    health = [r for r in _records(run) if "health" in r]
    warnings = sorted({w.split(";")[0] for r in _records(run) for w in r.get("warnings", [])})
    return {
        **job, "value": value, "steps": cfg.train.steps, "train_minutes": train_minutes,
        "minutes": (time.perf_counter() - t0) / 60, "cpu_minutes": (time.process_time() - c0) / 60,
        "picture": picture.name, "warnings": warnings, "last_health": health[-1]["health"] if health else {},
        "description": cfg.description, "machine": machine(),
    }  # fmt: skip


def _records(run: Path) -> list[dict[str, Any]]:
    from gankit.train.rundir import read_metrics

    return read_metrics(run / "metrics.jsonl")


def calibrate(preset: str, steps: int = 200) -> float:
    """Seconds per training step of ``preset`` on this machine (one torch thread), from a short run."""
    import torch

    torch.set_num_threads(1)
    from gankit.config import load_config
    from gankit.train.loop import build_state, run_loop
    from gankit.train.rundir import create_run_dir

    cfg = load_config(
        preset, [f"train.steps={steps}", "train.progress=none", f"train.sample_every={steps}", f"train.ckpt_every={steps}", "train.watchdog=false"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = create_run_dir(Path(tmp), cfg.name)
        state = build_state(cfg)
        t0 = time.perf_counter()
        run_loop(state, run)
        return (time.perf_counter() - t0) / steps


# ------------------------------------------------------------------------------------------- the page


def _by_preset(rows: list[dict[str, Any]], part: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sorted((r for r in rows if r["part"] == part), key=lambda r: r["seed"]):
        out.setdefault(row["preset"], []).append(row)
    return out


def _not_run(title: str, part: str) -> list[str]:
    return [f"## {title}", "", f"Not run yet: `python bench/stability.py --part {part}`.", ""]


def _missing(expected: list[str], groups: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A "not run yet" paragraph (blank line first) naming the expected presets without rows; nothing if none."""
    missing = [f"`{p}`" for p in expected if p not in groups]
    return ["", f"**Not run yet** (no rows): {', '.join(missing)}."] if missing else []


def _pictures(groups: dict[str, list[dict[str, Any]]], folder: str, suffix: str = "") -> str:
    """One picture per preset (its first seed), on one line."""
    return " ".join(f"![{p}]({folder}/{runs[0]['picture']})" for p, runs in groups.items() if p.endswith(suffix))


def toy_section(rows: list[dict[str, Any]], folder: str) -> list[str]:
    groups = _by_preset(rows, "toys")
    if not groups:
        return _not_run("1. Toys", "toys")
    lines = [
        "## 1. Toys: ring of 8 and grid of 25 Gaussians (VEEGAN protocol)",
        "",
        "Each preset trained as shipped, once per seed. Every toy preset shares one schedule, so that the rows differ",
        "only in the family's own pieces: learning rates fall linearly to 0 over the second half of the steps",
        "(`optim.*.decay_start: 0.5`) and samples come from an EMA of G (`train.ema: 0.999` from step 5,000). After",
        "the last step 2,500 samples (noise seed 0) are assigned to their nearest mixture centre: *high quality* within",
        "3 standard deviations, a mode *captured* if it has a high-quality sample; reverse KL of the nearest-centre",
        "histogram to uniform. Minutes cover training and scoring of one run; wall-clock minutes include waiting for a",
        "core on a shared machine, CPU minutes (one torch thread) do not. Published: PacGAN (Lin et al., 2018), Table 2,",
        "same data and protocol. `drs-*` rows are the `gan-*` presets trained identically (same seeds, so the same",
        "networks) and sampled by discriminator rejection sampling (`model.sampler: drs`): each proposal of G is kept",
        f"with probability min(1, exp(D's logit − M)), M the {ModelConfig().drs_quantile:g} quantile of D's logits on 10,000 burn-in proposals",
        "(`model.drs_quantile`), so these rows show what D's density-ratio estimate adds at sampling time. `pacgan-drs-*`",
        "rows are the `pacgan-*` presets trained identically and sampled the same way, with the packing D's per-sample",
        "log-ratio (its logit on packs of the sample with 64 fixed partner sets from G, averaged) calibrated first by",
        "isotonic regression on 10,000 real samples and 10,000 proposals (`model.drs_calibration: isotonic`).",
        "`pacgan-refit-*` rows are the `pacgan-*` presets trained identically and sampled by calibrated DRS whose",
        "log-ratio comes not from D but from a fresh per-sample classifier with D's network, fitted to real samples vs",
        "the trained generator's proposals with G fixed (`model.drs_estimator: refit`, 20,000 Adam steps of 512 + 512)."
        + (
            " **Rows with fewer than 5 seeds are a reduced run, short of the issue's protocol of 5.**" if any(len(runs) < 5 for runs in groups.values()) else ""
        ),
        "",
    ]
    missing = _missing([f"{f}-{t}" for t in ("ring", "grid") for f in TOY_FAMILIES], groups)
    lines += [*missing[1:], ""] if missing else []
    for toy in ("ring", "grid"):
        total = 8 if toy == "ring" else 25
        lines += [
            f"### {toy}",
            "",
            "| preset | seeds | modes captured | high quality % | reverse KL | all modes (seeds) | minutes per run (wall, CPU) | watchdog warnings |",
            "|---|---|---|---|---|---|---|---|",
        ]
        best = None
        for preset, runs in groups.items():
            if not preset.endswith(f"-{toy}"):
                continue
            modes = [r["value"]["modes"] for r in runs]
            hq = [r["value"]["high_quality_pct"] for r in runs]
            kl = [r["value"]["reverse_kl"] for r in runs]
            full = sum(m == total for m in modes)
            kinds = Counter(kind for r in runs for kind in {w.split(":")[0] for w in r["warnings"]})  # kind -> seeds with it
            warn = "; ".join(f"{kind} ({n} of {len(runs)} seeds)" for kind, n in sorted(kinds.items())) or "—"
            lines.append(
                f"| `{preset}` | {len(runs)} | {mean_std(modes, 1)} / {total} | {mean_std(hq, 1)} | {mean_std(kl, 3)} | "
                f"{full}/{len(runs)} | {mean_std([r['minutes'] for r in runs], 1)} ({mean_std([r['cpu_minutes'] for r in runs], 1)} CPU) | {warn} |"
            )
            score = (statistics.mean(modes), statistics.mean(hq))
            if best is None or score > best[1]:
                best = (preset, score)
        for name, (m, q, k) in PUBLISHED_TOYS[toy].items():
            lines.append(f"| published {name} | — | {m:g} / {total} | {q:g} | {k:g} | — | — | — |")
        goal_modes, goal_hq = TOY_GOALS[toy]
        if best is not None:
            met = best[1][0] >= goal_modes and best[1][1] >= goal_hq
            lines += [
                "",
                f"Goal: the best variant at {goal_modes:g}/{total} modes with ≥ {goal_hq:g}% high quality. Best here: `{best[0]}`, "
                f"{best[1][0]:.1f} modes, {best[1][1]:.1f}% high quality: {'met' if met else '**not met**'}.",
            ]
        lines += ["", "Final samples, one per preset (seed 0):", ""]
        lines += [_pictures(groups, folder, f"-{toy}"), ""]
    return lines


@functools.cache
def _shipped_steps(preset: str) -> int:
    from gankit.config import load_config

    return load_config(preset).train.steps


def stacked_section(rows: list[dict[str, Any]], folder: str) -> list[str]:
    groups = _by_preset(rows, "stacked")
    if not groups:
        return _not_run("2. Stacked MNIST", "stacked")
    shipped = {p: _shipped_steps(p) for p in groups}
    reduced = [p for p, runs in groups.items() if len(runs) < 5 or runs[0]["steps"] < shipped[p]]
    lines = [
        "## 2. Stacked MNIST: modes out of 1,000 (26,000 samples, the digit judge on each channel)",
        "",
        "Each preset trained once per seed, then 26,000 samples of its EMA generator are classified channel by channel by the",
        "digit judge; a mode (one of 1,000 digit triples) is covered if at least one sample lands in it; KL of the mode",
        "histogram to uniform. The issue's \"best other variant\" is `drs-stacked` (dcgan-stacked with layer norm in D,",
        "sampled by discriminator rejection sampling): DRS is the family that did best on the toys (section 1). The other",
        "families' `-stacked` presets ship but are not ranked here, for CPU time (a dcgan-stacked seed alone takes ~27 CPU minutes).",
        *(
            [
                "",
                "**Reduced run** (fewer than the issue's 5 seeds, or fewer steps than the preset's schedule): "
                + ", ".join(f"`{p}` {len(groups[p])} seed(s), {groups[p][0]['steps']:,} of {shipped[p]:,} steps" for p in reduced)
                + "."
            ]
            if reduced
            else []
        ),
        *_missing(STACKED_PRESETS, groups),
        "",
        "| preset | seeds | steps | modes | KL to uniform | minutes per run (wall, CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for preset, runs in groups.items():
        modes = [r["value"]["modes"] for r in runs]
        kl = [r["value"]["kl"] for r in runs]
        lines.append(
            f"| `{preset}` | {len(runs)} | {runs[0]['steps']} | {mean_std(modes, 1)} | {mean_std(kl, 3)} | "
            f"{mean_std([r['minutes'] for r in runs], 1)} ({mean_std([r['cpu_minutes'] for r in runs], 1)} CPU) |"
        )
    for name, (m, k) in PUBLISHED_STACKED.items():
        lines.append(f"| published {name} | — | — | {m} | {k:g} | — |")
    best = max(groups, key=lambda p: (statistics.mean(r["value"]["modes"] for r in groups[p]), -statistics.mean(r["value"]["kl"] for r in groups[p])))
    modes, kl = (statistics.mean(r["value"][k] for r in groups[best]) for k in ("modes", "kl"))
    met = modes >= STACKED_GOAL[0] and kl <= STACKED_GOAL[1]
    lines += [
        "",
        f"Goal: ≥ {STACKED_GOAL[0]} modes with KL ≤ {STACKED_GOAL[1]:g} for the best variant. Best here: `{best}`, {modes:.1f} modes, "
        f"KL {kl:.3f}: {'met' if met else '**not met**'}.",
        "",
    ]
    return [*lines, _pictures(groups, folder), ""]


def mnist_section(rows: list[dict[str, Any]], folder: str) -> list[str]:
    groups = _by_preset(rows, "mnist")
    if not groups:
        return _not_run("3. MNIST-5k loss families at equal wall time", "mnist")
    budget = next(iter(groups.values()))[0]["budget_minutes"]
    reference = groups.get("dcgan-mnist")
    short = reference is not None and reference[0]["steps"] < _shipped_steps("dcgan-mnist")
    lines = [
        "## 3. MNIST-5k: loss families at equal wall time",
        "",
        f"Each preset's steps are set so that its training takes the same wall time, {budget:.1f} min (from a",
        "timed 200-step calibration run on one torch thread); then 10,000 samples of its EMA generator are scored with the digit judge: classifier IS",
        "(10 splits) and the Fréchet distance of judge features against the train split. The steps are fixed by the",
        "calibration (seeds added later train as many steps as the preset's first rows, on whatever machine they ran);",
        "train minutes are wall-clock and exceed the budget when other runs shared the cores."
        + (
            f" **Reduced run:** the budget covers {reference[0]['steps']:,} of `dcgan-mnist`'s {_shipped_steps('dcgan-mnist'):,} steps"
            + (f", and {len(reference)} seed(s) instead of 5" if len(reference) < 5 else "")
            + "."
            if short
            else ""
        ),
        *_missing(MNIST_PRESETS, groups),
        "",
        "| preset | seeds | steps | IS | judge FID | train minutes |",
        "|---|---|---|---|---|---|",
    ]
    for preset, runs in groups.items():
        lines.append(
            f"| `{preset}` | {len(runs)} | {runs[0]['steps']} | {mean_std([r['value']['inception_score'] for r in runs], 2)} | "
            f"{mean_std([r['value']['fid'] for r in runs], 2)} | {mean_std([r['train_minutes'] for r in runs], 1)} |"
        )
    return [*lines, "", _pictures(groups, folder), ""]


def _machines(rows: list[dict[str, Any]]) -> str:
    """The machines the rows were measured on (parts and seeds may come from different sessions)."""
    seen = sorted({r["machine"] for r in rows if r.get("machine")})
    unknown = sum(1 for r in rows if not r.get("machine"))
    if not unknown and len(seen) == 1:
        return f"Machine: {seen[0]}."
    parts = [f"`{m}`" for m in seen]
    if unknown:
        parts.append(f"{unknown} rows measured before the machine was recorded per row (this page was rendered on `{machine()}`)")
    return "Machines (rows come from several sessions): " + "; ".join(parts) + "."


def write_page(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:

    folder = out.stem
    lines = [
        "# Stability benchmark: which fix works?",
        "",
        f"Written by `bench/stability.py`, last run {meta['date']}. Re-run: `{RERUN}`; one part: `python bench/stability.py --part toys|stacked|mnist`",
        "(rows of the other parts are kept from results.json)."
        + (f" Overrides in the last run: `{' '.join(meta['overrides'])}`." if meta["overrides"] else ""),
        "",
        f"{_machines(rows)} Runs {meta['jobs']} at a time.",
        "",
        *toy_section(rows, folder),
        *stacked_section(rows, folder),
        *mnist_section(rows, folder),
    ]
    out.write_text("\n".join(lines))


# ------------------------------------------------------------------------------------------- main


def kept_rows(rows: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stored rows a new run keeps: a preset's earlier rows stay beside its new seeds only if they ran with the
    same overrides (schedule) and are not re-run; rows of presets not in this run all stay."""
    runs = {(j["part"], j["preset"]): j["overrides"] for j in jobs}
    seeds = {(j["part"], j["preset"], j["seed"]) for j in jobs}
    return [
        r for r in rows
        if (r["part"], r["preset"]) not in runs or (r["overrides"] == runs[r["part"], r["preset"]] and (r["part"], r["preset"], r["seed"]) not in seeds)
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", nargs="+", choices=["toys", "stacked", "mnist", "all"], default=["all"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run are first..first+seeds-1 (add seeds to a preset's rows, e.g. --first-seed 2 --seeds 3)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--families", nargs="+", default=TOY_FAMILIES, help="toy families (presets <family>-ring/-grid)")
    parser.add_argument("--toys", nargs="+", default=["ring", "grid"])
    parser.add_argument("--stacked", nargs="+", default=STACKED_PRESETS, help="Stacked MNIST presets")
    parser.add_argument("--mnist", nargs="+", default=MNIST_PRESETS, help="MNIST-5k presets (dcgan-mnist sets the budget)")
    parser.add_argument(
        "--steps", nargs="+", default=[], metavar="PRESET=N", help="train.steps for one toy or Stacked MNIST preset (a reduced schedule, shown on the page)"
    )
    parser.add_argument("--budget-minutes", type=float, default=None, help="MNIST training wall time per run (default: dcgan-mnist's schedule)")
    parser.add_argument("--recalibrate", action="store_true", help="time MNIST presets afresh instead of reusing the steps of their earlier rows")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "stability.md")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run (smoke runs)")
    parser.add_argument("--page-only", action="store_true", help="rewrite the page from results.json without running anything")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the runs use one thread each; the machine line says so
    if args.seeds < 1 or args.jobs < 1 or args.first_seed < 0:
        parser.error("--seeds and --jobs must be at least 1, --first-seed at least 0")
    pictures = args.out.parent / args.out.stem
    pictures.mkdir(parents=True, exist_ok=True)
    store = pictures / "results.json"
    rows = json.loads(store.read_text()) if store.exists() else []
    if args.page_only:
        meta = json.loads((pictures / "meta.json").read_text()) if (pictures / "meta.json").exists() else {"date": "?", "overrides": [], "jobs": args.jobs}
        write_page(args.out, rows, meta)
        log(f"wrote {args.out} from {store}")
        return
    parts = ["toys", "stacked", "mnist"] if "all" in args.part else args.part
    steps_for: dict[str, int] = {}
    for item in args.steps:
        preset, _, n = item.partition("=")
        if not n.isdigit() or int(n) < 1:
            parser.error(f"--steps takes PRESET=N with N a positive integer, got {item!r}")
        steps_for[preset] = int(n)

    def overrides_for(preset: str) -> list[str]:
        return [*args.overrides, *([f"train.steps={steps_for[preset]}"] if preset in steps_for else [])]
    with tempfile.TemporaryDirectory(prefix="gankit-bench-stability-") as tmp:
        base = {"runs": tmp, "pictures": str(pictures), "overrides": args.overrides}
        jobs: list[dict[str, Any]] = []
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        if "toys" in parts:
            for p in (f"{f}-{t}" for t in args.toys for f in args.families):
                jobs += [{**base, "part": "toys", "preset": p, "seed": s, "overrides": overrides_for(p)} for s in seeds]
        if "stacked" in parts:
            jobs += [{**base, "part": "stacked", "preset": p, "seed": s, "overrides": overrides_for(p)} for p in args.stacked for s in seeds]
        if "mnist" in parts:
            from gankit.config import load_config

            # Seeds added to a preset's rows (--first-seed) reuse the steps its earlier rows were calibrated to, so
            # every seed of a row trains equally long; presets without rows (or --recalibrate) are timed here.
            earlier = {
                r["preset"]: r for r in rows
                if r["part"] == "mnist" and r["seed"] not in seeds and r["overrides"][:-1] == args.overrides
                and args.budget_minutes in (None, r["budget_minutes"]) and not args.recalibrate
            }  # fmt: skip
            budget = args.budget_minutes or next((r["budget_minutes"] for r in earlier.values()), None)
            rate = {p: calibrate(p) for p in dict.fromkeys(["dcgan-mnist", *args.mnist]) if p not in earlier and (p in args.mnist or budget is None)}
            if budget is None:
                budget = rate["dcgan-mnist"] * load_config("dcgan-mnist").train.steps / 60
            steps_of = {p: earlier[p]["steps"] if p in earlier else max(100, int(budget * 60 / rate[p]) // 100 * 100) for p in args.mnist}
            log(
                f"MNIST budget {budget:.1f} min per run; steps: "
                + ", ".join(f"{p} {n}" + (" (from earlier rows)" if p in earlier else f" ({rate[p]:.3f} s per step)") for p, n in steps_of.items())
            )
            jobs += [
                {**base, "part": "mnist", "preset": p, "seed": s, "budget_minutes": budget, "overrides": [*args.overrides, f"train.steps={steps_of[p]}"]}
                for s in seeds for p in args.mnist
            ]  # fmt: skip
        unused = set(steps_for) - {j["preset"] for j in jobs if j["part"] != "mnist"}
        if unused:
            parser.error(f"--steps names {', '.join(sorted(unused))}, not a toy or Stacked MNIST preset of this run (MNIST steps follow the budget)")
        log(f"{len(jobs)} runs, {args.jobs} at a time")
        rows = kept_rows(rows, jobs)
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.jobs, maxtasksperchild=1) as pool:
            for result in pool.imap_unordered(one_run, jobs):
                v = result["value"]
                summary = ", ".join(f"{k} {x:.4g}" for k, x in v.items() if isinstance(x, (int, float)))
                log(f"{result['preset']} seed {result['seed']}: {summary} ({result['minutes']:.1f} min)")
                rows.append(result)
                store.write_text(json.dumps(rows, indent=1) + "\n")
    meta = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"), "overrides": args.overrides, "jobs": args.jobs}
    (pictures / "meta.json").write_text(json.dumps(meta) + "\n")
    write_page(args.out, rows, meta)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
