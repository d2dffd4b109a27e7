"""Adversarial losses: pure functions of discriminator logits returning per-sample tensors.

Every function works on logits ``l`` with D(x) = sigmoid(l), and uses softplus for stability:
``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``. A logit tensor of any shape (B, ...) is reduced
to one value per sample by averaging its trailing dimensions (so patch discriminators work unchanged).
The training loop, not the loss, averages over the batch and calls backward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def per_sample(values: Tensor) -> Tensor:
    """Average every dimension but the first: (B, ...) -> (B,)."""
    return values.reshape(values.shape[0], -1).mean(dim=1)


def bce_d_loss(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """Discriminator cross-entropy of Goodfellow et al. (2014): -log D(x) and -log(1 - D(G(z))).

    The two terms are returned separately (``d_real``, ``d_fake``); their batch means add up to
    -V(D, G), the negated value function of the minimax game.
    """
    return {"d_real": per_sample(F.softplus(-real_logits)), "d_fake": per_sample(F.softplus(fake_logits))}


def saturating_g_loss(fake_logits: Tensor) -> Tensor:
    """The minimax game's generator loss log(1 - D(G(z))) = -softplus(l) (Goodfellow et al., 2014).

    Its gradient with respect to the logit is -sigmoid(l), which vanishes when the discriminator rejects
    the sample confidently (D(G(z)) -> 0): the generator learns slowly exactly when it is worst.
    """
    return per_sample(-F.softplus(fake_logits))


def nonsaturating_g_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss -log D(G(z)) = softplus(-l) (Goodfellow et al., 2014).

    Same fixed point as the minimax game, but the gradient -sigmoid(-l) tends to -1 where D(G(z)) -> 0.
    """
    return per_sample(F.softplus(-fake_logits))


def classification_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample cross-entropy -log softmax(class_logits)[label] (the auxiliary classifier of Odena et al., 2017)."""
    return F.cross_entropy(class_logits, labels, reduction="none")


@dataclass(frozen=True)
class Game:
    """A pair of losses: the discriminator's (per-sample terms by name) and the generator's."""

    d_loss: Callable[[Tensor, Tensor], dict[str, Tensor]]
    g_loss: Callable[[Tensor], Tensor]
    description: str

    @staticmethod
    def probability(logits: Tensor) -> Tensor:
        """D(x) as a probability, for plots of the discriminator."""
        return torch.sigmoid(logits)


GAMES: dict[str, Game] = {
    "minimax": Game(bce_d_loss, saturating_g_loss, "original minimax game, G minimises log(1 - D(G(z)))"),
    "nonsaturating": Game(bce_d_loss, nonsaturating_g_loss, "non-saturating game, G minimises -log D(G(z))"),
}
