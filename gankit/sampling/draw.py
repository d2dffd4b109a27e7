"""Drawing from a trained run: samples from latents, latent interpolations and traversals, translations of
inputs and encodings, each in eval mode with the players ``sample`` uses (EMA copies with standing statistics)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.images import to_unit_range
from gankit.errors import GankitError
from gankit.sampling.standing import eval_mode, with_standing_statistics

CHUNK = 8192
TRANSLATE_SEED = 0x7A5
TRAVERSAL_RANGE = 2.0  # continuous codes are traversed over [-2, 2], past U(-1, 1)'s support (Chen et al., 2016, Fig. 2)


def cannot(state: Any, command: str) -> GankitError:
    """The one-line error for a command the run's variant cannot serve, naming the ones it can."""
    can = state.variant.capabilities()
    which = ", ".join(f"`gankit {c}`" for c in can) if can else "none of sample, interpolate, translate, encode"
    return GankitError(f"`gankit {command}` needs a model that can {command}; this run's variant '{state.cfg.variant}' serves {which}")


def sampling_players(state: Any, use_ema: bool = True) -> dict[str, nn.Module]:
    """The players commands draw with: EMA copies (standing statistics where they have batch norm) or the live ones."""
    return with_standing_statistics(state, state.sampling_players) if use_ema else state.variant.players


@torch.no_grad()
def draw_samples(
    state: Any,
    n: int,
    seed: int,
    *,
    use_ema: bool = True,
    labels: Tensor | None = None,
    fixed: dict[str, Any] | None = None,
    codes: dict[str, Tensor] | None = None,
    truncation: float | None = None,
    sampler: str | None = None,
) -> Tensor:
    """``n`` samples (float32, CPU, model range) decoded from latents seeded by ``seed``, in eval mode, by ``sampler``
    (default: the config's ``sampler.name``). Categorical parts cycle through their values over the ``n`` samples
    unless ``fixed`` (part -> value for all) or ``codes`` (part -> one value per sample; ``labels`` is
    ``codes["label"]``, the class of a class-conditional model) say otherwise."""
    v = state.variant
    if v.decode is None or v.latents is None:
        raise cannot(state, "sample")
    if labels is not None and not v.num_classes:
        raise GankitError(f"labels were given but the '{state.cfg.variant}' model is not class-conditional")
    codes = {**(codes or {}), **({"label": labels} if labels is not None else {})}
    for name in codes:
        v.latents.part(name)
    players = sampling_players(state, use_ema)
    rng = torch.Generator(device=state.device).manual_seed(seed)
    if (sampler or state.cfg.sampler.name) == "drs":
        from gankit.samplers.drs import drs_samples

        if fixed or codes or truncation is not None:
            raise GankitError("discriminator rejection sampling draws whole samples: --fix, --label and --truncation need sampler.name=plain")
        return drs_samples(state, players, n, rng, seed, use_ema=use_ema)
    chunks = []
    with eval_mode(players):
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            latents = v.latents.draw(size, rng, state.device, fixed=fixed, truncation=truncation, offset=start)
            for name, values in codes.items():
                latents[name] = values[start : start + size].to(state.device)
            chunks.append(v.decode(players, latents).float().cpu())
    return torch.cat(chunks)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of z0 and z1 at fractions t (White, 2016): stays on the shell
    where Gaussian noise lives, unlike a straight line through the origin's low-density middle."""
    a, b = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.acos((a * b).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def _path_part(spec: Any, vary: str | None) -> str:
    if vary is not None:
        return spec.part(vary).name
    continuous = [p for p in spec.parts if p.kind != "categorical"]
    if not continuous:
        raise GankitError(f"this model's latents have no continuous part to interpolate ({spec.describe()})")
    return next((p.name for p in continuous if p.name == "z"), continuous[0].name)


@torch.no_grad()
def interpolation_frames(
    state: Any, rows: int, steps: int, seed: int, *, keyframes: int = 1, use_ema: bool = True, vary: str | None = None, fixed: dict[str, Any] | None = None
) -> Tensor:
    """Images along paths in one latent part (``vary``; default ``z``), the other parts held per row. A
    multi-dimensional continuous part follows spherical paths through ``keyframes + 1`` random points, ``steps``
    images per leg (a closed loop when ``keyframes`` > 1, for animations); a one-dimensional continuous part is
    traversed from -TRAVERSAL_RANGE to TRAVERSAL_RANGE, and a categorical part through each of its values (the
    latent traversals of Chen et al., 2016). Returns (rows, frames, C, H, W) in [0, 1]; class-conditional models keep one class per row."""
    v = state.variant
    if v.decode is None or v.latents is None:
        raise cannot(state, "interpolate")
    if state.data.kind != "images":
        raise GankitError(f"interpolation is for image generators; '{state.cfg.name}' makes {state.data.kind}")
    spec = v.latents
    name = _path_part(spec, vary)
    part = spec.part(name)
    if fixed and name in fixed:
        raise GankitError(f"--vary {name} and --fix {name} contradict each other; vary one part and fix others")
    players = sampling_players(state, use_ema)
    rng = torch.Generator(device=state.device).manual_seed(seed)
    device = state.device
    if part.kind == "categorical" or part.size == 1:
        base = spec.draw(rows, rng, device, fixed=fixed)
        if part.kind == "categorical":
            values = torch.arange(part.size, device=device)
        else:
            values = torch.linspace(-TRAVERSAL_RANGE, TRAVERSAL_RANGE, steps, device=device)[:, None]
        frames = len(values)
        latents = {k: t.repeat_interleave(frames, dim=0) for k, t in base.items()}
        latents[name] = values.repeat(rows, *([1] * (values.dim() - 1)))
    else:
        points = spec.draw(rows * (keyframes + 1), rng, device, fixed=fixed)
        path = points[name].reshape(keyframes + 1, rows, part.size)
        if keyframes > 1:
            path[-1] = path[0]
        t = torch.linspace(0, 1, steps + 1, device=device)[:-1] if keyframes > 1 else torch.linspace(0, 1, steps, device=device)
        zs = torch.cat([slerp(path[k][:, None], path[k + 1][:, None], t[None, :, None]) for k in range(keyframes)], dim=1)
        frames = zs.shape[1]
        latents = {k: t_[:rows].repeat_interleave(frames, dim=0) for k, t_ in points.items() if k != name}
        latents[name] = zs.reshape(-1, part.size)
        if v.num_classes and "label" not in (fixed or {}):
            latents["label"] = (torch.arange(rows, device=device) % v.num_classes).repeat_interleave(frames)
    with eval_mode(players):
        images = torch.cat([v.decode(players, {k: t_[i : i + CHUNK] for k, t_ in latents.items()}) for i in range(0, rows * frames, CHUNK)])
    return to_unit_range(images.float().cpu()).reshape(rows, frames, *images.shape[1:])


def check_direction(state: Any, direction: str | None) -> str:
    v = state.variant
    if v.translate is None:
        raise cannot(state, "translate")
    if direction is None:
        return next(iter(v.directions))
    if direction not in v.directions:
        raise GankitError(f"--direction {direction}: this model translates {', '.join(v.directions)}")
    return direction


def inverse_direction(variant: Any, direction: str) -> str | None:
    """The direction that maps ``direction``'s outputs back to its inputs' field (a2b's b2a), or None: a direction
    within one field (filling a hole, a reconstruction, a ``to-<domain>`` translation) has no inverse among the others."""
    source, target = variant.directions[direction]
    return next((d for d, (s, t) in variant.directions.items() if s == target and t == source and s != t), None)


@torch.no_grad()
def translate_inputs(state: Any, x: Tensor, direction: str | None = None, *, use_ema: bool = True) -> Tensor:
    """The variant's translation of inputs ``x`` (model range) in ``direction`` (default: the first), in eval mode,
    in chunks; float32 on the CPU."""
    v = state.variant
    direction = check_direction(state, direction)
    players = sampling_players(state, use_ema)
    with eval_mode(players), torch.random.fork_rng(devices=[state.device] if state.device.type == "cuda" else []):
        torch.manual_seed(TRANSLATE_SEED)  # a generator with dropout at test time translates reproducibly
        return torch.cat([v.translate(players, part.to(state.device), direction).float().cpu() for part in x.split(256)])


@torch.no_grad()
def encode_inputs(state: Any, x: Tensor, *, use_ema: bool = True) -> Tensor:
    """The variant's encoding of samples ``x`` (model range), in eval mode, in chunks; float32 on the CPU."""
    v = state.variant
    if v.encode is None:
        raise cannot(state, "encode")
    players = sampling_players(state, use_ema)
    with eval_mode(players):
        return torch.cat([v.encode(players, part.to(state.device)).float().cpu().flatten(1) for part in x.split(1024)])


@torch.no_grad()
def classify_inputs(state: Any, x: Tensor, *, use_ema: bool = True) -> Tensor:
    """The model's own class logits (N, K) for samples ``x`` (model range), in eval mode, in chunks; float32 on the
    CPU. ``use_ema``: the averaged players where the run keeps them (the Polyak-averaged D of Salimans et al.)."""
    v = state.variant
    if v.classify is None:
        raise cannot(state, "probe")
    players = sampling_players(state, use_ema)
    with eval_mode(players):
        return torch.cat([v.classify(players, part.to(state.device)).float().cpu() for part in x.split(1024)])
