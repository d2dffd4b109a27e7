"""Pictures: toy plots (1-D densities with D(x), 2-D scatter) written as PNG.

Uses matplotlib's object API (no pyplot state), imported only when a picture is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.files import atomic_write


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def plot_1d(
    dataset,
    samples: Tensor,
    path: Path,
    probe: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
) -> None:
    """Data density, generator density (histogram) and D(x), as in Goodfellow et al. (2014), Figure 1."""
    x = samples.detach().float().cpu().reshape(-1).numpy()
    centres = dataset.centres.reshape(-1).numpy()
    lo = min(centres.min() - 5 * dataset.std, np.percentile(x, 0.5) if x.size else centres.min())
    hi = max(centres.max() + 5 * dataset.std, np.percentile(x, 99.5) if x.size else centres.max())
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    grid = torch.linspace(float(lo), float(hi), 400)
    fig = _figure(7, 3.6)
    ax = fig.add_subplot()
    data_pdf = dataset.log_density(grid[:, None]).exp().numpy()
    ax.plot(grid.numpy(), data_pdf, color="black", linestyle=":", linewidth=2, label="data density $p_{data}$")
    if x.size:
        ax.hist(x, bins=80, range=(float(lo), float(hi)), density=True, color="tab:green", alpha=0.45, label="generator density $p_g$")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_xlim(float(lo), float(hi))
    handles, labels = ax.get_legend_handles_labels()
    if probe is not None:
        ax2 = ax.twinx()
        d = probe(grid[:, None]).detach().float().cpu().numpy()
        ax2.plot(grid.numpy(), d, color="tab:blue", linestyle="--", linewidth=2, label="discriminator D(x)")
        ax2.axhline(0.5, color="tab:blue", linewidth=0.6, alpha=0.5)
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("D(x)")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="upper left", fontsize=8, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path)


def plot_2d(dataset, samples: Tensor, path: Path, title: str = "", real: Tensor | None = None) -> None:
    """Real (grey) vs generated (orange) points, with the mixture centres marked."""
    fake = samples.detach().float().cpu().numpy()
    centres = dataset.centres.numpy()
    span = np.abs(centres).max() + 6 * dataset.std + 0.5
    fig = _figure(5, 5)
    ax = fig.add_subplot()
    if real is not None:
        r = real.detach().float().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=3, color="0.55", alpha=0.5, linewidths=0, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, color="tab:orange", alpha=0.6, linewidths=0, label="generated")
    ax.scatter(centres[:, 0], centres[:, 1], s=30, marker="+", color="black", label="mode centres")
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3, framealpha=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path)


def plot_points(dataset, samples: Tensor, path: Path, probe=None, title: str = "", real: Tensor | None = None) -> None:
    """Pick the plot by the data's dimension (1-D densities or 2-D scatter)."""
    if dataset.dim == 1:
        plot_1d(dataset, samples, path, probe=probe, title=title)
    elif dataset.dim == 2:
        plot_2d(dataset, samples, path, title=title, real=real)
    else:
        raise ValueError(f"no point plot for {dataset.dim}-D data")


def image_grid(images: Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one uint8 array (H', W', C) with ``nrow`` images per row."""
    images = images.detach().float().cpu().clamp(0, 1)
    n, c, h, w = images.shape
    nrow = nrow or max(1, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / nrow))
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[i]
    array = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return array[:, :, 0] if c == 1 else array


def save_image_grid(images: Tensor, path: Path, nrow: int | None = None, scale: int = 1) -> None:
    """Write an image grid as PNG; ``scale`` enlarges small images (nearest neighbour) so they can be seen."""
    from PIL import Image

    img = Image.fromarray(image_grid(images, nrow))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    atomic_write(Path(path), lambda f: img.save(f, format="PNG"))


def save_image(image: Tensor, path: Path) -> None:
    """One (C, H, W) image in [0, 1] as PNG."""
    from PIL import Image

    Image.fromarray(image_grid(image[None], nrow=1, padding=0)).save(path)


def save_gif(frames: list[np.ndarray], path: Path, fps: int = 12) -> None:
    """An animated GIF that loops forever, from uint8 frames (H, W) or (H, W, 3)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    options = {"save_all": True, "append_images": images[1:], "duration": round(1000 / fps), "loop": 0, "optimize": False}
    atomic_write(Path(path), lambda f: images[0].save(f, format="GIF", **options))


def plot_losses(records: list[dict], path: Path, title: str = "") -> None:
    """Loss curves from metrics.jsonl records, one line per loss (the watchdog's health records are left out)."""
    records = [r for r in records if "health" not in r]
    keys = [k for k in records[0] if k not in ("step", "time", "warnings")] if records else []
    fig = _figure(7, 3.6)
    ax = fig.add_subplot()
    steps = [r["step"] for r in records]
    for key in keys:
        ax.plot(steps, [r.get(key, np.nan) for r in records], label=key, linewidth=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (batch mean)")
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path)
