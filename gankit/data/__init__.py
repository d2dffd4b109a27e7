"""Data sources, each built from the :class:`~gankit.config.DataConfig` by name.

Every source declares ``fields`` (name -> :class:`Field`) and gives ``streams(seed, shard)`` (name -> stream);
see :mod:`gankit.data.base`. Combinators (:mod:`gankit.data.combinators`) build paired, unpaired, labelled and
indexed data; :mod:`gankit.data.real` gives real data to metrics and sampling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gankit.config import DataConfig
from gankit.data.base import Field, Stream, stream_seed
from gankit.data.combinators import indexed, labelled, paired, unpaired
from gankit.data.images import ImageDataset, image_folder, mnist5k, npz_images, photos, sklearn_digits, stacked_mnist
from gankit.data.layouts import aligned, unaligned
from gankit.data.real import real_samples, real_set
from gankit.data.tasks import digits2mnist, edges2digits, gray2color
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
    "edges2digits": edges2digits,
    "gray2color": gray2color,
    "digits2mnist": digits2mnist,
    "aligned": aligned,
    "unaligned": unaligned,
}


def build_dataset(cfg: DataConfig) -> Any:
    return DATASETS[cfg.name](cfg)


__all__ = [
    "DATASETS",
    "Field",
    "GaussianMixture",
    "ImageDataset",
    "Stream",
    "ToyStream",
    "build_dataset",
    "indexed",
    "labelled",
    "paired",
    "real_samples",
    "real_set",
    "stream_seed",
    "unpaired",
]
