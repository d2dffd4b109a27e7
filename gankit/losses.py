"""Adversarial losses: pure functions of discriminator outputs returning per-sample tensors.

The cross-entropy games (minimax, non-saturating) work on logits ``l`` with D(x) = sigmoid(l), and use softplus
for stability: ``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``. The WGAN, hinge and least-squares
games read the output as a score. A logit tensor of any shape (B, ...) is reduced
to one value per sample by averaging its trailing dimensions (so patch discriminators work unchanged).
The training loop, not the loss, averages over the batch and calls backward.
"""

from __future__ import annotations

import math
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


# ------------------------------------------------------------------------------------------ representation learning
# Losses of the GANs that learn representations (CatGAN, the K+1 semi-supervised GAN) and of the non-adversarial
# baselines (VAE, GLO). Pure and per sample, like the games; a batch statistic (a marginal entropy) is a scalar.


def entropy(logits: Tensor) -> Tensor:
    """Per-sample entropy H[p(y | x)] (nats) of the class distribution softmax(logits): (B, K) -> (B,)."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def marginal_entropy(logits: Tensor) -> Tensor:
    """Entropy of the batch's marginal class distribution H[(1/B) Σ_x p(y | x)] (a scalar: a batch statistic)."""
    log_mean = torch.logsumexp(F.log_softmax(logits, dim=1), dim=0) - math.log(logits.shape[0])
    return -(log_mean.exp() * log_mean).sum()


def catgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """CatGAN's discriminator (Springenberg, 2016, eq. 7), as a cost to minimise: be certain of each real sample's class
    (``d_certain`` = H[p(y|x)]), use every class equally over the real batch (``d_balance`` = -H[p(y)], a scalar) and be
    uncertain of each generated sample's class (``d_uncertain`` = -H[p(y|G(z))])."""
    return {"d_certain": entropy(real_logits), "d_balance": -marginal_entropy(real_logits), "d_uncertain": -entropy(fake_logits)}


def catgan_g_loss(fake_logits: Tensor) -> dict[str, Tensor]:
    """CatGAN's generator (eq. 8): samples D is certain of (``g_certain`` = H[p(y|G(z))]) spread over every class
    (``g_balance`` = -H[p(y)] over the generated batch, a scalar)."""
    return {"g_certain": entropy(fake_logits), "g_balance": -marginal_entropy(fake_logits)}


def real_logit(class_logits: Tensor) -> Tensor:
    """The K+1 classifier's logit of "real" (Salimans et al., 2016): with the fake class's logit fixed at 0,
    D(x) = Z / (Z + 1), Z = Σ_k exp(l_k), so logit D(x) = log Z = logsumexp(l)."""
    return torch.logsumexp(class_logits, dim=1)


def kplus1_d_loss(real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """The unsupervised part of the K+1 discriminator's cost: -log D(x) on unlabelled real samples and -log(1 - D(G(z)))
    on generated ones, D(x) = Z / (Z + 1) (:func:`real_logit`); stable through softplus."""
    return {"d_real": F.softplus(-real_logit(real_logits)), "d_fake": F.softplus(real_logit(fake_logits))}


def feature_matching(fake_features: Tensor, real_features: Tensor) -> Tensor:
    """G's feature-matching cost (Salimans et al., 2016): ‖E f(G(z)) - E f(x)‖², the squared distance between the batch
    means of D's features of generated and of real samples, (B, F) and (B', F) -> a scalar. A batch statistic by its
    definition (one value per batch, not per sample); pass the real features without a graph to match them as a target."""
    return (fake_features.mean(dim=0) - real_features.mean(dim=0)).pow(2).sum()


def l1_loss(output: Tensor, target: Tensor) -> Tensor:
    """The L1 distance per sample, as the mean absolute difference over its elements: (B, ...) -> (B,)."""
    return per_sample((output - target).abs())


def squared_error(output: Tensor, target: Tensor) -> Tensor:
    """The mean squared difference per sample: (B, ...) -> (B,)."""
    return per_sample((output - target).pow(2))


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) per sample = ½ Σ (μ² + σ² - 1 - log σ²): (B, D) -> (B,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def gaussian_nll(x: Tensor, mean: Tensor, sigma: float) -> Tensor:
    """-log N(x; mean, σ² I) per sample, with its constant: ½‖x - mean‖²/σ² + D log(σ √(2π))."""
    d = x[0].numel()
    return 0.5 * (x - mean).pow(2).flatten(1).sum(dim=1) / sigma**2 + d * math.log(sigma * math.sqrt(2 * math.pi))


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """The Laplacian pyramid of images (B, C, H, W): ``levels`` band-pass images, finest first (each the image minus
    its 2x-downsampled-and-upsampled self; 2 x 2 average pooling down, bilinear up), then the coarsest low-pass."""
    out = []
    for _ in range(levels - 1):
        if min(x.shape[-2:]) < 2:
            break
        low = F.avg_pool2d(x, 2, ceil_mode=True)
        out.append(x - F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False))
        x = low
    out.append(x)
    return out


def laplacian_l1(x: Tensor, y: Tensor, levels: int = 4) -> Tensor:
    """GLO's reconstruction loss (Bojanowski et al., 2018): Lap₁(x, y) = Σ_j 2^(2j) ‖L^j(x) - L^j(y)‖₁ over the
    pyramid's levels j (0 finest), ‖·‖₁ summed over a level's pixels, per sample, divided by the image's pixel count
    (a constant, so that the loss reads per pixel). A level has 4^-j of the pixels, so every band weighs alike."""
    total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for j, (a, b) in enumerate(zip(laplacian_pyramid(x, levels), laplacian_pyramid(y, levels), strict=True)):
        total = total + 4.0**j * (a - b).abs().flatten(1).sum(dim=1)
    return total / x[0].numel()
