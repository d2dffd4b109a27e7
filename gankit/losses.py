"""Adversarial losses: pure functions of discriminator outputs returning per-sample tensors.

The cross-entropy games (minimax, non-saturating) work on logits ``l`` with D(x) = sigmoid(l), and use softplus
for stability: ``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``. The WGAN, hinge and least-squares
games read the output as a score. A logit tensor of any shape (B, ...) is reduced
to one value per sample by averaging its trailing dimensions (so patch discriminators work unchanged).
The training loop, not the loss, averages over the batch and calls backward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

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


def smoothed_bce_d_loss(real_logits: Tensor, fake_logits: Tensor, real_label: float) -> dict[str, Tensor]:
    """One-sided label smoothing (Salimans et al., 2016): real samples get the target ``real_label`` (e.g. 0.9)
    instead of 1, fake samples keep 0. Per real sample: -[α log D(x) + (1 - α) log(1 - D(x))]."""
    d_real = real_label * F.softplus(-real_logits) + (1.0 - real_label) * F.softplus(real_logits)
    return {"d_real": per_sample(d_real), "d_fake": per_sample(F.softplus(fake_logits))}


def wasserstein_d_loss(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """The WGAN critic (Arjovsky et al., 2017) maximises E[f(x)] - E[f(G(z))]: it minimises -f(x) and f(G(z)).
    The critic's output is a score, not a probability; a Lipschitz constraint (clipping, gradient penalty,
    spectral norm) makes the batch-mean difference an estimate of the Wasserstein-1 distance."""
    return {"d_real": per_sample(-real_logits), "d_fake": per_sample(fake_logits)}


def wasserstein_g_loss(fake_logits: Tensor) -> Tensor:
    """The WGAN generator minimises -f(G(z)); also the hinge game's generator loss (Lim & Ye, 2017; Miyato et al., 2018)."""
    return per_sample(-fake_logits)


def least_squares_d_loss(real_logits: Tensor, fake_logits: Tensor, a: float = 0.0, b: float = 1.0) -> dict[str, Tensor]:
    """LSGAN (Mao et al., 2017): D regresses real samples to ``b`` and fake ones to ``a``: ½(D(x) - b)², ½(D(G(z)) - a)²."""
    return {"d_real": per_sample(0.5 * (real_logits - b) ** 2), "d_fake": per_sample(0.5 * (fake_logits - a) ** 2)}


def least_squares_g_loss(fake_logits: Tensor, c: float = 1.0) -> Tensor:
    """LSGAN generator: ½(D(G(z)) - c)². With a = -1, b = 1, c = 0 the game minimises the Pearson χ² divergence;
    a = 0, b = c = 1 is the common 0-1 coding."""
    return per_sample(0.5 * (fake_logits - c) ** 2)


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """The hinge game's discriminator (Lim & Ye, 2017; Miyato et al., 2018): max(0, 1 - D(x)) + max(0, 1 + D(G(z)))."""
    return {"d_real": per_sample(F.relu(1.0 - real_logits)), "d_fake": per_sample(F.relu(1.0 + fake_logits))}


def classification_loss(class_logits: Tensor, labels: Tensor) -> Tensor:
    """Per-sample cross-entropy -log softmax(class_logits)[label] (the auxiliary classifier of Odena et al., 2017)."""
    return F.cross_entropy(class_logits, labels, reduction="none")


@dataclass(frozen=True)
class Game:
    """A pair of losses: the discriminator's (per-sample terms by name) and the generator's. ``scores`` marks games
    whose discriminator output is a score (WGAN, hinge, LSGAN) rather than the logit of a probability."""

    d_loss: Callable[[Tensor, Tensor], dict[str, Tensor]]
    g_loss: Callable[[Tensor], Tensor]
    description: str
    scores: bool = False

    def probability(self, logits: Tensor) -> Tensor:
        """D(x) as a probability, for plots of the discriminator (a critic's score goes through a sigmoid too:
        monotone, so the plot still shows where the critic prefers samples)."""
        return torch.sigmoid(logits)


@dataclass(frozen=True)
class GameEntry:
    build: Callable[[Any], Game]
    description: str


def _bce_game(g_loss: Callable[[Tensor], Tensor], description: str) -> Callable[[Any], Game]:
    def build(cfg: Any) -> Game:
        if cfg.real_label == 1.0:
            return Game(bce_d_loss, g_loss, description)
        label = cfg.real_label
        return Game(partial(smoothed_bce_d_loss, real_label=label), g_loss, f"{description}; one-sided label smoothing, real target {label:g}")

    return build


def _least_squares(cfg: Any) -> Game:
    a, b, c = cfg.ls_a, cfg.ls_b, cfg.ls_c
    return Game(partial(least_squares_d_loss, a=a, b=b), partial(least_squares_g_loss, c=c), f"least squares (LSGAN), a={a:g} b={b:g} c={c:g}", True)


GAMES: dict[str, GameEntry] = {
    "minimax": GameEntry(_bce_game(saturating_g_loss, "original minimax game, G minimises log(1 - D(G(z)))"), "Goodfellow et al. (2014), saturating"),
    "nonsaturating": GameEntry(_bce_game(nonsaturating_g_loss, "non-saturating game, G minimises -log D(G(z))"), "Goodfellow et al. (2014), -log D"),
    "wgan": GameEntry(lambda cfg: Game(wasserstein_d_loss, wasserstein_g_loss, "Wasserstein critic, G minimises -f(G(z))", True), "Arjovsky et al. (2017)"),
    "lsgan": GameEntry(_least_squares, "Mao et al. (2017), targets loss.ls_a/ls_b/ls_c"),
    "hinge": GameEntry(
        lambda cfg: Game(hinge_d_loss, wasserstein_g_loss, "hinge discriminator, G minimises -D(G(z))", True), "Lim & Ye (2017), Miyato et al. (2018)"
    ),
}
BCE_GAMES = ("minimax", "nonsaturating")


def make_game(cfg: Any) -> Game:
    """The game of a :class:`~gankit.config.LossConfig` (``name`` and its options)."""
    return GAMES[cfg.name].build(cfg)
