"""Measures of a translation (any model that translates): outputs against paired targets (PSNR, SSIM), the judge's
accuracy on digit outputs against the inputs' labels, a round trip's reconstruction, and the same for the
untranslated inputs as the baseline. Pure functions of images in [0, 1] and labels."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from gankit.metrics.image_quality import psnr, ssim


def as_channels(images: Tensor, channels: int) -> Tensor:
    """Grey images repeated to ``channels`` (a grey input compared with colour targets), others unchanged."""
    return images.expand(-1, channels, -1, -1) if images.shape[1] == 1 and channels > 1 else images


def pair_scores(outputs: Tensor, targets: Tensor, prefix: str = "") -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of ``outputs`` against ``targets`` (N, C, H, W in [0, 1])."""
    outputs = as_channels(outputs, targets.shape[1])
    return {f"{prefix}psnr": float(psnr(outputs, targets).mean()), f"{prefix}ssim": float(ssim(outputs, targets).mean())}


def judge_accuracy(images: Tensor, labels: Tensor) -> float:
    """Share of digit images (N, 1, H, W in [0, 1]) that the shipped digit judge reads as their label."""
    from gankit.metrics.classifier import judge_outputs

    probs, _ = judge_outputs(images)
    return float((probs.argmax(dim=1) == labels.cpu()).double().mean())


def judge_fid(outputs: Tensor, reference: Tensor) -> float:
    """Fréchet distance between the digit judge's features of ``outputs`` and of ``reference`` digits."""
    from gankit.metrics.classifier import judge_outputs
    from gankit.metrics.fid import feature_statistics, frechet_distance

    _, f_out = judge_outputs(outputs)
    _, f_ref = judge_outputs(reference)
    mu1, s1 = feature_statistics(f_out)
    mu2, s2 = feature_statistics(f_ref)
    return frechet_distance(mu1, s1, mu2, s2)


def to_size(images: Tensor, size: tuple[int, ...]) -> Tensor:
    """Images in [0, 1] resampled bicubically to ``size`` (H, W) where they differ (super-resolution's bicubic
    baseline), clamped to [0, 1]; unchanged otherwise."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images.double(), size=tuple(size), mode="bicubic", align_corners=False).clamp(0, 1).to(images.dtype)


def crop(images: Tensor, box: tuple[int, int, int, int]) -> Tensor:
    """The box (top, left, height, width) of images (N, C, H, W)."""
    top, left, height, width = box
    return images[..., top : top + height, left : left + width]


def translation_scores(
    inputs: Tensor, outputs: Tensor, *, targets: Tensor | None = None, labels: Tensor | None = None, round_trip: Tensor | None = None,
    reference: Tensor | None = None, digits: bool = False, region: tuple[int, int, int, int] | None = None,
) -> dict[str, Any]:
    """Every measure that applies: ``psnr``/``ssim`` of outputs against paired ``targets``, beside ``input_psnr`` /
    ``input_ssim`` of the baseline, the inputs (upsampled bicubically where smaller than the outputs); with a
    ``region`` (top, left, height, width: the box an inpainting model fills) ``region_psnr``/``region_ssim`` and
    ``input_region_*`` of that box alone; for ``digits``, the judge's accuracy on outputs, the baseline and targets
    against ``labels`` and the judge-feature FID of outputs against ``reference`` (the target domain's real digits);
    ``cycle_psnr``/``cycle_ssim`` of a ``round_trip`` against the inputs."""
    value: dict[str, Any] = {"n": len(inputs)}
    baseline = to_size(inputs, outputs.shape[-2:])
    if targets is not None:
        value |= pair_scores(outputs, targets)
        if baseline.shape[1:] == targets.shape[1:] or baseline.shape[1] == 1:
            value |= pair_scores(baseline, targets, "input_")
        if region is not None:
            value |= pair_scores(crop(outputs, region), crop(targets, region), "region_")
            value |= pair_scores(crop(baseline, region), crop(targets, region), "input_region_")
    if digits and labels is not None:
        value["judge_accuracy"] = judge_accuracy(outputs, labels)
        value["input_judge_accuracy"] = judge_accuracy(baseline, labels)
        if targets is not None:
            value["target_judge_accuracy"] = judge_accuracy(targets, labels)
    if digits and reference is not None:
        value["judge_fid"] = judge_fid(outputs, reference)
    if round_trip is not None:
        value |= pair_scores(round_trip, inputs, "cycle_")
    return value
