"""StarGAN (Choi et al., 2018): one generator translates among K domains, learnt from images each labelled with its
one domain (no pairs, no image seen in two domains).

G(x, c) sees the image with the one-hot target domain c broadcast as K more input channels (a translator network,
image -> image). D has two heads on one trunk: the adversarial output D_src and a K-way domain classifier D_cls
(``class_logits``). With c' the real image's own domain and c a target drawn uniformly from the K domains by the
loop's noise generator (the paper: a shuffle of the batch's labels, so c may equal c'), the objectives are

    L_D = L_adv^D(x, G(x, c)) + λ_cls · E[−log D_cls(c' | x)]
    L_G = L_adv^G(G(x, c)) + λ_cls · E[−log D_cls(c | G(x, c))] + λ_rec · E[‖x − G(G(x, c), c')‖₁]

with the game of ``loss.*`` (the paper: WGAN-GP, λ_gp = 10, five D steps per G step) and λ_cls = 1, λ_rec = 10 by
default. As in the paper, each D step draws its own batch (and its own targets), then the G step draws one.

The domain label is the data's field ``options.domain`` (``domain`` in ``digit-domains``, whose ``y`` is the digit's
class, read by the judge in evaluation; ``y`` for a folder with one sub-folder per domain and ``data.labels=true``).
``translate`` has one direction per domain, ``to-<name>`` (the names of the domain label's classes; ``gankit
translate --direction to-thin``; the first is the default): every input goes to that domain, whatever its own (the
generator never needs the source domain). Directions read and write the field ``x``: none is another's inverse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import Config, NetConfig, _positive
from gankit.errors import GankitError
from gankit.losses import classification_loss, l1_loss, make_game
from gankit.nets import build_network
from gankit.regularizers import clip_weights
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, d_penalties, mean_logit, random_labels, register


@dataclass
class StarGANOptions:
    """``classification``: λ_cls of both players' domain-classification terms (1); ``reconstruction``: λ_rec of the
    reconstruction G(G(x, c), c') ≈ x (10; 0: off, the paper's ablation); ``domain``: the data's label field that holds
    each image's domain."""

    classification: float = 1.0
    reconstruction: float = 10.0
    domain: str = "domain"

    def validate(self, cfg: Config) -> None:
        _positive("options.classification", self.classification)
        _positive("options.reconstruction", self.reconstruction, allow_zero=True)


def with_domain(x: Tensor, domains: Tensor, k: int) -> Tensor:
    """G's input: images (B, C, H, W) with the one-hot domains (B,) broadcast as K constant planes: (B, C + K, H, W)."""
    planes = F.one_hot(domains, k).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return torch.cat([x, planes], dim=1)


def direction_name(domain: str) -> str:
    return f"to-{domain}"


@register(
    "stargan",
    "Choi et al. (2018): one generator G(x, c) among K domains, D with an adversarial and a domain-classification head, reconstruction",
    players={"g": NetConfig(arch="resnet", width=64, depth=6, norm="batch"), "d": NetConfig(arch="dcgan", width=64, norm="none")},
    options=StarGANOptions,
    noise=False,
)
def build_stargan(cfg: Config, data: Any, device: torch.device) -> Variant:
    fields, opts = data.fields, cfg.options
    field = opts.domain
    label = fields.get(field)
    if "x" not in fields or fields["x"].kind != "image" or label is None or label.kind != "label" or label.classes < 2:
        raise GankitError(
            f"variant 'stargan' translates images x among the domains of the label options.domain={field}; data '{cfg.data.name}' has fields "
            f"{', '.join(fields)} (use digit-domains, or a folder with one sub-folder per domain, data.labels=true and options.domain=y)"
        )
    game, loss = make_game(cfg.loss), cfg.loss
    shape, k = tuple(fields["x"].shape), label.classes
    names = label.names if len(label.names) == k else tuple(str(i) for i in range(k))
    players = {
        "g": build_network(cfg.model.g, (shape[0] + k, *shape[1:]), shape).to(device),
        "d": build_network(cfg.model.d, shape, (1,), num_classes=k, conditioning="aux").to(device),
    }

    def generate(g: nn.Module, x: Tensor, domains: Tensor) -> Tensor:
        return g(with_domain(x, domains, k))

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        p = ctx.players
        real, source = ctx.batch["x"], ctx.batch[field]
        target = random_labels(len(real), k, ctx.rng, real.device)
        with torch.no_grad():
            fake = generate(p["g"], real, target)
        out_real, out_fake = p["d"](real), p["d"](fake)
        losses = game.d_loss(out_real["logits"], out_fake["logits"])
        losses["d_cls"] = opts.classification * classification_loss(out_real["class_logits"], source)
        return losses | d_penalties(loss, lambda x: mean_logit(p["d"], x), real, fake, ctx.rng)

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        p = ctx.players
        real, source = ctx.batch["x"], ctx.batch[field]
        target = random_labels(len(real), k, ctx.rng, real.device)
        fake = generate(p["g"], real, target)
        out = p["d"](fake)
        losses = {"g_adv": game.g_loss(out["logits"]), "g_cls": opts.classification * classification_loss(out["class_logits"], target)}
        if opts.reconstruction:
            losses["g_rec"] = opts.reconstruction * l1_loss(generate(p["g"], fake, source), real)
        return losses

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        domain = names.index(direction.removeprefix("to-"))
        return generate(players["g"], x, torch.full((len(x),), domain, dtype=torch.long, device=x.device))

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        x = batches["train"]["x"]
        target = random_labels(len(x), k, rng, x.device)
        return mean_logit(players["d"], x), mean_logit(players["d"], generate(players["g"], x, target))

    def clip(ctx: StepContext) -> None:
        clip_weights(ctx.players["d"], cfg.loss.clip)

    return assemble(
        cfg, players, {"g": ("g",), "d": ("d",)},
        steps=[
            Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, post=clip if cfg.loss.clip else None),
            Step("g", ("g",), g_objective),
        ],
        translate=translate, directions={direction_name(name): ("x", "x") for name in names}, probes={"d": probe}, ema_players=("g",),
    )  # fmt: skip
