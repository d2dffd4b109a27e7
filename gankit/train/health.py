"""The divergence and collapse watchdog: warnings, on top of the NaN guard, for the failures the lectures describe.

Three checks, none of which stops a run (a warning goes to the progress bar and to ``metrics.jsonl``):

- **The discriminator wins outright** (the vanishing-gradient regime of the minimax game): at
  ``SEPARATION_PATIENCE`` checks in a row, D ranks every real sample of the last training batch above every
  fixed-noise sample (area under the ROC curve ≥ ``SEPARATION_LIMIT``). Game-agnostic: it compares D's outputs,
  so it reads the same for probabilities, critic scores and hinge margins.
- **A loss explodes**: a logged loss's magnitude exceeds ``EXPLOSION_FACTOR`` times the median magnitude of its
  last ``HISTORY`` logged values (and 10 in absolute terms); before half that history exists, a magnitude above
  ``EXPLOSION_ABSOLUTE`` (a run that blows up at once, e.g. a learning rate of 10).
- **Sample diversity collapses** (mode collapse): the mean pairwise distance of the fixed-noise samples'
  features falls below ``DIVERSITY_FLOOR`` of the real data's. Features: the digit judge's for MNIST-like data
  (per channel for Stacked MNIST), the coordinates for toys, the pixels otherwise.

Checks run at each snapshot (``train.sample_every``) from ``train.watchdog_start`` on; ``train.watchdog: false``
turns them off. Health values (diversity ratio, D's real/fake AUC) are logged as ``{"step", "health", "warnings"}``
records beside the loss records.
"""

from __future__ import annotations

import functools
import statistics
from collections import deque
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

SEPARATION_LIMIT = 0.999
SEPARATION_PATIENCE = 3
EXPLOSION_FACTOR = 50.0
EXPLOSION_FLOOR = 10.0
EXPLOSION_ABSOLUTE = 1e6  # before HISTORY // 2 values are logged, a loss this large warns by itself
HISTORY = 20
DIVERSITY_FLOOR = 0.5
MAX_PAIRS_N = 1000
JUDGED_DATA = ("mnist5k", "stacked-mnist")


def mean_pairwise_distance(features: Tensor) -> float:
    """Mean Euclidean distance between distinct rows (at most the first MAX_PAIRS_N rows)."""
    x = features[:MAX_PAIRS_N].double().flatten(1)
    n = len(x)
    if n < 2:
        return float("nan")
    return float(torch.cdist(x, x).sum() / (n * (n - 1)))


def separation(real_scores: Tensor, fake_scores: Tensor) -> float:
    """AUC: the probability that D scores a real sample above a fake one (ties count half)."""
    r, f = real_scores.reshape(-1, 1).double(), fake_scores.reshape(1, -1).double()
    return float((r > f).double().mean() + 0.5 * (r == f).double().mean())


def feature_map(data_name: str, kind: str) -> Callable[[Tensor], Tensor]:
    """Features for the diversity check, of samples in the model's range ([-1, 1] for images)."""
    if kind == "images" and data_name in JUDGED_DATA:
        from gankit.data.images import to_unit_range
        from gankit.metrics.extractors import build_extractor

        @functools.cache
        def judge() -> Callable[[Tensor], Tensor]:
            """Built at the first check, not at run start, and without drawing from torch's global generator (its
            layers' default initialisation would): a run resumed past its first check must draw what it would have."""
            with torch.random.fork_rng(devices=[]):
                return build_extractor("mnist", progress=False)

        return lambda x: judge()(to_unit_range(x.float().cpu()))
    return lambda x: x.detach().float().cpu().flatten(1)


class Watchdog:
    """The checks' memory (recent losses, the data's spread, D's winning streak) is checkpointed with the run
    (:meth:`state_dict`), so that a resumed run warns exactly as the uninterrupted one would. ``advice``: what an
    exploding loss's warning suggests (the run's learning rates, :func:`gankit.train.watchdog.lr_advice`)."""

    def __init__(self, features: Callable[[Tensor], Tensor], advice: str = "lower the learning rates", game: str = "minimax") -> None:
        self.features = features
        self.advice = advice
        remedies = {"nonsaturating": "the non-saturating loss", "wgan": "a Wasserstein loss", "hinge": "the hinge loss"}
        others = [text for name, text in remedies.items() if name != game]  # not the game the run already plays
        self.separation_advice = f"try {', '.join(others)}, label smoothing (loss.real_label=0.9), a gradient penalty or R1"
        self.history: dict[str, deque[float]] = {}
        self.data_spread: float | None = None
        self.winning: dict[str, int] = {}  # per discriminator: checks in a row at which it separated perfectly

    def state_dict(self) -> dict[str, Any]:
        return {"history": {k: list(v) for k, v in self.history.items()}, "data_spread": self.data_spread, "winning": dict(self.winning)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = {k: deque((float(x) for x in v), maxlen=HISTORY) for k, v in state["history"].items()}
        self.data_spread = None if state["data_spread"] is None else float(state["data_spread"])
        winning = state["winning"]
        self.winning = {str(k): int(v) for k, v in winning.items()} if isinstance(winning, dict) else {"d": int(winning)}

    def check_losses(self, values: dict[str, float]) -> list[str]:
        warnings = []
        for key, value in values.items():
            past = self.history.setdefault(key, deque(maxlen=HISTORY))
            if len(past) >= HISTORY // 2:
                typical = statistics.median(abs(v) for v in past)
                if abs(value) > max(EXPLOSION_FACTOR * typical, EXPLOSION_FLOOR):
                    warnings.append(f"loss '{key}' exploded to {value:.4g} (typically {typical:.3g} of late); {self.advice}, or add a penalty")
            elif abs(value) > EXPLOSION_ABSOLUTE:  # too early for a history (a run that blows up at once): its size alone
                warnings.append(f"loss '{key}' is {value:.4g} within the first logged steps, far beyond any healthy game's; {self.advice}")
            past.append(value)
        return warnings

    def check_samples(self, real: Tensor, fake: Tensor, scores: dict[str, tuple[Tensor, Tensor]]) -> tuple[dict[str, float], list[str]]:
        """``real``: the last training batch; ``fake``: the snapshot's samples (fixed noise or fixed inputs);
        ``scores``: per discriminator, its (real scores, fake scores) from the variant's probe. Health keys:
        ``diversity`` and ``d_auc`` for a discriminator named d, ``<name>_auc`` for the others."""
        health: dict[str, float] = {}
        warnings: list[str] = []
        if self.data_spread is None:
            self.data_spread = mean_pairwise_distance(self.features(real))
        spread = mean_pairwise_distance(self.features(fake))
        if self.data_spread and self.data_spread > 0:
            ratio = spread / self.data_spread
            health["diversity"] = round(ratio, 6)
            if ratio < DIVERSITY_FLOOR:
                warnings.append(
                    f"sample diversity collapsed: fixed-noise samples are {ratio:.0%} as spread as the data (mode collapse?); "
                    "try a gradient penalty, spectral norm, PacGAN packing or unrolling"
                )
        for name, (real_scores, fake_scores) in scores.items():
            auc = separation(real_scores, fake_scores)
            health["d_auc" if name == "d" else f"{name}_auc"] = round(auc, 6)
            self.winning[name] = self.winning.get(name, 0) + 1 if auc >= SEPARATION_LIMIT else 0
            if self.winning[name] == SEPARATION_PATIENCE:
                who = "the discriminator" if name == "d" else f"discriminator '{name}'"
                warnings.append(
                    f"{who} separates real from generated samples perfectly at {SEPARATION_PATIENCE} checks in a row; "
                    f"G's gradients may vanish ({self.separation_advice})"
                )
        return health, warnings
