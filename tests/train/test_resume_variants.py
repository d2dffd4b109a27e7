"""Exact resume for the variants with more than two players, several streams and state objects: InfoGAN (three
players in two groups), pix2pix (U-Net with dropout, a step that reads the scratch), CycleGAN (four players, two
unpaired streams, two image pools in the checkpoint) and the semi-supervised AAE (four phases, two streams); the
other representation learners resume in this process (half, then resume to the end, against a straight run: the
same state rebuilt from the checkpoint, without a kill's process start-ups). N steps straight == killed (SIGKILL) at a random step after
the first checkpoint + resume: bit-identical weights, optimiser states, streams, pools and logged losses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import kill_after_first_checkpoint, run_cli, set_args
from tests.train.test_resume import assert_identical, load, losses

N = 40
COMMON = [f"train.steps={N}", "train.batch_size=4", "train.log_every=3", "train.sample_every=20", "train.ckpt_every=5", "train.watchdog_start=20",
          "train.device=cpu", "train.progress=none", "train.sample_n=4"]  # fmt: skip
CASES = {
    "infogan-mnist": ["model.g.width=8", "model.d.width=8", "model.q.width=16", "train.ema=0.9", "model.z_dim=6"],
    "pix2pix-edges2digits": ["model.g.width=4", "model.d.width=4", "train.ema=0.9"],
    "cyclegan-digits2mnist": ["model.g_ab.width=4", "model.g_ba.width=4", "model.d_a.width=4", "model.d_b.width=4", "options.pool=6"],
    # a representation learner with four phases, two optimisers over one player and two streams (train, labelled)
    "aae-semi-mnist": ["model.e.width=8", "model.g.width=8", "model.dz.width=8", "model.dy.width=8", "model.z_dim=3"],
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def straight(preset: str, runs: Path) -> Path:
    result = run_cli("train", preset, "--runs-dir", str(runs), *set_args([*COMMON, *CASES[preset]]), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def killed_and_resumed(preset: str, runs: Path) -> Path:
    args = ["train", preset, "--runs-dir", str(runs), *set_args([*COMMON, *CASES[preset]])]
    run = kill_after_first_checkpoint(args, runs, max_delay=0.3, env=ONE_THREAD)
    assert 5 <= load(run)["step"] < N
    result = run_cli("resume", str(run), env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    return run


SIGKILL_IN_CI = {"cyclegan-digits2mnist", "aae-semi-mnist"}  # the others' kill-and-resume runs in `make test-all`; their resume, in process below


@pytest.mark.parametrize("preset", [p if p in SIGKILL_IN_CI else pytest.param(p, marks=pytest.mark.slow) for p in sorted(CASES)])
def test_sigkill_then_resume_is_bit_identical(preset, tmp_path):
    a = straight(preset, tmp_path / "straight")
    b = killed_and_resumed(preset, tmp_path / "killed")
    ca, cb = load(a), load(b)
    assert ca["step"] == cb["step"] == N
    for key in ("models", "ema", "optimizers", "schedulers", "rng", "state", "watchdog", "loss_sums"):
        assert_identical(ca[key], cb[key], key)
    assert losses(a) == losses(b)
    if preset.startswith("cyclegan"):
        assert set(ca["state"]) == {"pool_a", "pool_b"} and ca["state"]["pool_a"]["filled"] == 6, "the image pools should be part of this test"


IN_PROCESS = {
    # a categorical and continuous codes with Q on D's trunk (infogan); a U-Net with dropout and a conditional PatchGAN (pix2pix)
    # (no EMA here: its standing statistics for the pictures cost more than the rest of the test)
    "infogan-mnist": [o for o in CASES["infogan-mnist"] if not o.startswith("train.ema")],
    "pix2pix-edges2digits": [o for o in CASES["pix2pix-edges2digits"] if not o.startswith("train.ema")],
    # joint-pair D (bigan), noise layers and an averaged D (ssgan), a code table read by index (glo), entropy terms with
    # labels and augmented inputs (catgan-semi), the ELBO's reparameterised draws (vae), the labelled stream alone with
    # augmented inputs (supervised)
    "bigan-mnist": ["model.g.width=4", "model.e.width=4", "model.dx.width=4", "model.dz.width=8", "model.dj.width=8", "model.z_dim=4",
                    "options.features=8", "train.ema=0.9"],
    # (a constant rate: the preset's decay is a function of train.steps, which the halved run changes)
    "ssgan-mnist": ["model.g.width=8", "model.d.width=8", "model.z_dim=4", "train.ema=0.9", "optim.g.decay_start=1.0", "optim.d.decay_start=1.0"],
    "glo-mnist": ["model.g.width=4", "model.z_dim=4"],
    "catgan-semi-mnist": ["model.g.width=4", "model.d.width=4", "model.z_dim=4", "options.labels=20", "train.augment=translation,cutout"],
    "vae-mnist": ["model.e.width=4", "model.g.width=4", "model.z_dim=4", "train.ema=0.9"],
    "supervised-mnist": ["model.c.width=4", "train.augment=translation"],
    # random holes drawn from the loop's generator, the U-Net's dropout, D on the G step's scratch (the context encoder)
    "inpaint-mnist": ["model.g.width=4", "model.d.width=4", "options.mask=random", "train.ema=0.9"],
    # two phases (MSE, then judge content + adversarial from iteration 10), a frozen feature network, pairs turned by
    # symmetries drawn from the loop's generator (SRGAN)
    "srgan-digits": ["model.g.width=4", "model.g.depth=2", "model.d.width=4", "options.pretrain=10", "train.ema=0.9", "options.dihedral=true"],
    # D steps that draw their own batch and target domains, then a G step with the reconstruction (StarGAN; no EMA: its
    # pictures would recompute standing statistics for each of the four directions)
    "stargan-digits": ["model.g.width=4", "model.g.depth=2", "model.d.width=4"],
    # a pretraining phase, two refiner steps per D step, the history buffer filled and swapping (SimGAN)
    "simgan-fonts2mnist": ["model.r.width=4", "model.r.depth=1", "model.d.width=4", "options.pretrain=10", "options.pool=12", "train.ema=0.9"],
    # two unpaired streams, shared players in both domains' paths, reparameterised codes drawn from the loop's generator (UNIT)
    "unit-digits2mnist": [*(f"model.{p}.width=4" for p in ("e_a", "e_b", "g_a", "g_b", "d_a", "d_b")), "options.latent=8", "data.image_size=16"],
}


@pytest.mark.parametrize("preset", sorted(IN_PROCESS))
def test_half_then_resume_is_bit_identical_for_the_representation_learners(preset, tmp_path):
    from gankit.config import load_config
    from gankit.train.loop import resume, train

    overrides = [*COMMON, *IN_PROCESS[preset]]
    a = train(load_config(preset, overrides), tmp_path / "straight")
    # stop at 15: a multiple of log_every (3) and ckpt_every (5), before the first health check (20), so that the end
    # of the shorter run logs and checkpoints exactly what the straight run does at that step
    half = [o for o in overrides if not o.startswith("train.steps=")] + ["train.steps=15"]
    b = train(load_config(preset, half), tmp_path / "halved")
    resume(b, [f"train.steps={N}"])
    ca, cb = load(a), load(b)
    assert ca["step"] == cb["step"] == N
    for key in ("models", "ema", "optimizers", "schedulers", "rng", "state", "watchdog", "loss_sums"):
        assert_identical(ca[key], cb[key], key)
    assert losses(a) == losses(b)
