"""Differentiable augmentation of the discriminator's input (DiffAugment; Zhao et al., 2020).

With little data (MNIST-5k has 4,500 training digits) the discriminator memorises the real set and its
feedback to the generator degrades. Applying the same random, differentiable transformations to real and
generated images before D lets gradients flow to G through them while D can no longer memorise. Images are in
[-1, 1] with -1 as background: shifted-in and cut-out pixels are filled with -1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError


def translation(x: Tensor, rng: torch.Generator, ratio: float = 0.125) -> Tensor:
    """Shift each image by a random whole number of pixels, up to ``ratio`` of its size in each direction.

    One nearest-neighbour ``grid_sample``: with integer shifts every output pixel reads exactly one input pixel.
    """
    b, _, h, w = x.shape
    max_dy, max_dx = max(1, round(h * ratio)), max(1, round(w * ratio))
    dy = torch.randint(-max_dy, max_dy + 1, (b,), generator=rng, device=rng.device).to(x.device, x.dtype)
    dx = torch.randint(-max_dx, max_dx + 1, (b,), generator=rng, device=rng.device).to(x.device, x.dtype)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = -2 * dx / w  # normalised coordinates span 2 over the image: one pixel is 2 / size
    theta[:, 1, 2] = -2 * dy / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="nearest", padding_mode="zeros", align_corners=False) - 1


def cutout(x: Tensor, rng: torch.Generator, ratio: float = 0.5) -> Tensor:
    """Blank a random square of ``ratio`` times the image size in each image."""
    b, _, h, w = x.shape
    ch, cw = max(1, round(h * ratio)), max(1, round(w * ratio))
    top = torch.randint(0, h - ch + 1, (b,), generator=rng, device=rng.device).to(x.device)
    left = torch.randint(0, w - cw + 1, (b,), generator=rng, device=rng.device).to(x.device)
    r = torch.arange(h, device=x.device)[None, :]
    c = torch.arange(w, device=x.device)[None, :]
    inside = ((r >= top[:, None]) & (r < top[:, None] + ch))[:, :, None] & ((c >= left[:, None]) & (c < left[:, None] + cw))[:, None, :]
    return torch.where(inside[:, None], torch.full_like(x, -1.0), x)


AUGMENTS: dict[str, Callable[[Tensor, torch.Generator], Tensor]] = {"translation": translation, "cutout": cutout}


def parse_augment(spec: str) -> list[str]:
    return [name.strip() for name in spec.split(",") if name.strip()]


def make_augment(spec: str, data_kind: str = "images") -> Callable[[Tensor, torch.Generator], Tensor]:
    """The composition of the comma-separated augmentations in ``spec`` ('' = identity)."""
    names = parse_augment(spec)
    if names and data_kind != "images":
        raise GankitError(f"train.augment={spec} transforms images; this data is {data_kind}: remove train.augment")

    def augment(x: Tensor, rng: torch.Generator) -> Tensor:
        for name in names:
            x = AUGMENTS[name](x, rng)
        return x

    return augment


__all__ = ["AUGMENTS", "cutout", "make_augment", "parse_augment", "translation"]
