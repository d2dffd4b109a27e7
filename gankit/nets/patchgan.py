"""The PatchGAN discriminator of pix2pix (Isola et al., 2017): it classifies each N×N patch as real or fake.

``depth`` 4×4 stride-2 convolutions (``width * 2^i`` channels, capped at 8 × width), then a 4×4 stride-1
convolution, each with LeakyReLU(0.2) and a norm (none on the first layer), then a 4×4 stride-1 convolution to one
channel: a map (B, 1, h, w) of patch logits, each seeing an N×N window of the input. Padding 1 everywhere, as the
authors' code, so at 256 px depth 3 (C64-C128-C256-C512, the paper's default) gives the 70×70 receptive field and a
30×30 map; depth 1 gives 16×16 patches, depth 2 34×34, depth 4 142×142 (see :func:`patch_receptive_field`). At
32 px, depth 3 gives a 2×2 map of 70×70 patches (wider than the image); local patches at 32 px need depth 1 (a
14×14 map) or 2 (6×6).

For pix2pix's conditional D the caller concatenates (a, b) on channels (inputs = (C_a + C_b, H, W)); CycleGAN's D is
the same class on one image. Weights N(0, 0.02). ``sn: true`` wraps every convolution (the network builder).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import init_dcgan_weights
from gankit.nets.shapes import is_image, is_logit, unsupported
from gankit.nets.unet import _norm


def patch_receptive_field(depth: int) -> int:
    """N: the side of the input window each patch logit sees (70 for depth 3)."""
    side = 1
    for stride in [1, 1] + [2] * depth:  # from the logit back to the input: (side - 1) * stride + kernel
        side = (side - 1) * stride + 4
    return side


def patch_map_size(size: int, depth: int) -> int:
    """The side of the patch-logit map for an input side ``size``: ``depth`` halvings, then two 4×4 stride-1 convs."""
    for _ in range(depth):
        size //= 2
    return size - 2


class PatchGANDiscriminator(nn.Module):
    """(B, C, H, W) -> patch logits (B, 1, h, w); :meth:`heads` gives them flattened, with the last hidden map."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 64, depth: int = 3, norm: str = "batch") -> None:
        super().__init__()
        if not is_image(in_shape):
            raise GankitError(f"PatchGAN judges images (C, H, W), got inputs of shape {tuple(in_shape)}")
        channels, height, side = in_shape
        if depth < 1:
            raise GankitError(f"PatchGAN needs depth >= 1 (its number of stride-2 layers), not {depth}")
        if min(patch_map_size(height, depth), patch_map_size(side, depth)) < 1:
            raise GankitError(f"PatchGAN with depth {depth} needs sides of at least {3 * 2**depth} px, not {height}x{side}; lower model.<player>.depth")
        self.depth, self.receptive_field = depth, patch_receptive_field(depth)
        self.map_shape = (1, patch_map_size(height, depth), patch_map_size(side, depth))
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for i in range(1, depth + 1):  # depth - 1 more stride-2 layers, then the stride-1 one
            out = width * 2 ** min(i, 3)
            layers += [nn.Conv2d(ch, out, 4, 2 if i < depth else 1, 1, bias=norm == "none"), _norm(norm, out, "PatchGAN"), nn.LeakyReLU(0.2, True)]
            ch = out
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(ch, 1, 4, 1, 1)
        init_dcgan_weights(self)

    def heads(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """``logits``: (B, h*w) patch logits; ``features``: the last hidden map, flattened. ``y`` is ignored (pix2pix
        conditions by concatenating its input image to x)."""
        h = self.body(x)
        return {"features": h.flatten(1), "logits": self.out(h).flatten(1)}

    def forward(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        return self.heads(x, y)

    def patch_map(self, x: Tensor) -> Tensor:
        """The (B, 1, h, w) map of patch logits."""
        return self.out(self.body(x))


def patchgan_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(C, H, W) -> (1,): patch logits. ``cfg.depth`` is the number of stride-2 layers (3: the 70×70 PatchGAN)."""
    if not (is_image(inputs) and is_logit(outputs)):
        raise unsupported("patchgan", inputs, outputs, "(C, H, W) -> (1,) critics (patch logits)")
    if cfg.minibatch:
        raise GankitError("PatchGAN has no minibatch-discrimination layer; set minibatch: 0")
    return PatchGANDiscriminator(inputs, cfg.width, cfg.depth, cfg.norm, **extra)
