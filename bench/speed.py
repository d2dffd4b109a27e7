"""Speed benchmark: gankit's training loop against a plain PyTorch loop with the same networks, batch, optimisers and
threads, run back to back (``make bench-speed`` -> docs/results/speed.md).

The plain loop is what one would write by hand for the preset: the same modules (built by gankit, so the same
initialisation), the same Adam settings, real batches drawn from the same tensor by a random permutation, noise from
one generator, a D step on a real and a fake batch (non-saturating cross-entropy), a G step on a new noise batch,
and the generator's EMA update. gankit's loop adds what it does every iteration: its step objects, loss bookkeeping,
the NaN guard's host sync, the schedulers, the watchdog's loss check at log lines, the metrics log. Pictures and
checkpoints fall outside the timed windows. Both loops run in one process in alternating chunks (who goes first
alternates), so that they see the same machine; the figure is the median of the chunks' ratios.
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
HEAVY = ["wgan-gp-mnist", "cyclegan-digits2mnist"]  # heavier steps: 5 critic steps with a gradient penalty (double backward) per G
# step; two ResNet generators and two PatchGANs with cycle and identity terms and image pools


def config(steps: int, warmup: int, threads: int, preset: str = PRESET):
    """The preset as shipped, with pictures and checkpoints moved past the measured window and losses logged at the
    window's two ends (and every 50 steps: what a user sees)."""
    ema = [f"train.ema_start={warmup}"] if load_config(preset).train.ema else []  # presets without EMA refuse its start
    return load_config(
        preset,
        [f"train.steps={steps}", f"train.log_every={LOG_EVERY}", f"train.sample_every={10 * steps}", f"train.ckpt_every={10 * steps}",
         "train.progress=none", "train.device=cpu", f"train.threads={threads}", *ema],
    )  # fmt: skip


class PlainLoop:
    """The hand-written loop: the same modules (built by gankit, so the same initialisation), optimisers and EMA."""

    def __init__(self, cfg) -> None:
        state = build_state(cfg)
        self.state, self.cfg = state, cfg
        self.g, self.d = state.variant.players["g"], state.variant.players["d"]
        self.opt_g, self.opt_d = state.variant.optimizers["g"], state.variant.optimizers["d"]
        self.images = state.data.images.float() / 127.5 - 1  # the training split, in the model's range
        self.rng = torch.Generator().manual_seed(0)
        self.order, self.at, self.it = torch.randperm(len(self.images), generator=self.rng), 0, 0
        self.wgan = cfg.loss.name == "wgan"
        if cfg.loss.name not in ("wgan", "nonsaturating") or (self.wgan and not cfg.loss.gp):
            raise ValueError(f"the plain loop is written for the non-saturating game and WGAN-GP, not {cfg.loss.name}")

    def run(self, iterations: int, timed_from: int) -> float:
        """Run ``iterations`` iterations; the seconds taken by those after the first ``timed_from``."""
        batch, z_dim, decay, ema_start = self.cfg.train.batch_size, self.cfg.model.z_dim, self.cfg.train.ema, self.cfg.train.ema_start
        g, d, rng = self.g, self.d, self.rng
        start = time.perf_counter()
        for i in range(iterations):
            if i == timed_from:
                start = time.perf_counter()
            self.it += 1
            if self.at + batch > len(self.order):
                self.order, self.at = torch.randperm(len(self.images), generator=rng), 0
            real = self.images[self.order[self.at : self.at + batch]]
            self.at += batch
            d.requires_grad_(True)
            g.requires_grad_(False)
            for k in range(self.cfg.train.d_steps):
                if k:  # each further critic step on a fresh real batch
                    if self.at + batch > len(self.order):
                        self.order, self.at = torch.randperm(len(self.images), generator=rng), 0
                    real = self.images[self.order[self.at : self.at + batch]]
                    self.at += batch
                with torch.no_grad():
                    fake = g(torch.randn(batch, z_dim, generator=rng))
                real_logits, fake_logits = d(real)["logits"], d(fake)["logits"]
                if self.wgan:  # WGAN-GP: critic difference plus lambda (|grad D(x_hat)| - 1)^2 on random interpolates
                    eps = torch.rand(batch, 1, 1, 1, generator=rng)
                    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
                    (grad,) = torch.autograd.grad(d(mixed)["logits"].sum(), mixed, create_graph=True)
                    penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
                    d_loss = fake_logits.mean() - real_logits.mean() + self.cfg.loss.gp * penalty
                else:
                    d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
                self.opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                self.opt_d.step()
            d.requires_grad_(False)
            g.requires_grad_(True)
            g_logits = d(g(torch.randn(batch, z_dim, generator=rng)))["logits"]
            g_loss = -g_logits.mean() if self.wgan else F.softplus(-g_logits).mean()
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
            update_ema(self.state.ema, {"g": g}, decay if self.it > ema_start else 0.0)
            if self.it % LOG_EVERY == 0:
                float(d_loss.detach()), float(g_loss.detach())  # a user's loop logs too
        return time.perf_counter() - start


class PlainCycleGAN:
    """CycleGAN written by hand (Zhu et al., 2017, as the preset configures it): the same four modules,
    optimisers and image tensors; a G step on an A and a B batch (LSGAN generator terms, cycle and identity L1),
    then a D step on the real batches and the fakes passed through a pool of 50 per domain, halved."""

    def __init__(self, cfg) -> None:
        state = build_state(cfg)
        self.cfg, p = cfg, state.variant.players
        self.g_ab, self.g_ba, self.d_a, self.d_b = p["g_ab"], p["g_ba"], p["d_a"], p["d_b"]
        self.opt_g, self.opt_d = state.variant.optimizers["g"], state.variant.optimizers["d"]
        self.a = state.data.a.images.float() / 127.5 - 1
        self.b = state.data.b.images.float() / 127.5 - 1
        self.rng = torch.Generator().manual_seed(0)
        self.order = {"a": torch.randperm(len(self.a), generator=self.rng), "b": torch.randperm(len(self.b), generator=self.rng)}
        self.at = {"a": 0, "b": 0}
        self.pools: dict[str, list] = {"a": [], "b": []}
        opts = cfg.options
        if cfg.loss.name != "lsgan":
            raise ValueError(f"the plain CycleGAN loop is written for the LSGAN game, not {cfg.loss.name}")
        self.cycle, self.identity, self.d_scale, self.pool_size = opts.cycle, opts.identity * opts.cycle, opts.d_scale, opts.pool

    def _batch(self, side: str, images: torch.Tensor) -> torch.Tensor:
        batch = self.cfg.train.batch_size
        if self.at[side] + batch > len(images):
            self.order[side], self.at[side] = torch.randperm(len(images), generator=self.rng), 0
        out = images[self.order[side][self.at[side] : self.at[side] + batch]]
        self.at[side] += batch
        return out

    def _pool(self, side: str, fakes: torch.Tensor) -> torch.Tensor:
        pool, out = self.pools[side], fakes.clone()
        for i in range(len(fakes)):
            if len(pool) < self.pool_size:
                pool.append(fakes[i].clone())
            elif torch.rand((), generator=self.rng) < 0.5:
                k = int(torch.randint(self.pool_size, (), generator=self.rng))
                out[i], pool[k] = pool[k], fakes[i].clone()
        return out

    def run(self, iterations: int, timed_from: int) -> float:
        def ls(x: torch.Tensor, target: float) -> torch.Tensor:
            return 0.5 * (x - target).pow(2).mean()

        start = time.perf_counter()
        for i in range(iterations):
            if i == timed_from:
                start = time.perf_counter()
            a, b = self._batch("a", self.a), self._batch("b", self.b)
            for m in (self.g_ab, self.g_ba):
                m.requires_grad_(True)
            for m in (self.d_a, self.d_b):
                m.requires_grad_(False)
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
            g_loss = ls(self.d_b(fake_b)["logits"], 1.0) + ls(self.d_a(fake_a)["logits"], 1.0)
            g_loss = g_loss + self.cycle * ((self.g_ba(fake_b) - a).abs().mean() + (self.g_ab(fake_a) - b).abs().mean())
            g_loss = g_loss + self.identity * ((self.g_ba(a) - a).abs().mean() + (self.g_ab(b) - b).abs().mean())
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
            for m in (self.g_ab, self.g_ba):
                m.requires_grad_(False)
            for m in (self.d_a, self.d_b):
                m.requires_grad_(True)
            shown_a, shown_b = self._pool("a", fake_a.detach()), self._pool("b", fake_b.detach())
            d_a = ls(self.d_a(a)["logits"], 1.0) + ls(self.d_a(shown_a)["logits"], 0.0)
            d_b = ls(self.d_b(b)["logits"], 1.0) + ls(self.d_b(shown_b)["logits"], 0.0)
            d_loss = self.d_scale * (d_a + d_b)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            if (i + 1) % LOG_EVERY == 0:
                float(d_loss.detach()), float(g_loss.detach())  # a user's loop logs too
        return time.perf_counter() - start


def plain_loop(cfg):
    """The hand-written loop for a preset's variant."""
    return PlainCycleGAN(cfg) if cfg.variant == "cyclegan" else PlainLoop(cfg)


def measure(preset: str, chunks: int, chunk: int, warmup: int, threads: int) -> list[dict]:
    """Both loops on ``preset`` in one process: warm-up, then ``chunks`` alternating chunks; a row per chunk."""
    total, timed, rows = warmup + chunks * chunk, chunk - LOG_EVERY, []
    with tempfile.TemporaryDirectory() as tmp:
        loops = {
            "gankit": GankitLoop(config(total, warmup, threads, preset), Path(tmp)),
            "plain": plain_loop(config(total, warmup, threads, preset)),
        }
        for loop in loops.values():
            loop.run(warmup, warmup)  # warm-up, not timed
        for c in range(chunks):
            order = ("gankit", "plain") if c % 2 == 0 else ("plain", "gankit")  # alternate who goes first
            rates = {who: timed / loops[who].run(chunk, LOG_EVERY) for who in order}
            print(f"{preset} chunk {c + 1}/{chunks}: gankit {rates['gankit']:.2f} it/s, plain {rates['plain']:.2f} it/s", flush=True)
            rows.append({"chunk": c + 1, "first": order[0], **rates, "ratio": rates["gankit"] / rates["plain"]})
    return rows


class GankitLoop:
    """gankit's loop run in chunks: train.steps raised by a chunk and run_loop continued (the run's own clock,
    metrics.jsonl's ``time``, between two of the chunk's log lines)."""

    def __init__(self, cfg, folder: Path) -> None:
        self.state = build_state(cfg)
        self.run_dir = create_run_dir(folder, "speed")
        self.state.cfg.train.steps = 0

    def run(self, iterations: int, timed_from: int) -> float:
        begin = self.state.step
        self.state.cfg.train.steps = begin + iterations
        run_loop(self.state, self.run_dir)
        times = {r["step"]: r["time"] for r in read_metrics(self.run_dir / "metrics.jsonl") if "time" in r}
        return times[begin + iterations] - times[begin + timed_from]


LOG_EVERY = 50


def launch(processes: int, batch: int, steps: int, runs: Path, warmup: int, env: dict[str, str] | None = None, core: int = 0) -> dict:
    """``dcgan-mnist`` trained by ``processes`` processes of one thread each (one process: pinned to one core;
    two: torchrun, gloo), global batch ``batch``; its steady-state rate from the run's own clock after ``warmup``
    steps, and its logged losses."""
    import os
    import subprocess

    sets = [f"train.steps={steps}", f"train.batch_size={batch}", f"train.log_every={LOG_EVERY}", f"train.sample_every={10 * steps}",
            f"train.ckpt_every={10 * steps}", "train.progress=none", "train.device=cpu", "train.threads=1"]  # fmt: skip
    args = [x for item in sets for x in ("--set", item)] + ["--runs-dir", str(runs)]
    if processes == 1:
        cmd = ["taskset", "-c", str(core), sys.executable, "-m", "gankit", "train", PRESET, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", "gankit", "train", PRESET, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    run = Path(done.stdout.strip().splitlines()[-1])
    records = [r for r in read_metrics(run / "metrics.jsonl") if "time" in r]
    times = {r["step"]: r["time"] for r in records}
    rate = (steps - warmup) / (times[steps] - times[warmup])
    transport = ("gloo" if (env or {}).get("GANKIT_SHM") == "0" else "shared memory") if processes > 1 else "-"
    return {"processes": processes, "batch": batch, "it_s": rate, "samples_s": rate * batch, "losses": records, "transport": transport}


def scaling(steps: int, warmup: int, rounds: int) -> tuple[list[dict], list[float]]:
    """One process on one core against two on two cores with the same per-process batch (64; global 128), in
    ``rounds`` back-to-back pairs (who goes first alternates: the host's speed drifts), then once with the same
    global batch (64; 32 each). The rows, and each pair's ratio of total samples/s."""
    with tempfile.TemporaryDirectory() as tmp:
        rows, ratios = [], []
        for r in range(rounds):
            pair = {}
            for processes, batch in ((1, 64), (2, 128)) if r % 2 == 0 else ((2, 128), (1, 64)):
                row = launch(processes, batch, steps, Path(tmp) / f"{r}-{processes}-{batch}", warmup)
                print(f"round {r + 1}: {processes} process(es), global batch {batch}: {row['it_s']:.2f} it/s, {row['samples_s']:.0f} samples/s", flush=True)
                pair[processes] = row
            ratios.append(pair[2]["samples_s"] / pair[1]["samples_s"])
            rows += [{**pair[1], "round": r + 1}, {**pair[2], "round": r + 1}]
        row = launch(2, 64, steps, Path(tmp) / "2-64", warmup)
        print(f"2 processes, global batch 64: {row['it_s']:.2f} it/s, {row['samples_s']:.0f} samples/s", flush=True)
        rows.append({**row, "round": rounds + 1})
        row = launch(2, 128, steps, Path(tmp) / "2-128-gloo", warmup, {"GANKIT_SHM": "0"})  # the gradients through gloo's loopback sockets
        print(f"2 processes, global batch 128, gloo: {row['it_s']:.2f} it/s, {row['samples_s']:.0f} samples/s", flush=True)
        rows.append({**row, "round": rounds + 1})
    return rows, ratios


def independent_pair(steps: int, warmup: int) -> list[float]:
    """The ceiling of the ratio on this machine: two independent one-process trainings at once, each pinned to its
    own core, against one alone right before; each one's rate as a fraction of the lone one's."""
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory() as tmp:
        alone = launch(1, 64, steps, Path(tmp) / "alone", warmup)["it_s"]
        with ThreadPoolExecutor(2) as pool:
            pair = list(pool.map(lambda core: launch(1, 64, steps, Path(tmp) / f"core{core}", warmup, core=core)["it_s"], (0, 1)))
    print(f"independent: alone {alone:.2f} it/s, side by side {pair[0]:.2f} and {pair[1]:.2f}", flush=True)
    return [alone, *pair]


def plot_losses(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, key in zip(axes, ("d_real", "d_fake", "g"), strict=True):
        for row in rows:
            steps = [r["step"] for r in row["losses"]]
            ax.plot(steps, [r[key] for r in row["losses"]], label=f"{row['processes']} proc., batch {row['batch']}", alpha=0.8)
        ax.set_title(f"dcgan-mnist: {key}")
        ax.set_xlabel("step")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk", type=int, default=150, help="iterations per chunk; the last chunk - 50 are timed")
    parser.add_argument("--heavy-chunks", type=int, default=4, help="chunks for each heavier step (wgan-gp-mnist)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scaling-steps", type=int, default=400, help="steps of each 1- and 2-process run")
    parser.add_argument("--scaling-rounds", type=int, default=3, help="back-to-back pairs of 1- and 2-process runs")
    parser.add_argument("--test-time", type=Path, default=ROOT / ".venv" / "last-test-time.json", help="written by `make test`")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "speed.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    began = time.perf_counter()
    timed = args.chunk - LOG_EVERY
    rows = measure(PRESET, args.chunks, args.chunk, args.warmup, args.threads)
    cfg = config(1, 0, args.threads)
    heavy = {preset: measure(preset, args.heavy_chunks, args.chunk, args.warmup, args.threads) for preset in HEAVY}
    scale, pair_ratios = scaling(args.scaling_steps, args.warmup, args.scaling_rounds)
    independent = independent_pair(args.scaling_steps, args.warmup)
    test_time = json.loads(args.test_time.read_text()) if args.test_time.exists() else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    one, weak = scale[0], scale[1]  # the first round's pair
    plot_losses([one, weak, scale[-2]], args.out.parent / "speed_losses.png")
    gap = max(abs(a[k] - b[k]) for a, b in zip(one["losses"], weak["losses"], strict=True) for k in ("d_real", "d_fake", "g"))
    scale_ratio = statistics.median(pair_ratios)
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
        f"| framework tax: gankit's iterations/s ÷ the plain loop's, `{PRESET}`, {args.threads} threads (median of {args.chunks} paired chunks) "
        f"| **{ratio:.3f}** | ≥ {GOAL_TAX} |",
        f"| 2 processes on 2 cores (torchrun, 1 thread each, batch 64 each): total samples/s ÷ one process on one core (batch 64), "
        f"median of {len(pair_ratios)} back-to-back pairs | **{scale_ratio:.2f}** | ≥ 1.6 |",
        *([f"| `make test` on this machine (its last run, {test_time['date']}, as `make test` recorded it) | {test_time['seconds'] / 60:.1f} min "
           "| ≤ 15 min |"] if test_time else ["| `make test` | not recorded yet: run `make test`, then this | ≤ 15 min |"]),
        "",
        f"`{PRESET}` as shipped (batch {cfg.train.batch_size}, DCGAN G and D of width 32 with batch norm, Adam 2e-4 (0.5, 0.999), "
        "EMA 0.999), pictures and checkpoints moved out of the timed windows. Both loops live in this one process and run "
        f"in alternating chunks of {args.chunk} iterations (who goes first alternates), after a warm-up of {args.warmup} "
        f"each, so that both see the same machine: the host's speed drifts by ±10 % over minutes, more than the tax "
        f"measured. Each chunk times its last {timed} iterations (gankit: its own clock in metrics.jsonl, between the "
        "chunk's log lines; the run continues with train.steps raised by a chunk, and its end-of-chunk picture and "
        "checkpoint fall outside the window; plain: `time.perf_counter`). The plain loop (`PlainLoop` in bench/speed.py) "
        "uses the same modules, initialisation, optimisers and EMA update, and draws real batches by a random "
        "permutation of the same tensor.",
        "",
        f"Total over all chunks: gankit {sum(timed for _ in rows) / sum(timed / r['gankit'] for r in rows):.2f} it/s, "
        f"plain {sum(timed for _ in rows) / sum(timed / r['plain'] for r in rows):.2f} it/s.",
        "",
        "| chunk | first | gankit it/s | plain it/s | ratio |",
        "|---|---|---|---|---|",
        *[f"| {r['chunk']} | {r['first']} | {r['gankit']:.2f} | {r['plain']:.2f} | {r['ratio']:.3f} |" for r in rows],
        "",
        "## One process against two",
        "",
        f"`{PRESET}` trained for {args.scaling_steps} steps by `gankit train` (one process pinned to one core with `taskset`, "
        "`train.threads=1`) and by `torchrun --standalone --nproc_per_node=2 -m gankit train` (`train.threads=1` each, "
        "gradients all-reduced before every optimiser step: through shared memory, as gankit does for the processes of one "
        f"machine, and once through gloo's loopback sockets, `GANKIT_SHM=0`, for comparison); rates from each run's own clock "
        f"after step {args.warmup}. The pairs run back to back, who goes first alternating. Ratio of each pair: "
        + ", ".join(f"{x:.2f}" for x in pair_ratios) + ".",
        "",
        "| round | processes | global batch (per process) | gradients through | iterations/s | total samples/s | samples/s per process |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['round']} | {r['processes']} | {r['batch']} ({r['batch'] // r['processes']}) | {r['transport']} | {r['it_s']:.2f} | {r['samples_s']:.0f} "
          f"| {r['samples_s'] / r['processes']:.0f} |" for r in scale],
        "",
        f"The ceiling on this machine: two independent one-process trainings at once, each pinned to its own core, ran at "
        f"{independent[1]:.2f} and {independent[2]:.2f} it/s against {independent[0]:.2f} for one alone just before, so with no "
        f"communication at all two processes would reach {(independent[1] + independent[2]) / independent[0]:.2f} × one (the "
        "cores share caches and memory bandwidth).",
        "",
        f"Loss curves (logged every {LOG_EVERY} steps, averaged over the ranks): largest gap between the one-process run and the "
        f"two-process run of batch 64 each, over the three losses: {gap:.3f}. The two-process run of global batch 64 draws "
        "exactly the one-process run's batches (32 each; tests/train/test_distributed.py) with its own noise per rank.",
        "",
        "![losses of the 1- and 2-process runs](speed_losses.png)",
        "",
        "## A heavier step",
        "",
        "The same protocol on `wgan-gp-mnist` (5 critic steps per generator step, each with the gradient penalty's double "
        "backward on random interpolates; critic without batch norm; Adam 1e-4 (0, 0.9)); the plain loop writes the penalty "
        "out by hand. Iterations are generator steps. And on `cyclegan-digits2mnist` (two ResNet generators, two PatchGANs, "
        "batch 16 of each domain, LSGAN terms, cycle and identity L1, pools of 50; `PlainCycleGAN` in bench/speed.py).",
        "",
        "| preset | chunks | median ratio | gankit it/s (all chunks) | plain it/s (all chunks) |",
        "|---|---|---|---|---|",
        *[f"| `{p}` | {len(rs)} | {statistics.median(r['ratio'] for r in rs):.3f} | "
          f"{len(rs) * timed / sum(timed / r['gankit'] for r in rs):.2f} | {len(rs) * timed / sum(timed / r['plain'] for r in rs):.2f} |"
          for p, rs in heavy.items()],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    scaled = [{k: v for k, v in r.items() if k != "losses"} for r in scale]
    record = {"rows": rows, "ratio": ratio, "heavy": heavy, "scaling": scaled, "scaling_ratios": pair_ratios, "independent": independent}
    record["args"] = {k: str(v) for k, v in vars(args).items()}
    (args.out.parent / "speed.json").write_text(json.dumps(record, indent=2))
    print(f"framework tax ratio {ratio:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
