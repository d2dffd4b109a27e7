"""Feature extractors for the feature-level metrics (FID, KID, precision/recall, density/coverage).

An extractor maps images (N, C, H, W) in [0, 1] to features (N, D), in batches, on CPU or GPU, with a progress
bar. ``inception`` is the FID Inception-v3 (pool3, 2048-d; weights from a local file only), ``mnist`` the digit
judge's 128-d penultimate layer; any ``torch.nn.Module`` can be wrapped with :class:`ModuleExtractor`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

EXTRACTORS = ("inception", "mnist")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_HEAP_REUSE_BYTES = 1 << 30
_heap_reuse: bool | None = None


def reuse_large_allocations() -> bool:
    """Let this process reuse freed blocks of up to 1 GiB instead of returning them to the operating system (glibc
    only; elsewhere nothing happens and the result is False). Idempotent and process-wide.

    At 299×299 px a batch of 50 images has activations of up to ~280 MB. glibc serves blocks above 32 MB with a fresh
    ``mmap`` and unmaps them when they are freed, so every batch page-faults its largest tensors in again; on a
    2-core CPU that costs about 30 % of the Inception network's time. With a 1 GiB mmap threshold the blocks stay in
    the heap and are reused by the next batch (the process keeps up to that much memory it no longer uses)."""
    global _heap_reuse
    if _heap_reuse is None:
        _heap_reuse = False
        name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
        if name:
            try:
                libc = ctypes.CDLL(name)
                mallopt = libc.mallopt
                mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
                _heap_reuse = bool(mallopt(_M_MMAP_THRESHOLD, _HEAP_REUSE_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _HEAP_REUSE_BYTES))
            except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
                _heap_reuse = False
    return _heap_reuse


@dataclass
class ModuleExtractor:
    """Features of any module that maps (B, C, H, W) images in [0, 1] to (B, ...) outputs (flattened)."""

    module: nn.Module
    name: str = "module"
    protocol: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 200
    device: str = "cpu"
    progress: bool = True

    def prepare(self, images: Tensor) -> Tensor:
        return images

    @torch.inference_mode()
    def __call__(self, images: Tensor) -> Tensor:
        """Features (N, D) in float64 on the CPU."""
        from tqdm.auto import tqdm

        if images.ndim != 4:
            raise GankitError(f"the {self.name} extractor needs images of shape (N, C, H, W) (got {tuple(images.shape)})")
        if len(images) == 0:
            raise GankitError(f"the {self.name} extractor got no images")
        module = self.module.to(self.device).eval()
        out = []
        bar = tqdm(total=len(images), desc=f"{self.name} features", unit="img", disable=not self.progress or not sys.stderr.isatty(), leave=False)
        for start in range(0, len(images), self.batch_size):
            chunk = self.prepare(images[start : start + self.batch_size].to(self.device, torch.float32))
            out.append(module(chunk).flatten(1).double().cpu())
            bar.update(len(chunk))
        bar.close()
        return torch.cat(out)


class InceptionExtractor(ModuleExtractor):
    """The FID Inception-v3 as pytorch-fid defines it: bilinear resize to 299, [-1, 1] input, 2048-d pool3
    features; greyscale images are repeated to three channels."""

    def __call__(self, images: Tensor) -> Tensor:
        if torch.device(self.device).type == "cpu":
            reuse_large_allocations()
        return super().__call__(images)

    def prepare(self, images: Tensor) -> Tensor:
        if images.shape[1] not in (1, 3):
            raise GankitError(f"the inception extractor takes 1- or 3-channel images (got {images.shape[1]} channels)")
        images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        # channels_last runs the convolutions about 1.5x faster on CPU; the features agree with NCHW to float rounding
        return images.contiguous(memory_format=torch.channels_last)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An inference copy of ``model`` in which every convolution followed by an eval-mode BatchNorm (the Inception
    network's ``conv``/``bn`` pairs) is one convolution: W' = W·γ/√(v + ε), b' = β − μ·γ/√(v + ε). Same function
    up to float rounding, one pass over memory fewer per layer."""
    import copy

    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
            with torch.no_grad():
                scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups, bias=True)
                fused.weight.copy_((conv.weight.double() * scale[:, None, None, None]).float())
                bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
                fused.bias.copy_((bn.bias.double() + (bias - bn.running_mean.double()) * scale).float())
            module.conv, module.bn = fused.to(conv.weight.device), nn.Identity()
    return folded


class JudgeExtractor(ModuleExtractor):
    """The digit judge's 128-d penultimate features; each channel of a multi-channel image (Stacked MNIST) is
    judged on its own and the per-channel features are concatenated."""

    def prepare(self, images: Tensor) -> Tensor:
        from gankit.metrics.classifier import to_judge_input

        return to_judge_input(images)

    @torch.inference_mode()
    def __call__(self, images: Tensor) -> Tensor:
        feats = super().__call__(images.reshape(-1, 1, *images.shape[2:]))
        return feats.reshape(len(images), -1)


class _JudgeFeatures(nn.Module):
    def __init__(self, judge: nn.Module) -> None:
        super().__init__()
        self.judge = judge

    def forward(self, x: Tensor) -> Tensor:
        return self.judge.features(x)


def build_extractor(name: str, *, inception_weights: str | None = None, device: str = "cpu", batch_size: int | None = None, progress: bool = True):
    """``inception`` (weights from ``inception_weights`` or ``GANKIT_INCEPTION_WEIGHTS``) or ``mnist``."""
    if name == "inception":
        from gankit.metrics.classifier import file_sha256
        from gankit.metrics.inception import inception_weights_path, load_inception

        path = inception_weights_path(inception_weights)
        protocol = {
            "extractor": "inception (FID Inception-v3, pool3 2048-d, as pytorch-fid)",
            "weights": path.name,
            "weights_sha256": file_sha256(path),
            "resize": "bilinear to 299x299, input scaled to [-1, 1]",
        }
        network = fold_batchnorm(load_inception(str(path), device))
        protocol["speed"] = "BatchNorm folded into the convolutions, channels_last, large blocks kept in the heap: pytorch-fid's function up to float rounding"
        return InceptionExtractor(network, "inception", protocol, batch_size or 50, device, progress)
    if name == "mnist":
        from gankit.metrics.classifier import judge_record, load_judge

        record = judge_record()
        protocol = {
            "extractor": "mnist (digit judge, penultimate 128-d; per channel, concatenated)",
            "weights_sha256": record["sha256"],
            "resize": "32 px: centre 28 crop; other sizes: bilinear to 28",
        }
        return JudgeExtractor(_JudgeFeatures(load_judge("cpu")), "mnist", protocol, batch_size or 1000, device, progress)
    raise GankitError(f"unknown extractor '{name}'; choose from: {', '.join(EXTRACTORS)}")
