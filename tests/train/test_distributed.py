"""Data-parallel building blocks under two gloo processes: gradients averaged, losses averaged, flags shared."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gankit.errors import GankitError
from gankit.train.distributed import World, any_rank, average_gradients, mean_over_ranks, world_from_env


def _worker(rank: int, size: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)
    world = World(rank, size)
    torch.manual_seed(0)  # the same model on both ranks
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(100 + rank))  # each rank its own batch
    model(x).pow(2).mean().backward()
    local = [p.grad.clone() for p in model.parameters()]
    average_gradients(model.parameters(), world)
    losses = mean_over_ranks({"a": torch.tensor(float(rank)), "b": torch.tensor(2.0 * rank)}, world)
    flags = any_rank([rank == 1, False], world, torch.device("cpu"))
    torch.save({"local": local, "averaged": [p.grad for p in model.parameters()], "losses": losses, "flags": flags}, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()


def test_two_gloo_ranks_average_gradients_and_losses_and_share_flags(tmp_path):
    store, out = tmp_path / "store", tmp_path / "out"
    mp.spawn(_worker, args=(2, str(store), str(out)), nprocs=2, join=True)
    results = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    for a, b, local0, local1 in zip(results[0]["averaged"], results[1]["averaged"], results[0]["local"], results[1]["local"], strict=True):
        assert torch.equal(a, b)  # every rank applies the same gradient
        torch.testing.assert_close(a, (local0 + local1) / 2, rtol=0, atol=1e-7)  # the mean of the ranks' own ones
        assert not torch.equal(local0, local1)
    for r in results:
        assert {k: float(v) for k, v in r["losses"].items()} == {"a": 0.5, "b": 1.0}
        assert r["flags"] == [True, False]  # set on rank 1 only, seen by both


@pytest.mark.parametrize("clean", [True, False])
def test_close_world_leaves_the_process_group_and_is_nothing_without_one(clean, tmp_path):
    from gankit.train.distributed import close_world

    close_world(clean)  # no group joined: nothing to leave
    assert not dist.is_initialized()
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        close_world(clean)  # with a barrier first when every rank finished alike
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_one_process_is_the_identity_and_the_world_comes_from_torchruns_environment():
    world = world_from_env({})
    assert world == World(0, 1, 0) and not world.distributed and world.main
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.tensor([1.0, 3.0])
    average_gradients([p], world)
    assert p.grad.tolist() == [1.0, 3.0]
    assert any_rank([True, False], world, torch.device("cpu")) == [True, False]
    assert world_from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(1, 4, 1)
    with pytest.raises(GankitError, match="rank 4 of WORLD_SIZE=4"):
        world_from_env({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(GankitError, match="must be integers"):
        world_from_env({"WORLD_SIZE": "two"})


def _reducer_worker(rank: int, size: int, store: str, transport: str, out: str) -> None:
    from gankit.train.distributed import GradientReducer, sync_iteration

    _join(rank, size, store, transport)
    world = world_from_env()
    torch.manual_seed(0)  # the same model on both ranks; a layer that gets no gradient
    model = torch.nn.Sequential(torch.nn.Linear(5, 40), torch.nn.Tanh(), torch.nn.Linear(40, 30), torch.nn.Tanh(), torch.nn.Linear(30, 1))
    unused = torch.nn.Linear(3, 3)
    params = [*model.parameters(), *unused.parameters()]
    reducer = GradientReducer(params, world, bucket_elements=300)  # several buckets, started during the backward pass
    steps = []
    for i in range(3):  # the reducer is used again, as the loop does
        x = torch.randn(8, 5, generator=torch.Generator().manual_seed(100 * i + rank)).requires_grad_(True)
        for p in params:
            p.grad = None
        with reducer.overlapping():
            loss = model(x).pow(2).mean()
            inner = torch.autograd.grad(loss, x, create_graph=True)[0]  # double backward: accumulates nothing
            (loss + inner.pow(2).sum()).backward()
        local = [p.grad.clone() for p in model.parameters()]
        reducer.finish()
        steps.append({"local": local, "averaged": [p.grad.clone() for p in model.parameters()], "unused": [p.grad for p in unused.parameters()]})
    # the end of an iteration: rank 0's buffers (float, integer, signed zeros) everywhere, every rank's flags to all
    bn = torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([-0.0, 0.0, 1e-30]) if rank == 0 else torch.tensor([5.0, -5.0, 7.0]))
        bn.num_batches_tracked.fill_(2**40 + 3 if rank == 0 else 1)
    table = sync_iteration({"bn": bn}, [float(rank == 1), 15.0 * rank], world, torch.device("cpu"))
    result = {"steps": steps, "table": table, "mean": bn.running_mean, "count": bn.num_batches_tracked, "shm": reducer.shm is not None}
    if transport == "shm":  # a tensor bigger than the segment: it grows on every rank at once
        big = torch.full((1_000_000,), float(rank + 1), dtype=torch.float64)
        reducer.shm.all_reduce(big)
        result["big"] = (big.min().item(), big.max().item())
    torch.save(result, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.parametrize("transport", ["shm", "gloo"])
def test_the_gradient_reducer_and_the_iteration_sync_over_two_ranks(transport, tmp_path):
    mp.spawn(_reducer_worker, args=(2, str(tmp_path / "store"), transport, str(tmp_path / "out")), nprocs=2, join=True)
    r0, r1 = (torch.load(f"{tmp_path / 'out'}.{r}", weights_only=True) for r in range(2))
    assert r0["shm"] == r1["shm"] == (transport == "shm")
    for s0, s1 in zip(r0["steps"], r1["steps"], strict=True):
        for a0, a1, l0, l1 in zip(s0["averaged"], s1["averaged"], s0["local"], s1["local"], strict=True):
            assert torch.equal(a0, a1)  # both ranks apply the same gradient
            assert torch.equal(a0, (l0 + l1) / 2)  # the mean of the ranks' own: the same sum, the same rounding
            assert not torch.equal(l0, l1)
        assert s0["unused"] == s1["unused"] == [None, None]  # a parameter with no gradient keeps none
    for r in (r0, r1):
        assert r["table"] == [[0.0, 0.0], [1.0, 15.0]]  # each rank's flags, seen by both
        assert torch.equal(r["mean"], torch.tensor([-0.0, 0.0, 1e-30])) and str(r["mean"][0].item()) == "-0.0"  # rank 0's, bit for bit
        assert r["count"].item() == 2**40 + 3
    if transport == "shm":
        assert r0["big"] == r1["big"] == (3.0, 3.0)


def _peer_lost_worker(rank: int, size: int, store: str, out: str) -> None:
    import os
    import time

    from gankit.train.shared_memory import PeerLost, SharedMemoryGroup

    _join(rank, size, store)
    group = SharedMemoryGroup(rank, size)
    group.all_reduce(torch.ones(4))
    if rank == 1:
        os._exit(0)  # gone, as if killed, while rank 0 waits for it in the next all-reduce
    began = time.monotonic()
    try:
        group.all_reduce(torch.ones(4))
        outcome = "returned"
    except PeerLost as exc:
        outcome = str(exc)
    Path(out).write_text(json.dumps({"outcome": outcome, "seconds": time.monotonic() - began}))
    os._exit(0)


def test_a_rank_waiting_in_shared_memory_for_a_peer_that_died_raises_peer_lost(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_peer_lost_worker, args=(r, 2, str(tmp_path / "store"), str(tmp_path / "out"))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    result = json.loads((tmp_path / "out").read_text())
    assert "rank 1" in result["outcome"] and "peer lost" in result["outcome"]
    assert result["seconds"] < 10
    from gankit.train.distributed import collective_failure
    from gankit.train.shared_memory import PeerLost

    assert collective_failure(PeerLost(result["outcome"]))  # the loop turns it into its one-line "another process stopped"


# ------------------------------------------------------------------------------------------- the loop under 2 ranks

RECORD_GRADS = 3  # iterations whose local and averaged gradients are kept whole (later ones: fingerprints only)


def _fingerprint(modules) -> str:
    import hashlib

    h = hashlib.sha256()
    for m in modules.values():
        for key, value in m.state_dict().items():
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _join(rank: int, size: int, store: str, transport: str = "shm") -> None:
    """Join ``size`` gloo ranks as torchrun would on one machine; ``transport`` "gloo": as if the ranks were on
    several machines (gradients and iteration sync through gloo instead of shared memory)."""
    import os

    local = str(size) if transport == "shm" else "1"
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=local)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)


def _recording_worker(
    rank: int, size: int, store: str, runs: str, preset: str, overrides: list[str], out: str, inject_nan_at: int, transport: str
) -> None:
    """Train under ``size`` gloo ranks, recording what the test checks: every draw of data, local and averaged
    gradients, the players' fingerprint after every iteration; a NaN loss on rank 1 at ``inject_nan_at``."""
    import gankit.train.loop as loop
    from gankit.config import load_config
    from gankit.errors import GankitError

    _join(rank, size, store, transport)
    record: dict = {"draws": [], "grads": [], "players": [], "error": None}
    from gankit.train.distributed import GradientReducer

    draw, finish, optimise, sync = loop.draw_batches, GradientReducer.finish, loop.optimise, loop.sync_iteration
    current = {"it": 0}

    def draw_batches(state, step, iteration):
        batches = draw(state, step, iteration)
        record["draws"].append({name: {k: x.clone() for k, x in b.items()} for name, b in batches.items()})
        return batches

    def finish_(reducer):  # the gradients before (this rank's own) and after (applied) the reducer's average
        local = [p.grad.clone() for p in reducer.params if p.grad is not None]
        finish(reducer)
        if current["it"] <= RECORD_GRADS:
            record["grads"].append((local, [p.grad.clone() for p in reducer.params if p.grad is not None]))

    loop_players: dict = {}

    def optimise_(v, step, ctx, precision=None, world=None):
        current["it"] = ctx.iteration
        loop_players["players"] = v.players
        if rank == 1 and ctx.iteration == inject_nan_at:
            poisoned = dataclasses.replace(step, objective=lambda c: {k: x * float("nan") for k, x in step.objective(c).items()})
            return optimise(v, poisoned, ctx, precision, world)
        return optimise(v, step, ctx, precision, world)

    def sync_iteration(modules, flags, world, device):  # the end of every iteration: rank 0's buffers shared
        table = sync(modules, flags, world, device)
        record["players"].append(_fingerprint(loop_players["players"]))
        return table

    GradientReducer.finish = finish_
    loop.draw_batches, loop.optimise, loop.sync_iteration = draw_batches, optimise_, sync_iteration
    try:
        loop.train(load_config(preset, overrides), Path(runs))
    except GankitError as exc:
        record["error"] = (str(exc), bool(getattr(exc, "shared", False)))
    torch.save(record, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()


def _two_ranks(tmp_path, preset: str, overrides: list[str], inject_nan_at: int = 0, transport: str = "shm") -> list[dict]:
    runs = tmp_path / "runs2"
    args = (2, str(tmp_path / "store"), str(runs), preset, overrides, str(tmp_path / "rec"), inject_nan_at, transport)
    mp.spawn(_recording_worker, args=args, nprocs=2, join=True)
    return [torch.load(f"{tmp_path / 'rec'}.{r}", weights_only=False) for r in range(2)]


@pytest.mark.parametrize(("preset", "transport"), [("gan-ring", "shm"), ("dcgan-digits", "shm"), ("dcgan-digits", "gloo")])
def test_two_ranks_train_identical_players_from_the_mean_gradient_on_disjoint_shards_of_the_global_batches(preset, transport, tmp_path, monkeypatch):
    import gankit.train.loop as loop
    from gankit.config import load_config
    from gankit.train.checkpoint import load_checkpoint
    from tests.conftest import TINY

    overrides = [*TINY, "train.steps=20"]
    r0, r1 = _two_ranks(tmp_path, preset, overrides, transport=transport)
    assert r0["error"] is None and r1["error"] is None
    # after every iteration the players (parameters and BatchNorm buffers) are bit-identical on both ranks
    assert len(r0["players"]) == len(r1["players"]) == 20 and r0["players"] == r1["players"]
    # the applied gradient is the mean of the two ranks' own gradients, which differ
    assert r0["grads"] and len(r0["grads"]) == len(r1["grads"])
    for (local0, applied0), (local1, applied1) in zip(r0["grads"], r1["grads"], strict=True):
        for l0, a0, l1, a1 in zip(local0, applied0, local1, applied1, strict=True):
            assert torch.equal(a0, a1)
            torch.testing.assert_close(a0, (l0 + l1) / 2, rtol=0, atol=1e-6)
        assert any(not torch.equal(l0, l1) for l0, l1 in zip(local0, local1, strict=True))
    # the shards are disjoint halves of exactly the global batches one process draws with the whole batch
    one: list = []
    draw = loop.draw_batches
    monkeypatch.setattr(loop, "draw_batches", lambda s, st, i: one.append(draw(s, st, i)) or one[-1])
    run = loop.train(load_config(preset, overrides), tmp_path / "runs1")
    assert len(one) == len(r0["draws"]) == len(r1["draws"])
    for whole, half0, half1 in zip(one, r0["draws"], r1["draws"], strict=True):
        for name, batch in whole.items():
            for key, value in batch.items():
                a, b = half0[name][key], half1[name][key]
                assert len(a) == len(b) == len(value) // 2
                assert torch.equal(torch.cat([a, b]), value)
                if value.is_floating_point() and value.ndim == 2:  # points: no item in both shards
                    assert not (a[:, None, :] == b[None, :, :]).all(-1).any()
    # one checkpoint, by rank 0, holding both ranks' random states; the one-process run's has none
    two = load_checkpoint(next((tmp_path / "runs2").iterdir()) / "checkpoints" / "last.pt")
    assert two["world_size"] == 2 and len(two["ranks"]) == 2 and two["step"] == 20
    assert not torch.equal(two["ranks"][0]["rng"]["noise"], two["ranks"][1]["rng"]["noise"])
    assert "ranks" not in load_checkpoint(run / "checkpoints" / "last.pt")


@pytest.mark.parametrize("transport", ["shm", "gloo"])
def test_a_nan_on_rank_1_stops_both_ranks_with_one_message_and_keeps_the_last_good_checkpoint(transport, tmp_path):
    from gankit.train.checkpoint import load_checkpoint
    from tests.conftest import TINY

    r0, r1 = _two_ranks(tmp_path, "gan-ring", [*TINY, "train.steps=20"], inject_nan_at=13, transport=transport)
    assert r0["error"] == r1["error"]
    message, is_shared = r0["error"]
    assert is_shared  # printed once, by rank 0
    assert "training diverged at step 13" in message and "'d_real' is nan on rank 1" in message and "checkpoint (step 10)" in message
    run = next((tmp_path / "runs2").iterdir())
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 10
    from gankit.train.runs import DIVERGED_FILE

    assert json.loads((run / DIVERGED_FILE).read_text())["step"] == 13  # `gankit runs` shows it diverged


def _contract_worker(rank: int, size: int, store: str, tmp: str, presets: list[str], out: str) -> None:
    import gankit.train.loop as loop
    from gankit.config import load_config
    from tests.conftest import TINY

    _join(rank, size, store)
    done = {}
    for preset in presets:
        run = loop.train(load_config(preset, [*TINY, "train.steps=2", "train.log_every=1", "train.sample_every=2", "train.ckpt_every=1"]), Path(tmp) / preset)
        state = loop.build_state(load_config(preset, [*TINY, "train.steps=2"]))  # players as trained: from the checkpoint
        from gankit.train.checkpoint import load_checkpoint

        payload = load_checkpoint(run / "checkpoints" / "last.pt") if rank == 0 else None
        done[preset] = (str(run), payload["step"] if payload else None, payload.get("world_size") if payload else None, bool(state))
    torch.save(done, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()


def test_every_registered_variant_trains_two_steps_under_two_processes(tmp_path):
    from gankit.config import load_config, preset_names
    from gankit.variants import VARIANTS

    presets = {}
    for name in preset_names():
        presets.setdefault(load_config(name).variant, name)
    assert set(presets) == set(VARIANTS)
    mp.spawn(_contract_worker, args=(2, str(tmp_path / "store"), str(tmp_path), sorted(presets.values()), str(tmp_path / "out")), nprocs=2, join=True)
    done = torch.load(f"{tmp_path / 'out'}.0", weights_only=False)
    for preset in presets.values():
        run, step, world, _ = done[preset]
        assert step == 2 and world == 2, preset
        assert (Path(run) / "samples" / "step-000002.png").exists() and (Path(run) / "metrics.jsonl").exists()


def _sync_bn_worker(rank: int, size: int, store: str, out: str) -> None:
    from gankit.train.distributed import SyncBatchNorm, synchronised

    _join(rank, size, store)
    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(7))[rank * 4 : (rank + 1) * 4].requires_grad_(True)
    bn = SyncBatchNorm(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
    with synchronised():
        y = bn(x)
    (y * torch.arange(y.numel()).reshape(y.shape).float()).sum().backward()
    grads = [x.grad, bn.weight.grad.clone(), bn.bias.grad.clone()]
    average_gradients([bn.weight, bn.bias], World(rank, size))
    saved = {"y": y.detach(), "x_grad": grads[0], "w_grad": bn.weight.grad, "b_grad": bn.bias.grad, "mean": bn.running_mean, "var": bn.running_var}
    torch.save(saved, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()


def test_sync_bn_over_two_ranks_is_batch_norm_over_their_batches_together(tmp_path):
    mp.spawn(_sync_bn_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "out")), nprocs=2, join=True)
    r = [torch.load(f"{tmp_path / 'out'}.{k}", weights_only=True) for k in range(2)]
    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(7)).requires_grad_(True)
    bn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
    y = bn(x)
    weights = torch.cat([torch.arange(192).reshape(4, 3, 4, 4).float()] * 2)
    (y * weights).sum().backward()
    torch.testing.assert_close(torch.cat([r[0]["y"], r[1]["y"]]), y.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat([r[0]["x_grad"], r[1]["x_grad"]]), x.grad, rtol=1e-4, atol=1e-4)
    # parameter gradients: the ranks' mean is the whole batch's over two (each rank's loss is half of the total)
    torch.testing.assert_close(r[0]["w_grad"] * 2, bn.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(r[1]["b_grad"] * 2, bn.bias.grad, rtol=1e-4, atol=1e-4)
    for k in range(2):
        torch.testing.assert_close(r[k]["mean"], bn.running_mean)
        torch.testing.assert_close(r[k]["var"], bn.running_var)


def _torchrun(*args: str) -> list[str]:
    """``torchrun --standalone --nproc_per_node=2 -m gankit ARGS`` with this interpreter."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gankit", *args]


def test_torchrun_two_processes_resume_bit_exactly_after_one_rank_is_killed_and_refuse_another_world_size(tmp_path):
    import os
    import random
    import signal
    import subprocess
    import time

    from gankit.train.checkpoint import load_checkpoint
    from tests.conftest import TINY, run_cli, set_args
    from tests.train.test_resume import assert_identical

    args = set_args([*TINY, "train.steps=600", "train.ckpt_every=50", "train.log_every=50", "train.sample_every=600"])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    whole = subprocess.run(_torchrun("train", "gan-ring", *args, "--runs-dir", str(tmp_path / "a")), env=env, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr[-12000:]  # both ranks' errors whole
    proc = subprocess.Popen(_torchrun("train", "gan-ring", *args, "--runs-dir", str(tmp_path / "b")), env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not list((tmp_path / "b").glob("*/checkpoints/last.pt")):
            time.sleep(0.01)
        time.sleep(random.uniform(0.0, 0.5))
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
        rank1 = [int(pid) for pid in children if b"RANK=1" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")]
        assert proc.poll() is None and rank1, "the run ended before rank 1 could be killed; raise its steps"
        os.kill(rank1[0], signal.SIGKILL)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0  # torchrun stopped the other rank and failed
    run = next((tmp_path / "b").iterdir())
    saved = load_checkpoint(run / "checkpoints" / "last.pt")
    assert 50 <= saved["step"] < 600 and saved["world_size"] == 2
    # one process cannot continue a two-process run exactly: refused, nothing changed
    refused = run_cli("resume", str(run))
    assert refused.returncode == 2 and "written by 2 process(es)" in refused.stderr and "--nproc_per_node=2" in refused.stderr
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == saved["step"]
    resumed = subprocess.run(_torchrun("resume", str(run)), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-12000:]
    assert resumed.stdout.strip().splitlines() == [str(run)]  # the run directory, once (rank 0)
    a = load_checkpoint(next((tmp_path / "a").iterdir()) / "checkpoints" / "last.pt")
    b = load_checkpoint(run / "checkpoints" / "last.pt")
    for key in ("models", "optimizers", "ranks", "step"):
        assert_identical(a[key], b[key], key)
