"""Data-parallel building blocks under two gloo processes: gradients averaged, losses averaged, flags shared."""

from __future__ import annotations

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
