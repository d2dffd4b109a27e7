"""SimGAN's refiner (Shrivastava et al., 2017): a fully convolutional ResNet that works at the input's full
resolution, (C_in, H, W) -> (C_out, H, W) in [-1, 1]: a 3 × 3 convolution to ``width`` channels and ReLU, ``depth``
residual blocks (two 3 × 3 convolutions with the norm, reflection padding, plus the input; the paper: 4 blocks of 64),
a 1 × 1 convolution to the output channels and tanh. Without striding or pooling its receptive field is small
(3 + 4·``depth`` pixels), so it can change an image's local appearance but hardly its global content — which keeps
a synthetic image's annotation true of the refined one. Any sides. Weights N(0, 0.02).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import init_dcgan_weights
from gankit.nets.resnet import ResidualBlock
from gankit.nets.shapes import is_image, unsupported


class Refiner(nn.Module):
    def __init__(self, channels: int, out_channels: int, width: int = 64, blocks: int = 4, norm: str = "batch") -> None:
        super().__init__()
        if blocks < 1:
            raise GankitError(f"the refiner needs depth >= 1 (its number of residual blocks), not {blocks}")
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, width, 3), nn.ReLU(True)]
        layers += [ResidualBlock(width, norm) for _ in range(blocks)]
        self.net = nn.Sequential(*layers, nn.Conv2d(width, out_channels, 1), nn.Tanh())
        init_dcgan_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def receptive_field(blocks: int) -> int:
    """Side of the input square one output pixel sees: the first 3 × 3 convolution and two per block."""
    return 3 + 4 * blocks


def refiner_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """(C_in, H, W) -> (C_out, H, W): the refiner."""
    if not (is_image(inputs) and is_image(outputs) and tuple(inputs[1:]) == tuple(outputs[1:])):
        raise unsupported("refiner", inputs, outputs, "(C_in, H, W) -> (C_out, H, W) full-resolution refiners")
    return Refiner(inputs[0], outputs[0], cfg.width, cfg.depth, cfg.norm)
