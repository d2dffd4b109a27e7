"""The attribute (domain) classifier: a fixed recipe and seed, and the share of images read as their target domain."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.metrics.attributes import attribute_accuracy, attribute_predictions, train_attribute_classifier


def bars(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Images in [0, 1] of a horizontal (label 0), vertical (1) or diagonal (2) bar at a random offset, with noise."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.rand(n, 1, 8, 8, generator=gen) * 0.2
    offsets = torch.randint(1, 7, (n,), generator=gen)
    for i, (label, at) in enumerate(zip(labels.tolist(), offsets.tolist(), strict=True)):
        if label == 0:
            images[i, 0, at, :] = 1.0
        elif label == 1:
            images[i, 0, :, at] = 1.0
        else:
            images[i, 0].fill_diagonal_(1.0)
    return images, labels


class Fixed(nn.Module):
    def __init__(self, logits: Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(logits)

    def forward(self, x: Tensor) -> Tensor:
        return self.logits[: len(x)]


def test_accuracy_is_the_share_read_as_the_targets():
    logits = torch.tensor([[3.0, 0.0, 1.0], [0.0, 2.0, 0.0], [0.0, 0.0, 5.0], [1.0, 4.0, 0.0]])
    classifier = Fixed(logits)
    images = torch.zeros(4, 1, 2, 2)
    assert attribute_predictions(classifier, images).tolist() == [0, 1, 2, 1]
    assert attribute_accuracy(classifier, images, torch.tensor([0, 1, 0, 0])) == pytest.approx(0.5)
    assert attribute_accuracy(classifier, images, torch.tensor([0, 1, 2, 1])) == 1.0
    with pytest.raises(GankitError, match="one target per image"):
        attribute_accuracy(classifier, images, torch.tensor([0, 1]))


def test_the_recipe_learns_an_attribute_and_is_a_function_of_its_seed():
    images, labels = bars(90, seed=0)
    held_out, truth = bars(60, seed=1)
    classifier = train_attribute_classifier(images, labels, steps=20)
    assert not classifier.training and not any(p.requires_grad for p in classifier.parameters())
    assert attribute_accuracy(classifier, held_out, truth) > 0.9
    short = train_attribute_classifier(images, labels, steps=3)
    again = train_attribute_classifier(images, labels, steps=3)
    assert all(torch.equal(a, b) for a, b in zip(short.state_dict().values(), again.state_dict().values(), strict=True))
    other = train_attribute_classifier(images, labels, steps=3, seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(short.state_dict().values(), other.state_dict().values(), strict=True))


def test_bad_training_sets_are_user_errors():
    with pytest.raises(GankitError, match="N images"):
        train_attribute_classifier(torch.zeros(3, 16, 16), torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(GankitError, match="N images"):
        train_attribute_classifier(torch.zeros(3, 1, 16, 16), torch.zeros(2, dtype=torch.long), steps=1)
