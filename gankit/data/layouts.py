"""Users' image-to-image layouts (the folder conventions of the public image-to-image datasets):

- ``aligned`` (paired): ``data.root`` holds ``train/``, ``val/``, ``test/``; each image file is A|B side by
  side (width = 2 x height). A paired source: one stream ``train`` of ``{"a", "b"}``.
- ``unaligned`` (unpaired): ``data.root`` holds ``trainA/``, ``trainB/``, ``testA/``, ``testB/``. An unpaired
  source: streams ``a`` (``{"a"}``) and ``b`` (``{"b"}``).

Folders are read recursively, like ``data.name=folder`` (image suffixes, ``data.skip_bad``, ``data.channels``);
``data.split`` picks the folders (``all``: every split folder present).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.data.combinators import Paired, Unpaired, paired, unpaired
from gankit.data.images import (
    IMAGE_SUFFIXES,
    ImageDataset,
    fit_image,
    list_images,
    open_image,
    parallel_map,
    pick_channels,
    read_folder,
    readable_images,
)
from gankit.errors import GankitError

ALIGNED_SPLITS = {"train": ("train",), "val": ("val",), "test": ("test",), "all": ("train", "val", "test")}
UNALIGNED_SPLITS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}


def _layout_root(cfg: DataConfig, layout: str) -> Path:
    if not cfg.root:
        raise GankitError(f"data.name={layout} needs data.root, the directory that holds the split folders (--set data.root=PATH)")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise GankitError(f"data.root {root} is not a directory; point it at the folder that holds the split folders")
    return root


def _found(root: Path) -> str:
    names = sorted(p.name + "/" for p in root.iterdir() if p.is_dir())
    return ", ".join(names) if names else "no folders"


def _split_names(split: str, table: dict[str, tuple[str, ...]], layout: str) -> tuple[str, ...]:
    if split not in table:
        raise GankitError(f"data.split={split} is not a split of the {layout} layout; use one of {', '.join(table)}")
    return table[split]


def _read_aligned_folder(folder: Path, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    files = list_images(folder)
    if not files:
        raise GankitError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); put the A|B image files there")
    readable, modes = readable_images(files, folder, cfg.skip_bad)
    channels = pick_channels(cfg.channels, modes, folder)
    def halves(path: Path) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
        img = open_image(path, channels)
        w, h = img.size
        if w != 2 * h:
            raise GankitError(
                f"{path} is {w} x {h} pixels, but an aligned file holds A and B side by side as two halves of equal size, "
                "so its width must be twice its height; fix the file or remove it"
            )
        return img.size, fit_image(img.crop((0, 0, h, h)), cfg.image_size), fit_image(img.crop((h, 0, w, h)), cfg.image_size)

    a_side, b_side, first = [], [], {}
    for path, (size, a, b) in zip(readable, parallel_map(halves, readable, cfg.workers), strict=True):
        first.setdefault(size, path)
        a_side.append(a)
        b_side.append(b)
    if len(first) > 1 and cfg.image_size is None:
        (s1, p1), (s2, p2) = list(first.items())[:2]
        raise GankitError(
            f"images under {folder} have different sizes ({p1.name}: {s1[0]} x {s1[1]}, {p2.name}: {s2[0]} x {s2[1]}); "
            "set data.image_size to resize every half to one size"
        )
    return np.stack(a_side), np.stack(b_side)


def aligned(cfg: DataConfig) -> Paired:
    """The aligned (paired) layout: ``data.root/{train,val,test}/``, each file A|B side by side; each half is resized
    on its short side and centre-cropped to ``data.image_size`` when that is set."""
    root = _layout_root(cfg, "aligned")
    wanted = _split_names(cfg.split, ALIGNED_SPLITS, "aligned")
    folders = [root / name for name in wanted if (root / name).is_dir()]
    if not folders or (cfg.split != "all" and len(folders) < len(wanted)):
        need = " or ".join(f"{name}/" for name in wanted)
        raise GankitError(f"{root} has no {need} folder for data.split={cfg.split} (found: {_found(root)}); the aligned layout is train/, val/, test/")
    parts = [_read_aligned_folder(folder, cfg) for folder in folders]
    shapes = {(a.shape[1:], b.shape[1:]) for a, b in parts}
    if len(shapes) > 1:
        raise GankitError(f"the split folders under {root} hold images of different sizes; set data.image_size to resize them to one size")
    a = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    b = torch.from_numpy(np.concatenate([p[1] for p in parts]))
    return paired(ImageDataset("aligned A", a), ImageDataset("aligned B", b), "aligned")


def _read_side(root: Path, prefixes: tuple[str, ...], side: str, cfg: DataConfig) -> ImageDataset:
    folders = [root / f"{prefix}{side}" for prefix in prefixes]
    if not folders[0].is_dir():  # for 'all', train's side is required and test's optional
        prefix = prefixes[0]
        raise GankitError(f"{folders[0].name} missing under {root}; the unaligned layout needs {prefix}A/ and {prefix}B/ (found: {_found(root)})")
    present = [f for f in folders if f.is_dir()]
    sides = [read_folder(folder, cfg, folder.name) for folder in present]
    if len({s.shape for s in sides}) > 1:
        names = " and ".join(f.name for f in present)
        raise GankitError(f"{names} under {root} hold images of different sizes; set data.image_size to resize them to one size")
    images = torch.cat([s.images for s in sides])
    return ImageDataset(f"unaligned {side}", images)


def unaligned(cfg: DataConfig) -> Unpaired:
    """The unaligned (unpaired) layout: ``data.root/{train,test}{A,B}/``, any number of images per side; images are
    resized on the short side and centre-cropped to ``data.image_size`` when that is set."""
    root = _layout_root(cfg, "unaligned")
    prefixes = _split_names(cfg.split, UNALIGNED_SPLITS, "unaligned")
    a, b = (_read_side(root, prefixes, side, cfg) for side in "AB")
    if a.shape[1:] != b.shape[1:]:
        raise GankitError(
            f"under {root}, side A holds {a.shape[2]} x {a.shape[1]} images and side B {b.shape[2]} x {b.shape[1]} (width x height); "
            "set data.image_size to resize both sides to one size"
        )
    return unpaired(a, b, "unaligned")
