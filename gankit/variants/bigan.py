"""BiGAN / ALI (Donahue et al., 2017; Dumoulin et al., 2017): an encoder E learnt beside the generator G by a
discriminator of joint pairs, real (x, E(x)) against generated (G(z), z):

    V(D, E, G) = E_x log D(x, E(x)) + E_z log(1 - D(G(z), z)).

D is three players in one optimiser group: ``dx`` reads the image to a feature vector, ``dz`` the code to a
feature vector, and ``dj`` scores their concatenation. G and E are one group that plays the game's other side
(non-saturating: each pair is pushed towards the label of the other kind). At the optimum E inverts G. With
``options.unary`` D also scores the image alone and the code alone (BigBiGAN), and each pair's loss sums the three.
``encode`` is E(x); ``translate`` (direction ``reconstruct``) is G(E(x)), the reconstructions of the paper's
figure. ``train.augment`` transforms the images D reads (real and generated alike; Zhao et al.'s DiffAugment), while E
encodes the untransformed digit: a real pair is (T(x), E(x)), and D memorises the 4,500 training images less easily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.augment import make_augment
from gankit.config import Config, NetConfig, _positive
from gankit.nets import build_generator, build_network
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, latent, noise_spec, register


@dataclass
class BiGANOptions:
    """``features``: width of the feature vectors ``dx`` and ``dz`` give the joint scorer ``dj``; ``unary``: D also
    scores the image and the code each on its own (BigBiGAN's unary terms, Donahue & Simonyan, 2019): ``dx`` and
    ``dz`` give one more output each, a linear score of their last hidden layer, and every pair's loss is the sum of
    the joint and both unary terms."""

    features: int = 256
    unary: bool = False

    def validate(self, cfg: Config) -> None:
        _positive("options.features", self.features)


@register(
    "bigan",
    "Donahue et al. (2017) / Dumoulin et al. (2017): an encoder E beside G, D on joint pairs (x, E(x)) vs (G(z), z)",
    players={
        "g": NetConfig(arch="dcgan", width=32, norm="batch"),
        "e": NetConfig(arch="dcgan", width=32, norm="batch"),
        "dx": NetConfig(arch="dcgan", width=32, norm="none"),
        "dz": NetConfig(arch="mlp", width=256, depth=1, activation="leaky_relu"),
        "dj": NetConfig(arch="mlp", width=256, depth=1, activation="leaky_relu"),
    },
    groups=("ge", "d"),
    options=BiGANOptions,
    augment=True,
)
def build_bigan(cfg: Config, data: Any, device: torch.device) -> Variant:
    z_dim, prior, k = cfg.model.z_dim, cfg.model.z_prior, cfg.options.features
    u = int(cfg.options.unary)  # the unary score: one more output of dx and of dz
    shape = tuple(data.fields["x"].shape)
    players = {
        "g": build_generator(cfg.model.g, z_dim, shape).to(device),
        "e": build_network(cfg.model.e, shape, (z_dim,), critic=False).to(device),
        "dx": build_network(cfg.model.dx, shape, (k + u,), critic=False).to(device),
        "dz": build_network(cfg.model.dz, (z_dim,), (k + u,), critic=False).to(device),
        "dj": build_network(cfg.model.dj, (2 * k,), (1,), critic=True).to(device),
    }

    augment = make_augment(cfg.train.augment, data.kind)  # DiffAugment on D's image input, real and generated pairs alike

    def scores(players: Players, x: Tensor, z: Tensor) -> Tensor:
        """D's logits of the pairs (x, z): (B, 1), the joint score; with ``unary`` (B, 3), joint, image's, code's."""
        fx, fz = players["dx"](x), players["dz"](z)
        h = torch.cat([F.leaky_relu(fx[:, :k], 0.2), F.leaky_relu(fz[:, :k], 0.2)], dim=1)
        return torch.cat([players["dj"](h)["logits"].reshape(-1, 1), fx[:, k:], fz[:, k:]], dim=1)

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batch["x"]
        z = latent(ctx.n, z_dim, prior, ctx.rng, ctx.device)
        with torch.no_grad():
            code, image = ctx.players["e"](x), ctx.players["g"](z)
        real, fake = scores(ctx.players, augment(x, ctx.rng), code), scores(ctx.players, augment(image, ctx.rng), z)
        return {"d_real": F.softplus(-real).sum(1), "d_fake": F.softplus(fake).sum(1)}

    def ge_objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batch["x"]
        z = latent(ctx.n, z_dim, prior, ctx.rng, ctx.device)
        real = scores(ctx.players, augment(x, ctx.rng), ctx.players["e"](x))
        fake = scores(ctx.players, augment(ctx.players["g"](z), ctx.rng), z)
        return {"e": F.softplus(real).sum(1), "g": F.softplus(-fake).sum(1)}  # non-saturating, both pairs towards the other label

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        x = batches["train"]["x"]
        z = latent(len(x), z_dim, prior, rng, rng.device)
        return torch.sigmoid(scores(players, x, players["e"](x))[:, 0]), torch.sigmoid(scores(players, players["g"](z), z)[:, 0])  # the joint score

    def decode(players: Players, latents: dict[str, Tensor]) -> Tensor:
        return players["g"](latents["z"])

    def encode(players: Players, x: Tensor) -> Tensor:
        return players["e"](x)

    def reconstruct(players: Players, x: Tensor, direction: str) -> Tensor:
        return players["g"](players["e"](x))

    steps = [Step("d", ("d",), d_objective, repeat=cfg.train.d_steps), Step("ge", ("ge",), ge_objective)]
    return assemble(
        cfg, players, {"ge": ("g", "e"), "d": ("dx", "dz", "dj")}, steps=steps, latents=noise_spec(z_dim, prior), decode=decode, encode=encode,
        translate=reconstruct, directions={"reconstruct": ("x", "x")}, probes={"d": probe}, ema_players=("g",),
    )  # fmt: skip
