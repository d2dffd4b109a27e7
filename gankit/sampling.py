"""Drawing samples from a trained run and writing them as arrays or pictures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gankit.errors import GankitError

CHUNK = 8192


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


@torch.no_grad()
def draw_samples(state, n: int, seed: int, *, use_ema: bool = True, labels: Tensor | None = None) -> Tensor:
    """``n`` samples (float32, CPU) from noise seeded by ``seed``, drawn in eval mode."""
    players = state.sampling_players if use_ema else state.variant.players
    rng = torch.Generator(device=state.device).manual_seed(seed)
    chunks = []
    with eval_mode(players):
        for start in range(0, n, CHUNK):
            size = min(CHUNK, n - start)
            part_labels = None if labels is None else labels[start : start + size].to(state.device)
            chunks.append(state.variant.generate(players, size, rng, part_labels).float().cpu())
    return torch.cat(chunks)


def write_picture(state, samples: Tensor, path: Path, title: str = "") -> None:
    """The run's picture of ``samples``: a density plot with D(x) for 1-D data, a scatter for 2-D data."""
    from gankit.viz import plot_points

    data = state.data
    if getattr(data, "kind", None) != "points":
        raise GankitError(f"no picture for data of kind {getattr(data, 'kind', '?')!r}")
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
    """Write samples to ``out``: ``.npz`` (``samples`` [, ``labels``]) or ``.png`` (a picture)."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".npz":
        arrays = {"samples": samples.numpy().astype(np.float32)}
        if labels is not None:
            arrays["labels"] = labels.cpu().numpy()
        tmp = out.with_name(f".{out.stem}.tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(out)
    elif suffix == ".png":
        write_picture(state, samples, out, title=f"{state.cfg.name}: {len(samples)} samples")
    else:
        raise GankitError(f"--out must end in .npz (arrays) or .png (a picture) for this model (got '{out}')")
