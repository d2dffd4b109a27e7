"""Synthetic digits rendered from the fonts matplotlib ships, and the ``fonts2mnist`` task (after Shrivastava et
al., 2017: learning from simulated and unsupervised images).

Each synthetic digit is one of the ten digits in one of :data:`FONTS` (DejaVu Sans, Sans Mono and Serif in their
four styles, Computer Modern roman, sans, typewriter and italic, STIX in four styles), rendered once by FreeType
(matplotlib's ``ft2font``) at a large size, then drawn with random, seeded distortions: stroke width (grey-level
erosion or dilation), scale, rotation, shear and position. Drawing happens on a 56 px canvas, the glyph's longer side
40 px (MNIST's 20 px box in its 28 px frame, times 2), then averaged down to 28 px (2 x 2 means) and zero-padded to
32, as :func:`~gankit.data.tasks.mnist32` pads MNIST. The set is a fixed function of the split: the same seed, the
same images; train and test are drawn from different seeds.

The rendered digits are clean and sharp-edged where MNIST's are pen strokes, scanned and blurred: the gap a
simulated -> real translation is to close while keeping each digit's label.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.combinators import Unpaired, unpaired
from gankit.data.images import ImageDataset, _package_file, resize_images
from gankit.errors import GankitError

FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf", "cmti10.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
)  # fmt: skip
SPLIT_SIZES = {"train": 5000, "test": 500}  # synthetic digits per split (val reads test's)
SPLIT_SEEDS = {"train": 20170, "test": 20171}
CANVAS, BOX, SCALE_DOWN = 56, 40, 2  # drawing canvas, the glyph's longer side on it, and the factor down to 28 px
GLYPH_POINTS = 64  # FreeType size (points at 72 dpi) the glyphs are rendered at before they are fitted to the box
# Distortions, drawn uniformly per image: stroke change in canvas pixels (negative: thinner), scale of the box,
# rotation (degrees), horizontal shear, shift (fraction of the half canvas).
STROKE, SCALE, ROTATION, SHEAR, SHIFT = (-1, 2), (0.75, 1.05), 12.0, 0.35, 0.06


def font_file(name: str) -> Path:
    return _package_file("matplotlib", "mpl-data", "fonts", "ttf", name)


@functools.lru_cache(maxsize=1)
def glyph_bank() -> Tensor:
    """(fonts, 10, CANVAS, CANVAS) float glyphs in [0, 1]: each digit of each font, its longer side scaled to
    :data:`BOX` pixels (antialiased) and its bounding box centred on the canvas."""
    from matplotlib import ft2font

    bank = torch.zeros(len(FONTS), 10, CANVAS, CANVAS)
    for f, name in enumerate(FONTS):
        font = ft2font.FT2Font(str(font_file(name)))
        font.set_size(GLYPH_POINTS, 72)
        for digit in range(10):
            font.set_text(str(digit), 0.0)
            font.draw_glyphs_to_bitmap(antialiased=True)
            bitmap = np.asarray(font.get_image(), dtype=np.float32) / 255.0
            rows, cols = np.nonzero(bitmap > 0)
            glyph = torch.from_numpy(bitmap[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].copy())
            h, w = glyph.shape
            factor = BOX / max(h, w)
            size = (max(1, round(h * factor)), max(1, round(w * factor)))
            glyph = F.interpolate(glyph[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0].clamp(0, 1)
            top, left = (CANVAS - size[0]) // 2, (CANVAS - size[1]) // 2
            bank[f, digit, top : top + size[0], left : left + size[1]] = glyph
    return bank


@functools.lru_cache(maxsize=1)
def stroked_bank() -> Tensor:
    """(fonts, 10, strokes, CANVAS, CANVAS): :func:`glyph_bank` under each stroke change of :data:`STROKE`, from the
    thinnest up: grey-level erosion (negative) or dilation (positive) by a 3 x 3 square, that many times."""
    bank = glyph_bank().flatten(0, 1).unsqueeze(1)
    levels = []
    for k in range(STROKE[0], STROKE[1] + 1):
        x = bank
        for _ in range(abs(k)):
            x = F.max_pool2d(x, 3, stride=1, padding=1) if k > 0 else -F.max_pool2d(-x, 3, stride=1, padding=1)
        levels.append(x[:, 0])
    return torch.stack(levels, dim=1).view(len(FONTS), 10, len(levels), CANVAS, CANVAS)


def render_digits(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` synthetic digits (uint8, n x 1 x 28 x 28), their labels (balanced: n // 10 or one more of each, in a
    seeded order) and the index of each one's font, a fixed function of ``seed``."""
    g = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=g)]
    fonts = torch.randint(len(FONTS), (n,), generator=g)

    def uniform(low: float, high: float) -> Tensor:
        return low + (high - low) * torch.rand(n, generator=g)

    stroke = torch.randint(STROKE[1] - STROKE[0] + 1, (n,), generator=g)  # index into the stroke levels
    scale, angle = uniform(*SCALE), uniform(-ROTATION, ROTATION) * math.pi / 180
    shear, shift = uniform(-SHEAR, SHEAR), torch.stack([uniform(-SHIFT, SHIFT), uniform(-SHIFT, SHIFT)], dim=1)
    glyphs = stroked_bank()[fonts, labels, stroke].unsqueeze(1)
    # The inverse map (output -> glyph coordinates) of scale, then shear, then rotation, then shift.
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    shearing = torch.stack([torch.stack([torch.ones(n), shear], 1), torch.stack([torch.zeros(n), torch.ones(n)], 1)], 1)
    forward = rotation @ shearing * scale.view(n, 1, 1)
    inverse = torch.linalg.inv(forward)
    theta = torch.cat([inverse, -(inverse @ shift.unsqueeze(2))], dim=2)
    grid = F.affine_grid(theta, [n, 1, CANVAS, CANVAS], align_corners=False)
    drawn = F.grid_sample(glyphs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    small = F.avg_pool2d(drawn, SCALE_DOWN)
    return (small * 255).round_().clamp_(0, 255).to(torch.uint8), labels, fonts


@functools.lru_cache(maxsize=2)
def _split_once(split: str) -> tuple[Tensor, Tensor, Tensor]:
    return render_digits(SPLIT_SIZES[split], SPLIT_SEEDS[split])


def _rendered_split(split: str) -> tuple[Tensor, Tensor]:
    """A split's digits and labels, rendered once per process (fresh copies each call)."""
    images, labels, _ = _split_once(split)
    return images.clone(), labels.clone()


def font_digits(cfg: DataConfig) -> ImageDataset:
    """The synthetic digits of ``data.split`` (train 5,000 / test 500, different seeds; val: test's; all: both),
    zero-padded to 32 px (or resized to ``data.image_size``), labelled with their digit."""
    splits = ("train", "test") if cfg.split == "all" else ("train",) if cfg.split == "train" else ("test",)
    if cfg.split not in ("train", "test", "val", "all"):
        raise GankitError(f"data.split={cfg.split!r}: the rendered font digits have splits train, test, val and all")
    parts = [_rendered_split(s) for s in splits]
    images = F.pad(torch.cat([p[0] for p in parts]), (2, 2, 2, 2))
    if cfg.image_size and cfg.image_size != 32:
        images = resize_images(images, cfg.image_size, cfg.resize)
    return ImageDataset("fonts", images, torch.cat([p[1] for p in parts]), 10, tuple(str(i) for i in range(10)))


def fonts2mnist(cfg: DataConfig) -> Unpaired:
    """A simulated -> real task: A = :func:`font_digits` (synthetic, labelled), B = MNIST-5k digits at 32 px
    (:func:`~gankit.data.tasks.mnist32`); ``data.split`` picks both sides' splits. Streams ``a`` (``a``, ``y_a``) and
    ``b`` (``b``, ``y_b``); the labels are for evaluation only (a refiner never sees them)."""
    from gankit.data.tasks import mnist32

    return unpaired(font_digits(cfg), mnist32(replace(cfg)), "fonts2mnist")
