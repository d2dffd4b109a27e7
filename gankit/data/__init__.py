"""Data sources, each built from the :class:`~gankit.config.DataConfig` by name.

Every source declares ``fields`` (name -> :class:`Field`) and gives ``streams(seed, shard)`` (name -> stream);
see :mod:`gankit.data.base`. Combinators (:mod:`gankit.data.combinators`) build paired, unpaired, labelled and
indexed data; :mod:`gankit.data.real` gives real data to metrics and sampling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gankit.config import DataConfig
from gankit.data.base import Field, Stream, stream_seed
from gankit.data.combinators import indexed, labelled, paired, unpaired
from gankit.data.domains import PAIR_DATASETS, digit_domains
from gankit.data.fonts import font_digits, fonts2mnist
from gankit.data.images import ImageDataset, image_folder, mnist5k, npz_images, photos, sklearn_digits, stacked_mnist
from gankit.data.layouts import aligned, unaligned
from gankit.data.real import real_samples, real_set
from gankit.data.tasks import digits2mnist, edges2digits, gray2color, photo_crops, sr_digits, sr_photos
from gankit.data.toy import GaussianMixture, LabelledPoints, ToyStream, gaussian_1d, grid_of_gaussians, ring_of_gaussians, two_circles, two_moons
from gankit.errors import GankitError

DATASETS: dict[str, Callable[[DataConfig], Any]] = {
    "gaussian1d": gaussian_1d,
    "ring": ring_of_gaussians,
    "grid": grid_of_gaussians,
    "circles": two_circles,
    "moons": two_moons,
    "mnist5k": mnist5k,
    "digits": sklearn_digits,
    "stacked-mnist": stacked_mnist,
    "photos": photos,
    "folder": image_folder,
    "npz": npz_images,
    "edges2digits": edges2digits,
    "gray2color": gray2color,
    "photo-crops": photo_crops,
    "sr-digits": sr_digits,
    "sr-photos": sr_photos,
    "digits2mnist": digits2mnist,
    "digit-domains": digit_domains,
    "fonts": font_digits,
    "fonts2mnist": fonts2mnist,
    "aligned": aligned,
    "unaligned": unaligned,
    **PAIR_DATASETS,  # domains-original2thin, ...: two of digit-domains' domains, unpaired
}


_ALWAYS_APPLY = ("name", "split")  # split: read by the metrics and commands too
_reads: set[str] | None = None


class _ReadRecorder(DataConfig):
    """A DataConfig that notes which keys its dataset's builder reads (into ``_reads``), to find settings that do not
    apply to the chosen data. (A builder that copies the config with ``dataclasses.replace`` reads every key: its
    settings all count as applying.)"""

    def __getattribute__(self, name: str) -> Any:
        if _reads is not None and not name.startswith("_"):
            _reads.add(name)
        return super().__getattribute__(name)


def build_dataset(cfg: DataConfig) -> Any:
    return DATASETS[cfg.name](cfg)


def build_checked(cfg: DataConfig) -> tuple[Any, GankitError | None]:
    """The source ``cfg.name`` names, and for a new run the error to raise when a data key set away from its default
    is one the source never reads (e.g. ``data.grid_size`` on ``ring``); None when every setting applies. The caller
    raises it once it has checked the variant against the data (whose error says more)."""
    global _reads
    recorder = _ReadRecorder(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(DataConfig)})
    _reads = set()
    try:
        source = DATASETS[cfg.name](recorder)
        read = set(_reads)
    finally:
        _reads = None
    default = DataConfig()
    unused = [f.name for f in dataclasses.fields(DataConfig)
              if f.name not in read and f.name not in _ALWAYS_APPLY and getattr(cfg, f.name) != getattr(default, f.name)]
    if not unused:
        return source, None
    keys = ", ".join(f"data.{k}={getattr(cfg, k)!r}" for k in unused)
    used = ", ".join(sorted(f"data.{k}" for k in read if k not in _ALWAYS_APPLY)) or "none besides data.split"
    return source, GankitError(f"{keys} does not apply to data.name={cfg.name} (it reads {used}); remove the setting or choose data that uses it")


__all__ = [
    "DATASETS",
    "Field",
    "GaussianMixture",
    "ImageDataset",
    "LabelledPoints",
    "Stream",
    "ToyStream",
    "build_checked",
    "build_dataset",
    "indexed",
    "labelled",
    "paired",
    "real_samples",
    "real_set",
    "stream_seed",
    "unpaired",
]
