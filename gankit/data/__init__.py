"""Data sources, each built from the :class:`~gankit.config.DataConfig` by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gankit.config import DataConfig
from gankit.data.images import ImageDataset, image_folder, mnist5k, npz_images, photos, sklearn_digits, stacked_mnist
from gankit.data.toy import GaussianMixture, ToyStream, gaussian_1d, grid_of_gaussians, ring_of_gaussians

DATASETS: dict[str, Callable[[DataConfig], Any]] = {
    "gaussian1d": gaussian_1d,
    "ring": ring_of_gaussians,
    "grid": grid_of_gaussians,
    "mnist5k": mnist5k,
    "digits": sklearn_digits,
    "stacked-mnist": stacked_mnist,
    "photos": photos,
    "folder": image_folder,
    "npz": npz_images,
}


def build_dataset(cfg: DataConfig) -> Any:
    return DATASETS[cfg.name](cfg)


__all__ = ["DATASETS", "GaussianMixture", "ImageDataset", "ToyStream", "build_dataset"]
