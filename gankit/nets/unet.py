"""The U-Net generator of pix2pix (Isola et al., 2017): an encoder-decoder with skip connections.

Encoder: ``levels`` 4×4 stride-2 convolutions, each conv -> norm -> LeakyReLU(0.2), with ``width * 2^i`` channels
capped at 8 × width (C64-C128-C256-C512-C512-... for width 64). No norm on the first layer (the paper) nor on the
innermost one (the authors' code: at 1×1 and batch size 1, the paper's setting, batch norm would zero it).
Decoder: 4×4 stride-2 transposed convolutions, each convT -> norm -> [dropout 0.5] -> ReLU; decoder layer j's output
is concatenated on channels with encoder layer ``levels - j``'s, so the encoder's details skip the bottleneck. The
first three decoder layers have dropout, pix2pix's only noise source. A last transposed convolution maps to the
output channels, then tanh.

Sizes: any H and W >= 8. A side that is not a power of two is padded (replicating the border) to the next power of
two and the output cropped back, so 28 px digits or a user's 300 × 200 photos go through unchanged in size.
``levels`` = min(``depth``, log2(min(H, W))) of the padded sides: ``NetConfig.depth`` caps it, and depth >=
log2(size) gives the paper's 1×1 bottleneck (depth 5 at 32 px, 6 at 64, 8 at 256, as ``unet_256``).
``NetConfig.activation`` is not used (the paper fixes the activations). Weights N(0, 0.02).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import init_dcgan_weights
from gankit.nets.shapes import is_image, unsupported

DROPOUT_LAYERS = 3  # pix2pix: dropout in the first three decoder layers (CD512 x 3)


def _norm(kind: str, channels: int, net: str = "the U-Net") -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise GankitError(f"{net} supports norm batch, layer or none, not '{kind}'")


class NoiseDropout(nn.Module):
    """Dropout as pix2pix's noise: active in training and, with ``at_test``, in eval mode too (the paper applies
    dropout at test time, so outputs stay stochastic)."""

    def __init__(self, p: float = 0.5, at_test: bool = True) -> None:
        super().__init__()
        self.p, self.at_test = p, at_test

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=self.training or self.at_test)

    def extra_repr(self) -> str:
        return f"p={self.p}, at_test={self.at_test}"


def padded_side(side: int) -> int:
    """The power of two a side is padded to (itself when it is one)."""
    return 1 << (side - 1).bit_length()


def unet_levels(height: int, width: int, depth: int) -> int:
    """The number of stride-2 levels: min(depth, log2 of the shorter padded side); sides must be >= 8."""
    if min(height, width) < 8:
        raise GankitError(f"the U-Net needs images of at least 8 x 8 pixels, not {height}x{width}; set data.image_size")
    if depth < 1:
        raise GankitError(f"the U-Net needs depth >= 1 (its number of stride-2 levels), not {depth}")
    return min(depth, int(math.log2(min(padded_side(height), padded_side(width)))))


class UNetGenerator(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H, W) in [-1, 1]. ``dropout_at_test``: keep the decoder's dropout in eval mode,
    as the paper did (True); False gives deterministic outputs in eval mode."""

    def __init__(
        self, in_shape: tuple[int, ...], out_channels: int, width: int = 64, depth: int = 8, norm: str = "batch", dropout_at_test: bool = True
    ) -> None:
        super().__init__()
        if not is_image(in_shape):
            raise GankitError(f"the U-Net maps images (C, H, W), got inputs of shape {tuple(in_shape)}")
        in_channels, height, side = in_shape
        self.levels = levels = unet_levels(height, side, depth)
        channels = [width * 2 ** min(i, 3) for i in range(levels)]
        self.encoder = nn.ModuleList()
        previous = in_channels
        for i, ch in enumerate(channels):
            kind = norm if 0 < i < levels - 1 else "none"
            self.encoder.append(nn.Sequential(nn.Conv2d(previous, ch, 4, 2, 1, bias=kind == "none"), _norm(kind, ch), nn.LeakyReLU(0.2, True)))
            previous = ch
        self.decoder = nn.ModuleList()
        for j in range(levels - 1):  # decoder layer j + 1 meets encoder layer levels - 1 - j
            ch = channels[levels - 2 - j]
            layers: list[nn.Module] = [nn.ConvTranspose2d(previous, ch, 4, 2, 1, bias=norm == "none"), _norm(norm, ch)]
            if j < DROPOUT_LAYERS:
                layers.append(NoiseDropout(0.5, dropout_at_test))
            layers.append(nn.ReLU(True))
            self.decoder.append(nn.Sequential(*layers))
            previous = 2 * ch  # its output is concatenated with the encoder's
        self.out = nn.Sequential(nn.ConvTranspose2d(previous, out_channels, 4, 2, 1), nn.Tanh())
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        pad_h, pad_w = padded_side(height) - height, padded_side(width) - width
        if pad_h or pad_w:  # left/top get the smaller half; cropped off again below
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2), mode="replicate")
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the innermost layer's output is the decoder's input, not a skip
        for layer in self.decoder:
            x = torch.cat([layer(x), skips.pop()], dim=1)
        x = self.out(x)
        return x[..., pad_h // 2 : pad_h // 2 + height, pad_w // 2 : pad_w // 2 + width] if pad_h or pad_w else x


def unet_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(C_in, H, W) -> (C_out, H, W): the pix2pix U-Net (``extra``: ``dropout_at_test``)."""
    if not (is_image(inputs) and is_image(outputs) and tuple(inputs[1:]) == tuple(outputs[1:])):
        raise unsupported("unet", inputs, outputs, "(C_in, H, W) -> (C_out, H, W) translation networks of equal H, W")
    if cfg.minibatch:
        raise GankitError("minibatch discrimination is a critic layer; a U-Net cannot have it (set minibatch: 0)")
    return UNetGenerator(inputs, outputs[0], cfg.width, cfg.depth, cfg.norm, **extra)
