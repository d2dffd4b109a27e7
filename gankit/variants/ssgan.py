"""The semi-supervised GAN with K+1 classes (Salimans et al., 2016): D is a K-class classifier whose implicit
(K+1)-th class, "generated", has its logit fixed at 0, so that D(x) = Z / (Z + 1), Z = Σ_k exp(l_k)
(:func:`gankit.losses.real_logit`). D minimises the cross-entropy of the labelled items (stream ``labelled``:
``options.labels`` of them, drawn by ``options.label_seed``) plus the real/fake cost on unlabelled (stream ``train``)
and generated samples (:func:`gankit.losses.kplus1_d_loss`); G matches the mean of D's last hidden features on
real and generated batches (feature matching, which the paper found best for classification).

The paper's MNIST networks are the presets' (an MLP D with Gaussian noise layers and weight normalisation); its
test classifier is D's Polyak average, kept as the EMA of ``d`` (``train.ema``). ``classify`` gives D's K logits
(the averaged D where kept), ``encode`` its last hidden features, ``decode`` G.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import Config, NetConfig, _positive
from gankit.losses import feature_matching, kplus1_d_loss, real_logit
from gankit.nets import build_generator, build_network
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, labelled_source, latent, noise_spec, register, validate_labels


@dataclass
class SSGANOptions:
    """``labels`` / ``label_seed``: the labelled train items; ``supervised`` / ``unsupervised``: weights of D's
    cross-entropy on them and of its real/fake cost; ``feature_matching``: weight of G's feature-matching cost."""

    labels: int = 100
    label_seed: int = 0
    supervised: float = 1.0
    unsupervised: float = 1.0
    feature_matching: float = 1.0

    def validate(self, cfg: Config) -> None:
        validate_labels(self.labels, self.label_seed)
        _positive("options.supervised", self.supervised)
        _positive("options.unsupervised", self.unsupervised, allow_zero=True)
        _positive("options.feature_matching", self.feature_matching)


@register(
    "ssgan",
    "Salimans et al. (2016): D a K-class classifier with an implicit fake class (logit 0), labelled and unlabelled streams, feature-matching G",
    players={
        "g": NetConfig(arch="mlp", width=500, depth=2, activation="softplus", norm="batch"),
        "d": NetConfig(arch="mlp", width=500, depth=4, activation="relu", input_noise=0.3, noise=0.5, weight_norm=True),
    },
    options=SSGANOptions,
)
def build_ssgan(cfg: Config, data: Any, device: torch.device) -> Variant:
    opts, z_dim, prior = cfg.options, cfg.model.z_dim, cfg.model.z_prior
    shape = tuple(data.fields["x"].shape)
    source, k = labelled_source(cfg, data, opts.labels, opts.label_seed)
    players = {"g": build_generator(cfg.model.g, z_dim, shape).to(device), "d": build_network(cfg.model.d, shape, (k,), critic=True).to(device)}

    def generate(ctx: StepContext) -> Tensor:
        return ctx.players["g"](latent(ctx.n, z_dim, prior, ctx.rng, ctx.device))

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        d = ctx.players["d"]
        with torch.no_grad():
            fake = generate(ctx)
        labelled = ctx.batches["labelled"]
        out = {"d_sup": opts.supervised * F.cross_entropy(d(labelled["x"])["logits"], labelled["y"], reduction="none")}
        unsupervised = kplus1_d_loss(d(ctx.batches["train"]["x"])["logits"], d(fake)["logits"])
        return out | {name: opts.unsupervised * value for name, value in unsupervised.items()}

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        d = ctx.players["d"]
        with torch.no_grad():
            real = d(ctx.batch["x"])["features"]
        return {"g_fm": opts.feature_matching * feature_matching(d(generate(ctx))["features"], real)}

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        real = batches["train"]["x"]
        fake = players["g"](latent(len(real), z_dim, prior, rng, rng.device))
        return torch.sigmoid(real_logit(players["d"](real)["logits"])), torch.sigmoid(real_logit(players["d"](fake)["logits"]))

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"])

    def classify(players: Players, x: Tensor) -> Tensor:
        return players["d"](x)["logits"]

    def encode(players: Players, x: Tensor) -> Tensor:
        return players["d"](x)["features"]

    steps = [Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, streams=("train", "labelled")), Step("g", ("g",), g_objective)]
    return assemble(
        cfg, players, {"g": ("g",), "d": ("d",)}, steps=steps, source=source, latents=noise_spec(z_dim, prior), decode=decode, classify=classify,
        encode=encode, probes={"d": probe}, ema_players=("d",),
    )  # fmt: skip
