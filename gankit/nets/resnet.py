"""The ResNet generator and discriminator of Miyato et al. (2018) for 32 px images (after Gulrajani et al., 2017).

G: z -> linear -> (width, 4, 4) -> k up-blocks -> BN, ReLU, 3×3 conv, tanh. An up-block is BN, ReLU, 2× nearest
upsampling, 3×3 conv, BN, ReLU, 3×3 conv, plus an upsampled 1×1-conv shortcut.
D (the paper's Table 4 at 32 px: 32 -> 16 -> 8): an "optimised" first down-block (3×3 conv, ReLU, 3×3 conv, 2×2
average pool; shortcut: pool, 1×1 conv), k - 2 more down-blocks (ReLU, 3×3 conv, ReLU, 3×3 conv, pool; shortcut:
1×1 conv, pool), so that D's last map is twice G's first side (8×8 at 32 and 64 px, 14×14 at 28; one down-block at
least), then two plain blocks (identity shortcuts), ReLU, a global *sum* pool and a linear map to one logit. No
normalisation in D: spectral normalisation (``sn: true``, applied to every layer by the network builder) is its
Lipschitz control. Sides 4·2^k or 7·2^k (32, 28, 64, ...).
``width`` is the channel count of every block (the paper: 256 in G, 128 in D).

Image -> image: the translation generator of CycleGAN (Zhu et al., 2017, after Johnson et al., 2016), their
notation c7s1-k, d2k, d4k, R4k × ``depth``, u2k, uk, c7s1-C with k = ``width``: a 7×7 convolution, two stride-2
3×3 convolutions, ``depth`` residual blocks at a quarter of the side (3×3 conv, norm, ReLU, 3×3 conv, norm, plus
the input), two stride-½ (transposed) 3×3 convolutions and a 7×7 convolution to the output channels, tanh; every
other convolution is followed by the norm and ReLU; reflection padding; weights N(0, 0.02). Unlike the U-Net it
has no skip connections, so its output need not keep the input's layout (a change of scale or placement passes
through the bottleneck). Sides divisible by 4. The paper: 6 blocks at 128 px, 9 at 256, instance norm at batch 1.

Its two halves, for models that share a latent map between domains (UNIT, Liu et al., 2017): image (C, H, W) ->
(K, H/4, W/4) is the encoder half, c7s1-k, d2k, dK, R_K × ``depth``; (K, h, w) -> (C, 4h, 4w) the decoder half,
R_K × ``depth``, u2k, uk, c7s1-C, tanh (K: the channels of the map, 4k in the translator; ``depth`` may be 0).
The ``resblocks`` architecture is a stack of ``depth`` such residual blocks (K, h, w) -> (K, h, w): UNIT's shared
high-level layers.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import _check_shape, dcgan_layout, init_dcgan_weights
from gankit.nets.layers import MinibatchDiscrimination
from gankit.nets.shapes import is_image, is_logit, is_vector, unsupported
from gankit.nets.unet import _norm


def _g_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise GankitError(f"the ResNet generator supports norm batch or none, not '{kind}'")


class UpBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.bn1, self.conv1 = _g_norm(norm, channels), nn.Conv2d(channels, channels, 3, 1, 1)
        self.bn2, self.conv2 = _g_norm(norm, channels), nn.Conv2d(channels, channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, down: bool, first: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = nn.Conv2d(in_channels, channels, 3, 1, 1), nn.Conv2d(channels, channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_channels, channels, 1) if (down or in_channels != channels) else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.shortcut is not None:
            # the optimised first block pools before its 1×1 conv, the others after (Miyato et al.'s code)
            s = self.shortcut(F.avg_pool2d(s, 2)) if self.first else self.shortcut(s)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int = 256, norm: str = "batch") -> None:
        super().__init__()
        channels, size = _check_shape(out_shape)
        self.start, k = dcgan_layout(size)
        self.width = width
        self.linear = nn.Linear(z_dim, width * self.start * self.start)
        self.blocks = nn.Sequential(*[UpBlock(width, norm) for _ in range(k)])
        self.bn, self.out = _g_norm(norm, width), nn.Conv2d(width, channels, 3, 1, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, z: Tensor) -> Tensor:
        h = self.linear(z).reshape(len(z), self.width, self.start, self.start)
        return self.out(F.relu(self.bn(self.blocks(h)))).tanh()


class ResNetDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], width: int = 128, minibatch: int = 0) -> None:
        super().__init__()
        channels, size = _check_shape(in_shape)
        _, k = dcgan_layout(size)
        blocks = [DownBlock(channels, width, down=True, first=True)]
        blocks += [DownBlock(width, width, down=True, first=False) for _ in range(k - 2)]  # Table 4: 32 -> 16 -> 8
        blocks += [DownBlock(width, width, down=False, first=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(width, 1)
        self.minibatch = MinibatchDiscrimination(width, minibatch) if minibatch else None
        self.minibatch_out = nn.Linear(minibatch, 1, bias=False) if minibatch else None
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m is not self.minibatch_out:
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def heads(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """``features``: the sum-pooled last map (B, width); ``logits``: (B, 1). Unconditional: ``y`` is ignored."""
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        logits = self.out(h)
        if self.minibatch is not None:
            logits = logits + self.minibatch_out(self.minibatch(h))
        return {"features": h, "logits": logits}

    def forward(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        return self.heads(x, y)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(norm, channels, "the ResNet translator"), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(norm, channels, "the ResNet translator"),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _quarter_sides(height: int, side: int, net: str) -> None:
    if height % 4 or side % 4:
        raise GankitError(f"{net} halves the sides twice: they must be divisible by 4, not {height}x{side}; set data.image_size")


def _unit(conv: nn.Module, out: int, norm: str) -> list[nn.Module]:
    """A convolution, the norm and ReLU: one of CycleGAN's c7s1-k, dk, uk units."""
    return [conv, _norm(norm, out, "the ResNet translator"), nn.ReLU(True)]


def _encoder_layers(channels: int, k: int, latent: int, blocks: int, norm: str) -> list[nn.Module]:
    """c7s1-k, d2k, d(latent), R(latent) × blocks: (C, H, W) -> (latent, H/4, W/4)."""
    layers = _unit(nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(channels, k, 7)), k, norm)
    layers += _unit(nn.Conv2d(k, 2 * k, 3, 2, 1), 2 * k, norm) + _unit(nn.Conv2d(2 * k, latent, 3, 2, 1), latent, norm)
    return layers + [ResidualBlock(latent, norm) for _ in range(blocks)]


def _decoder_layers(latent: int, k: int, out_channels: int, blocks: int, norm: str) -> list[nn.Module]:
    """R(latent) × blocks, u2k, uk, c7s1-C, tanh: (latent, h, w) -> (C, 4h, 4w) in [-1, 1]."""
    layers: list[nn.Module] = [ResidualBlock(latent, norm) for _ in range(blocks)]
    layers += _unit(nn.ConvTranspose2d(latent, 2 * k, 3, 2, 1, output_padding=1), 2 * k, norm)
    layers += _unit(nn.ConvTranspose2d(2 * k, k, 3, 2, 1, output_padding=1), k, norm)
    return [*layers, nn.ReflectionPad2d(3), nn.Conv2d(k, out_channels, 7), nn.Tanh()]


class ResNetTranslator(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H, W) in [-1, 1]: CycleGAN's ResNet generator (module docstring)."""

    def __init__(self, in_shape: tuple[int, ...], out_channels: int, width: int = 64, blocks: int = 6, norm: str = "batch") -> None:
        super().__init__()
        channels, height, side = in_shape
        _quarter_sides(height, side, "the ResNet translator")
        if blocks < 1:
            raise GankitError(f"the ResNet translator needs depth >= 1 (its number of residual blocks), not {blocks}")
        k = width
        self.net = nn.Sequential(*_encoder_layers(channels, k, 4 * k, blocks, norm), *_decoder_layers(4 * k, k, out_channels, 0, norm))
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ResNetEncoder(nn.Module):
    """(B, C, H, W) -> (B, K, H/4, W/4): the translator's first half, c7s1-k, d2k, dK, R_K × ``blocks``."""

    def __init__(self, in_shape: tuple[int, ...], latent: int, width: int = 64, blocks: int = 0, norm: str = "batch") -> None:
        super().__init__()
        channels, height, side = in_shape
        _quarter_sides(height, side, "the ResNet encoder")
        self.net = nn.Sequential(*_encoder_layers(channels, width, latent, blocks, norm))
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ResNetDecoder(nn.Module):
    """(B, K, h, w) -> (B, C, 4h, 4w) in [-1, 1]: the translator's second half, R_K × ``blocks``, u2k, uk, c7s1-C."""

    def __init__(self, latent: int, out_channels: int, width: int = 64, blocks: int = 0, norm: str = "batch") -> None:
        super().__init__()
        self.net = nn.Sequential(*_decoder_layers(latent, width, out_channels, blocks, norm))
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ResidualStack(nn.Module):
    """(B, K, h, w) -> (B, K, h, w): ``blocks`` residual blocks (3×3 conv, norm, ReLU, 3×3 conv, norm, plus the input)."""

    def __init__(self, channels: int, blocks: int, norm: str = "batch") -> None:
        super().__init__()
        if blocks < 1:
            raise GankitError(f"the residual stack needs depth >= 1 (its number of residual blocks), not {blocks}")
        self.net = nn.Sequential(*[ResidualBlock(channels, norm) for _ in range(blocks)])
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def resnet_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(z_dim,) -> (C, H, W): the generator; (C, H, W) -> (1,): the discriminator (no normalisation layers: use sn);
    (C_in, H, W) -> (C_out, H, W): CycleGAN's translator with ``depth`` residual blocks; (C, H, W) -> (K, H/4, W/4)
    and (K, h, w) -> (C, 4h, 4w): its encoder and decoder halves, ``depth`` residual blocks at the small side."""
    if is_image(inputs) and is_image(outputs):
        (c_in, h_in, w_in), (c_out, h_out, w_out) = inputs, outputs
        if (h_in, w_in) == (h_out, w_out):
            return ResNetTranslator(inputs, c_out, cfg.width, cfg.depth, cfg.norm)
        if cfg.depth < 0:
            raise GankitError(f"the ResNet encoder and decoder need depth >= 0 (their number of residual blocks), not {cfg.depth}")
        if (h_in // 4, w_in // 4) == (h_out, w_out):  # the encoder refuses sides not divisible by 4
            return ResNetEncoder(inputs, c_out, cfg.width, cfg.depth, cfg.norm)
        if (4 * h_in, 4 * w_in) == (h_out, w_out):
            return ResNetDecoder(c_in, c_out, cfg.width, cfg.depth, cfg.norm)
        raise unsupported(
            "resnet", inputs, outputs, "(C_in, H, W) -> (C_out, H, W) translators, (C, H, W) -> (K, H/4, W/4) encoders and (K, h, w) -> (C, 4h, 4w) decoders"
        )
    if is_vector(inputs) and not is_logit(outputs):
        return ResNetGenerator(inputs[0], outputs, cfg.width, cfg.norm, **extra)
    if is_logit(outputs):
        if cfg.norm != "none":
            raise GankitError(f"the ResNet discriminator has no normalisation layers (use sn: true); set model.d.norm=none, not '{cfg.norm}'")
        return ResNetDiscriminator(inputs, cfg.width, cfg.minibatch, **extra)
    raise unsupported("resnet", inputs, outputs, "(z_dim,) -> (C, H, W) generators, (C, H, W) -> (1,) discriminators and (C, H, W) -> (C', H, W) translators")


def resblocks_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(K, h, w) -> (K, h, w): ``depth`` residual blocks (``width`` is unused: the shapes give K)."""
    if not (is_image(inputs) and tuple(inputs) == tuple(outputs)):
        raise unsupported("resblocks", inputs, outputs, "(K, h, w) -> (K, h, w) stacks of residual blocks")
    return ResidualStack(inputs[0], cfg.depth, cfg.norm)
