"""The convolutional networks with fully connected layers of InfoGAN's MNIST experiments (Chen et al., 2016,
appendix, Table 1), registered as ``fcconv``.

- A vector (z_dim,) to an image (C, S, S), S = 4·s: FC ``16·width`` → BN → ReLU, FC (2·width · s · s) → BN → ReLU,
  4×4 stride-2 transposed convolution to ``width`` → BN → ReLU, 4×4 stride-2 transposed convolution to C, tanh.
- An image to (1,): 4×4 stride-2 convolution to ``width`` → LeakyReLU(0.1), 4×4 stride-2 convolution to
  ``2·width`` → BN → LeakyReLU, FC ``16·width`` → BN → LeakyReLU, FC to the logit; ``heads`` returns the logit and
  the FC layer's activations as ``features`` (InfoGAN's Q reads them).

With ``width`` 64 these are the paper's sizes (1024-unit FC layers, 7×7×128 maps at 28 px). Weights N(0, 0.02).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import init_dcgan_weights
from gankit.nets.shapes import is_image, is_logit, is_vector, unsupported


def _norm(kind: str, channels: int, dims: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.LayerNorm(channels) if dims == 1 else nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise GankitError(f"architecture 'fcconv' supports norm batch, layer or none, not '{kind}'")


def _side(shape: tuple[int, ...]) -> int:
    _, h, w = shape
    if h != w or h % 4:
        raise GankitError(f"architecture 'fcconv' needs square images whose side is a multiple of 4 (28, 32 ...), not {h}x{w}")
    return h // 4


class FCConvGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int = 64, norm: str = "batch") -> None:
        super().__init__()
        s = _side(out_shape)
        self.start = (2 * width, s, s)
        self.fc = nn.Sequential(
            nn.Linear(z_dim, 16 * width), _norm(norm, 16 * width, 1), nn.ReLU(True),
            nn.Linear(16 * width, 2 * width * s * s), _norm(norm, 2 * width * s * s, 1), nn.ReLU(True),
        )  # fmt: skip
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), _norm(norm, width, 2), nn.ReLU(True),
            nn.ConvTranspose2d(width, out_shape[0], 4, 2, 1), nn.Tanh(),
        )  # fmt: skip
        init_dcgan_weights(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.conv(self.fc(z).reshape(len(z), *self.start))


class FCConvDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], width: int = 64, norm: str = "batch") -> None:
        super().__init__()
        s = _side(in_shape)
        self.conv = nn.Sequential(
            nn.Conv2d(in_shape[0], width, 4, 2, 1), nn.LeakyReLU(0.1, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), _norm(norm, 2 * width, 2), nn.LeakyReLU(0.1, True),
        )  # fmt: skip
        self.fc = nn.Sequential(nn.Linear(2 * width * s * s, 16 * width), _norm(norm, 16 * width, 1), nn.LeakyReLU(0.1, True))
        self.out = nn.Linear(16 * width, 1)
        init_dcgan_weights(self)

    def heads(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        h = self.fc(self.conv(x).flatten(1))
        return {"features": h, "logits": self.out(h)}

    def forward(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        return self.heads(x)


def fcconv_network(cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, critic: bool | None = None, **extra: Any) -> nn.Module:
    if is_vector(inputs) and is_image(outputs):
        return FCConvGenerator(inputs[0], outputs, cfg.width, cfg.norm)
    if is_image(inputs) and is_logit(outputs):
        return FCConvDiscriminator(inputs, cfg.width, cfg.norm)
    raise unsupported("fcconv", inputs, outputs, "vector -> image (a generator) and image -> (1,) (a critic)")
