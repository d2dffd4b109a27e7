"""Speed benchmark: gankit's training loop against a plain PyTorch loop with the same networks, batch, optimisers and
threads, run back to back (``make bench-speed`` -> docs/results/speed.md).

The plain loop is what one would write by hand for the preset: the same modules (built by gankit, so the same
initialisation), the same Adam settings, real batches drawn from the same tensor by a random permutation, noise from
one generator, a D step on a real and a fake batch (non-saturating cross-entropy), a G step on a new noise batch,
and the generator's EMA update. gankit's loop adds what it does every iteration: its step objects, loss bookkeeping,
the NaN guard's host sync, the schedulers, the watchdog's loss check at log lines, the metrics log. Pictures and
checkpoints are set beyond the measured window. Steady state: iterations/s between two log lines after a warm-up,
alternating gankit and plain ``--pairs`` times, median of the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench.common import machine  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.train.ema import update_ema  # noqa: E402
from gankit.train.loop import build_state, run_loop  # noqa: E402
from gankit.train.rundir import create_run_dir, read_metrics  # noqa: E402

RERUN = "make bench-speed"
PRESET = "dcgan-mnist"
GOAL_TAX = 0.97


def config(steps: int, warmup: int, threads: int):
    """The preset as shipped, with pictures and checkpoints moved past the measured window and losses logged at the
    window's two ends (and every 50 steps: what a user sees)."""
    return load_config(
        PRESET,
        [f"train.steps={steps}", "train.log_every=50", f"train.sample_every={10 * steps}", f"train.ckpt_every={10 * steps}",
         "train.progress=none", "train.device=cpu", f"train.threads={threads}", f"train.ema_start={warmup}"],
    )  # fmt: skip


def gankit_rate(steps: int, warmup: int, threads: int) -> float:
    """Iterations/s of gankit's loop between the log lines at ``warmup`` and ``steps`` (its own clock, in metrics.jsonl)."""
    state = build_state(config(steps, warmup, threads))
    with tempfile.TemporaryDirectory() as tmp:
        run = create_run_dir(Path(tmp), "speed")
        run_loop(state, run)
        times = {r["step"]: r["time"] for r in read_metrics(run / "metrics.jsonl") if "time" in r}
    return (steps - warmup) / (times[steps] - times[warmup])


def plain_rate(steps: int, warmup: int, threads: int) -> float:
    """Iterations/s of the hand-written loop over the same window."""
    cfg = config(steps, warmup, threads)
    state = build_state(cfg)  # the same modules, initialisation, optimisers and EMA copy as gankit's run
    g, d = state.variant.players["g"], state.variant.players["d"]
    opt_g, opt_d = state.variant.optimizers["g"], state.variant.optimizers["d"]
    images = state.data.images.float() / 127.5 - 1  # the training split, in the model's range
    batch, z_dim, decay = cfg.train.batch_size, cfg.model.z_dim, cfg.train.ema
    rng = torch.Generator().manual_seed(0)
    order, at = torch.randperm(len(images), generator=rng), 0
    start = 0.0
    for it in range(1, steps + 1):
        if at + batch > len(order):
            order, at = torch.randperm(len(images), generator=rng), 0
        real = images[order[at : at + batch]]
        at += batch
        d.requires_grad_(True)
        g.requires_grad_(False)
        with torch.no_grad():
            fake = g(torch.randn(batch, z_dim, generator=rng))
        real_logits, fake_logits = d(real)["logits"], d(fake)["logits"]
        d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d.requires_grad_(False)
        g.requires_grad_(True)
        g_loss = F.softplus(-d(g(torch.randn(batch, z_dim, generator=rng)))["logits"]).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        update_ema(state.ema, {"g": g}, decay if it > warmup else 0.0)
        if it % 50 == 0:
            float(d_loss), float(g_loss)  # a user's loop logs too
        if it == warmup:
            start = time.perf_counter()
    return (steps - warmup) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "speed.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    rows = []
    for pair in range(args.pairs):
        order = ("gankit", "plain") if pair % 2 == 0 else ("plain", "gankit")  # alternate who goes first
        rates = {}
        for who in order:
            rates[who] = (gankit_rate if who == "gankit" else plain_rate)(args.steps, args.warmup, args.threads)
            print(f"pair {pair + 1}/{args.pairs} {who}: {rates[who]:.2f} it/s", flush=True)
        rows.append({"pair": pair + 1, "first": order[0], **rates, "ratio": rates["gankit"] / rates["plain"]})
    ratio = statistics.median(r["ratio"] for r in rows)
    minutes = (time.perf_counter() - began) / 60
    lines = [
        "# Speed: gankit's loop against a plain PyTorch loop",
        "",
        f"Written by `bench/speed.py` on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC (took {minutes:.1f} min). "
        f"Re-run: `{RERUN}`.",
        "",
        f"Machine: {machine()}.",
        "",
        "| check (issue 20's acceptance) | measured | goal |",
        "|---|---|---|",
        f"| framework tax: gankit's iterations/s ÷ the plain loop's, `{PRESET}`, {args.threads} threads (median of {args.pairs} pairs) "
        f"| **{ratio:.3f}** | ≥ {GOAL_TAX} |",
        "",
        f"`{PRESET}` as shipped (batch {config(1, 0, 1).train.batch_size}, DCGAN G and D of width 32 with batch norm, Adam 2e-4 "
        "(0.5, 0.999), EMA 0.999), pictures and checkpoints moved past the window; steady state between the log lines at "
        f"step {args.warmup} and {args.steps} (gankit: its own clock in metrics.jsonl; plain: `time.perf_counter`). The plain "
        "loop (`plain_rate` in bench/speed.py) uses the same modules, initialisation, optimisers and EMA update, and "
        "draws real batches by a random permutation of the same tensor; pairs alternate which loop runs first.",
        "",
        "| pair | first | gankit it/s | plain it/s | ratio |",
        "|---|---|---|---|---|",
        *[f"| {r['pair']} | {r['first']} | {r['gankit']:.2f} | {r['plain']:.2f} | {r['ratio']:.3f} |" for r in rows],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    (args.out.parent / "speed.json").write_text(json.dumps({"rows": rows, "ratio": ratio, "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))
    print(f"framework tax ratio {ratio:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
