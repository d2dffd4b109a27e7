"""Drawing samples from a trained run and writing them as arrays or pictures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gankit.data.images import to_model_range, to_unit_range
from gankit.errors import GankitError

CHUNK = 8192
DRS_BURN_IN = 10_000  # proposals whose log-ratios set the rejection bound
DRS_MIN_ACCEPTANCE = 1e-3  # below this, after DRS_PATIENCE proposals, rejection sampling gives up
DRS_PATIENCE = 100_000
DRS_CALIBRATION = 10_000  # real samples (and as many proposals) that calibrate D's log-ratio (model.drs_calibration)
DRS_REFIT_LR = 1e-3  # its Adam learning rate (betas 0.5, 0.999), constant, then linearly down over the second half
DRS_REFIT_SEED = 0xD125  # its initialisation, real draws and proposals: the estimator is a function of the checkpoint


@contextmanager
def eval_mode(players: dict[str, nn.Module]) -> Iterator[None]:
    """Put players in eval mode (BatchNorm uses running statistics, nothing is updated), then restore."""
    modes = {name: m.training for name, m in players.items()}
    for m in players.values():
        m.eval()
    try:
        yield
    finally:
        for name, m in players.items():
            m.train(modes[name])


STANDING_BATCHES, STANDING_BATCH_SIZE = 16, 256


@torch.no_grad()
def with_standing_statistics(state, players: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """EMA copies of players with BatchNorm get their normalisation statistics recomputed for the averaged
    weights ("standing statistics", Brock et al., 2019): the live generator's running statistics, which the EMA
    copy carries, do not match the averaged weights. Works on copies with its own fixed noise: training state,
    the checkpoint and the training random streams are untouched."""
    import copy

    out = dict(players)
    for name, ema in state.ema.items():
        norms = [m for m in ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms or players.get(name) is not ema:
            continue
        fresh = copy.deepcopy(ema)
        for m in fresh.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the batches below
        fresh.train()
        rng = torch.Generator(device=state.device).manual_seed(0x57A4D)
        trial = {**out, name: fresh}
        for _ in range(STANDING_BATCHES):
            state.variant.generate(trial, STANDING_BATCH_SIZE, rng, None)
        out[name] = fresh.eval()
    return out


@torch.no_grad()
def draw_samples(state, n: int, seed: int, *, use_ema: bool = True, labels: Tensor | None = None, sampler: str | None = None) -> Tensor:
    """``n`` samples (float32, CPU) from noise seeded by ``seed``, drawn in eval mode (EMA copies with
    BatchNorm use standing statistics), by ``sampler`` (default: the config's ``model.sampler``)."""
    players = with_standing_statistics(state, state.sampling_players) if use_ema else state.variant.players
    classes = state.variant.num_classes
    if classes and labels is None:
        labels = torch.arange(n) % classes  # balanced over the classes
    if labels is not None and not classes:
        raise GankitError(f"labels were given but the '{state.cfg.variant}' model is unconditional")
    rng = torch.Generator(device=state.device).manual_seed(seed)
    if (sampler or state.cfg.model.sampler) == "drs":
        with eval_mode(players):

            def propose(k: int) -> Tensor:
                return state.variant.generate(players, k, rng, None)

            if state.cfg.model.drs_estimator == "refit":
                key = ("drs_estimator", state.step, use_ema)
                if key not in state.cache:  # one fit per checkpoint step, kept for later draws from this state
                    state.cache.clear()
                    state.cache[key] = refit_estimator(state, players, state.cfg.model.drs_refit_steps, state.cfg.model.drs_refit_batch)
                estimator = state.cache[key]

                def raw_ratio(x: Tensor) -> Tensor:
                    return torch.cat([estimator(part).float().reshape(-1) for part in x.split(CHUNK)])

            else:

                def raw_ratio(x: Tensor) -> Tensor:
                    return torch.cat([state.variant.log_ratio(players, part).float().reshape(-1) for part in x.split(CHUNK)])

            log_ratio = raw_ratio
            if state.cfg.model.drs_calibration != "none":
                real = real_samples(state.data, DRS_CALIBRATION, torch.Generator().manual_seed(seed)).to(state.device)
                fake = torch.cat([propose(len(part)) for part in real.split(CHUNK)])
                calibrate = fit_calibration(state.cfg.model.drs_calibration, raw_ratio(real), raw_ratio(fake))
                log_ratio = lambda x: calibrate(raw_ratio(x))  # noqa: E731
            kept = rejection_sample(propose, log_ratio, n, rng, quantile=state.cfg.model.drs_quantile)
        return kept.float().cpu()
    chunks = []
    with eval_mode(players):
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            part_labels = None if labels is None else labels[start : start + size].to(state.device)
            chunks.append(state.variant.generate(players, size, rng, part_labels).float().cpu())
    return torch.cat(chunks)


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
    kept, under-weighted by exp(r - M), and they include those of modes G under-covers (``model.drs_quantile``
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
                "discriminator is far from its optimum for this generator; sample with model.sampler=plain"
            )
    if stats is not None:
        stats.update(proposals=drawn, kept=count, bound=float(bound))
    return torch.cat(kept)[:n]


def refit_estimator(state, players: dict[str, nn.Module], steps: int, batch: int) -> nn.Module:
    """A density-ratio estimator for DRS fitted to the generator as it samples (``model.drs_estimator: refit``): a
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
                fake = state.variant.generate(players, batch, fake_rng, None)
            loss = sum(term.mean() for term in bce_d_loss(net(real), net(fake)).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if step % 1000 == 0 or step == steps:
                progress.report(step, {"estimator_loss": float(loss.detach())})
    progress.close()
    return net.eval()


def real_samples(data, n: int, rng: torch.Generator) -> Tensor:
    """``n`` real samples in the model's range: fresh draws from a toy or drawn dataset (Stacked MNIST), a random
    subset of a fixed image set (all of it when it has fewer than ``n``)."""
    if hasattr(data, "sample"):
        return data.sample(n, rng)
    if hasattr(data, "images"):
        return to_model_range(data.images[torch.randperm(len(data.images), generator=rng)[:n]])
    return to_model_range(data.draw(n, rng)[0])


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


def snapshot_labels(state, n: int) -> Tensor | None:
    """For a conditional model's picture: one row per class (as in Mirza & Osindero's MNIST figure)."""
    classes = state.variant.num_classes
    if not classes or classes > 100:
        return None
    per_row = max(1, n // classes)
    return torch.arange(classes).repeat_interleave(per_row)


def write_picture(state, samples: Tensor, path: Path, title: str = "", nrow: int | None = None) -> None:
    """The run's picture of ``samples``: an image grid for images, a density plot with D(x) for 1-D data,
    a scatter against the real data for 2-D data."""
    from gankit.viz import plot_points, save_image_grid

    data = state.data
    if data.kind == "images":
        side = samples.shape[-1]
        save_image_grid(to_unit_range(samples), path, nrow=nrow, scale=max(1, 64 // side))
        return
    probe = None
    if state.variant.probe is not None and data.dim == 1:
        players = state.variant.players

        @torch.no_grad()
        def probe(x: Tensor) -> Tensor:
            with eval_mode(players):
                return state.variant.probe(players, x.to(state.device)).cpu()

    real = data.sample(len(samples), torch.Generator().manual_seed(0)) if data.dim == 2 else None
    plot_points(data, samples, path, probe=probe, title=title, real=real)


def save_samples(state, samples: Tensor, out: Path, labels: Tensor | None = None) -> None:
    """Write samples (see :func:`_write_samples`); a failed write is a GankitError and leaves no partial file."""
    try:
        _write_samples(state, samples, out, labels)
    except OSError as exc:
        Path(out).with_name(f".{Path(out).stem}.tmp.npz").unlink(missing_ok=True)
        raise GankitError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None


def _write_samples(state, samples: Tensor, out: Path, labels: Tensor | None = None) -> None:
    """Write samples to ``out``: ``.npz`` (``samples`` [, ``labels``]; images as N, C, H, W in [0, 1]),
    ``.png`` (a picture), or, for images, a directory of one PNG per sample."""
    from gankit.viz import save_image, save_image_grid

    out = Path(out)
    suffix = out.suffix.lower()
    if state.data.kind == "images":
        samples = to_unit_range(samples)
    if suffix == ".npz":
        arrays = {"samples": samples.numpy().astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels.cpu().numpy()
        tmp = out.with_name(f".{out.stem}.tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(out)
    elif suffix == ".png":
        if state.data.kind == "images":
            varied = labels is not None and len(torch.unique(labels)) > 1 and state.variant.num_classes <= 100
            per_row = state.variant.num_classes if varied else None  # labels cycle 0..K-1: one class per column
            save_image_grid(samples, out, nrow=per_row, scale=max(1, 64 // samples.shape[-1]))
        else:
            write_picture(state, samples, out, title=f"{state.cfg.name}: {len(samples)} samples")
    elif not suffix and state.data.kind == "images":
        out.mkdir(parents=True, exist_ok=True)
        width = len(str(len(samples) - 1))
        for i, image in enumerate(samples):
            save_image(image, out / f"{i:0{width}d}.png")
    else:
        raise GankitError(f"--out must end in .npz (arrays) or .png (a picture) for this model (got '{out}')")


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of z0 and z1 at fractions t (White, 2016): stays on the shell
    where Gaussian noise lives, unlike a straight line through the origin's low-density middle."""
    a, b = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.acos((a * b).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


@torch.no_grad()
def interpolation_frames(state, rows: int, steps: int, seed: int, *, keyframes: int = 1, use_ema: bool = True) -> Tensor:
    """Images along spherical paths in z: ``rows`` paths through ``keyframes + 1`` random points, ``steps``
    images per leg. Returns (rows, keyframes * steps, C, H, W) in [0, 1]; conditional models keep one class per row."""
    from gankit.variants.base import latent

    v = state.variant
    if state.data.kind != "images" or v.decode is None:
        raise GankitError(f"interpolation is for image generators; '{state.cfg.name}' makes {state.data.kind}")
    players = state.sampling_players if use_ema else v.players
    rng = torch.Generator(device=state.device).manual_seed(seed)
    points = latent(rows * (keyframes + 1), v.z_dim, v.z_prior, rng, state.device).reshape(keyframes + 1, rows, v.z_dim)
    if keyframes > 1:
        points[-1] = points[0]  # a closed loop, for animations
    t = torch.linspace(0, 1, steps + 1, device=state.device)[:-1] if keyframes > 1 else torch.linspace(0, 1, steps, device=state.device)
    zs = torch.cat([slerp(points[k][:, None], points[k + 1][:, None], t[None, :, None]) for k in range(keyframes)], dim=1)
    labels = (torch.arange(rows) % v.num_classes).repeat_interleave(zs.shape[1]) if v.num_classes else None
    with eval_mode(players):
        images = v.decode(players, zs.reshape(-1, v.z_dim), None if labels is None else labels.to(state.device))
    return to_unit_range(images.float().cpu()).reshape(rows, zs.shape[1], *images.shape[1:])
