"""DCGAN (Radford et al., 2016), by the lectures' guidelines.

- No pooling: strided convolutions in D, fractionally-strided (transposed) convolutions in G.
- BatchNorm in G and D, except G's output layer and D's input layer.
- No fully connected hidden layers: G projects z with a transposed convolution onto a small map, D ends with a
  convolution over its last map.
- ReLU in G with a tanh output; LeakyReLU(0.2) in D.
- Weights from N(0, 0.02) (BatchNorm scales from N(1, 0.02)).

Sizes: square images of side start * 2^k, start 4 or 7 (8, 16, 28, 32, 64, 128, ...), 1 or 3 channels.
Conditioning (for conditional variants) is a network input, never a loss: G takes a one-hot label concatenated
to z; D takes it as extra constant input planes (``concat``), adds a projection term <embed(y), phi(x)>
(``projection``, Miyato & Koyama, 2018) or has an auxiliary class head (``aux``, Odena et al., 2017).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.layers import GaussianNoise, MinibatchDiscrimination, VirtualBatchNorm
from gankit.nets.shapes import is_image, is_logit, is_vector, unsupported

D_CONDITIONING = ("none", "concat", "projection", "aux")


def dcgan_layout(size: int) -> tuple[int, int]:
    """(start, k): the side of the first map and the number of stride-2 layers."""
    for start in (4, 7):
        if size % start == 0:
            ratio = size // start
            k = int(math.log2(ratio)) if ratio > 0 else 0
            if 2**k == ratio and k >= 1:
                return start, k
    raise GankitError(f"DCGAN needs square images of side 4*2^k or 7*2^k (8, 14, 16, 28, 32, 64, ...), not {size}; set data.image_size")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    if kind == "virtual":
        return VirtualBatchNorm(channels)
    raise GankitError(f"DCGAN supports norm batch, layer, virtual or none, not '{kind}'")


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions and linear maps, N(1, 0.02) for BatchNorm scales, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise GankitError(f"DCGAN needs square images (C, H, W), got data of shape {shape}")
    return shape[0], shape[1]


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int = 64, norm: str = "batch", num_classes: int = 0) -> None:
        super().__init__()
        channels, size = _check_shape(out_shape)
        start, k = dcgan_layout(size)
        self.z_dim, self.num_classes = z_dim, num_classes
        ch = width * 2 ** (k - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + num_classes, ch, start, 1, 0, bias=False), _norm(norm, ch), nn.ReLU(True)]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), _norm(norm, ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError("this generator is conditional: pass labels y")
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1)
        return self.net(z[:, :, None, None])


def _maybe(layer: nn.Module | None, x: Tensor) -> Tensor:
    return x if layer is None else layer(x)


class DCGANDiscriminator(nn.Module):
    """Returns logits (B, ``outputs``), one by default; :meth:`heads` also gives features phi(x) and, with ``aux``,
    class logits; :meth:`feature_maps` the activations of every convolutional block."""

    def __init__(
        self, in_shape: tuple[int, ...], width: int = 64, norm: str = "batch", num_classes: int = 0, conditioning: str = "none", minibatch: int = 0,
        outputs: int = 1, input_noise: float = 0.0, noise: float = 0.0,
    ) -> None:
        super().__init__()
        channels, size = _check_shape(in_shape)
        start, k = dcgan_layout(size)
        if conditioning not in D_CONDITIONING:
            raise GankitError(f"unknown discriminator conditioning '{conditioning}'; choose one of {', '.join(D_CONDITIONING)}")
        if conditioning != "none" and num_classes < 1:
            raise GankitError(f"discriminator conditioning '{conditioning}' needs labelled data (num_classes > 0)")
        self.num_classes, self.conditioning = num_classes, conditioning
        extra = num_classes if conditioning == "concat" else 0
        # Gaussian noise on the input and after every block (parameter-free: without noise the layers' indices are
        # unchanged); the last block's noise is applied on the way to the heads, so ``features`` are read before it
        layers: list[nn.Module] = [nn.Conv2d(channels + extra, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(k - 1):
            layers += [GaussianNoise(noise)] if noise else []
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"), _norm(norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.input_noise = GaussianNoise(input_noise) if input_noise else None
        self.head_noise = GaussianNoise(noise) if noise else None
        self.body = nn.Sequential(*layers)
        self.feature_channels = ch
        self.out = nn.Conv2d(ch, outputs, start, 1, 0)
        self.classes = nn.Conv2d(ch, num_classes, start, 1, 0) if conditioning == "aux" else None
        self.embed = nn.Embedding(num_classes, ch) if conditioning == "projection" else None
        init_dcgan_weights(self)
        # minibatch discrimination on the last feature map, with its own linear map into the logit
        self.minibatch = MinibatchDiscrimination(ch * start * start, minibatch) if minibatch else None
        self.minibatch_out = nn.Linear(minibatch, outputs, bias=False) if minibatch else None

    def heads(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        if self.conditioning == "concat":
            if y is None:
                raise ValueError("this discriminator is conditional: pass labels y")
            planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, planes], dim=1)
        features = self.body(_maybe(self.input_noise, x))
        h = _maybe(self.head_noise, features)
        logits = self.out(h).flatten(1)
        if self.minibatch is not None:
            logits = logits + self.minibatch_out(self.minibatch(h))
        out = {"features": features.flatten(1)}
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is conditional: pass labels y")
            logits = logits + (self.embed(y) * h.sum(dim=(2, 3))).sum(dim=1, keepdim=True)
        if self.classes is not None:
            out["class_logits"] = self.classes(h).flatten(1)
        out["logits"] = logits
        return out

    def forward(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        return self.heads(x, y)

    def feature_maps(self, x: Tensor) -> list[Tensor]:
        """The activation map after each convolutional block (each LeakyReLU), from the first to the last: the
        features Radford et al. (2016) pool into a representation. Unconditional: no labels are given."""
        maps, x = [], _maybe(self.input_noise, x)
        for layer in self.body:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                maps.append(x)  # before the next block's noise
        return maps


class DCGANEncoder(DCGANDiscriminator):
    """D's convolutional trunk ending in ``outputs`` numbers: an image to a vector (an encoder E(x), a classifier's
    logits). ``forward`` returns the vector; :meth:`heads` the dict with ``features``."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return self.heads(x, y)["logits"]


def dcgan_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(z_dim,) -> (C, H, W): the generator (labels: one-hot with z); (C, H, W) -> (1,): the discriminator;
    (C, H, W) -> (K,): a critic with K logits when ``critic`` is True (CatGAN, the K+1 classifier), else an encoder
    returning the vector."""
    if is_vector(inputs) and not is_logit(outputs):
        if cfg.minibatch:
            raise GankitError("minibatch discrimination is a critic layer; a DCGAN generator cannot have it (set minibatch: 0)")
        if cfg.input_noise or cfg.noise:
            raise GankitError("input_noise and noise are layers of image-reading networks; a DCGAN generator cannot have them (remove them)")
        return DCGANGenerator(inputs[0], outputs, cfg.width, cfg.norm, num_classes, **extra)
    if is_logit(outputs) or (is_image(inputs) and is_vector(outputs)):
        kind = DCGANDiscriminator if is_logit(outputs) or critic else DCGANEncoder
        return kind(
            inputs, cfg.width, cfg.norm, num_classes, conditioning, cfg.minibatch, outputs=outputs[0], input_noise=cfg.input_noise, noise=cfg.noise, **extra
        )
    raise unsupported("dcgan", inputs, outputs, "(z_dim,) -> (C, H, W) generators, (C, H, W) -> (1,) discriminators and (C, H, W) -> (K,) encoders")
