"""Discriminator rejection sampling (Azadi et al., 2019), a sampler of noise models beside plain decoding
(``sampler.name: drs``): proposals from the generator kept with probability min(1, exp(r(x) - M)), where r is a
log density-ratio estimate: the variant's discriminator (``sampler.estimator: d``), optionally calibrated
(``sampler.calibration``), or a classifier refitted to the generator as it samples (``refit``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.real import real_samples
from gankit.errors import GankitError
from gankit.sampling.standing import eval_mode

CHUNK = 8192
DRS_BURN_IN = 10_000  # proposals whose log-ratios set the rejection bound
DRS_MIN_ACCEPTANCE = 1e-3  # below this, after DRS_PATIENCE proposals, rejection sampling gives up
DRS_PATIENCE = 100_000
DRS_CALIBRATION = 10_000  # real samples (and as many proposals) that calibrate D's log-ratio (sampler.calibration)
DRS_REFIT_LR = 1e-3  # its Adam learning rate (betas 0.5, 0.999), constant, then linearly down over the second half
DRS_REFIT_SEED = 0xD125  # its initialisation, real draws and proposals: the estimator is a function of the checkpoint


def check_sampler(cfg: Any, variant: Any) -> None:
    """Refuse a sampler the variant cannot serve, before anything runs."""
    if cfg.sampler.name != "drs":
        return
    if variant.decode is None or variant.latents is None or variant.num_classes:
        raise GankitError(f"sampler.name=drs draws unconditional samples from noise; variant '{cfg.variant}' does not: use sampler.name=plain")
    if cfg.sampler.estimator == "d" and variant.log_ratio is None:
        raise GankitError(
            "sampler.name=drs (discriminator rejection sampling) needs a discriminator whose logit estimates log p_data/p_g; "
            f"this config has {variant.no_ratio}: change that, set sampler.estimator=refit, or use sampler.name=plain"
        )


def drs_samples(state: Any, players: dict[str, nn.Module], n: int, rng: torch.Generator, seed: int, *, use_ema: bool = True) -> Tensor:
    """``n`` samples (float32, CPU) by discriminator rejection sampling with the run's ``sampler`` settings;
    proposals are drawn from ``rng``."""
    cfg = state.cfg.sampler
    v = state.variant
    with torch.no_grad(), eval_mode(players):

        def propose(k: int) -> Tensor:
            return v.generate(players, k, rng)

        if cfg.estimator == "refit":
            key = ("drs_estimator", state.step, use_ema)
            if key not in state.cache:  # one fit per checkpoint step, kept for later draws from this state
                state.cache.clear()
                state.cache[key] = refit_estimator(state, players, cfg.refit_steps, cfg.refit_batch)
            estimator = state.cache[key]

            def raw_ratio(x: Tensor) -> Tensor:
                return torch.cat([estimator(part)["logits"].float().reshape(-1) for part in x.split(CHUNK)])

        else:

            def raw_ratio(x: Tensor) -> Tensor:
                return torch.cat([v.log_ratio(players, part).float().reshape(-1) for part in x.split(CHUNK)])

        log_ratio = raw_ratio
        if cfg.calibration != "none":
            real = real_samples(state.data, DRS_CALIBRATION, torch.Generator().manual_seed(seed)).to(state.device)
            fake = torch.cat([propose(len(part)) for part in real.split(CHUNK)])
            calibrate = fit_calibration(cfg.calibration, raw_ratio(real), raw_ratio(fake))
            log_ratio = lambda x: calibrate(raw_ratio(x))  # noqa: E731
        kept = rejection_sample(propose, log_ratio, n, rng, quantile=cfg.quantile, burn_in=DRS_BURN_IN, chunk=CHUNK)
    return kept.float().cpu()


def rejection_sample(
    propose: Callable[[int], Tensor],
    log_ratio: Callable[[Tensor], Tensor],
    n: int,
    rng: torch.Generator,
    *,
    quantile: float,
    burn_in: int = DRS_BURN_IN,
    chunk: int = CHUNK,
    stats: dict[str, float] | None = None,
) -> Tensor:
    """Discriminator rejection sampling (Azadi et al., 2019): a proposal x ~ p_g is kept with probability
    min(1, exp(r(x) - M)), where r estimates log p_data(x) / p_g(x); the kept samples follow p_g exp(r) ∝ p_data
    wherever the estimate is right and r stays below M. M is the ``quantile`` of r over ``burn_in`` proposals (not
    kept), fixed from then on, so that the kept samples are independent draws from one distribution. With
    ``quantile`` 1 M is the burn-in's largest r: exact below it, but one outlying proposal in the burn-in (D
    extrapolates where it never saw data) lowers the acceptance of all others, down to giving up. Below 1 (the
    paper shifts its acceptance to the 95th percentile) an outlier cannot do that; the proposals above M are all
    kept, under-weighted by exp(r - M), and they include those of modes G under-covers (``sampler.quantile``
    holds the default).
    ``stats`` (if given) receives the counts of proposals and kept samples and M. Raises a GankitError when
    fewer than 1 in 1,000 proposals are kept."""
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    burn = torch.cat([log_ratio(propose(min(burn_in - start, chunk))).float().reshape(-1) for start in range(0, burn_in, chunk)])
    bound = torch.quantile(burn, quantile)  # quantile 1 is the largest
    kept: list[Tensor] = []
    count = drawn = 0
    while count < n:
        x = propose(chunk)
        r = log_ratio(x).float()
        keep = torch.rand(len(r), generator=rng, device=r.device) < torch.exp((r - bound).clamp(max=0.0))
        kept.append(x[keep])
        count, drawn = count + int(keep.sum()), drawn + len(x)
        if drawn >= DRS_PATIENCE and count < DRS_MIN_ACCEPTANCE * drawn:
            raise GankitError(
                f"discriminator rejection sampling kept {count} of {drawn:,} proposals (under 1 in 1,000): the "
                "discriminator is far from its optimum for this generator; sample with sampler.name=plain"
            )
    if stats is not None:
        stats.update(proposals=drawn, kept=count, bound=float(bound))
    return torch.cat(kept)[:n]


def refit_estimator(state, players: dict[str, nn.Module], steps: int, batch: int) -> nn.Module:
    """A density-ratio estimator for DRS fitted to the generator as it samples (``sampler.estimator: refit``): a
    fresh classifier with ``model.d``'s network on single samples (layer norm in place of batch norm, no minibatch
    features, so that its logit is a function of one sample), trained with G fixed to tell real samples (logit > 0)
    from proposals by the cross-entropy game, whose optimum logit is log p_data/p_g (Goodfellow et al., 2014,
    Prop. 1). The adversarial D is a poorer estimator: it was trained against the live generator, not the EMA copy
    that proposes, it never had to converge, since G moved on every step, and a packing D judges pairs. On the grid
    of Gaussians a blurred G (blobs 1.5x too wide, with stubs where it leaves a mode) is ranked by neither D's logit
    nor its calibration, and rejection with this estimator removes both. ``steps`` Adam steps on ``batch`` real
    samples and as many proposals, all drawn from ``DRS_REFIT_SEED``, so that the estimator is a function of the
    checkpoint. Returns the network in eval mode."""
    from dataclasses import replace

    from gankit.config import OptimizerConfig
    from gankit.losses import bce_d_loss
    from gankit.nets import build_discriminator
    from gankit.train.progress import Progress
    from gankit.variants.base import make_optimizer, make_scheduler

    net_cfg = replace(state.cfg.model.d, norm="layer" if state.cfg.model.d.norm == "batch" else state.cfg.model.d.norm, minibatch=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(DRS_REFIT_SEED)
        net = build_discriminator(net_cfg, state.data.shape).to(state.device)
    optim_cfg = OptimizerConfig(name="adam", lr=DRS_REFIT_LR, betas=(0.5, 0.999), decay_start=0.5)
    optimizer = make_optimizer(list(net.parameters()), optim_cfg)
    schedule = make_scheduler(optimizer, optim_cfg, steps)
    real_rng = torch.Generator().manual_seed(DRS_REFIT_SEED)
    fake_rng = torch.Generator(device=state.device).manual_seed(DRS_REFIT_SEED)
    progress = Progress(state.cfg.train.progress, 0, steps, "fitting the DRS estimator", unit="DRS estimator step")
    with torch.enable_grad():
        for step in range(1, steps + 1):
            real = real_samples(state.data, batch, real_rng).to(state.device)
            with torch.no_grad():
                fake = state.variant.generate(players, batch, fake_rng)
            loss = sum(term.mean() for term in bce_d_loss(net(real)["logits"], net(fake)["logits"]).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if step % 1000 == 0 or step == steps:
                progress.report(step, {"estimator_loss": float(loss.detach())})
    progress.close()
    return net.eval()


def fit_calibration(method: str, real: Tensor, fake: Tensor) -> Callable[[Tensor], Tensor]:
    """A monotone map from D's log-ratio estimates to calibrated ones, fitted on the scores of real samples and of
    as many proposals: the logit of P(real | score), which equals log p_data/p_g for equal class sizes (up to a
    constant otherwise, which the rejection bound absorbs). D trained against a moving G is not calibrated: on the
    grid of Gaussians its logit at bridges between modes, where p_data vanishes, is only ~0.7 below its logit on
    the modes, so uncalibrated DRS keeps most of them. Turner et al. (2019, MH-GAN) calibrate D this way before
    sampling. ``platt``: logistic regression on the score (2 parameters). ``isotonic``: the monotone step function
    fitted by pool-adjacent-violators, each step's P(real) smoothed by half a count per class, (real + 1/2) /
    (count + 1), so that a step of only generated samples gets a finite, very negative log-ratio."""
    if method == "platt":
        a, b = platt_scaling(real, fake)
        return lambda score: a * score + b
    if method == "isotonic":
        upper, counts, real_share = isotonic_steps(torch.cat([real, fake]), torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]))
        log_ratio = torch.logit((real_share * counts + 0.5) / (counts + 1)).to(real.device)
        upper = upper.to(real.device)

        def step(score: Tensor) -> Tensor:
            return log_ratio[torch.searchsorted(upper, score.double().contiguous()).clamp(max=len(upper) - 1)].float()

        return step
    raise ValueError(f"unknown calibration {method!r}")


def platt_scaling(real: Tensor, fake: Tensor, iterations: int = 100) -> tuple[float, float]:
    """(a, b) maximising the likelihood of sigmoid(a·score + b) = P(real) (Platt, 1999), by Newton's method; a
    tiny ridge on (a, b) keeps them finite when the scores separate the classes perfectly."""
    x = torch.cat([real, fake]).double().cpu()
    y = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).double()
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    ridge = 1e-6 * len(x) * torch.eye(2, dtype=torch.float64)
    for _ in range(iterations):
        p = torch.sigmoid(design @ w)
        gradient = design.T @ (p - y) + ridge @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = torch.linalg.solve(hessian, gradient)
        w = w - step
        if step.abs().max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def isotonic_steps(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The least-squares non-decreasing fit of ``y`` on ``x`` by pool-adjacent-violators, as its steps in
    increasing x: each step's largest x, its number of points and its mean y. Points with equal x share a step."""
    values, group, ties = torch.unique(x.double().cpu(), return_inverse=True, return_counts=True)  # sorted
    group_sums = torch.zeros(len(values), dtype=torch.float64).index_add_(0, group, y.double().cpu())
    sums: list[float] = []
    counts: list[float] = []
    tops: list[float] = []
    for xi, si, ci in zip(values.tolist(), group_sums.tolist(), ties.double().tolist(), strict=True):
        sums.append(si)
        counts.append(ci)
        tops.append(xi)
        while len(sums) > 1 and sums[-2] * counts[-1] >= sums[-1] * counts[-2]:  # mean of the last two out of order
            s, c, t = sums.pop(), counts.pop(), tops.pop()
            sums[-1] += s
            counts[-1] += c
            tops[-1] = t
    count = torch.tensor(counts, dtype=torch.float64)
    return torch.tensor(tops, dtype=torch.float64), count, torch.tensor(sums, dtype=torch.float64) / count
