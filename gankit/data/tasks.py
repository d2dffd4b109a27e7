"""Image-to-image tasks derived from the embedded data by fixed recipes (no downloads, ever):

- ``edges2digits`` (paired): B = MNIST-5k digits padded to 32 px, A = each digit's edge map;
- ``gray2color`` (paired, drawn): B = random colour crops of scikit-learn's and scikit-image's bundled
  photos, A = their grey (luma) version;
- ``digits2mnist`` (unpaired): A = scikit-learn's 8x8 digits upscaled to 32 px, B = MNIST-5k digits;
- ``photo-crops``: random colour crops of those photos (inpainting);
- ``sr-digits`` (paired): B = MNIST-5k digits at 32 px, A = the same digits downscaled ×4 (8 px), bicubic;
- ``sr-photos`` (paired, drawn): B = random colour crops of the photos (96 px), A = the crops downscaled ×4, bicubic.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.base import DrawnSource, Field
from gankit.data.combinators import Paired, Unpaired, paired, unpaired
from gankit.data.images import ImageDataset, PhotoCrops, _package_file, mnist5k, resize_images, sklearn_digits
from gankit.errors import GankitError

EDGE_THRESHOLD = 128  # grey level (uint8) at which digits are binarised before their outline is taken
LUMA_601 = (0.299, 0.587, 0.114)  # ITU-R BT.601 weights of R, G, B
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
# scikit-image's photographs that ship in its wheel (not the synthetic test images, not motorcycle_right.png,
# the other half of a stereo pair of motorcycle_left.png); the two held out form the test split.
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg")
HELD_OUT_PHOTOS = ("chelsea.png", "coffee.png")
SR_FACTOR = 4  # the super-resolution tasks' scale: A's sides are B's divided by it


def mnist32(cfg: DataConfig) -> ImageDataset:
    """MNIST-5k's ``data.split`` (train 4,500 / test 500 / all), zero-padded 28 -> 32 px, then resized to
    ``data.image_size`` (``data.resize``) when that is set and not 32."""
    digits = mnist5k(replace(cfg, image_size=32, resize="pad"))
    if cfg.image_size and cfg.image_size != 32:
        digits.images = resize_images(digits.images, cfg.image_size, cfg.resize)
    return digits


def edge_map(images: Tensor, threshold: int = EDGE_THRESHOLD) -> Tensor:
    """Binary outlines (0 or 255, uint8) of uint8 (N, 1, H, W) images: the image is binarised at ``threshold``
    and its external morphological gradient taken, dilation by a 3x3 square (max-pooling) minus the shape itself:
    the ring of pixels just outside each stroke. A fixed, deterministic filter."""
    shape = (images >= threshold).float()
    dilation = F.max_pool2d(shape, 3, stride=1, padding=1)
    return (dilation - shape).to(torch.uint8) * 255


def edges2digits(cfg: DataConfig) -> Paired:
    """An edges -> photo task (Isola et al., 2017) on digits: A = :func:`edge_map` of each digit, B = the digit (MNIST-5k,
    32 px by default, :func:`mnist32`), ``y`` = its class (for evaluation). One stream ``train``: ``a``, ``b``, ``y``."""
    digits = mnist32(cfg)
    edges = ImageDataset("edges", edge_map(digits.images))
    return paired(edges, digits, "edges2digits")


def luma(rgb: Tensor) -> Tensor:
    """uint8 (N, 3, H, W) RGB -> uint8 (N, 1, H, W) grey, Y' = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), rounded."""
    weights = torch.tensor(LUMA_601, dtype=torch.float32).view(1, 3, 1, 1)
    return (rgb.float() * weights).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)


@dataclass
class GrayToColor(DrawnSource):
    """Random crops (with random horizontal flips) of colour photos: ``a`` = grey (1 channel), ``b`` = colour.
    Drawn afresh for every batch, so a stream is deterministic for its seed."""

    crops: PhotoCrops
    name: str = "gray2color"
    kind: str = "images"
    num_classes: int = 0

    @property
    def shape(self) -> tuple[int, ...]:
        return self.crops.shape

    @property
    def fields(self) -> dict[str, Field]:
        size = self.crops.size
        return {"a": Field("image", (1, size, size)), "b": Field("image", (3, size, size))}

    def draw_columns(self, n: int, generator: torch.Generator, keep: slice = slice(None)) -> dict[str, Tensor]:
        rgb = self.crops.draw_columns(n, generator, keep)["x"]
        return {"a": luma(rgb), "b": rgb}


def _skimage_photo(name: str) -> Path:
    if importlib.util.find_spec("skimage") is None:
        raise GankitError("data.name=gray2color uses the photos bundled with scikit-image, which is not installed; run `pip install --no-deps scikit-image`")
    return _package_file("skimage", "data", name)


def _photo_split(cfg: DataConfig, name: str) -> PhotoCrops:
    """``data.image_size`` (default 64) crops of scikit-learn's two photos and scikit-image's bundled photographs (read
    as files, never through scikit-image's downloader): split ``train``, every photo but two; ``test`` (or ``val``),
    the two held out (chelsea, coffee); ``all``, every one. The photo's index is each crop's label."""
    from PIL import Image

    size = cfg.image_size or 64
    files = [_package_file("sklearn", "datasets", "images", n) for n in SKLEARN_PHOTOS] + [_skimage_photo(n) for n in SKIMAGE_PHOTOS]
    if cfg.split == "train":
        files = [f for f in files if f.name not in HELD_OUT_PHOTOS]
    elif cfg.split != "all":  # test (and val, as the other built-in data read it)
        files = [f for f in files if f.name in HELD_OUT_PHOTOS]
    loaded = []
    for path in files:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"))
        loaded.append(torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous())
    smallest = min(min(p.shape[1:]) for p in loaded)
    if size > smallest:
        raise GankitError(f"data.image_size={size} is larger than the {cfg.split} photos ({smallest} px on the short side); choose {smallest} or less")
    names = tuple(f.stem for f in files)
    return PhotoCrops(loaded, size, name=name, num_classes=len(names), class_names=names)


def gray2color(cfg: DataConfig) -> GrayToColor:
    """A colourisation task (Isola et al., 2017) on crops of the photos of :func:`_photo_split` (test crops from two
    held-out photos). One stream ``train``: ``a`` (grey), ``b`` (colour)."""
    return GrayToColor(_photo_split(cfg, "gray2color"))


def photo_crops(cfg: DataConfig) -> PhotoCrops:
    """Random ``data.image_size`` (default 64) colour crops (with random flips) of the photos of :func:`_photo_split`,
    field ``x`` (and ``y``, the photo): the photos of inpainting and super-resolution tasks, test crops from the two
    held-out photos."""
    return _photo_split(cfg, "photo-crops")


def downscale(images: Tensor, factor: int = SR_FACTOR) -> Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, H / factor, W / factor) by antialiased bicubic resampling (the kernel
    widened by the factor, as MATLAB's imresize, the super-resolution papers' degradation), rounded and clipped."""
    h, w = images.shape[-2:]
    if h % factor or w % factor:
        raise GankitError(f"super-resolution images must have sides divisible by {factor}, not {h}x{w}; set data.image_size to a multiple of {factor}")
    small = F.interpolate(images.float(), size=(h // factor, w // factor), mode="bicubic", align_corners=False, antialias=True)
    return small.round_().clamp_(0, 255).to(torch.uint8)


def sr_digits(cfg: DataConfig) -> Paired:
    """A ×4 super-resolution task on digits: B = MNIST-5k's ``data.split`` at 32 px (:func:`mnist32`; or
    ``data.image_size``, a multiple of 4), A = :func:`downscale` of each (8 px), ``y`` = the class (for evaluation).
    One stream ``train``: ``a``, ``b``, ``y``."""
    digits = mnist32(cfg)
    return paired(ImageDataset("low-resolution", downscale(digits.images)), digits, "sr-digits")


@dataclass
class SuperResolutionCrops(DrawnSource):
    """Random crops (with random flips) of colour photos: ``b`` = the crop (high resolution), ``a`` = its ×4
    :func:`downscale`. Drawn afresh for every batch, so a stream is deterministic for its seed."""

    crops: PhotoCrops
    name: str = "sr-photos"
    kind: str = "images"
    num_classes: int = 0

    @property
    def fields(self) -> dict[str, Field]:
        size = self.crops.size
        return {"a": Field("image", (3, size // SR_FACTOR, size // SR_FACTOR)), "b": Field("image", (3, size, size))}

    def draw_columns(self, n: int, generator: torch.Generator, keep: slice = slice(None)) -> dict[str, Tensor]:
        rgb = self.crops.draw_columns(n, generator, keep)["x"]
        return {"a": downscale(rgb), "b": rgb}


def sr_photos(cfg: DataConfig) -> SuperResolutionCrops:
    """A ×4 super-resolution task (Ledig et al., 2017) on ``data.image_size`` (default 96, a multiple of 4) crops of the
    photos of :func:`_photo_split`: test crops from the two held-out photos."""
    size = cfg.image_size or 96
    if size % SR_FACTOR:
        raise GankitError(f"data.image_size={size}: the ×{SR_FACTOR} super-resolution crops need a multiple of {SR_FACTOR}")
    return SuperResolutionCrops(_photo_split(replace(cfg, image_size=size), "sr-photos"))


def digits2mnist(cfg: DataConfig) -> Unpaired:
    """An unpaired task on digits (after Zhu et al., 2017's domain adaptation): A = scikit-learn's 8x8 digits upscaled (bilinear) to
    ``data.image_size`` (default 32), B = MNIST-5k digits (:func:`mnist32`); ``data.split`` picks both sides'
    splits. Streams ``a`` (``a``, ``y_a``) and ``b`` (``b``, ``y_b``); the labels are for evaluation only (also
    ``source.a.labels``, ``source.b.labels``)."""
    size = cfg.image_size or 32
    small = sklearn_digits(replace(cfg, image_size=size, resize="bilinear"))
    small.name = "digits"
    return unpaired(small, mnist32(cfg), "digits2mnist")
