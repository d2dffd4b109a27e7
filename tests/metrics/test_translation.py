"""The 'translation' metric's measures: PSNR/SSIM means are those of gankit.metrics.image_quality (themselves tested
against scikit-image), grey inputs compared with colour targets are repeated to RGB, the judge's accuracy on real
held-out digits is its recorded test accuracy, and each measure appears exactly when its inputs exist."""

from __future__ import annotations

from dataclasses import replace

import torch

from gankit.config import load_config
from gankit.data import build_dataset
from gankit.data.real import real_set
from gankit.metrics.classifier import judge_record
from gankit.metrics.image_quality import psnr, ssim
from gankit.metrics.translation import as_channels, judge_accuracy, pair_scores, translation_scores


def test_pair_scores_are_the_mean_psnr_and_ssim():
    g = torch.Generator().manual_seed(0)
    targets = torch.rand(6, 3, 16, 16, generator=g)
    outputs = (targets + 0.1 * torch.randn(6, 3, 16, 16, generator=g)).clamp(0, 1)
    scores = pair_scores(outputs, targets)
    assert abs(scores["psnr"] - float(psnr(outputs, targets).mean())) < 1e-12
    assert abs(scores["ssim"] - float(ssim(outputs, targets).mean())) < 1e-12
    grey = outputs.mean(dim=1, keepdim=True)
    assert as_channels(grey, 3).shape == (6, 3, 16, 16) and torch.equal(as_channels(grey, 3)[:, 2], grey[:, 0])
    assert abs(pair_scores(grey, targets, "input_")["input_psnr"] - float(psnr(grey.expand(-1, 3, -1, -1), targets).mean())) < 1e-12


def test_the_judge_reads_real_held_out_digits_at_its_recorded_accuracy():
    data = build_dataset(replace(load_config("dcgan-mnist").data, split="test", image_size=28, resize="bilinear"))
    images, labels = real_set(data, "x"), real_set(data, "y")
    assert abs(judge_accuracy(images, labels) - judge_record()["test_accuracy"]) < 1e-9


def test_each_measure_appears_when_its_inputs_exist():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(8, 1, 28, 28, generator=g)
    bare = translation_scores(x, x)
    assert bare == {"n": 8}
    paired = translation_scores(x, x, targets=x)
    assert paired["psnr"] == float("inf") or paired["psnr"] > 100
    assert abs(paired["ssim"] - 1.0) < 1e-9
    cycle = translation_scores(x, x, round_trip=x)
    assert set(cycle) == {"n", "cycle_psnr", "cycle_ssim"}
    digits = translation_scores(x, x, targets=x, labels=torch.zeros(8, dtype=torch.long), reference=x, digits=True)
    assert {"judge_accuracy", "input_judge_accuracy", "target_judge_accuracy", "judge_fid"} <= set(digits)
    assert digits["judge_accuracy"] == digits["input_judge_accuracy"] == digits["target_judge_accuracy"]
    assert abs(digits["judge_fid"]) < 1e-6  # the same images: distance 0


def test_a_region_is_scored_alone_beside_the_whole_image():
    g = torch.Generator().manual_seed(2)
    targets = torch.rand(5, 1, 28, 28, generator=g)
    inputs = targets.clone()
    inputs[..., 8:20, 8:20] = 0.5  # the hole at mid-grey, as an inpainting model sees it
    outputs = targets.clone()
    outputs[..., 8:20, 8:20] = (targets[..., 8:20, 8:20] + 0.05 * torch.randn(5, 1, 12, 12, generator=g)).clamp(0, 1)
    scores = translation_scores(inputs, outputs, targets=targets, region=(8, 8, 12, 12))
    hole_out, hole_target = outputs[..., 8:20, 8:20], targets[..., 8:20, 8:20]
    assert abs(scores["region_psnr"] - float(psnr(hole_out, hole_target).mean())) < 1e-9
    assert abs(scores["region_ssim"] - float(ssim(hole_out, hole_target).mean())) < 1e-9
    assert abs(scores["input_region_psnr"] - float(psnr(torch.full_like(hole_target, 0.5), hole_target).mean())) < 1e-9
    # The whole image's PSNR counts the copied pixels, so it is higher than the hole's by 10 log10(784 / 144).
    assert abs(scores["psnr"] - scores["region_psnr"] - 10 * torch.log10(torch.tensor(784 / 144)).item()) < 1e-4
    assert "region_psnr" not in translation_scores(inputs, outputs, targets=targets)


def test_a_smaller_input_is_scored_upsampled_bicubically_the_super_resolution_baseline():
    g = torch.Generator().manual_seed(3)
    targets = torch.rand(4, 3, 16, 16, generator=g)
    small = torch.nn.functional.avg_pool2d(targets, 4)
    scores = translation_scores(small, targets, targets=targets)
    bicubic = torch.nn.functional.interpolate(small.double(), size=(16, 16), mode="bicubic", align_corners=False).clamp(0, 1).float()
    assert abs(scores["input_psnr"] - float(psnr(bicubic, targets).mean())) < 1e-6
    assert scores["psnr"] == float("inf") or scores["psnr"] > 100
