"""Super-resolution networks of SRGAN (Ledig et al., 2017).

Image -> larger image (``arch: srresnet``): SRResNet. A 9×9 convolution to ``width`` channels and PReLU; ``depth``
residual blocks (3×3 conv, batch norm, PReLU, 3×3 conv, batch norm, plus the input; the paper: 16 blocks of 64);
a 3×3 convolution and batch norm added to the first convolution's output; per factor 2 of upscaling, a 3×3
convolution to 4·width channels, a sub-pixel shuffle (Shi et al., 2016) and PReLU; a 9×9 convolution to the output
channels and tanh (images lie in [-1, 1]). The output side is the input side times a power of two, or the input's own
side (factor 1, no sub-pixel layers: an input already enlarged to the output's size, as SRCNN's and VDSR's, or the
low-resolution half of a pix2pix-layout pair).

Image -> logit (``arch: srgan``): the VGG-style discriminator. Eight 3×3 convolutions of width, width, 2·width,
2·width, 4·width, 4·width, 8·width, 8·width channels (the paper: 64 ... 512), strides 1, 2, 1, 2, ...; LeakyReLU
0.2; batch norm after all but the first; then a dense layer of 16·width units (the paper: 1024), LeakyReLU and
one logit. The paper flattens its 6×6 map at 96 px; here the map is average-pooled to 4×4 first so that any side
of at least 16 works with the same dense layer.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.shapes import is_image, is_logit, unsupported
from gankit.nets.unet import _norm


def pixel_shuffle(x: Tensor, factor: int) -> Tensor:
    """Sub-pixel shuffle: (B, C·r², H, W) -> (B, C, H·r, W·r); output pixel (c, h·r + i, w·r + j) is input channel
    c·r² + i·r + j at (h, w)."""
    b, c, h, w = x.shape
    if c % (factor * factor):
        raise ValueError(f"pixel_shuffle needs channels divisible by {factor * factor}, not {c}")
    out = c // (factor * factor)
    return x.reshape(b, out, factor, factor, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, out, h * factor, w * factor)


class PixelShuffle(nn.Module):
    def __init__(self, factor: int) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return pixel_shuffle(x, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class SRResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels, "SRResNet"), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1), _norm(norm, channels, "SRResNet"),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """(B, C_in, h, w) -> (B, C_out, h·scale, w·scale) in [-1, 1] (module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, scale: int, width: int = 64, blocks: int = 16, norm: str = "batch") -> None:
        super().__init__()
        if scale < 1 or scale & (scale - 1):
            raise GankitError(f"SRResNet upscales by a power of two (1, 2, 4, 8, ...), not {scale}; choose output sides a power of two times the input's")
        if blocks < 1:
            raise GankitError(f"SRResNet needs depth >= 1 (its number of residual blocks), not {blocks}")
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 9, padding=4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[SRResidualBlock(width, norm) for _ in range(blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), _norm(norm, width, "SRResNet"))
        ups: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(width, 4 * width, 3, padding=1), PixelShuffle(2), nn.PReLU(width)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Sequential(nn.Conv2d(width, out_channels, 9, padding=4), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        h = self.head(x)
        return self.tail(self.up(h + self.fuse(self.blocks(h))))


class SRGANDiscriminator(nn.Module):
    """(B, C, H, W) -> logits (B, 1), H, W >= 16 (module docstring)."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 64, norm: str = "batch") -> None:
        super().__init__()
        channels, height, side = in_shape
        if min(height, side) < 16:
            raise GankitError(f"the SRGAN discriminator halves the sides four times: they must be at least 16, not {height}x{side}")
        layers: list[nn.Module] = []
        c_in = channels
        for i, mult in enumerate((1, 1, 2, 2, 4, 4, 8, 8)):
            c_out = mult * width
            layers.append(nn.Conv2d(c_in, c_out, 3, stride=1 + i % 2, padding=1))
            if i:
                layers.append(_norm(norm, c_out, "the SRGAN discriminator"))
            layers.append(nn.LeakyReLU(0.2, True))
            c_in = c_out
        self.convs = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4))
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(c_in * 16, 16 * width), nn.LeakyReLU(0.2, True))
        self.out = nn.Linear(16 * width, 1)

    def heads(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """``features``: the dense layer (B, 16·width); ``logits``: (B, 1). Unconditional: ``y`` is ignored."""
        h = self.dense(self.convs(x))
        return {"features": h, "logits": self.out(h)}

    def forward(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        return self.heads(x, y)


def srresnet_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(C_in, h, w) -> (C_out, h·s, w·s), s a power of two (1 included): SRResNet with ``depth`` residual blocks of ``width``."""
    if not (is_image(inputs) and is_image(outputs)):
        raise unsupported("srresnet", inputs, outputs, "super-resolution networks (C_in, h, w) -> (C_out, s·h, s·w)")
    scale = outputs[1] // inputs[1]
    if outputs[1] != scale * inputs[1] or outputs[2] != scale * inputs[2]:
        raise unsupported("srresnet", inputs, outputs, "super-resolution networks (C_in, h, w) -> (C_out, s·h, s·w) with one integer factor s")
    return SRResNet(inputs[0], outputs[0], scale, cfg.width, cfg.depth, cfg.norm)


def srgan_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(C, H, W) -> (1,): SRGAN's VGG-style discriminator with base ``width``."""
    if not (is_image(inputs) and is_logit(outputs)):
        raise unsupported("srgan", inputs, outputs, "discriminators (C, H, W) -> (1,)")
    return SRGANDiscriminator(inputs, cfg.width, cfg.norm)


__all__ = ["PixelShuffle", "SRGANDiscriminator", "SRResNet", "pixel_shuffle", "srgan_network", "srresnet_network"]
