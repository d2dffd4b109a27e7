"""The categorical GAN (Springenberg, 2016): D is a K-way classifier instead of a real/fake judge. It must be
certain of the class of every real sample (low conditional entropy), use every class equally over the real data
(high marginal entropy) and be uncertain of generated samples (high conditional entropy); G makes samples D is
certain of, spread over every class (:func:`gankit.losses.catgan_d_loss`, :func:`gankit.losses.catgan_g_loss`).
Unsupervised, D's classes are clusters; with ``options.labels`` > 0 (semi-supervised) D also minimises the
cross-entropy of the labelled items (weight ``options.supervised``) and its classes are the labels'. ``train.augment``
transforms every input of D alike (real, labelled and generated).

``classify`` is D's K logits (clusters, or classes when semi-supervised), ``encode`` D's last hidden features,
``decode`` G.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.augment import make_augment
from gankit.config import Config, NetConfig, _positive
from gankit.errors import GankitError
from gankit.losses import catgan_d_loss, catgan_g_loss, entropy
from gankit.nets import build_generator, build_network
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, labelled_source, latent, noise_spec, register, validate_labels


@dataclass
class CatGANOptions:
    """``classes``: K, D's categories when unsupervised (0: the data's number of classes); ``labels``: labelled train
    items for the semi-supervised form (0: unsupervised), drawn by ``label_seed``; ``supervised``: weight of their
    cross-entropy; ``average_d``: keep D's moving average beside G's (``train.ema``), and classify, cluster and encode
    with it (a Polyak-averaged D, as the K+1 GAN's)."""

    classes: int = 0
    labels: int = 0
    label_seed: int = 0
    supervised: float = 1.0
    average_d: bool = False

    def validate(self, cfg: Config) -> None:
        _positive("options.classes", self.classes, allow_zero=True)
        if self.labels:
            validate_labels(self.labels, self.label_seed)
        _positive("options.labels", self.labels, allow_zero=True)
        _positive("options.supervised", self.supervised)
        if self.average_d and not cfg.train.ema:
            raise GankitError("options.average_d keeps D's moving average with decay train.ema, which is 0 (off): set train.ema, e.g. 0.999")


@register(
    "catgan",
    "Springenberg (2016): D a K-way classifier, certain of real samples' classes, balanced over classes, uncertain of fakes; clusters or semi-supervised",
    # D spectrally normalised without batch norm, as every shipped catgan preset (its classifier's error fell by a
    # third against a batch-normalised D: catgan-semi-mnist's comment)
    players={"g": NetConfig(arch="dcgan", width=32, norm="batch"), "d": NetConfig(arch="dcgan", width=32, norm="none", sn=True)},
    options=CatGANOptions,
    augment=True,
)
def build_catgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    opts, z_dim, prior = cfg.options, cfg.model.z_dim, cfg.model.z_prior
    shape = tuple(data.fields["x"].shape)
    source = None
    if opts.labels:
        source, k = labelled_source(cfg, data, opts.labels, opts.label_seed)
        if opts.classes and opts.classes != k:
            raise GankitError(f"options.classes={opts.classes}, but the labelled data has {k} classes; leave options.classes at 0")
    else:
        label = data.fields.get("y")
        k = opts.classes or (label.classes if label is not None and label.kind == "label" else 0)
        if k < 2:
            raise GankitError(f"CatGAN needs K >= 2 categories: set options.classes (data '{cfg.data.name}' has no classes to take K from)")
    players = {"g": build_generator(cfg.model.g, z_dim, shape).to(device), "d": build_network(cfg.model.d, shape, (k,), critic=True).to(device)}
    augment = make_augment(cfg.train.augment, data.kind)  # the same random transforms of every input of D: real, labelled and fake

    def logits(d: torch.nn.Module, x: Tensor, rng: torch.Generator) -> Tensor:
        return d(augment(x, rng))["logits"]

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        d = ctx.players["d"]
        with torch.no_grad():
            fake = ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))
        out = catgan_d_loss(logits(d, ctx.batches["train"]["x"], ctx.rng), logits(d, fake, ctx.rng))
        if opts.labels:
            batch = ctx.batches["labelled"]
            out["d_sup"] = opts.supervised * F.cross_entropy(logits(d, batch["x"], ctx.rng), batch["y"], reduction="none")
        return out

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        return catgan_g_loss(logits(ctx.players["d"], ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device)), ctx.rng))

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """Certainty 1 - H[p(y|x)] / log K of real and of generated samples (1: one class, 0: uniform)."""
        real = batches["train"]["x"]
        fake = players["g"](latent(len(real), z_dim, prior, rng, rng.device))
        scale = torch.log(torch.tensor(float(k)))
        return 1 - entropy(players["d"](real)["logits"]) / scale, 1 - entropy(players["d"](fake)["logits"]) / scale

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"])

    def classify(players: Players, x: Tensor) -> Tensor:
        return players["d"](x)["logits"]

    def encode(players: Players, x: Tensor) -> Tensor:
        return players["d"](x)["features"]

    streams = ("train", "labelled") if opts.labels else ("train",)
    steps = [Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, streams=streams), Step("g", ("g",), g_objective, streams=())]
    return assemble(
        cfg, players, {"g": ("g",), "d": ("d",)}, steps=steps, source=source, latents=noise_spec(z_dim, prior), decode=decode, classify=classify,
        clusters=not opts.labels, encode=encode, probes={"d": probe}, ema_players=("g", "d") if opts.average_d else ("g",),
    )  # fmt: skip
