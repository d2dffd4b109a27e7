"""The pix2pix U-Net (Isola et al., 2017): shapes, layer pattern, skip connections and dropout as noise."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets import UNetGenerator, build_network
from gankit.nets.unet import NoiseDropout


@pytest.mark.parametrize(("shape", "out_channels", "levels"), [((1, 32, 32), 1, 5), ((3, 64, 64), 3, 6), ((1, 32, 32), 3, 5), ((3, 64, 32), 1, 5)])
def test_shapes_down_to_a_1x1_bottleneck(shape, out_channels, levels):
    torch.manual_seed(0)
    net = build_network(NetConfig(arch="unet", width=8, depth=8, norm="batch"), shape, (out_channels, *shape[1:]))
    assert isinstance(net, UNetGenerator) and net.levels == levels
    x = torch.rand(2, *shape) * 2 - 1
    y = net(x)
    assert y.shape == (2, out_channels, *shape[1:]) and y.abs().max() <= 1
    h = x
    for layer in net.encoder:
        h = layer(h)
    assert min(h.shape[-2:]) == 1  # the innermost map


def test_depth_caps_the_levels():
    net = build_network(NetConfig(arch="unet", width=8, depth=3), (1, 32, 32), (1, 32, 32))
    assert net.levels == 3 and len(net.decoder) == 2
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_layer_pattern_and_initialisation():
    torch.manual_seed(1)
    net = UNetGenerator((3, 64, 64), 3, width=64, depth=8)
    assert [layer[0].out_channels for layer in net.encoder] == [64, 128, 256, 512, 512, 512]
    for i, layer in enumerate(net.encoder):
        conv, norm, act = layer
        assert conv.kernel_size == (4, 4) and conv.stride == (2, 2) and act.negative_slope == 0.2
        # no batch norm on the first layer (the paper) nor the 1x1 innermost one (the authors' code)
        assert isinstance(norm, nn.Identity) == (i in (0, 5))
    for j, layer in enumerate(net.decoder):
        assert isinstance(layer[0], nn.ConvTranspose2d) and layer[0].stride == (2, 2) and isinstance(layer[1], nn.BatchNorm2d)
        assert isinstance(layer[-1], nn.ReLU) and any(isinstance(m, NoiseDropout) for m in layer) == (j < 3)
    # skip connections double the decoder's inputs: decoder j meets encoder levels - 1 - j
    assert [layer[0].in_channels for layer in net.decoder] == [512, 1024, 1024, 512, 256]
    assert net.out[0].in_channels == 128 and isinstance(net.out[1], nn.Tanh)
    weights = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(weights.mean().item()) < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)


def test_output_depends_on_the_input_through_the_skips_alone():
    """With the innermost (bottleneck) layer zeroed, nothing passes the bottleneck: the gradient of the output with
    respect to the input is still non-zero, so it flows through the skip connections."""
    torch.manual_seed(2)
    net = UNetGenerator((1, 32, 32), 1, width=8, depth=8, dropout_at_test=False).eval()
    with torch.no_grad():
        for p in net.encoder[-1].parameters():
            p.zero_()
    x = torch.randn(1, 1, 32, 32, requires_grad=True)
    bottleneck = x
    for layer in net.encoder:
        bottleneck = layer(bottleneck)
    assert torch.equal(bottleneck, torch.zeros_like(bottleneck))
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    assert grad.abs().sum() > 0
    # and each skip carries the input: cutting every skip (keeping the zero bottleneck) makes the output constant
    skipless = UNetGenerator((1, 32, 32), 1, width=8, depth=8, dropout_at_test=False).eval()
    skipless.load_state_dict(net.state_dict())
    other = torch.randn(1, 1, 32, 32)

    def without_skips(module: UNetGenerator, inp: torch.Tensor) -> torch.Tensor:
        h = inp
        for layer in module.encoder:
            h = layer(h)
        for layer in module.decoder:
            out = layer(h)
            h = torch.cat([out, torch.zeros_like(out)], dim=1)
        return module.out(h)

    torch.testing.assert_close(without_skips(skipless, x.detach()), without_skips(skipless, other))
    assert not torch.allclose(net(x.detach()), net(other))


def test_dropout_is_active_in_training_and_at_test_when_flagged():
    torch.manual_seed(3)
    x = torch.randn(2, 1, 32, 32)
    paper = UNetGenerator((1, 32, 32), 1, width=8, depth=8)  # dropout_at_test=True, as the paper
    for mode in (paper.train, paper.eval):
        mode()
        assert not torch.equal(paper(x), paper(x)), "dropout makes the output noisy"
    deterministic = UNetGenerator((1, 32, 32), 1, width=8, depth=8, dropout_at_test=False)
    assert not torch.equal(deterministic(x), deterministic(x))  # training mode
    deterministic.eval()
    assert torch.equal(deterministic(x), deterministic(x))
    flagged = build_network(NetConfig(arch="unet", width=8, depth=8), (1, 32, 32), (1, 32, 32), dropout_at_test=False).eval()
    assert torch.equal(flagged(x), flagged(x))


def test_sides_that_are_not_powers_of_two_are_padded_and_cropped_back():
    torch.manual_seed(0)
    net = UNetGenerator((2, 28, 20), 3, width=8, depth=8, dropout_at_test=False).eval()
    assert net.levels == 5  # log2 of the padded shorter side: 28 x 20 -> 32 x 32, min(8, 5)
    x = torch.randn(3, 2, 28, 20)
    out = net(x)
    assert out.shape == (3, 3, 28, 20)
    # The padded network's output is the power-of-two network's output on the replicate-padded input, cropped.
    padded = torch.nn.functional.pad(x, (6, 6, 2, 2), mode="replicate")
    assert torch.allclose(out, net(padded)[..., 2:30, 6:26])
    assert padded.shape[-2:] == (32, 32)


def test_unsupported_sizes_are_user_errors():
    with pytest.raises(GankitError, match="at least 8 x 8"):
        UNetGenerator((1, 4, 4), 1)
    with pytest.raises(GankitError, match="unet"):
        build_network(NetConfig(arch="unet"), (1, 32, 32), (1, 16, 16))
    with pytest.raises(GankitError, match="norm"):
        UNetGenerator((1, 32, 32), 1, norm="virtual")
