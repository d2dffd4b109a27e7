"""SRGAN's networks: the sub-pixel shuffle, SRResNet's upscaling and the VGG-style discriminator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets import build_network
from gankit.nets.srresnet import SRGANDiscriminator, SRResNet, pixel_shuffle


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_pixel_shuffle_matches_torch(factor):
    x = torch.randn(2, 3 * factor * factor, 5, 7)
    assert torch.equal(pixel_shuffle(x, factor), F.pixel_shuffle(x, factor))
    # and by its definition: output (c, h·r + i, w·r + j) is input channel c·r² + i·r + j at (h, w)
    out = pixel_shuffle(x, factor)
    c, h, w, i, j = 2, 4, 6, factor - 1, 0
    assert out[1, c, h * factor + i, w * factor + j] == x[1, c * factor * factor + i * factor + j, h, w]


def test_pixel_shuffle_refuses_channels_it_cannot_split():
    with pytest.raises(ValueError, match="divisible by 4"):
        pixel_shuffle(torch.randn(1, 6, 2, 2), 2)


def test_srresnet_upscales_by_the_shapes_factor_into_the_image_range():
    cfg = NetConfig(arch="srresnet", width=8, depth=2, norm="batch")
    net = build_network(cfg, (3, 8, 8), (3, 32, 32))
    assert isinstance(net, SRResNet) and net.scale == 4
    shuffles = [m for m in net.modules() if type(m).__name__ == "PixelShuffle"]
    assert len(shuffles) == 2 and len(net.blocks) == 2
    y = net(torch.randn(4, 3, 8, 8))
    assert y.shape == (4, 3, 32, 32) and y.abs().max() <= 1
    gray = build_network(NetConfig(arch="srresnet", width=8, depth=1), (1, 8, 8), (1, 16, 16))
    assert gray(torch.randn(2, 1, 8, 8)).shape == (2, 1, 16, 16)


def test_srresnet_at_factor_one_keeps_the_size_without_sub_pixel_layers():
    # an input already enlarged to the output's size (the low-resolution half of a pix2pix-layout pair)
    net = build_network(NetConfig(arch="srresnet", width=8, depth=2, norm="none"), (3, 20, 28), (3, 20, 28))
    assert net.scale == 1 and len(net.up) == 0
    assert not [m for m in net.modules() if type(m).__name__ == "PixelShuffle"]
    assert net(torch.randn(2, 3, 20, 28)).shape == (2, 3, 20, 28)


@pytest.mark.parametrize(
    ("inputs", "outputs", "match"),
    [
        ((3, 8, 8), (3, 24, 24), "power of two"), ((3, 8, 8), (3, 16, 24), "one integer factor"), ((3, 16, 16), (3, 8, 8), "one integer factor"),
        ((3, 8, 8), (1,), "super-resolution"),
    ],
)
def test_srresnet_refuses_shapes_it_cannot_map(inputs, outputs, match):
    with pytest.raises(GankitError, match=match):
        build_network(NetConfig(arch="srresnet", width=8, depth=1), inputs, outputs)


def test_srgan_discriminator_has_the_papers_eight_convolutions_and_takes_any_side_from_16():
    d = build_network(NetConfig(arch="srgan", width=4, norm="batch"), (3, 32, 32), (1,))
    assert isinstance(d, SRGANDiscriminator)
    convs = [m for m in d.convs if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 4, 8, 8, 16, 16, 32, 32]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.convs) == 7  # none after the first convolution
    for side in (16, 32, 48):
        d = build_network(NetConfig(arch="srgan", width=4, norm="batch"), (3, side, side), (1,))
        heads = d(torch.randn(2, 3, side, side))
        assert heads["logits"].shape == (2, 1) and heads["features"].shape == (2, 64)
    with pytest.raises(GankitError, match="at least 16"):
        build_network(NetConfig(arch="srgan", width=4), (3, 8, 8), (1,))
