"""The one training loop. It runs any variant's steps and never looks at the variant's name."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit import __version__
from gankit.config import Config, config_from_dict, config_to_dict, flatten, save_config
from gankit.data import build_checked, build_dataset
from gankit.errors import GankitError
from gankit.train.checkpoint import load_checkpoint, save_checkpoint
from gankit.train.distributed import (
    GradientReducer,
    RankLost,
    World,
    broadcast_modules,
    collective_failure,
    convert_sync_bn,
    gather_to_main,
    init_world,
    mean_over_ranks,
    on_every_rank,
    on_main,
    rank_seed,
    shared,
    sync_iteration,
    synchronised,
    world_from_env,
)
from gankit.train.ema import make_ema, update_ema
from gankit.train.health import Watchdog, feature_map
from gankit.train.precision import Precision
from gankit.train.progress import Progress
from gankit.train.rundir import (
    MetricsLog,
    checkpoint_path,
    create_run_dir,
    keep_checkpoints,
    missing_step,
    open_run_dir,
    select_checkpoint,
    truncate_metrics,
    writer_lock,
)
from gankit.train.runs import mark_diverged, record_checkpoint
from gankit.train.signals import Interrupted, StopRequest, parse_signals, stop_on_signals
from gankit.train.watchdog import find_non_finite, lr_advice, raise_diverged
from gankit.variants import VARIANTS, Step, StepContext, Variant

log = logging.getLogger("gankit")


def resolve_device(name: str, world: World | None = None) -> torch.device:
    """``train.device`` as a device; in a torchrun launch on GPUs, this process's GPU (``LOCAL_RANK``)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise GankitError("train.device is 'cuda' but no CUDA GPU is visible; use --set train.device=cpu (or auto)")
    if name == "cuda" and world is not None and world.distributed:
        if world.local_rank >= torch.cuda.device_count():
            raise GankitError(
                f"this is local rank {world.local_rank} but only {torch.cuda.device_count()} GPU(s) are visible; "
                "give torchrun --nproc_per_node at most the number of GPUs"
            )
        return torch.device("cuda", world.local_rank)
    return torch.device(name)


def derived_seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for model init, the noise stream and the data stream, from one ``train.seed``."""
    init, noise, data = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint32)
    return int(init), int(noise), int(data)


@dataclass
class TrainState:
    """Everything a run needs to continue: the variant, its EMA copies, the data streams by name, the streams of
    randomness."""

    cfg: Config
    device: torch.device
    data: Any
    variant: Variant
    streams: dict[str, Any]
    noise: torch.Generator
    ema: dict[str, nn.Module] = field(default_factory=dict)
    step: int = 0
    elapsed: float = 0.0
    watchdog: Watchdog | None = None
    # the losses summed since the last log line, and how many times each was computed (repeat, every): a checkpoint
    # between two log lines carries them, so that the first line after a resume averages the same steps
    loss_sums: dict[str, Tensor] = field(default_factory=dict)
    loss_counts: dict[str, int] = field(default_factory=dict)
    # objects derived from the players, not checkpointed: the DRS estimator fitted at the current step
    cache: dict[Any, Any] = field(default_factory=dict)
    precision: Precision | None = None  # train.precision: autocast and fp16 loss scalers (checkpointed)
    world: World = field(default_factory=World)  # this process's rank in a torchrun launch (one process: (0, 1))

    @property
    def sampling_players(self) -> dict[str, nn.Module]:
        """The players with EMA copies substituted, as used for samples."""
        return {**self.variant.players, **self.ema}


def build_state(cfg: Config, device: torch.device | None = None, *, new: bool = False, world: World | None = None) -> TrainState:
    """Seed everything from ``train.seed`` and build data, players, optimisers and streams. ``world``: this
    process's place in a data-parallel launch (default one process): every rank builds the same players (rank 0's
    are broadcast), draws its shard of the streams and its own noise."""
    world = world or World()
    device = device or resolve_device(cfg.train.device, world)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    if world.distributed and cfg.train.batch_size % world.size:
        raise GankitError(
            f"train.batch_size={cfg.train.batch_size} (the global batch) does not split evenly over {world.size} processes; "
            f"use a multiple of {world.size}, e.g. --set train.batch_size={cfg.train.batch_size // world.size * world.size or world.size}"
        )
    init_world(world, device)
    init_seed, noise_seed, data_seed = derived_seeds(cfg.train.seed)
    random.seed(cfg.train.seed)
    np.random.seed(cfg.train.seed)
    torch.manual_seed(init_seed)
    data, unused = build_checked(cfg.data) if new else (build_dataset(cfg.data), None)
    variant = VARIANTS[cfg.variant].build(cfg, data, device)
    if unused is not None:  # a new run: data settings its source never reads are refused
        raise unused
    for module in variant.frozen.values():
        module.requires_grad_(False).eval()
    from gankit.samplers import check_sampler

    check_sampler(cfg, variant)
    if cfg.train.sync_bn:
        for module in variant.players.values():
            convert_sync_bn(module)  # same parameters and buffers, normalised over every rank's batch
    if world.distributed:
        broadcast_modules(variant.players, world)  # bit-identical players on every rank from the start
        # each rank its own dropout and augmentation randomness (rank 0 keeps one process's)
        random.seed(rank_seed(cfg.train.seed, world.rank))
        np.random.seed(rank_seed(cfg.train.seed, world.rank))
        torch.manual_seed(rank_seed(init_seed, world.rank))
    source = variant.source if variant.source is not None else data  # labelled or indexed data the variant builds from the run's
    streams = source.streams(data_seed, shard=(world.rank, world.size))
    needed = {name for step in variant.steps for name in step.streams}
    missing = sorted(needed - set(streams))
    if missing:
        raise GankitError(
            f"variant '{cfg.variant}' draws the data stream(s) {', '.join(missing)}, which data '{cfg.data.name}' does not give "
            f"(it gives: {', '.join(sorted(streams))}); choose a dataset of the variant's kind (see its presets)"
        )
    noise = torch.Generator(device=device).manual_seed(rank_seed(noise_seed, world.rank))
    if cfg.train.channels_last:
        for module in variant.players.values():
            module.to(memory_format=torch.channels_last)  # 4-d weights; other parameters are left as they are
    ema = make_ema(variant.players, variant.ema_players) if cfg.train.ema > 0 else {}
    watchdog = Watchdog(feature_map(cfg.data.name, data.kind), lr_advice(cfg.optim), cfg.loss.name) if cfg.train.watchdog and world.main else None
    if cfg.train.compile:
        for module in variant.players.values():
            module.compile()  # compiles the module's calls in place: its parameters and state_dict keys are unchanged
    precision = Precision(cfg.train.precision, device, list(variant.optimizers))
    return TrainState(cfg, device, data, variant, streams, noise, ema, watchdog=watchdog, precision=precision, world=world)


# ------------------------------------------------------------------------------------------- checkpoints


def _numpy_rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _set_numpy_rng_state(state: dict[str, Any]) -> None:
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["kind"], keys, state["pos"], state["has_gauss"], state["cached"]))


def rank_payload(state: TrainState) -> dict[str, Any]:
    """What differs between the ranks of a data-parallel run: the streams of randomness, the data streams'
    positions, the variant state (image pools) and the losses summed since the last log line."""
    v = state.variant
    rng = {
        "python": random.getstate(),
        "numpy": _numpy_rng_state(),
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if state.device.type == "cuda" else [],
        "noise": state.noise.get_state(),
        "streams": {name: stream.state_dict() for name, stream in state.streams.items()},
    }
    return {
        "rng": rng,
        "state": {name: entry.state_dict() for name, entry in v.state.items()},
        "loss_sums": {"sums": dict(state.loss_sums), "counts": dict(state.loss_counts)},
    }


def checkpoint_payload(state: TrainState, ranks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The checkpoint: players, optimisers and everything else to continue. A data-parallel run passes every
    rank's :func:`rank_payload` (gathered on rank 0): the checkpoint holds them all under ``ranks`` and its
    ``world_size``, and rank 0's in the places a one-process checkpoint has them."""
    v = state.variant
    own = ranks[0] if ranks else rank_payload(state)
    extra = {"world_size": len(ranks), "ranks": ranks} if ranks and len(ranks) > 1 else {}
    return {
        "gankit_version": __version__,
        "config": config_to_dict(state.cfg),
        "step": state.step,
        "elapsed": state.elapsed,
        "models": {name: m.state_dict() for name, m in v.players.items()},
        "ema": {name: m.state_dict() for name, m in state.ema.items()},
        "optimizers": {name: o.state_dict() for name, o in v.optimizers.items()},
        "schedulers": {name: s.state_dict() for name, s in v.schedulers.items()},
        "rng": own["rng"],
        "state": own["state"],
        "watchdog": state.watchdog.state_dict() if state.watchdog is not None else {},
        "loss_sums": own["loss_sums"],
        "frozen": dict(v.frozen_sha256),
        "precision": state.precision.state_dict() if state.precision is not None else {},
        **extra,
    }


def _load_modules(modules: dict[str, Any], states: dict[str, Any], what: str, path: Path) -> None:
    if set(modules) != set(states):
        raise GankitError(f"{path} holds {what} {sorted(states)} but this config builds {sorted(modules)}; it belongs to another config")
    for name, module in modules.items():
        try:
            module.load_state_dict(states[name])
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise GankitError(f"{path}: {what} '{name}' does not match its config ({first}); the checkpoint belongs to another config") from None


def restore_weights(state: TrainState, payload: dict[str, Any], path: Path) -> None:
    """Load players and EMA copies (enough for sampling and evaluation)."""
    _load_modules(state.variant.players, payload["models"], "model", path)
    if state.ema:
        _load_modules(state.ema, payload["ema"] or {name: payload["models"][name] for name in state.ema}, "EMA model", path)


def restore_state(state: TrainState, payload: dict[str, Any], path: Path) -> None:
    """Load everything, so that training continues as if it had never stopped."""
    restore_weights(state, payload, path)
    v = state.variant
    _load_modules(v.optimizers, payload["optimizers"], "optimiser", path)
    _load_modules(v.schedulers, payload["schedulers"], "scheduler", path)
    for scheduler in v.schedulers.values():
        # the optimiser's restored learning rate was computed with the saved train.steps; a raised train.steps
        # changes the schedule, so the rate of the next iteration is recomputed from the new one
        for group, base, factor in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True):
            group["lr"] = base * factor(scheduler.last_epoch)
    saved_frozen = payload.get("frozen", {})
    changed = sorted(k for k in set(saved_frozen) | set(v.frozen_sha256) if saved_frozen.get(k) != v.frozen_sha256.get(k))
    if changed:
        raise GankitError(
            f"{path} was trained with other weight files for the frozen network(s) {', '.join(changed)} (sha256 differs); "
            "resume with the same files"
        )
    saved_world = int(payload.get("world_size", 1))
    if saved_world != state.world.size:
        launch = f"torchrun --nproc_per_node={saved_world} -m gankit resume" if saved_world > 1 else "gankit resume (one process)"
        raise GankitError(
            f"{path} was written by {saved_world} process(es) and this launch has {state.world.size}: each rank's noise, "
            f"data position and pools are in it, so it continues exactly only with the same number; resume with {launch}"
        )
    if saved_world > 1:
        try:
            payload = {**payload, **payload["ranks"][state.world.rank]}  # this rank's own streams, pools and sums
        except (KeyError, IndexError, TypeError) as exc:
            raise GankitError(f"{path}: its per-rank states are unreadable ({exc}); the checkpoint is damaged") from None
    saved_state = payload["state"]
    if set(saved_state) != set(v.state):
        raise GankitError(f"{path} holds variant state {sorted(saved_state)} but this config builds {sorted(v.state)}; it belongs to another config")
    for name, entry in v.state.items():
        try:
            entry.load_state_dict(saved_state[name], state.device)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise GankitError(f"{path}: its variant state '{name}' is unreadable ({exc}); the checkpoint is damaged") from None
    rng = payload["rng"]
    try:
        random.setstate(tuple(x if not isinstance(x, list) else tuple(x) for x in rng["python"]))
        _set_numpy_rng_state(rng["numpy"])
        torch.set_rng_state(rng["torch"].cpu())
        if state.device.type == "cuda" and rng["cuda"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        state.noise.set_state(rng["noise"].cpu())  # generator states are CPU byte tensors, also for CUDA generators
        if set(rng["streams"]) != set(state.streams):
            raise ValueError(f"streams {sorted(rng['streams'])}, this config's {sorted(state.streams)}")
        for name, stream in state.streams.items():
            stream.load_state_dict(rng["streams"][name])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise GankitError(f"{path}: its random-number state is unreadable ({exc}); the checkpoint is damaged") from None
    if state.watchdog is not None and payload.get("watchdog"):  # absent from checkpoints written before the watchdog was saved
        try:
            state.watchdog.load_state_dict(payload["watchdog"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GankitError(f"{path}: its watchdog state is unreadable ({exc}); the checkpoint is damaged") from None
    if state.precision is not None and payload.get("precision"):  # absent from checkpoints written before it was saved
        try:
            state.precision.load_state_dict(payload["precision"])
        except (KeyError, TypeError, ValueError, GankitError) as exc:
            raise GankitError(f"{path}: its loss-scaler state is unreadable ({exc}); the checkpoint is damaged") from None
    pending = payload.get("loss_sums") or {"sums": {}, "counts": {}}  # absent from checkpoints written before it was saved
    try:
        state.loss_sums = {str(k): v.to(state.device) for k, v in pending["sums"].items()}
        state.loss_counts = {str(k): int(v) for k, v in pending["counts"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GankitError(f"{path}: its pending loss sums are unreadable ({exc}); the checkpoint is damaged") from None
    state.step = int(payload["step"])
    state.elapsed = float(payload.get("elapsed", 0.0))


def load_run(run: str | Path, device: torch.device | None = None, step: int | None = None) -> tuple[Path, TrainState, dict[str, Any]]:
    """Open a run directory and rebuild its players (and EMA copies) from ``checkpoints/last.pt``, or from the kept
    checkpoint of ``step`` (``train.keep``)."""
    path = open_run_dir(run)
    ckpt_file = select_checkpoint(path, step)
    payload = load_checkpoint(ckpt_file)
    if step is not None and int(payload["step"]) != step:
        raise missing_step(path, step, int(payload["step"]))
    cfg = _checkpoint_config(payload, ckpt_file)
    state = build_state(cfg, device, world=World())  # sampling and evaluation run in one process
    restore_weights(state, payload, ckpt_file)
    state.step = int(payload["step"])
    return path, state, payload


def _checkpoint_config(payload: dict[str, Any], path: Path) -> Config:
    from gankit.config import validate

    try:
        cfg = config_from_dict(payload["config"])
        validate(cfg)
    except GankitError as exc:
        raise GankitError(f"{path}: its saved config is not valid for this gankit version ({exc})") from None
    return cfg


# ------------------------------------------------------------------------------------------- the loop


def _snapshot(state: TrainState, path: Path, fixed_seed: int) -> Tensor:
    """Draw the run's picture (fixed noise or fixed inputs; EMA players when enabled) without touching training
    RNG; return what it shows as the model's output (model range, CPU)."""
    from gankit.sampling.pictures import snapshot

    return snapshot(state, path, fixed_seed, title=f"{state.cfg.name} — step {state.step}")


@contextmanager
def preserved(players: dict[str, nn.Module]) -> Iterator[None]:
    """Run code on the players in training mode without changing them: their buffers (BatchNorm statistics,
    spectral norm's power-iteration vectors) are put back afterwards and the global RNG (dropout) is forked."""
    saved = {name: [b.detach().clone() for b in m.buffers()] for name, m in players.items()}
    cuda = sorted({p.device.index or 0 for m in players.values() for p in m.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        try:
            yield
        finally:
            with torch.no_grad():
                for name, m in players.items():
                    for b, value in zip(m.buffers(), saved[name], strict=True):
                        b.copy_(value)


def _health_check(
    state: TrainState, watchdog: Watchdog, real: Tensor, fake: Tensor, batches: dict[str, dict[str, Tensor]], seed: int
) -> tuple[dict[str, float], list[str]]:
    """The watchdog's sample checks. Each discriminator's probe scores the last training batches and fixed-noise
    fakes with the players as they train (training mode), inside :func:`preserved`, so that training continues
    exactly as without it."""
    v = state.variant
    scores: dict[str, tuple[Tensor, Tensor]] = {}
    if v.probes and batches:
        rng = torch.Generator(device=state.device).manual_seed(seed)
        with torch.no_grad(), preserved(v.players):
            for name, probe in v.probes.items():
                real_scores, fake_scores = probe(v.players, batches, rng)
                scores[name] = (real_scores.float().cpu(), fake_scores.float().cpu())
    return watchdog.check_samples(real.cpu(), fake, scores)


def _open_tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        return None
    return SummaryWriter(log_dir=str(folder))


_PARAMETERS: weakref.WeakKeyDictionary[nn.Module, list[nn.Parameter]] = weakref.WeakKeyDictionary()


def set_trainable(module: nn.Module, flag: bool) -> None:
    """``module.requires_grad_(flag)`` without walking the module tree each time: its parameters are listed once
    (players' parameters are fixed once built) and only those whose flag differs are changed."""
    params = _PARAMETERS.get(module)
    if params is None:
        params = _PARAMETERS[module] = list(module.parameters())
    for p in params:
        if p.requires_grad != flag:
            p.requires_grad_(flag)


def make_trainable(v: Variant, step: Step) -> None:
    """Only the players of the step's optimiser groups get gradients."""
    trainable = {p for group in step.updates for p in v.groups[group]}
    for name, module in v.players.items():
        set_trainable(module, name in trainable)


def optimise(
    v: Variant, step: Step, ctx: StepContext, precision: Precision | None = None, world: World | None = None
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """One optimiser step of a phase: the objective (under ``precision``'s autocast), each loss's batch mean in fp32,
    one backward pass of their sum, in a data-parallel run the gradients averaged over the ranks (explicitly, in
    buckets all-reduced while the backward pass runs and put in place after it: double backward and unrolled steps
    need nothing else), the updated groups' optimisers
    (through fp16's loss scaler), then the step's post hook. Returns the objective's losses and their batch means."""
    distributed = world is not None and world.distributed
    with precision.autocast() if precision is not None else contextlib.nullcontext(), synchronised() if distributed else contextlib.nullcontext():
        losses = step.objective(ctx)
    means = {k: value.float().mean() for k, value in losses.items()}
    total = torch.stack(list(means.values())).sum()
    for group in step.updates:
        v.optimizers[group].zero_grad(set_to_none=True)
    reducer = GradientReducer((p for group in step.updates for g in v.optimizers[group].param_groups for p in g["params"]), world) if distributed else None
    if precision is not None:
        precision.backward_and_step(total, step.updates, v.optimizers, reducer)
    else:
        with reducer.overlapping() if reducer is not None else contextlib.nullcontext():
            total.backward()
        if reducer is not None:
            reducer.finish()
        for group in step.updates:
            v.optimizers[group].step()
    if step.post is not None:
        step.post(ctx)
    return losses, means


def local_size(state: TrainState, step: Step, iteration: int) -> int:
    """This rank's part of the step's (global) batch size."""
    size = step.size(iteration, state.cfg.train.batch_size)
    world = state.world
    if size % world.size:
        raise shared(
            GankitError(f"step '{step.name}' draws batches of {size} at iteration {iteration}, which do not split over {world.size} processes; use a multiple")
        )
    return size // world.size


def draw_batches(state: TrainState, step: Step, iteration: int) -> dict[str, dict[str, Tensor]]:
    """One batch from each of the step's streams (this rank's shard of it), on the run's device (images
    channels-last with ``train.channels_last``)."""
    size = local_size(state, step, iteration)
    batches = {name: {k: x.to(state.device, non_blocking=True) for k, x in state.streams[name].next(size).items()} for name in step.streams}
    if state.cfg.train.channels_last:
        batches = {name: {k: x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x for k, x in b.items()} for name, b in batches.items()}
    return batches


def run_loop(state: TrainState, run: Path) -> None:
    """Iterate from ``state.step`` to ``train.steps``: each iteration runs every active step of the variant in order.
    A signal of ``train.stop_signals`` (from here on) ends it after the current iteration, with a checkpoint."""
    cfg, v = state.cfg, state.variant
    t = cfg.train
    with stop_on_signals(parse_signals(t.stop_signals)) as stop:
        fixed_seed = derived_seeds(t.seed + 1)[1]
        ckpt_file = checkpoint_path(run)
        last_ckpt = f"the last good checkpoint (step {state.step}) is kept at {ckpt_file}" if ckpt_file.exists() else "no checkpoint had been written yet"
        main = state.world.main  # rank 0 alone writes metrics, pictures and checkpoints and shows progress
        metrics = MetricsLog(run / "metrics.jsonl") if main else None
        tb = _open_tensorboard(run / "tb") if main else None
        progress = Progress(t.progress if main else "none", state.step, t.steps, cfg.name)
        for module in v.players.values():
            module.train()
        try:
            _iterate(state, run, stop, fixed_seed, metrics, tb, progress, ckpt_file, last_ckpt)
        except Exception as exc:
            if state.world.distributed and collective_failure(exc):
                first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
                raise RankLost(
                    f"another process of this launch stopped (a collective operation failed: {first}); this rank stopped too and "
                    f"the last checkpoint written is kept at {ckpt_file}; continue with: torchrun --nproc_per_node={state.world.size} -m gankit resume {run}"
                ) from None
            raise
        finally:
            progress.close()
            if metrics is not None:
                metrics.close()
            if tb is not None:
                tb.close()


def _iterate(
    state: TrainState, run: Path, stop: StopRequest, fixed_seed: int, metrics: MetricsLog | None, tb: Any, progress: Progress, ckpt_file: Path,
    last_ckpt: str,
) -> None:
    """The loop of :func:`run_loop`; a stop request ends it after the current iteration with a checkpoint. In a
    data-parallel run every rank runs it in step: the gradients are averaged, rank 0's buffers broadcast, the
    non-finite and stop flags shared every iteration, the logged losses averaged, and rank 0 alone writes."""
    cfg, v, world = state.cfg, state.variant, state.world
    t = cfg.train
    main = world.main
    sums, counts = state.loss_sums, state.loss_counts  # since the last log line; checkpointed with the state
    watchdog = state.watchdog
    last_batches: dict[str, dict[str, Tensor]] = {}
    clock = time.perf_counter()
    saved = state.step if ckpt_file.exists() else None
    first = state.step + 1
    has_buffers = world.distributed and not t.sync_bn and any(True for m in v.players.values() for _ in m.buffers())
    try:
        if state.step == 0 and main:
            _snapshot(state, run / "samples" / "step-000000.png", fixed_seed)
        while state.step < t.steps:
            it = state.step + 1
            iteration_losses: dict[str, Tensor] = {}
            scratch: dict[str, Any] = {}
            for step in v.steps:
                if not step.active(state.step):
                    continue
                make_trainable(v, step)
                for _ in range(step.repeat):
                    batches = draw_batches(state, step, it)
                    last_batches.update(batches)
                    n = local_size(state, step, it)
                    handle = world if world.distributed else None
                    ctx = StepContext(v.players, batches, n, state.noise, it, t.steps, state.device, v.state, scratch, v.optimizers, handle)
                    _, means = optimise(v, step, ctx, state.precision, world)
                    for k, value in means.items():
                        detached = value.detach()
                        iteration_losses[k] = detached
                        sums[k] = sums[k] + detached if k in sums else detached.clone()
                        counts[k] = counts.get(k, 0) + 1
            for module in v.players.values():
                set_trainable(module, True)
            stopping = bool(stop)
            weights_checked = it % t.ckpt_every == 0 or it == t.steps or stopping or it % t.log_every == 0
            bad = find_non_finite(iteration_losses, v.players, check_weights=weights_checked)
            if world.distributed:  # one all-reduce: rank 0's BatchNorm statistics everywhere (as DDP does) and every rank's verdict
                table = sync_iteration(v.players if has_buffers else None, [float(bad is not None), float(stop.signum or 0)], world, state.device)
                flag, signum = max(row[0] for row in table), max(row[1] for row in table)
                if flag:
                    found = on_every_rank(bad, world) or [(0, "a value is not finite")]
                    bad = ", ".join(f"{what} on rank {rank}" for rank, what in found)
                if signum and not stop:
                    stop.signum = int(signum)
                stopping = bool(stop)
            if bad is not None:
                if main:
                    mark_diverged(run, it, bad)
                try:
                    raise_diverged(bad, it, last_ckpt, cfg.optim)
                except GankitError as exc:
                    if world.distributed:  # the same message on every rank: printed once
                        shared(exc)
                    raise
            for scheduler in v.schedulers.values():
                scheduler.step()
            if state.ema:  # after the buffers are shared: the average copies rank 0's BatchNorm statistics on every rank
                update_ema(state.ema, v.players, t.ema if it > t.ema_start else 0.0)
            state.step = it
            now = time.perf_counter()
            if t.compile and it == first and main:
                progress.note(f"train.compile: the first iteration (compiling the players) took {now - clock:.1f} s")
            state.elapsed += now - clock
            clock = now
            if it % t.log_every == 0 or it == t.steps:
                averaged = mean_over_ranks(sums, world)
                values = {k: float(s) / counts[k] for k, s in averaged.items()}
                warnings = watchdog.check_losses(values) if watchdog is not None else []
                if metrics is not None:
                    metrics.write({"step": it, **values, "time": round(state.elapsed, 3), **({"warnings": warnings} if warnings else {})})
                for warning in warnings:
                    progress.warn(f"step {it}: {warning}")
                if tb is not None:
                    for k, value in values.items():
                        tb.add_scalar(f"loss/{k}", value, it)
                progress.report(it, values)
                sums.clear()
                counts.clear()
            else:
                progress.advance(it)
            if main and (it % t.sample_every == 0 or it == t.steps):
                samples = _snapshot(state, run / "samples" / f"step-{it:06d}.png", fixed_seed)
                real = _real_outputs(state, last_batches)
                if watchdog is not None and it >= t.watchdog_start and real is not None and metrics is not None:
                    health, warnings = _health_check(state, watchdog, real, samples, last_batches, fixed_seed)
                    metrics.write({"step": it, "health": health, "warnings": warnings})
                    for warning in warnings:
                        progress.warn(f"step {it}: {warning}")
            if it % t.ckpt_every == 0 or it == t.steps or stopping:
                if not weights_checked and (bad := find_non_finite({}, v.players)) is not None:  # a stop that came late
                    if main:
                        mark_diverged(run, it, bad)
                    raise_diverged(bad, it, last_ckpt, cfg.optim)
                ranks = gather_to_main(rank_payload(state), world) if world.distributed else None
                if main:
                    save_checkpoint(checkpoint_payload(state, ranks), ckpt_file)
                    record_checkpoint(ckpt_file, it)
                    keep_checkpoints(run, it, t.keep)
                last_ckpt, saved = f"the last good checkpoint (step {it}) is kept at {ckpt_file}", it
            if stopping and it < t.steps:
                raise Interrupted(run, it, stop.signum or signal.SIGTERM, ckpt_file, saved)
    except KeyboardInterrupt:  # a second Ctrl-C (or one outside the handler): no new checkpoint
        raise Interrupted(run, state.step, signal.SIGINT, ckpt_file, saved) from None


def _real_outputs(state: TrainState, batches: dict[str, dict[str, Tensor]]) -> Tensor | None:
    """The last training batch's real samples of the field the snapshot shows (``x``, or a translation's target)."""
    from gankit.sampling.pictures import output_field

    field_name = output_field(state.variant)
    for batch in batches.values():
        if field_name in batch:
            return batch[field_name]
    return None


def train(cfg: Config, runs_dir: Path, name: str | None = None, world: World | None = None) -> Path:
    """Create a run directory, write the resolved config, train; return the run directory. Under torchrun
    (``world``: from the environment by default) every process trains its shard and rank 0 makes and writes the
    run directory."""
    world = world or world_from_env()
    state = build_state(cfg, new=True, world=world)
    run = Path(on_main(lambda: str(create_run_dir(runs_dir, name or cfg.name)), world))
    with writer_lock(run) if world.main else contextlib.nullcontext():
        if world.main:
            save_config(cfg, run / "config.yaml")
            where = f"{world.size} processes, device {state.device.type}" if world.distributed else f"device {state.device}"
            log.info("run directory: %s (%s)", run, where)
        run_loop(state, run)
    return run


def resume(run_dir: str | Path, overrides: list[str] | None = None) -> Path:
    """Continue a run from its last checkpoint to ``train.steps`` (which ``--set train.steps=N`` may raise).

    Any other changed setting is refused, naming the keys; a run another process is writing is refused.
    """
    run = open_run_dir(run_dir)
    world = world_from_env()
    # under torchrun every rank reads the run directory (a filesystem every node sees); rank 0 alone locks and writes
    with writer_lock(run) if world.main else contextlib.nullcontext():
        return _resume(run, overrides, world)


def _resume(run: Path, overrides: list[str] | None, world: World) -> Path:
    from gankit.config import apply_overrides, validate

    ckpt_file = checkpoint_path(run)
    payload = load_checkpoint(ckpt_file)
    saved = _checkpoint_config(payload, ckpt_file)
    cfg = apply_overrides(saved, overrides or [])
    validate(cfg)
    before, after = flatten(config_to_dict(saved)), flatten(config_to_dict(cfg))
    changed = sorted(k for k in before if before[k] != after[k] and k != "train.steps")
    if changed:
        raise GankitError(
            f"resume continues the same run, so only train.steps may change; refused changes to: {', '.join(changed)}. "
            "Start a new run with `gankit train` instead"
        )
    step = int(payload["step"])
    if cfg.train.steps <= step:
        raise GankitError(f"{run} is already at step {step} of train.steps={cfg.train.steps}; raise it, e.g. --set train.steps={step * 2}")
    state = build_state(cfg, world=world)
    restore_state(state, payload, ckpt_file)
    if world.main:
        save_config(cfg, run / "config.yaml")
        truncate_metrics(run / "metrics.jsonl", step)
        log.info("resuming %s at step %d of %d (device %s)", run, step, cfg.train.steps, state.device)
    run_loop(state, run)
    return run
