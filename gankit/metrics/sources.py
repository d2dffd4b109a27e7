"""What `gankit stats` and `gankit fid` read: image folders, image ``.npz`` files (gankit samples or arrays),
statistics ``.npz`` files (``mu``, ``sigma``: pytorch-fid's format) and the built-in datasets by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError

BUILTIN = ("mnist5k", "digits")


@dataclass
class Source:
    """Images (N, C, H, W) float in [0, 1], or precomputed statistics."""

    description: str
    images: Tensor | None = None
    mu: np.ndarray | None = None
    sigma: np.ndarray | None = None

    @property
    def is_stats(self) -> bool:
        return self.mu is not None


def _dataset_images(spec: str) -> Source:
    from gankit.config import DataConfig
    from gankit.data import build_dataset

    name, _, split = spec.partition(":")
    split = split or "train"
    if split not in ("train", "test", "all"):
        raise GankitError(f"'{spec}': the split must be train, test or all (e.g. {name}:test)")
    data = build_dataset(DataConfig(name=name, split=split))
    return Source(f"{name} {split} split ({len(data.images)} images)", images=data.images.float() / 255.0)


def _npz(path: Path, channels: int | None) -> Source:
    from gankit.config import DataConfig
    from gankit.data.images import npz_images

    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if {"mu", "sigma"} <= keys:
                from gankit.metrics.fid import load_stats

                mu, sigma = load_stats(path)
                return Source(f"statistics {path.name} (d = {len(mu)})", mu=mu, sigma=sigma)
            if "samples" in keys:
                samples = archive["samples"]
                if samples.ndim != 4 or samples.shape[1] not in (1, 3):
                    raise GankitError(f"{path}: 'samples' are not images (shape {samples.shape}); metrics on images need N x C x H x W")
                if samples.dtype == np.uint8:
                    images = torch.from_numpy(samples).float() / 255.0
                else:
                    images = torch.from_numpy(samples.astype(np.float32))
                    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
                        raise GankitError(f"{path}: float 'samples' must lie in [0, 1]; write them with `gankit sample`")
                return Source(f"{path.name} ({len(images)} samples)", images=_convert(images, channels))
    except (OSError, ValueError, EOFError) as exc:
        raise GankitError(f"{path} is not a readable .npz file ({exc})") from None
    data = npz_images(DataConfig(name="npz", root=str(path)))
    return Source(f"{path.name} ({len(data.images)} images)", images=_convert(data.images.float() / 255.0, channels))


def _convert(images: Tensor, channels: int | None) -> Tensor:
    if channels is None or images.shape[1] == channels:
        return images
    if channels == 3 and images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    raise GankitError(f"cannot convert {images.shape[1]}-channel images to {channels} channels")


def load_source(spec: str, channels: int | None = None, skip_bad: bool = False) -> Source:
    """A folder of images, an ``.npz`` of images or of statistics, or ``mnist5k[:split]`` / ``digits[:split]``.

    Folders are read as pytorch-fid reads them: every image at its own size (all must agree), converted to RGB
    when ``channels`` is 3, scaled to [0, 1]; unreadable files are refused unless ``skip_bad``."""
    from gankit.config import DataConfig
    from gankit.data.images import image_folder

    path = Path(spec).expanduser()
    if path.is_dir():
        try:
            data = image_folder(DataConfig(name="folder", root=str(path), channels=channels, skip_bad=skip_bad))
        except GankitError as exc:
            if "different sizes" not in str(exc):
                raise
            raise GankitError(f"images under {path} have different sizes; resize them to one size first (FID compares images of one size)") from None
        return Source(f"folder {path} ({len(data.images)} images)", images=data.images.float() / 255.0)
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise GankitError(f"{path}: expected a folder of images, an .npz file or a dataset name ({', '.join(BUILTIN)}[:split])")
        return _npz(path, channels)
    if spec.partition(":")[0] in BUILTIN:
        source = _dataset_images(spec)
        source.images = _convert(source.images, channels)
        return source
    raise GankitError(f"{spec} does not exist; give a folder of images, an .npz file, or a dataset name ({', '.join(BUILTIN)}[:split])")
