"""The adversarial autoencoder (Makhzani et al., 2016): an autoencoder whose code distribution is made to match a
prior by adversaries on the code space, trained in phases each iteration:

1. reconstruction: the encoder E and decoder G minimise ‖x - G(E(x))‖² (per pixel, mean);
2. regularisation: the adversary ``dz`` tells prior draws z ~ N(0, I) from codes E(x); then E fools it;
3. (``semi``) supervised: E's categorical head is trained on the labelled items by cross-entropy.

``mode``: ``unsupervised`` (E(x) = z), ``semi`` (E(x) = (y, z): a softmax y over the K classes with its own
adversary ``dy`` against one-hot categorical draws, z the style, G decodes (y, z); plus phase 3 on
``options.labels`` labelled items) or ``cluster`` (the same without labels, y over ``options.clusters`` clusters:
the unsupervised clustering of the paper, 16 or 30 clusters for MNIST).

``decode`` is G on prior draws (with the category as the latent part ``y``), ``encode`` E(x) (y's probabilities
and z), ``classify`` y's logits (classes, or clusters), ``translate`` (``reconstruct``) G(E(x)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.config import Config, NetConfig, _choice, _positive
from gankit.errors import GankitError
from gankit.losses import squared_error
from gankit.nets import build_network
from gankit.variants.base import LatentPart, LatentSpec, Players, Step, StepContext, Variant, assemble, labelled_source, register, validate_labels


@dataclass
class AAEOptions:
    """``mode``: unsupervised, semi or cluster; ``clusters``: categories of the cluster mode; ``labels`` /
    ``label_seed``: the labelled items of the semi mode; ``reconstruction`` / ``supervised``: weights of those
    phases' losses; ``code_norm``: batch-normalise the category's logits in E (each category's logit standardised over
    the batch). Without it the clustering form put all 500 test digits in one cluster here: E's softmax saturates on
    the category most items share at the start, and its gradient (p(1 - p)) vanishes before ``dy`` can spread them."""

    mode: str = "unsupervised"
    clusters: int = 16
    labels: int = 100
    label_seed: int = 0
    reconstruction: float = 1.0
    supervised: float = 1.0
    code_norm: bool = False

    def validate(self, cfg: Config) -> None:
        _choice("options.mode", self.mode, ["unsupervised", "semi", "cluster"])
        _positive("options.clusters", self.clusters)
        validate_labels(self.labels, self.label_seed)
        _positive("options.reconstruction", self.reconstruction)
        _positive("options.supervised", self.supervised)
        if self.code_norm and self.mode == "unsupervised":
            raise GankitError("options.code_norm normalises the category's logits: set options.mode to semi or cluster (the unsupervised AAE has no category)")
        if cfg.model.z_prior != "normal":
            raise GankitError(f"the AAE's code prior is N(0, I) here: model.z_prior must be normal (got {cfg.model.z_prior})")


class _NormedCategory(torch.nn.Module):
    """An encoder whose first ``k`` outputs (the category's logits) are batch-normalised: each category's logit is
    standardised over the batch (then scaled and shifted by learned γ, β), so that no one category can hold the
    largest logit of every item."""

    def __init__(self, net: torch.nn.Module, k: int) -> None:
        super().__init__()
        self.net, self.k, self.norm = net, k, torch.nn.BatchNorm1d(k)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x)
        return torch.cat([self.norm(out[:, : self.k]), out[:, self.k :]], dim=1)


def _players(mode: str) -> tuple[str, ...]:
    return ("e", "g", "dz", "dy") if mode != "unsupervised" else ("e", "g", "dz")


@register(
    "aae",
    "Makhzani et al. (2016): an autoencoder whose codes are matched to a prior by adversaries on the code space; unsupervised, semi-supervised, clustering",
    players={
        "e": NetConfig(arch="mlp", width=512, depth=2, activation="relu"),
        "g": NetConfig(arch="mlp", width=512, depth=2, activation="relu"),
        "dz": NetConfig(arch="mlp", width=512, depth=2, activation="relu"),
        "dy": NetConfig(arch="mlp", width=512, depth=2, activation="relu"),
    },
    groups=("ae", "d", "gen", "sup"),
    options=AAEOptions,
)
def build_aae(cfg: Config, data: Any, device: torch.device) -> Variant:
    opts, z_dim = cfg.options, cfg.model.z_dim
    shape = tuple(data.fields["x"].shape)
    source, k = None, 0
    if opts.mode == "semi":
        source, k = labelled_source(cfg, data, opts.labels, opts.label_seed)
    elif opts.mode == "cluster":
        k = opts.clusters
    encoder = build_network(cfg.model.e, shape, (k + z_dim,), critic=False)
    if k and opts.code_norm:
        encoder = _NormedCategory(encoder, k)
    players = {
        "e": encoder.to(device),
        "g": build_network(cfg.model.g, (k + z_dim,), shape, critic=False).to(device),
        "dz": build_network(cfg.model.dz, (z_dim,), (1,), critic=True).to(device),
    }
    if k:
        players["dy"] = build_network(cfg.model.dy, (k,), (1,), critic=True).to(device)

    def codes(players: Players, x: Tensor) -> tuple[Tensor | None, Tensor]:
        """E(x) as (y's logits or None, z)."""
        out = players["e"](x)
        return (out[:, :k], out[:, k:]) if k else (None, out)

    def decoder_input(y: Tensor | None, z: Tensor) -> Tensor:
        return torch.cat([y, z], dim=1) if y is not None else z

    def recon_objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batch["x"]
        y, z = codes(ctx.players, x)
        out = ctx.players["g"](decoder_input(y.softmax(dim=1) if y is not None else None, z))
        return {"recon": opts.reconstruction * squared_error(out, x)}

    def prior(n: int, ctx: StepContext) -> tuple[Tensor | None, Tensor]:
        z = torch.randn(n, z_dim, generator=ctx.rng, device=ctx.device)
        y = F.one_hot(torch.randint(k, (n,), generator=ctx.rng, device=ctx.device), k).float() if k else None
        return y, z

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        with torch.no_grad():
            y, z = codes(ctx.players, ctx.batch["x"])
        py, pz = prior(ctx.n, ctx)
        dz = ctx.players["dz"]
        out = {"dz_prior": F.softplus(-dz(pz)["logits"].reshape(-1)), "dz_code": F.softplus(dz(z)["logits"].reshape(-1))}
        if k:
            dy = ctx.players["dy"]
            out |= {"dy_prior": F.softplus(-dy(py)["logits"].reshape(-1)), "dy_code": F.softplus(dy(y.softmax(dim=1))["logits"].reshape(-1))}
        return out

    def gen_objective(ctx: StepContext) -> dict[str, Tensor]:
        y, z = codes(ctx.players, ctx.batch["x"])
        out = {"e_z": F.softplus(-ctx.players["dz"](z)["logits"].reshape(-1))}
        if k:
            out["e_y"] = F.softplus(-ctx.players["dy"](y.softmax(dim=1))["logits"].reshape(-1))
        return out

    def sup_objective(ctx: StepContext) -> dict[str, Tensor]:
        batch = ctx.batches["labelled"]
        y, _ = codes(ctx.players, batch["x"])
        return {"sup": opts.supervised * F.cross_entropy(y, batch["y"], reduction="none")}

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        _, z = codes(players, batches["train"]["x"])
        pz = torch.randn(len(z), z_dim, generator=rng, device=rng.device)
        return torch.sigmoid(players["dz"](pz)["logits"].reshape(-1)), torch.sigmoid(players["dz"](z)["logits"].reshape(-1))

    parts = (LatentPart("z", "normal", z_dim), *((LatentPart("y", "categorical", k),) if k else ()))

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        y = F.one_hot(latents["y"], k).to(latents["z"].dtype) if k else None
        return players["g"](decoder_input(y, latents["z"]))

    def encode(players: Players, x: Tensor) -> Tensor:
        y, z = codes(players, x)
        return torch.cat([y.softmax(dim=1), z], dim=1) if y is not None else z

    def classify(players: Players, x: Tensor) -> Tensor:
        return codes(players, x)[0]

    def reconstruct(players: Players, x: Tensor, direction: str) -> Tensor:
        y, z = codes(players, x)
        return players["g"](decoder_input(y.softmax(dim=1) if y is not None else None, z))

    d_players = ("dz", "dy") if k else ("dz",)
    steps = [Step("recon", ("ae",), recon_objective), Step("d", ("d",), d_objective, repeat=cfg.train.d_steps), Step("gen", ("gen",), gen_objective)]
    groups = {"ae": ("e", "g"), "d": d_players, "gen": ("e",)}
    if opts.mode == "semi":
        steps.append(Step("sup", ("sup",), sup_objective, streams=("labelled",)))
        groups["sup"] = ("e",)
    return assemble(
        cfg, {name: players[name] for name in _players(opts.mode)}, groups, steps=steps, source=source, latents=LatentSpec(parts), decode=decode,
        encode=encode, classify=classify if k else None, clusters=opts.mode == "cluster", translate=reconstruct,
        directions={"reconstruct": ("x", "x")}, probes={"dz": probe},
    )  # fmt: skip
