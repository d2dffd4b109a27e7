"""The digit judge: recorded accuracy reproduced, Inception Score against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.errors import GankitError
from gankit.metrics.classifier import file_sha256, inception_score, judge_outputs, judge_record, to_judge_input, weights_path


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
