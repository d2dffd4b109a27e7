"""Discriminator rejection sampling (gankit.samplers.drs): rejection, calibration, refitted estimators, and the
variants' per-sample log-ratios it relies on."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from gankit.config import SamplerConfig, load_config
from gankit.errors import GankitError
from gankit.samplers import drs as drs_module
from gankit.samplers.drs import fit_calibration, isotonic_steps, platt_scaling, refit_estimator, rejection_sample
from gankit.sampling import draw_samples
from gankit.train.loop import build_state, load_run, train
from tests.conftest import TINY, run_cli, set_args


def _gaussian_proposal(rng: torch.Generator):
    return lambda k: torch.randn(k, 1, generator=rng)


def test_rejection_sampling_turns_the_proposal_into_the_target():
    # Proposal N(0, 1), target N(1, 1): log p_data/p_g = x - 1/2 exactly, so the kept samples must follow N(1, 1).
    rng = torch.Generator().manual_seed(0)
    stats: dict[str, int] = {}
    # quantile 1: M is the burn-in's largest log-ratio, exact wherever r stays below it.
    kept = rejection_sample(_gaussian_proposal(rng), lambda x: x[:, 0] - 0.5, 20_000, rng, quantile=1.0, stats=stats)
    assert kept.shape == (20_000, 1)
    assert abs(kept.mean().item() - 1.0) < 0.03 and abs(kept.std().item() - 1.0) < 0.03
    # M is the largest log-ratio of the 10,000 burn-in proposals and stays there (replayed from the same seed):
    # acceptance = E_g[exp(r - M)] = exp(-M), a few percent
    burn_in = torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    assert stats["bound"] == pytest.approx(float(burn_in.max()) - 0.5, abs=1e-6)
    assert stats["kept"] >= 20_000 and 0.005 < stats["kept"] / stats["proposals"] < 0.2


def test_rejection_sampling_with_a_constant_ratio_keeps_everything_and_is_seeded():
    rng = torch.Generator().manual_seed(3)
    stats: dict[str, int] = {}
    kept = rejection_sample(_gaussian_proposal(rng), lambda x: torch.zeros(len(x)), 100, rng, quantile=1.0, chunk=64, burn_in=64, stats=stats)
    assert stats == {"proposals": 128, "kept": 128, "bound": 0.0} and kept.shape == (100, 1)

    def draw() -> Tensor:
        rng = torch.Generator().manual_seed(3)
        return rejection_sample(_gaussian_proposal(torch.Generator().manual_seed(3)), lambda x: x[:, 0], 500, rng, quantile=1.0, chunk=256)

    again, once = draw(), draw()
    torch.testing.assert_close(again, once, rtol=0, atol=0)


def _proposal_with_an_outlier(rng: torch.Generator):
    """N(0, 1) proposals in column 0; column 1 marks the very first proposal, whose log-ratio (below) is an outlier,
    as when D extrapolates wildly on one odd sample of the burn-in."""
    first = [True]

    def propose(k: int) -> Tensor:
        x = torch.cat([torch.randn(k, 1, generator=rng), torch.zeros(k, 1)], dim=1)
        if first[0]:
            x[0, 1], first[0] = 1.0, False
        return x

    return propose


def _ratio_with_outlier(x: Tensor) -> Tensor:
    return x[:, 0] - 0.5 + 30.0 * x[:, 1]  # target N(1, 1) as above; the marked proposal claims e^30


def test_a_quantile_bound_shrugs_off_an_outlier_and_clips_only_the_top():
    # A bound at the 0.99 quantile of the burn-in ignores the outlier; the kept samples follow
    # p_g min(1, exp(r - M)), which is N(1, 1) thinned above x = M + 1/2: compare with that density's mean and sd.
    rng = torch.Generator().manual_seed(0)
    stats: dict[str, float] = {}
    kept = rejection_sample(_proposal_with_an_outlier(rng), _ratio_with_outlier, 20_000, rng, quantile=0.99, stats=stats)[:, 0]
    bound = stats["bound"]
    assert abs(bound - (2.326 - 0.5)) < 0.1  # the 0.99 quantile of x - 1/2, x ~ N(0, 1)
    grid = torch.linspace(-8, 8, 16_001, dtype=torch.float64)
    weight = torch.exp(-grid.pow(2) / 2) * torch.exp((grid - 0.5 - bound).clamp(max=0))
    mean = (grid * weight).sum() / weight.sum()
    sd = ((grid - mean).pow(2) * weight).sum().div(weight.sum()).sqrt()
    assert 0.85 < mean < 0.98 and 0.8 < sd < 0.97  # visibly short of N(1, 1): the clipping is real, and bounded
    assert abs(kept.mean().item() - mean.item()) < 0.03 and abs(kept.std().item() - sd.item()) < 0.03
    assert stats["kept"] / stats["proposals"] > 0.1
    # The exact bound (quantile 1) takes the outlier at its word: every other proposal is kept with probability ~e^-30.
    rng = torch.Generator().manual_seed(0)
    with pytest.raises(GankitError, match=r"kept .* of .* proposals"):
        rejection_sample(_proposal_with_an_outlier(rng), _ratio_with_outlier, 100, rng, quantile=1.0)
    # The default (0.999) shrugs off one outlier among 10,000 burn-in proposals: M ≈ 3.09 - 1/2, acceptance ≈ e^-M.
    rng = torch.Generator().manual_seed(0)
    stats.clear()
    rejection_sample(_proposal_with_an_outlier(rng), _ratio_with_outlier, 1000, rng, quantile=SamplerConfig().quantile, stats=stats)
    assert abs(stats["bound"] - (3.09 - 0.5)) < 0.4 and stats["kept"] / stats["proposals"] > 0.03  # quantile sd ≈ 0.1


def test_rejection_sampling_gives_up_when_almost_nothing_is_kept():
    rng = torch.Generator().manual_seed(0)
    with pytest.raises(GankitError, match=r"kept .* of .* proposals"):
        rejection_sample(_gaussian_proposal(rng), lambda x: 60.0 * x[:, 0], 10, rng, quantile=1.0, chunk=8192)
    # Below quantile 1 the acceptance cannot fall under about 1 - quantile: the proposals above M are all kept.
    stats: dict[str, float] = {}
    rejection_sample(_gaussian_proposal(rng), lambda x: 60.0 * x[:, 0], 10, rng, quantile=0.99, stats=stats)
    assert 0.005 < stats["kept"] / stats["proposals"] < 0.03


@pytest.mark.parametrize(
    ("preset", "overrides", "blocker"),
    [
        ("gan-ring", [], None),
        ("minimax-ring", [], None),
        ("wgan-ring", [], "loss wgan"),
        ("gan-ring", ["loss.real_label=0.9"], "loss.real_label 0.9"),
        ("improved-ring", [], "minibatch discrimination"),
        ("dcgan-stacked", [], "batch norm in D"),  # D's output on a sample depends on its batch
        ("drs-stacked", [], None),  # the same with layer norm in D
    ],
)
def test_gan_variant_offers_a_density_ratio_only_where_the_logit_is_one(preset, overrides, blocker):
    state = build_state(load_config(preset, [*TINY, *overrides]))
    v = state.variant
    assert (v.log_ratio is None) == (blocker is not None)
    if blocker is None:
        x = torch.randn(5, *state.data.shape)
        d = v.players["d"].eval()
        torch.testing.assert_close(v.log_ratio(v.players, x), d(x)["logits"].reshape(-1))
        torch.testing.assert_close(v.log_ratio(v.players, x[:2]), d(x)["logits"].reshape(-1)[:2])  # one logit per sample, whatever the batch
    else:
        assert blocker in v.no_ratio


class _SumOfPack(torch.nn.Module):
    """A packing "discriminator" (packs of 2 points, 4 features) whose logit is the sum of its members' f(x),
    f(x) = x0 - 2 x1: the form of the optimal packed D, whose logit is the sum of the members' log-ratios."""

    def forward(self, packs):
        return {"logits": (packs[:, 0] - 2 * packs[:, 1] + packs[:, 2] - 2 * packs[:, 3])[:, None]}


def test_packing_discriminator_gives_each_sample_its_own_log_ratio():
    state = build_state(load_config("pacgan-ring", TINY))
    v = state.variant
    assert v.log_ratio is not None
    v.players["d"] = _SumOfPack()
    x = torch.randn(40, 2)
    with torch.no_grad():
        v.players["g"].eval()
        r = v.log_ratio(v.players, x)
        # f(x) plus the partners' mean f (a constant the rejection bound absorbs), one value per sample
        torch.testing.assert_close(r - r[0], (x[:, 0] - 2 * x[:, 1]) - (x[0, 0] - 2 * x[0, 1]), atol=1e-5, rtol=0)
        torch.testing.assert_close(v.log_ratio(v.players, x[5:7]), r[5:7])  # the partners are fixed: whatever the batch
        assert not torch.allclose(v.log_ratio(v.players, x), x[:, 0] - 2 * x[:, 1])  # the constant is there (partners vary)


def test_isotonic_steps_match_scikit_learn():
    from sklearn.isotonic import IsotonicRegression

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 300, (2000,), generator=g).double() / 10  # many ties
    y = (torch.rand(2000, generator=g, dtype=torch.float64) < torch.sigmoid(x - 15)).double()
    upper, counts, means = isotonic_steps(x, y)
    assert counts.sum() == 2000 and bool((means[1:] > means[:-1]).all()) and bool((upper[1:] > upper[:-1]).all())
    fitted = means[torch.searchsorted(upper, x)]
    expected = IsotonicRegression().fit(x.numpy(), y.numpy()).predict(x.numpy())
    np.testing.assert_allclose(fitted.numpy(), expected, atol=1e-12)


def test_platt_scaling_matches_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(1)
    real, fake = 0.4 * torch.randn(3000, generator=g) + 0.3, 0.5 * torch.randn(2000, generator=g) - 0.2
    a, b = platt_scaling(real, fake)
    x = torch.cat([real, fake]).double().numpy()[:, None]
    fit = LogisticRegression(C=1e9, tol=1e-12, max_iter=10_000).fit(x, np.r_[np.ones(3000), np.zeros(2000)])
    assert a == pytest.approx(fit.coef_[0, 0], rel=1e-3) and b == pytest.approx(fit.intercept_[0], abs=1e-3)
    a, b = platt_scaling(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0]))  # separable: finite, steep
    assert 5 < a < 1e4 and abs(b) < 1e-6


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_sharpens_an_underconfident_discriminator(method):
    # Proposal N(0, 1), target N(1, 1): log p_data/p_g = x - 1/2. A discriminator that says 0.3 (x - 1/2) is right
    # in direction but underconfident; calibrated on 10,000 real and 10,000 generated samples it must say x - 1/2.
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(10_000, generator=g) + 1, torch.randn(10_000, generator=g)

    def score(x):
        return 0.3 * (x - 0.5)

    calibrated = fit_calibration(method, score(real), score(fake))
    probe = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0])
    # a step function fitted to noisy labels is rougher than two parameters
    torch.testing.assert_close(calibrated(score(probe)), probe - 0.5, atol={"platt": 0.1, "isotonic": 0.35}[method], rtol=0)
    rng = torch.Generator().manual_seed(3)
    kept = rejection_sample(_gaussian_proposal(rng), lambda x: calibrated(score(x[:, 0])), 10_000, rng, quantile=1.0)
    assert abs(kept.mean().item() - 1.0) < 0.1  # uncalibrated, the kept mean would be about 0.3
    with pytest.raises(ValueError, match="calibration"):
        fit_calibration("temperature", real, fake)


def test_drs_sampler_needs_such_a_discriminator(tmp_path):
    with pytest.raises(GankitError, match=r"sampler\.name=drs .* loss wgan"):
        build_state(load_config("wgan-ring", [*TINY, "sampler.name=drs"]))
    result = run_cli("train", "wgan-grid", "--runs-dir", str(tmp_path), *set_args([*TINY, "sampler.name=drs"]))
    assert result.returncode == 2 and "sampler.name=drs" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing created


class _PrefersTheOrigin(torch.nn.Module):
    def forward(self, x):  # a "discriminator" whose logit says p_data/p_g = exp(-|x|^2)
        return {"logits": -x.pow(2).sum(dim=1, keepdim=True)}


def test_drs_run_samples_what_its_discriminator_accepts(tmp_path):
    result = run_cli("train", "drs-ring", "--runs-dir", str(tmp_path), *set_args(TINY))
    assert result.returncode == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    _, state, _ = load_run(run)
    drs = draw_samples(state, 3000, seed=5)
    assert drs.shape == (3000, 2)
    torch.testing.assert_close(drs, draw_samples(state, 3000, seed=5), rtol=0, atol=0)  # seeded
    out = run_cli("sample", str(run), "--n", "64", "--out", str(tmp_path / "s.npz"))
    assert out.returncode == 0, out.stderr
    assert np.load(tmp_path / "s.npz")["samples"].shape == (64, 2)
    # Sampling goes through the run's discriminator: with one that favours the origin, DRS samples are the
    # proposals reweighted by exp(-|x|^2), so their mean |x|^2 must fall well below the generator's own.
    state.variant.players["d"] = _PrefersTheOrigin()
    favoured = draw_samples(state, 3000, seed=5)
    state.cfg.sampler.name = "plain"
    plain = draw_samples(state, 3000, seed=5)
    assert favoured.pow(2).sum(1).mean() < 0.8 * plain.pow(2).sum(1).mean()


def test_calibrated_drs_with_a_packing_discriminator():
    """pacgan-drs-ring: a packing D, its per-sample log-ratio calibrated on real data, then rejection (the
    contract test trains the preset through the CLI)."""
    state = build_state(load_config("pacgan-drs-ring", TINY))
    assert (state.cfg.options.pack, state.cfg.sampler.calibration) == (2, "isotonic")
    drs = draw_samples(state, 2000, seed=4)
    assert drs.shape == (2000, 2)
    torch.testing.assert_close(drs, draw_samples(state, 2000, seed=4), rtol=0, atol=0)  # calibration is seeded too
    # With a generator spread over the plane and a packing D that prefers the ring but only mildly (an
    # underconfident logit, -0.1 (|x| - 2)^2 per member), calibration against the real ring must sharpen the
    # rejection: the kept samples lie far closer to the ring than those of uncalibrated DRS.
    spread = _Scale(1.5)
    state.variant.players["g"] = spread
    state.ema = {k: spread for k in state.ema}
    state.variant.players["d"] = _MildRingPack()
    calibrated = draw_samples(state, 2000, seed=4)
    state.cfg.sampler.calibration = "none"
    raw = draw_samples(state, 2000, seed=4)
    off_ring = {name: (x.norm(dim=1) - 2).abs().mean().item() for name, x in (("calibrated", calibrated), ("raw", raw))}
    assert off_ring["calibrated"] < 0.5 * off_ring["raw"], off_ring


class _Scale(torch.nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, z):
        return self.factor * z


class _MildRingPack(torch.nn.Module):
    def forward(self, packs):  # packs of 2 points: (B, 4)
        return {"logits": (-0.1 * (packs.reshape(len(packs), 2, 2).norm(dim=2) - 2).pow(2)).sum(dim=1, keepdim=True)}


class _WideGaussian(torch.nn.Module):
    """A fixed "generator" turning uniform noise into N(4, 0.75^2), 1.5x wider than gan-1d's data N(4, 0.5^2)."""

    def forward(self, z):
        return 4 + 0.75 * math.sqrt(2) * torch.erfinv(z.clamp(-1 + 1e-6, 1 - 1e-6))


REFIT = ["sampler.name=drs", "sampler.estimator=refit"]


def _wide_gan_1d(steps: int):
    state = build_state(load_config("gan-1d", [*TINY, *REFIT, f"sampler.refit_steps={steps}"]))
    state.variant.players["g"] = _WideGaussian()
    state.ema = {k: state.variant.players["g"] for k in state.ema}
    return state


def test_a_refitted_estimator_learns_the_generators_density_ratio():
    # log p_data/p_g for N(4, 0.5^2) over N(4, 0.75^2) is log 1.5 - (x - 4)^2 (1/0.5 - 1/1.125): the estimator,
    # fitted to real samples vs this generator's proposals, must find it; the run's own D plays no part.
    state = _wide_gan_1d(3000)
    before = torch.get_rng_state()
    estimator = refit_estimator(state, state.sampling_players, 3000, 512)
    assert torch.equal(torch.get_rng_state(), before)  # seeded on its own: the global stream is untouched
    x = torch.linspace(3.25, 4.75, 7)[:, None]
    truth = math.log(1.5) - (x[:, 0] - 4).pow(2) * (1 / 0.5 - 1 / 1.125)
    with torch.no_grad():
        torch.testing.assert_close(estimator(x)["logits"].reshape(-1), truth, atol=0.1, rtol=0)
        again = refit_estimator(state, state.sampling_players, 3000, 512)
        torch.testing.assert_close(again(x)["logits"], estimator(x)["logits"], rtol=0, atol=0)  # a function of the checkpoint


def test_drs_with_a_refitted_estimator_gives_back_the_data(monkeypatch):
    state = _wide_gan_1d(3000)
    fits = []
    real_fit = drs_module.refit_estimator
    monkeypatch.setattr(drs_module, "refit_estimator", lambda *a: fits.append(a[2]) or real_fit(*a))
    drs = draw_samples(state, 4000, seed=1)
    assert abs(drs.std().item() - 0.5) < 0.05 and abs(drs.mean().item() - 4) < 0.05
    torch.testing.assert_close(draw_samples(state, 4000, seed=1), drs, rtol=0, atol=0)
    assert fits == [3000]  # one fit per checkpoint step, reused by later draws
    state.step += 1
    draw_samples(state, 10, seed=1)
    assert fits == [3000, 3000]
    state.cfg.sampler.name = "plain"
    assert draw_samples(state, 4000, seed=1).std().item() > 0.7


def test_a_refit_run_fits_its_estimator_for_the_last_picture_only(tmp_path, monkeypatch):
    fits = []
    real_fit = drs_module.refit_estimator
    monkeypatch.setattr(drs_module, "refit_estimator", lambda *a: fits.append(a[2]) or real_fit(*a))
    run = train(load_config("pacgan-refit-ring", [*TINY, "sampler.refit_steps=30", "sampler.refit_batch=64"]), tmp_path)  # pictures at 0, 10, 20
    assert fits == [30] and (run / "samples" / "step-000020.png").stat().st_size > 0


def test_a_refitted_estimator_serves_any_unconditional_generator():
    # wgan's critic is no density ratio (test_drs_sampler_needs_such_a_discriminator), but a refitted estimator is
    state = build_state(load_config("wgan-ring", [*TINY, *REFIT, "sampler.refit_steps=20"]))
    assert draw_samples(state, 50, seed=0).shape == (50, 2)
    with pytest.raises(GankitError, match="conditional"):
        build_state(load_config("cgan-mnist", [*TINY, *REFIT]))
