"""Multi-domain digits (the multi-domain translation task of Choi et al., 2018), derived from MNIST-5k by fixed, deterministic edits:

- ``original``: the digit as it is (MNIST-5k at 32 px, :func:`~gankit.data.tasks.mnist32`);
- ``thin``: grey-level erosion by a 3x3 square, min-pooling (−max_pool(−x)), at twice the resolution (bilinear up,
  2x2 average down): each stroke loses half a pixel on each side;
- ``thick``: grey-level dilation by a 3x3 square, max-pooling, at twice the resolution: each stroke gains half a
  pixel on each side;
- ``slanted``: a horizontal shear x' = x − SHEAR·y about the centre (y downwards: rows above the centre move right,
  rows below it left, so the digit leans forward, as in italics), bilinear, then rounded back to uint8.

Each image of the split is in exactly ONE domain, by a seeded, balanced assignment (:func:`domain_assignment`, seed
:data:`DOMAIN_SEED`): no image is ever seen in two domains, so there are no pairs to learn from. The domain is the
label ``domain`` (4 classes, named); the digit's class is ``y``, for evaluation only (the judge reads it, as on
every MNIST-5k set). The split is MNIST-5k's
``data.split`` (train 4,500 / test 500, disjoint).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.base import Field, FixedSource
from gankit.data.combinators import Unpaired, unpaired
from gankit.data.images import ImageDataset
from gankit.data.tasks import mnist32
from gankit.errors import GankitError

DOMAINS = ("original", "thin", "thick", "slanted")
DOMAIN_SEED = 2018  # the draw of each image's domain (Choi et al., 2018)
SHEAR = 0.3  # the slant: horizontal shift per unit of height, in the image's normalised coordinates
DIGIT_NAMES = tuple(str(i) for i in range(10))


def _check_images(images: Tensor) -> Tensor:
    if images.dtype != torch.uint8 or images.dim() != 4:
        raise GankitError(f"domain edits take uint8 images (N, C, H, W), not {images.dtype} of shape {tuple(images.shape)}")
    return images


def _at_twice_the_resolution(images: Tensor, operation: Callable[[Tensor], Tensor]) -> Tensor:
    """``operation`` applied to uint8 images upsampled ×2 (bilinear), then brought back by 2x2 averaging and rounded:
    a 3x3 morphology there moves each stroke's edge by half a pixel of the image."""
    x = F.interpolate(_check_images(images).float(), scale_factor=2, mode="bilinear", align_corners=False)
    return F.avg_pool2d(operation(x), 2).round_().clamp_(0, 255).to(torch.uint8)


def _erode(x: Tensor) -> Tensor:
    return -F.max_pool2d(-F.pad(x, (1, 1, 1, 1)), 3, stride=1)  # the border counts as background


def _dilate(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def thin(images: Tensor) -> Tensor:
    """Grey-level erosion by a 3x3 square (min-pooling, −max_pool(−x)) at twice the resolution: each stroke loses half
    a pixel on each side. (A full pixel, the erosion at the image's own resolution, wipes out most thin MNIST strokes:
    the digit judge reads 43% of such test digits right, against 97% of these.)"""
    return _at_twice_the_resolution(images, _erode)


def thick(images: Tensor) -> Tensor:
    """Grey-level dilation by a 3x3 square (max-pooling) at twice the resolution: each stroke gains half a pixel on
    each side. (A full pixel closes many loops: the judge reads 92% of such test digits right, against 99% of these.)"""
    return _at_twice_the_resolution(images, _dilate)


def slant(images: Tensor, shear: float = SHEAR) -> Tensor:
    """A horizontal shear about the centre that leans the digit forward: the output at (x, y) (normalised to [-1, 1],
    y downwards) reads the input at (x + shear·y, y), bilinearly, background outside; rounded and clipped to uint8."""
    x = _check_images(images).float()
    theta = torch.tensor([[1.0, shear, 0.0], [0.0, 1.0, 0.0]]).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


EDITS = {"original": lambda images: _check_images(images).clone(), "thin": thin, "thick": thick, "slanted": slant}


def edit_domain(images: Tensor, domain: str) -> Tensor:
    """uint8 (N, C, H, W) images as they look in ``domain`` (one of :data:`DOMAINS`): the fixed edit of that domain."""
    if domain not in EDITS:
        raise GankitError(f"unknown digit domain '{domain}'; choose one of: {', '.join(DOMAINS)}")
    return EDITS[domain](images)


def domain_assignment(digits: Tensor, seed: int = DOMAIN_SEED, domains: int = len(DOMAINS)) -> Tensor:
    """Each item's one domain (int64, (N,)), drawn by ``seed`` and balanced within every digit class: the items of a
    class, in a seeded random order, take domains 0, 1, ..., K-1, 0, ... continuing from the previous class, so that
    every domain gets ⌊N/K⌋ or ⌈N/K⌉ items and each digit about equally often."""
    labels = digits.numpy()
    rng = np.random.default_rng(seed)
    out = np.zeros(len(labels), dtype=np.int64)
    start = 0
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        out[idx] = (np.arange(len(idx)) + start) % domains
        start += len(idx)
    return torch.from_numpy(out)


def apply_domains(images: Tensor, domains: Tensor) -> Tensor:
    """Each uint8 image edited into its own domain (``domains``: indices into :data:`DOMAINS`)."""
    out = images.clone()
    for k, name in enumerate(DOMAINS):
        chosen = domains == k
        if chosen.any():
            out[chosen] = edit_domain(images[chosen], name)
    return out


class DomainDigits(FixedSource):
    """Digits each in one domain: fields ``x`` (the edited image), ``domain`` (its domain, named) and ``y`` (its digit
    class, for evaluation); one stream, ``train``."""

    kind = "images"

    def __init__(self, images: Tensor, domains: Tensor, digits: Tensor, name: str = "digit-domains") -> None:
        self.images, self.domains, self.digits, self.name = images, domains, digits, name

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return 10

    @property
    def class_names(self) -> tuple[str, ...]:
        return DIGIT_NAMES

    @property
    def fields(self) -> dict[str, Field]:
        return {"x": Field("image", self.shape), "y": Field("label", (), 10, DIGIT_NAMES), "domain": Field("label", (), len(DOMAINS), DOMAINS)}

    def columns(self, idx: Tensor | None = None) -> dict[str, Tensor]:
        columns = {"x": self.images, "y": self.digits, "domain": self.domains}
        return columns if idx is None else {key: value[idx] for key, value in columns.items()}


def domain_digits(split: str = "test", image_size: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """For evaluation: MNIST-5k's ``split`` (default the 500 test digits) in their source domains, as uint8 images
    (N, 1, H, W), their domains (indices into :data:`DOMAINS`) and their digit classes: the items of
    ``digit-domains`` with that split, in order."""
    data = digit_domains(DataConfig(name="digit-domains", split=split, image_size=image_size))
    return data.images, data.domains, data.digits


def digit_domains(cfg: DataConfig) -> DomainDigits:
    """MNIST-5k's ``data.split`` at 32 px (or ``data.image_size``), each digit edited into the one domain the seeded
    assignment gives it (module docstring)."""
    digits = mnist32(cfg)
    domains = domain_assignment(digits.labels)
    return DomainDigits(apply_domains(digits.images, domains), domains, digits.labels.clone())


PAIRS = tuple((a, b) for i, a in enumerate(DOMAINS) for b in DOMAINS[i + 1 :])  # the six unordered pairs, in DOMAINS' order


def domain_pair(a: str, b: str) -> Callable[[DataConfig], Unpaired]:
    """The builder of data ``domains-A2B``: the digits of ``digit-domains`` (same split, same assignment, same edits)
    that are in domain ``a`` as side A and those in domain ``b`` as side B, unpaired (no digit is on both sides), with
    their digit classes (``y_a``, ``y_b``; for evaluation only); each side's source is named after its domain. A
    two-domain model trained on a pair sees exactly the images a model of all four domains sees of those two."""
    for name in (a, b):
        if name not in DOMAINS:
            raise GankitError(f"unknown digit domain '{name}'; choose among: {', '.join(DOMAINS)}")

    def build(cfg: DataConfig) -> Unpaired:
        data = digit_domains(cfg)
        sides = []
        for name in (a, b):
            keep = data.domains == DOMAINS.index(name)
            sides.append(ImageDataset(name, data.images[keep], data.digits[keep], 10, DIGIT_NAMES))
        return unpaired(*sides, f"domains-{a}2{b}")

    return build


PAIR_DATASETS = {f"domains-{a}2{b}": domain_pair(a, b) for a, b in PAIRS}
