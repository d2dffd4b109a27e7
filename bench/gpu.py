"""GPU benchmark (``bash bench/gpu.sh`` on a machine with CUDA GPUs -> docs/results/gpu.md).

1. DCGAN at 64 px (``dcgan-stacked`` resized to 64 px, width 64, batch 256 per GPU, channels_last): images/s in fp32
   and bf16 from the run's own clock, and the fraction of the GPU's peak it reaches (FLOPs of one training iteration
   counted by ``torch.utils.flop_counter`` over the dense peak of the GPU's tensor cores for that precision).
2. One GPU against all of them (``torchrun --nproc_per_node=N``), bf16, the same per-GPU batch.
3. The Stacked MNIST runs CPU time kept short: ``pacgan-stacked`` and ``wgan-gp-stacked`` on their full 10,000
   steps and a wider ``dcgan-stacked`` (width 128, 20,000 steps), scored as in docs/results/stability.md (26,000
   samples, the digit judge on each channel; modes and KL to uniform).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.common import machine  # noqa: E402
from gankit.train.rundir import read_metrics  # noqa: E402

RERUN = "bash bench/gpu.sh"
# dense peak FLOP/s by GPU name and precision (vendor data sheets; fp32 = TF32 tensor cores, which PyTorch's
# convolutions use by default)
PEAKS = {"H200": {"bf16": 989e12, "fp32": 494e12}, "H100": {"bf16": 989e12, "fp32": 494e12}, "A100": {"bf16": 312e12, "fp32": 156e12}}
DCGAN64 = ["data.image_size=64", "model.g.width=64", "model.d.width=64", "train.batch_size=256", "train.channels_last=true"]
LONG = {
    "pacgan-stacked": [],
    "wgan-gp-stacked": [],
    "dcgan-stacked-wide": ["model.g.width=128", "model.d.width=128", "train.steps=20000"],
}


def gankit_train(preset: str, sets: list[str], runs: Path, processes: int = 1) -> Path:
    args = [x for item in [*sets, "train.device=cuda", "train.progress=none"] for x in ("--set", item)] + ["--runs-dir", str(runs)]
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    head = [sys.executable, *launcher, "-m", "gankit"]
    done = subprocess.run([*head, "train", preset, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"gankit train {preset} failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def rate(run: Path, warmup: int) -> float:
    times = {r["step"]: r["time"] for r in read_metrics(run / "metrics.jsonl") if "time" in r}
    last = max(times)
    return (last - warmup) / (times[last] - times[warmup])


def iteration_flops(precision: str) -> float:
    """FLOPs of one training iteration of the 64 px DCGAN (D step and G step, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    from gankit.config import load_config
    from gankit.train.loop import build_state, draw_batches, make_trainable, optimise
    from gankit.variants import StepContext

    state = build_state(load_config("dcgan-stacked", [*DCGAN64, "train.device=cuda", f"train.precision={precision}"]))
    v = state.variant
    with FlopCounterMode(display=False) as counter:
        for step in v.steps:
            make_trainable(v, step)
            batches = draw_batches(state, step, 1)
            ctx = StepContext(v.players, batches, state.cfg.train.batch_size, state.noise, 1, 1, state.device, v.state, {}, v.optimizers)
            optimise(v, step, ctx, state.precision)
    return float(counter.get_total_flops())


def percent(fraction: float | None) -> str:
    return f"{100 * fraction:.1f} %" if fraction is not None else "peak unknown for this GPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="steps of each throughput run")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--skip-long", action="store_true", help="only the throughput parts (minutes), not the Stacked MNIST runs")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "gpu-bench")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "gpu.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu.py needs a CUDA GPU (none is visible); docs/results/gpu.md is left as it is")
    began = time.perf_counter()
    gpus, name = torch.cuda.device_count(), torch.cuda.get_device_name(0)
    peak = next((p for key, p in PEAKS.items() if key in name), None)
    sets = [*DCGAN64, f"train.steps={args.steps}", "train.log_every=50", f"train.sample_every={10 * args.steps}", f"train.ckpt_every={10 * args.steps}"]
    rows = []
    for precision in ("fp32", "bf16"):
        run = gankit_train("dcgan-stacked", [*sets, f"train.precision={precision}"], args.runs / precision)
        images = rate(run, args.warmup) * 256
        flops = iteration_flops(precision)
        fraction = flops * images / 256 / peak[precision] if peak else None
        rows.append({"precision": precision, "images_s": images, "tflops_per_iter": flops / 1e12, "peak_fraction": fraction})
        print(f"dcgan 64 px {precision}: {images:.0f} images/s", flush=True)
    scale = []
    for processes in sorted({1, gpus}):
        run = gankit_train("dcgan-stacked", [*sets, "train.precision=bf16", f"train.batch_size={256 * processes}"], args.runs / f"ranks{processes}", processes)
        scale.append({"gpus": processes, "images_s": rate(run, args.warmup) * 256 * processes})
    long = []
    if not args.skip_long:
        from gankit.metrics import evaluate

        for label, extra in LONG.items():
            preset = label.removesuffix("-wide")
            t0 = time.perf_counter()
            run = gankit_train(preset, ["train.precision=bf16", *extra], args.runs / label)
            judged = evaluate(run, ["judge"], seed=0)["judge"]["value"]
            long.append({"run": label, "sets": extra, "modes": judged["modes"], "kl": judged["kl_to_uniform"], "minutes": (time.perf_counter() - t0) / 60})
            print(f"{label}: {judged['modes']} modes, KL {judged['kl_to_uniform']:.3f}", flush=True)
    lines = [
        "# GPU benchmark",
        "",
        f"Written by `bench/gpu.py` on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC "
        f"(took {(time.perf_counter() - began) / 60:.1f} min). Re-run: `{RERUN}`.",
        "",
        f"Machine: {machine()}; {gpus} × {name}.",
        "",
        "## DCGAN 64 px, one GPU",
        "",
        "| precision | images/s | TFLOP per iteration (batch 256) | fraction of the dense peak |",
        "|---|---|---|---|",
        *[f"| {r['precision']} | {r['images_s']:.0f} | {r['tflops_per_iter']:.3f} | {percent(r['peak_fraction'])} |" for r in rows],
        "",
        "## One GPU against all",
        "",
        "| GPUs | images/s (bf16, batch 256 per GPU) |",
        "|---|---|",
        *[f"| {r['gpus']} | {r['images_s']:.0f} |" for r in scale],
        "",
        "## Stacked MNIST on the full schedules (bf16)",
        "",
        "| run | overrides | modes | KL to uniform | minutes |",
        "|---|---|---|---|---|",
        *[f"| `{r['run']}` | {' '.join(r['sets']) or '—'} | {r['modes']} | {r['kl']:.3f} | {r['minutes']:.1f} |" for r in long],
        "",
    ]
    args.out.write_text("\n".join(lines))
    (args.out.parent / "gpu.json").write_text(json.dumps({"dcgan64": rows, "scaling": scale, "stacked": long}, indent=2))
    print(f"-> {args.out}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
