"""The context encoder (Pathak et al., 2016): inpainting by an encoder-decoder G that sees an image with a region
blanked (set to mid-grey) and the region's mask as one more input channel, and fills the region in.

G minimises λ_rec · the mean squared error over the region + λ_adv · the adversarial loss of the filled-in image
(the paper's joint loss, λ_rec = 0.999 and λ_adv = 0.001); D tells real images from filled-in ones, which differ
from the real ones in the region only. G's output is used in the region only: the known pixels are kept.
``options.adversarial: 0`` is the paper's L2-only baseline (no D). The G step draws the batch and keeps the
filled-in images in the iteration's scratch; the D step scores them (detached).

Masks (``options.mask``): ``center``, a central square of side ``options.hole`` (0: half the shorter side, the
paper's central region of a quarter of the image); ``random``, a square of that side at a uniformly random position
in each image, drawn from the loop's noise generator (the paper's random blocks, as one block per image).
``translate`` (direction ``inpaint``) fills the central square of its inputs, whatever the training masks;
``region`` names that square, so that metrics score it and pictures show the input as G sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config, NetConfig, _choice, _positive
from gankit.errors import GankitError
from gankit.losses import make_game
from gankit.nets import build_network
from gankit.variants.base import Players, Step, StepContext, Variant, assemble, d_penalties, mean_logit, register


@dataclass
class InpaintOptions:
    """``mask``: center or random; ``hole``: side of the square hole in pixels (0: half the shorter image side);
    ``reconstruction`` / ``adversarial``: λ of the region's squared error and of G's adversarial loss (0: L2 only,
    no discriminator)."""

    mask: str = "center"
    hole: int = 0
    reconstruction: float = 0.999
    adversarial: float = 0.001

    def validate(self, cfg: Config) -> None:
        _choice("options.mask", self.mask, ["center", "random"])
        _positive("options.hole", self.hole, allow_zero=True)
        _positive("options.reconstruction", self.reconstruction)
        _positive("options.adversarial", self.adversarial, allow_zero=True)


def hole_side(opts: InpaintOptions, height: int, width: int) -> int:
    """The hole's side for H × W images; a one-line error when it leaves nothing to fill from."""
    side = opts.hole or min(height, width) // 2
    if side >= min(height, width):
        raise GankitError(
            f"options.hole={side} does not fit in the {height} x {width} images (the hole must leave a border to fill it from); "
            f"choose at most {min(height, width) - 1}, or 0 for half the side"
        )
    return side


def central_box(height: int, width: int, side: int) -> tuple[int, int, int, int]:
    """(top, left, side, side) of the central side × side square of an H × W image."""
    return (height - side) // 2, (width - side) // 2, side, side


def box_masks(n: int, height: int, width: int, side: int, rng: torch.Generator | None, device: torch.device) -> Tensor:
    """(n, 1, H, W) masks, 1 in the hole: the central square (``rng`` None) or one at a uniform random position each."""
    masks = torch.zeros(n, 1, height, width, device=device)
    if rng is None:
        top, left, _, _ = central_box(height, width, side)
        masks[..., top : top + side, left : left + side] = 1.0
        return masks
    tops = torch.randint(height - side + 1, (n,), generator=rng, device=rng.device).tolist()
    lefts = torch.randint(width - side + 1, (n,), generator=rng, device=rng.device).tolist()
    for i, (top, left) in enumerate(zip(tops, lefts, strict=True)):
        masks[i, :, top : top + side, left : left + side] = 1.0
    return masks


def region_squared_error(output: Tensor, target: Tensor, masks: Tensor) -> Tensor:
    """Mean squared error over each image's masked pixels (all channels): (B,)."""
    dims = tuple(range(1, output.dim()))
    return ((output - target).pow(2) * masks).sum(dim=dims) / (masks.sum(dim=dims) * output.shape[1])


@register(
    "inpaint",
    "Pathak et al. (2016): context encoder, an encoder-decoder that fills a blanked region, L2 on the region plus an adversarial loss",
    players={"g": NetConfig(arch="unet", width=32, depth=8, norm="batch"), "d": NetConfig(arch="dcgan", width=32, norm="batch")},
    options=InpaintOptions,
    noise=False,
)
def build_inpaint(cfg: Config, data: Any, device: torch.device) -> Variant:
    if "x" not in data.fields or data.fields["x"].kind != "image":
        raise GankitError(f"variant 'inpaint' fills holes in images (field x); data '{cfg.data.name}' has fields {', '.join(data.fields)}")
    opts, game, loss = cfg.options, make_game(cfg.loss), cfg.loss
    shape = tuple(data.fields["x"].shape)
    channels, height, width = shape
    side = hole_side(opts, height, width)
    players = {"g": build_network(cfg.model.g, (channels + 1, height, width), shape, dropout_at_test=False).to(device)}
    adversarial = opts.adversarial > 0
    if adversarial:
        players["d"] = build_network(cfg.model.d, shape, (1,)).to(device)

    def fill(g: torch.nn.Module, x: Tensor, masks: Tensor) -> Tensor:
        """G's filling of the masked pixels of ``x``; the known pixels kept."""
        seen = x * (1 - masks)  # 0, mid-grey, in the hole
        return seen + g(torch.cat([seen, masks], dim=1)) * masks

    def g_objective(ctx: StepContext) -> dict[str, Tensor]:
        x = ctx.batch["x"]
        masks = box_masks(len(x), height, width, side, ctx.rng if opts.mask == "random" else None, x.device)
        filled = fill(ctx.players["g"], x, masks)
        ctx.scratch.update(real=x, filled=filled.detach())
        losses = {"g_l2": opts.reconstruction * region_squared_error(filled, x, masks)}
        if adversarial:
            losses["g_adv"] = opts.adversarial * game.g_loss(ctx.players["d"](filled)["logits"])
        return losses

    def d_objective(ctx: StepContext) -> dict[str, Tensor]:
        real, filled = ctx.scratch["real"], ctx.scratch["filled"]
        d = ctx.players["d"]
        penalties = d_penalties(loss, lambda x: mean_logit(d, x), real, filled, ctx.rng)
        return game.d_loss(d(real)["logits"], d(filled)["logits"]) | penalties

    def region(h: int, w: int) -> tuple[int, int, int, int]:
        return central_box(h, w, hole_side(opts, h, w))

    def translate(players: Players, x: Tensor, direction: str) -> Tensor:
        h, w = x.shape[-2:]
        return fill(players["g"], x, box_masks(len(x), h, w, hole_side(opts, h, w), None, x.device))

    def probe(players: Players, batches: dict[str, dict[str, Tensor]], rng: torch.Generator) -> tuple[Tensor, Tensor]:
        x = batches["train"]["x"]
        masks = box_masks(len(x), height, width, side, None, x.device)
        return mean_logit(players["d"], x), mean_logit(players["d"], fill(players["g"], x, masks))

    steps = [Step("g", ("g",), g_objective)]
    if adversarial:
        steps.append(Step("d", ("d",), d_objective, repeat=cfg.train.d_steps, streams=()))  # D steps on the G step's batch
    return assemble(
        cfg, players, {name: (name,) for name in players}, steps=steps, translate=translate, directions={"inpaint": ("x", "x")}, paired=True,
        region=region, probes={"d": probe} if adversarial else {}, ema_players=("g",),
    )  # fmt: skip
