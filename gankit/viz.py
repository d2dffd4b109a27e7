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

STRETCH_1D = 1.0  # a 1-D plot widens past the data's range towards the samples by at most this many data widths a side
BORDER_MARKERS = {0: "<", 1: ">", 2: "v", 3: "^"}  # the side a point leaves by (axis * 2 + high) -> a marker pointing that way


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def clip_to_limits(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, D) with each coordinate clamped into [lo, hi], and the mask of the rows that were outside the box
    (a NaN coordinate counts as outside and stays NaN)."""
    points = np.asarray(points, dtype=np.float64)
    lo, hi = np.broadcast_to(lo, points.shape[1:]), np.broadcast_to(hi, points.shape[1:])
    inside = ((points >= lo) & (points <= hi)).all(axis=1)
    return np.clip(points, lo, hi), ~inside


def outside_note(outside: int, total: int, shown: str, not_finite: int = 0) -> str:
    """The picture's line about the generated samples its limits leave out (``outside``: finite ones; ``shown``: how
    they are drawn), e.g. '412 of 2500 generated points outside the plot (shown on its border)'; empty if none."""
    parts = []
    if outside:
        parts.append(f"{outside} of {total} generated points outside the plot ({shown})")
    if not_finite:
        parts.append(f"{not_finite} of {total} not finite (not shown)")
    return "; ".join(parts)


def _border_sides(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each finite 2-D point outside the box, the side it leaves by most (in units of the box's size) as
    axis * 2 + (1 for the high side, 0 for the low one); -1 for a point inside or not finite."""
    size = np.where(hi > lo, hi - lo, 1.0)
    over = np.maximum(lo - points, points - hi) / size
    axis = np.nan_to_num(over, nan=-np.inf).argmax(axis=1)
    rows = np.arange(len(points))
    side = axis * 2 + (points[rows, axis] > hi[axis])
    return np.where(np.isfinite(points).all(axis=1) & (over[rows, axis] > 0), side, -1)


def plot_1d(
    dataset,
    samples: Tensor,
    path: Path,
    probe: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
):
    """Data density, generator density (histogram) and D(x), as in Goodfellow et al. (2014), Figure 1. The range
    is the data's, widened towards the samples by at most STRETCH_1D data widths a side; samples beyond it are
    counted in the edge bins, which are marked, and a note says how many. Returns the figure."""
    x = samples.detach().float().cpu().reshape(-1).numpy().astype(np.float64)
    finite = x[np.isfinite(x)]
    centres = dataset.centres.reshape(-1).numpy()
    data_lo, data_hi = centres.min() - 5 * dataset.std, centres.max() + 5 * dataset.std
    width = data_hi - data_lo
    lo = max(min(data_lo, np.percentile(finite, 0.5)), data_lo - STRETCH_1D * width) if finite.size else data_lo
    hi = min(max(data_hi, np.percentile(finite, 99.5)), data_hi + STRETCH_1D * width) if finite.size else data_hi
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    clipped, outside = clip_to_limits(finite[:, None], lo, hi)
    grid = torch.linspace(float(lo), float(hi), 400)
    fig = _figure(7, 3.6)
    ax = fig.add_subplot()
    data_pdf = dataset.log_density(grid[:, None]).exp().numpy()
    ax.plot(grid.numpy(), data_pdf, color="black", linestyle=":", linewidth=2, label="data density $p_{data}$")
    if finite.size:
        heights, _, _ = ax.hist(
            clipped[:, 0], bins=80, range=(float(lo), float(hi)), density=True, color="tab:green", alpha=0.45, label="generator density $p_g$"
        )
        for value, marker, height in ((lo, "<", heights[0]), (hi, ">", heights[-1])):
            if (clipped[outside, 0] == value).any():
                ax.scatter([value], [height], s=40, marker=marker, color="tab:green", clip_on=False, zorder=3)
    note = outside_note(int(outside.sum()), x.size, "counted in its edge bins, marked", x.size - finite.size)
    if note:
        fig.supxlabel(note, fontsize=8, color="tab:red")  # below the axes, clear of the bars and markers
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
    return fig


def plot_2d(dataset, samples: Tensor, path: Path, title: str = "", real: Tensor | None = None):
    """Real (grey) vs generated (orange) points, with the mixture centres marked. The limits are the data's; a
    generated point outside them is drawn on the border as a triangle pointing the way it left, and a note says
    how many. Returns the figure."""
    fake = samples.detach().float().cpu().numpy().astype(np.float64)
    centres = dataset.centres.numpy() if hasattr(dataset, "centres") else None  # a mixture's modes; a fixed set of points has none
    span = np.abs(centres).max() + 6 * dataset.std + 0.5 if centres is not None else float(np.abs(dataset.fixed("x").numpy()).max()) * 1.25
    lo, hi = np.full(2, -span), np.full(2, span)
    clipped, outside = clip_to_limits(fake, lo, hi)
    fig = _figure(5, 5)
    ax = fig.add_subplot()
    if real is not None:
        r = real.detach().float().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=3, color="0.55", alpha=0.5, linewidths=0, label="real")
    inside = fake[~outside]
    ax.scatter(inside[:, 0], inside[:, 1], s=3, color="tab:orange", alpha=0.6, linewidths=0, label="generated")
    sides = _border_sides(fake, lo, hi)
    label = "generated, outside (on the border)"
    for side, marker in BORDER_MARKERS.items():
        on = clipped[sides == side]
        if len(on):
            style = {"s": 36, "color": "tab:orange", "edgecolors": "saddlebrown", "linewidths": 0.5, "clip_on": False, "zorder": 3}
            ax.scatter(on[:, 0], on[:, 1], marker=marker, label=label, gid="outside", **style)
            label = None
    if centres is not None:
        ax.scatter(centres[:, 0], centres[:, 1], s=30, marker="+", color="black", label="mode centres")
    not_finite = int((~np.isfinite(fake).all(axis=1)).sum())
    note = outside_note(int(outside.sum()) - not_finite, len(fake), "shown on its border", not_finite)
    if note:
        fig.supxlabel(note, fontsize=8, color="tab:red")  # below the axes, clear of the border markers
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    legend = ax.legend(loc="upper right", fontsize=7, markerscale=3, framealpha=0.8)
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        if text.get_text().startswith("generated, outside"):
            handle.set_sizes([36])  # drawn at its own size: the markers that scale up are the tiny dots
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path)
    return fig


def plot_points(dataset, samples: Tensor, path: Path, probe=None, title: str = "", real: Tensor | None = None):
    """Pick the plot by the data's dimension (1-D densities or 2-D scatter); returns the figure."""
    if dataset.dim == 1:
        return plot_1d(dataset, samples, path, probe=probe, title=title)
    if dataset.dim == 2:
        return plot_2d(dataset, samples, path, title=title, real=real)
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
