"""The digit judge: recorded accuracy reproduced, Inception Score against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.errors import GankitError
from gankit.metrics.classifier import file_sha256, inception_score, judge_class_probs, judge_outputs, judge_record, to_judge_input, weights_path


def test_judge_reproduces_its_recorded_held_out_accuracy():
    record = judge_record()
    assert file_sha256(weights_path()) == record["sha256"]
    assert weights_path().stat().st_size < 2_000_000  # a small file inside the package
    test = build_dataset(DataConfig(name="mnist5k", split="test"))
    probs, feats = judge_outputs(test.images.float() / 255)
    accuracy = float((probs.argmax(1) == test.labels).double().mean())
    assert accuracy >= 0.97
    assert accuracy == pytest.approx(record["test_accuracy"], abs=1e-9)
    assert feats.shape == (500, 128)


def test_real_digits_score_near_ten():
    """A confident, balanced judge gives real digits an IS close to the 10 classes (splits drawn at random)."""
    test = build_dataset(DataConfig(name="mnist5k", split="test"))
    probs, _ = judge_outputs(test.images.float() / 255)
    assert 9.5 < inception_score(probs, splits=1)[0] <= 10.0
    train = build_dataset(DataConfig(name="mnist5k", split="train"))
    probs, _ = judge_outputs(train.images.float() / 255)
    shuffled = probs[torch.randperm(len(probs), generator=torch.Generator().manual_seed(0))]
    assert 9.5 < inception_score(shuffled, splits=10)[0] <= 10.0


def test_inception_score_closed_forms():
    one_hot_balanced = torch.eye(10).repeat(100, 1)
    assert inception_score(one_hot_balanced)[0] == pytest.approx(10.0)
    collapsed = torch.zeros(1000, 10)
    collapsed[:, 3] = 1
    assert inception_score(collapsed)[0] == pytest.approx(1.0)
    uniform = torch.full((1000, 10), 0.1)
    assert inception_score(uniform)[0] == pytest.approx(1.0)
    # Two equally likely classes, each predicted with confidence p: IS = exp(log 2 - H(p)).
    p = 0.9
    probs = torch.tensor([[p, 1 - p], [1 - p, p]]).repeat(500, 1)
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    assert inception_score(probs)[0] == pytest.approx(math.exp(math.log(2) - h))
    with pytest.raises(GankitError, match="at least 10"):
        inception_score(torch.full((5, 10), 0.1))


def test_judge_input_handles_padding_resizing_and_channels():
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(to_judge_input(x), x[:, :, 2:30, 2:30])
    assert to_judge_input(torch.rand(2, 1, 16, 16)).shape == (2, 1, 28, 28)
    assert to_judge_input(torch.rand(2, 3, 28, 28)).shape == (6, 1, 28, 28)


def test_class_probabilities_of_stacked_digits_are_the_product_over_channels():
    """Three channels: 1,000 classes numbered as Stacked MNIST's labels, 100 · red + 10 · green + blue."""
    test = build_dataset(DataConfig(name="mnist5k", split="test"))
    pick = torch.randint(len(test), (300, 3), generator=torch.Generator().manual_seed(3))
    triples = test.images[pick].squeeze(2).float() / 255
    joint = judge_class_probs(triples)
    per_channel = [judge_outputs(triples[:, c : c + 1])[0] for c in range(3)]
    assert joint.shape == (300, 1000) and joint.dtype == torch.float64
    assert torch.allclose(joint.sum(dim=1), torch.ones(300, dtype=torch.float64), rtol=1e-12, atol=0)
    r, g, b = (p.argmax(dim=1) for p in per_channel)
    assert torch.equal(joint.argmax(dim=1), 100 * r + 10 * g + b)
    top = per_channel[0].max(1).values * per_channel[1].max(1).values * per_channel[2].max(1).values
    assert torch.allclose(joint.reshape(300, 10, 10, 10)[torch.arange(300), r, g, b], top, rtol=1e-12)
    labels = test.labels[pick]
    assert float((joint.argmax(dim=1) == labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]).double().mean()) > 0.9
    single = test.images[:50].float() / 255
    assert torch.equal(judge_class_probs(single), judge_outputs(single)[0])  # one channel: the judge's 10 classes
