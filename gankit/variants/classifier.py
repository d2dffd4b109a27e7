"""The supervised-only baseline of the semi-supervised tables: a classifier trained on the K labelled items alone
(cross-entropy), with no unlabelled data and no adversary. Every semi-supervised model must beat it on the same
labelled draws; with every label (``options.labels`` = the train split's size) it is the fully supervised ceiling.

It runs through the same loop as the GANs: one player ``c`` (a critic-shaped network with K logits), one step on
the ``labelled`` stream of :func:`gankit.data.labelled`. ``classify`` gives its logits, ``encode`` its last hidden
features (for ``gankit probe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.augment import make_augment
from gankit.config import Config, NetConfig
from gankit.nets import build_network
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, labelled_source, register, validate_labels


@dataclass
class ClassifierOptions:
    """``labels``: labelled train items, class-balanced (a multiple of the classes); ``label_seed``: which draw of
    them (:func:`gankit.data.combinators.labelled_subset`, shared with ``gankit probe`` and the semi-supervised
    variants)."""

    labels: int = 100
    label_seed: int = 0

    def validate(self, cfg: Config) -> None:
        validate_labels(self.labels, self.label_seed)


@register(
    "classifier",
    "the supervised-only baseline: a classifier trained on the K labelled items alone (no unlabelled data, no adversary)",
    players={"c": NetConfig(arch="dcgan", width=32, norm="batch")},
    options=ClassifierOptions,
    noise=False,
    augment=True,
)
def build_classifier(cfg: Config, data: Any, device: torch.device) -> Variant:
    opts = cfg.options
    source, classes = labelled_source(cfg, data, opts.labels, opts.label_seed)
    c = build_network(cfg.model.c, data.fields["x"].shape, (classes,), critic=True).to(device)
    augment = make_augment(cfg.train.augment, data.kind)  # random transforms of the labelled inputs (train.augment)

    def objective(ctx: StepContext) -> dict[str, Tensor]:
        batch = ctx.batches["labelled"]
        return {"ce": F.cross_entropy(ctx.players["c"](augment(batch["x"], ctx.rng))["logits"], batch["y"], reduction="none")}

    def classify(players: Players, x: Tensor) -> Tensor:
        return players["c"](x)["logits"]

    def encode(players: Players, x: Tensor) -> Tensor:
        return players["c"](x)["features"]

    return assemble(
        cfg, {"c": c}, {"c": ("c",)}, steps=[Step("c", ("c",), objective, streams=("labelled",))], classify=classify, encode=encode, source=source
    )
