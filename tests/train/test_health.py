"""The divergence and collapse watchdog: its measures, its warnings, and that it never changes training."""

from __future__ import annotations

import io

import pytest
import torch

from gankit.config import load_config, save_config
from gankit.train.health import DIVERSITY_FLOOR, SEPARATION_PATIENCE, Watchdog, mean_pairwise_distance, separation
from gankit.train.loop import build_state, run_loop
from gankit.train.rundir import create_run_dir, read_metrics
from tests.conftest import TINY


def identity(x):
    return x.flatten(1)


def by_first_coordinate(real, fake):
    """The scores of a discriminator 'd' that ranks samples by their first coordinate, as a probe gives them."""
    return {"d": (real[:, 0], fake[:, 0])}


def test_mean_pairwise_distance_and_separation_on_known_points():
    assert mean_pairwise_distance(torch.tensor([[0.0], [3.0]])) == pytest.approx(3.0)
    # an equilateral triangle of side 2: every distinct pair is 2 apart
    tri = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3**0.5]])
    assert mean_pairwise_distance(tri) == pytest.approx(2.0)
    assert separation(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert separation(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 0.0
    assert separation(torch.ones(4), torch.ones(5)) == 0.5  # ties count half
    assert separation(torch.tensor([1.0, 3.0]), torch.tensor([2.0])) == 0.5


def test_exploding_loss_is_flagged_and_a_steady_one_is_not():
    dog = Watchdog(identity)
    for i in range(30):
        assert dog.check_losses({"d_real": 0.7 + 0.01 * (i % 3), "g": 1.0}) == []
    warnings = dog.check_losses({"d_real": 0.7, "g": 500.0})
    assert len(warnings) == 1 and "'g'" in warnings[0] and "500" in warnings[0]
    fresh = Watchdog(identity)
    assert fresh.check_losses({"g": 1e6}) == []  # no history yet: nothing to compare with, and not absurd by itself
    blown = fresh.check_losses({"g": 4e11})  # a run that blows up at once (learning rate 10): its size alone warns
    assert len(blown) == 1 and "'g' is 4e+11 within the first logged steps" in blown[0]


def test_an_exploding_loss_names_the_runs_learning_rates():
    cfg = load_config("gan-ring", [*TINY, "optim.g.lr=10", "optim.d.lr=10"])
    dog = build_state(cfg).watchdog
    for _ in range(10):
        dog.check_losses({"d_fake": 1.0})
    [warning] = dog.check_losses({"d_fake": 4.1e8})
    assert warning.startswith("loss 'd_fake' exploded to 4.1e+08 (typically 1 of late); the learning rates may be too high (optim.g.lr=10, optim.d.lr=10)")
    assert "--set optim.g.lr=0.0002 --set optim.d.lr=0.0002, or add a penalty" in warning


def test_a_restored_watchdog_remembers_what_the_saved_one_knew():
    dog = Watchdog(identity)
    for _ in range(15):
        dog.check_losses({"g": 1.0})
    real = torch.randn(200, 2)
    scores = by_first_coordinate(real, real - 100.0)
    dog.check_samples(real, real - 100.0, scores)  # D wins once
    saved = torch.load(_roundtrip(dog.state_dict()), weights_only=True)  # as a checkpoint stores it
    restored = Watchdog(identity)
    restored.load_state_dict(saved)
    assert restored.state_dict() == dog.state_dict()
    assert len(restored.check_losses({"g": 500.0})) == 1  # the history came along: the explosion is seen at once
    for _ in range(SEPARATION_PATIENCE - 2):
        assert restored.check_samples(real, real - 100.0, scores)[1] == []
    assert len(restored.check_samples(real, real - 100.0, scores)[1]) == 1  # the winning streak went on counting


def _roundtrip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def test_collapsed_samples_are_flagged():
    torch.manual_seed(0)
    real = torch.randn(256, 2) * 2
    dog = Watchdog(identity)
    health, warnings = dog.check_samples(real, torch.randn(500, 2) * 2, {})
    assert warnings == [] and health["diversity"] == pytest.approx(1.0, abs=0.1)
    health, warnings = dog.check_samples(real, torch.randn(500, 2) * 0.01 + 1.0, {})
    assert health["diversity"] < DIVERSITY_FLOOR and len(warnings) == 1 and "diversity" in warnings[0]


def test_a_discriminator_that_wins_for_long_is_flagged_once():
    real, fake = torch.randn(64, 2) + 10, torch.randn(64, 2) - 10
    dog = Watchdog(identity)
    scores = by_first_coordinate(real, fake)  # perfectly separates the two clouds
    flagged = []
    for _ in range(SEPARATION_PATIENCE + 2):
        health, warnings = dog.check_samples(real, fake, scores)
        assert health["d_auc"] == 1.0
        flagged.append(any("separates" in w for w in warnings))
    assert flagged == [False] * (SEPARATION_PATIENCE - 1) + [True, False, False]
    health, _ = dog.check_samples(real, real.flip(0), by_first_coordinate(real, real.flip(0)))
    assert health["d_auc"] == pytest.approx(0.5) and dog.winning["d"] == 0


def test_each_discriminator_has_its_own_winning_streak():
    real, fake = torch.randn(64, 2) + 10, torch.randn(64, 2) - 10
    dog = Watchdog(identity)
    winning, losing = (real[:, 0], fake[:, 0]), (real[:, 0], real[:, 0].flip(0))
    for _ in range(SEPARATION_PATIENCE):
        health, warnings = dog.check_samples(real, fake, {"d_a": winning, "d_b": losing})
        assert health["d_a_auc"] == 1.0 and health["d_b_auc"] == pytest.approx(0.5) and "d_auc" not in health
    assert dog.winning == {"d_a": SEPARATION_PATIENCE, "d_b": 0}
    assert len(warnings) == 1 and "discriminator 'd_a'" in warnings[0]
    old = Watchdog(identity)
    old.load_state_dict({"history": {}, "data_spread": None, "winning": 2})  # a version-1 checkpoint: one D, one count
    assert old.winning == {"d": 2}


def _trained(tmp_path, overrides):
    cfg = load_config("gan-ring", [*TINY, "train.steps=30", "train.sample_every=10", "train.progress=none", *overrides])
    state = build_state(cfg)
    run = create_run_dir(tmp_path, cfg.name)
    save_config(cfg, run / "config.yaml")
    run_loop(state, run)
    return state, run


def test_health_records_are_logged_and_training_is_unchanged(tmp_path):
    on, run_on = _trained(tmp_path, ["train.watchdog=true", "train.watchdog_start=10"])
    off, run_off = _trained(tmp_path, ["train.watchdog=false"])
    health = [r for r in read_metrics(run_on / "metrics.jsonl") if "health" in r]
    assert [r["step"] for r in health] == [10, 20, 30]
    assert all({"diversity", "d_auc"} <= set(r["health"]) for r in health)
    assert not any("health" in r for r in read_metrics(run_off / "metrics.jsonl"))
    for name, module in on.variant.players.items():
        for (key, a), b in zip(module.state_dict().items(), off.variant.players[name].state_dict().values(), strict=True):
            assert torch.equal(a, b), f"{name}.{key}"


def test_a_collapsed_generator_is_reported_in_metrics(tmp_path):
    cfg = load_config("gan-ring", [*TINY, "train.steps=10", "train.sample_every=5", "train.watchdog_start=5", "train.progress=none", "optim.g.decay_start=1.0"])
    state = build_state(cfg)
    with torch.no_grad():  # G maps every z to (almost) the same point: total mode collapse
        last = [m for m in state.variant.players["g"].modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_()
    state.variant.optimizers["g"].param_groups[0]["lr"] = 0.0  # stays 0: no learning-rate schedule for G
    run = create_run_dir(tmp_path, cfg.name)
    save_config(cfg, run / "config.yaml")
    run_loop(state, run)
    health = [r for r in read_metrics(run / "metrics.jsonl") if "health" in r]
    assert health and all(r["health"]["diversity"] < 0.01 for r in health)
    assert all(any("diversity collapsed" in w for w in r["warnings"]) for r in health)


@pytest.mark.parametrize(("game", "absent", "present"), [("nonsaturating", "non-saturating", "hinge"), ("hinge", "hinge", "non-saturating")])
def test_a_winning_discriminators_advice_does_not_suggest_the_game_already_played(game, absent, present):
    real, fake = torch.randn(64, 2) + 10, torch.randn(64, 2) - 10
    dog = Watchdog(identity, game=game)
    warnings = [w for _ in range(SEPARATION_PATIENCE) for w in dog.check_samples(real, fake, by_first_coordinate(real, fake))[1]]
    assert len(warnings) == 1 and absent not in warnings[0] and present in warnings[0]
