"""The SN-ResNet pair of Miyato et al. (2018): shapes, sizes, spectral norm, and that it trains as any architecture."""

from __future__ import annotations

import pytest
import torch

from gankit.config import NetConfig, load_config
from gankit.errors import GankitError
from gankit.nets import SpectralNorm, build_discriminator, build_generator, build_network
from gankit.nets.resnet import DownBlock, ResidualBlock, ResidualStack, ResNetDecoder, ResNetEncoder, ResNetTranslator, UpBlock
from gankit.train.loop import build_state
from tests.conftest import TINY


@pytest.mark.parametrize(("shape", "blocks"), [((3, 32, 32), 3), ((1, 28, 28), 2), ((1, 16, 16), 2)])
def test_generator_and_discriminator_shapes(shape, blocks):
    torch.manual_seed(0)
    g = build_generator(NetConfig(arch="resnet", width=16, norm="batch"), 8, shape)
    d = build_discriminator(NetConfig(arch="resnet", width=16, norm="none", sn=True), shape)
    x = g(torch.randn(5, 8))
    assert x.shape == (5, *shape) and x.abs().max() <= 1
    assert sum(isinstance(m, UpBlock) for m in g.modules()) == blocks
    out = d(x)  # every critic's forward gives its dict of heads
    assert isinstance(out, dict) and set(out) == {"logits", "features"}
    assert out["logits"].shape == (5, 1)
    heads = d.heads(x)
    assert heads["features"].shape == (5, 16)
    torch.testing.assert_close(out["logits"], heads["logits"])
    torch.testing.assert_close(out["features"], heads["features"])
    # every convolution and linear layer of D is spectrally normalised
    wrapped = [m.layer for m in d.modules() if isinstance(m, SpectralNorm)]
    layers = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    # D downsamples one step less than G upsamples (to 2 * G's first side), then two plain blocks
    assert len(wrapped) == len(layers) and sum(isinstance(m, DownBlock) for m in d.modules()) == blocks + 1


def test_discriminator_follows_miyato_table_4_at_32_px():
    """Miyato et al. (2018), Table 4 (CIFAR-10 ResNet D): optimised down-block, down-block, two plain blocks, ReLU,
    global sum pooling, linear: 32 -> 16 -> 8 and an 8 x 8 final map."""
    d = build_discriminator(NetConfig(arch="resnet", width=8, norm="none"), (3, 32, 32))
    blocks = list(d.blocks)
    assert [(b.first, b.down) for b in blocks] == [(True, True), (False, True), (False, False), (False, False)]
    # shortcuts: pool then 1x1 conv (optimised block), 1x1 conv then pool (down-block), identity (plain blocks)
    assert [type(b.shortcut).__name__ for b in blocks] == ["Conv2d", "Conv2d", "NoneType", "NoneType"]
    x = torch.randn(2, 3, 32, 32)
    sides = []
    h = x
    for block in blocks:
        h = block(h)
        sides.append(h.shape[-1])
    assert sides == [16, 8, 8, 8] and h.shape == (2, 8, 8, 8)
    heads = d.heads(x)
    torch.testing.assert_close(heads["features"], torch.relu(h).sum(dim=(2, 3)))  # global sum pooling
    torch.testing.assert_close(heads["logits"], d.out(heads["features"]))
    assert isinstance(d.out, torch.nn.Linear) and d.out.out_features == 1


def test_resnet_is_selectable_for_an_image_variant_and_rejects_batch_norm_in_d():
    cfg = load_config("sngan-mnist", [*TINY, "model.g.arch=resnet", "model.d.arch=resnet", "model.g.width=8", "model.d.width=8"])
    state = build_state(cfg)
    assert state.variant.generate(state.variant.players, 3, state.noise).shape == (3, 1, 32, 32)
    with pytest.raises(GankitError, match="norm"):
        build_discriminator(NetConfig(arch="resnet", width=8, norm="batch"), (1, 32, 32))


@pytest.mark.parametrize(("shape", "out_channels"), [((1, 32, 32), 1), ((1, 28, 28), 3), ((3, 64, 48), 3)])
def test_translator_maps_images_to_images_of_the_same_side(shape, out_channels):
    net = build_network(NetConfig(arch="resnet", width=8, depth=2, norm="batch"), shape, (out_channels, *shape[1:]))
    assert isinstance(net, ResNetTranslator)
    y = net(torch.randn(3, *shape))
    assert y.shape == (3, out_channels, *shape[1:])
    assert y.abs().max() <= 1
    blocks = [m for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2
    # c7s1-k, d2k, d4k, R4k, u2k, uk, c7s1-C: the residual blocks work at a quarter of the side with 4k channels
    seen = []
    hooks = [b.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape))) for b in blocks]
    net(torch.randn(2, *shape))
    for h in hooks:
        h.remove()
    assert seen == [(2, 32, shape[1] // 4, shape[2] // 4)] * 2


def test_translator_residual_blocks_add_their_input_and_have_no_skips_around_the_bottleneck():
    torch.manual_seed(0)
    block = ResidualBlock(4, "none")
    x = torch.randn(2, 4, 6, 6)
    for p in block.body.parameters():
        torch.nn.init.zeros_(p)
    assert torch.equal(block(x), x)  # a zero body is the identity
    net = ResNetTranslator((1, 16, 16), 1, width=4, blocks=1, norm="none").eval()
    # every path from input to output crosses the bottleneck: zeroing the last residual block's output map
    # (replacing it by a constant) makes the output independent of the input
    last = [m for m in net.modules() if isinstance(m, ResidualBlock)][-1]
    last.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    a, b = net(torch.randn(1, 1, 16, 16)), net(torch.randn(1, 1, 16, 16))
    assert torch.equal(a, b)


def test_translator_bad_sizes_are_user_errors():
    with pytest.raises(GankitError, match="divisible by 4"):
        ResNetTranslator((1, 30, 30), 1)
    with pytest.raises(GankitError, match="depth >= 1"):
        ResNetTranslator((1, 32, 32), 1, blocks=0)
    with pytest.raises(GankitError, match="norm"):
        ResNetTranslator((1, 32, 32), 1, norm="virtual")
    with pytest.raises(GankitError, match="resnet"):
        build_network(NetConfig(arch="resnet"), (1, 32, 32), (1, 16, 16))


@pytest.mark.parametrize(("shape", "latent"), [((1, 32, 32), 8), ((3, 64, 48), 12)])
def test_encoder_and_decoder_halves_are_built_from_the_shapes(shape, latent):
    _, h, w = shape
    code = (latent, h // 4, w // 4)
    encoder = build_network(NetConfig(arch="resnet", width=4, depth=2, norm="batch"), shape, code)
    decoder = build_network(NetConfig(arch="resnet", width=4, depth=1, norm="batch"), code, shape)
    assert isinstance(encoder, ResNetEncoder) and isinstance(decoder, ResNetDecoder)
    z = encoder(torch.randn(3, *shape))
    assert z.shape == (3, *code)
    y = decoder(z)
    assert y.shape == (3, *shape) and y.abs().max() <= 1
    # c7s1-k, d2k, dK then the residual blocks at K; the decoder's blocks at K come before u2k, uk, c7s1-C
    assert [m for m in encoder.net if isinstance(m, ResidualBlock)] == list(encoder.net[-2:])
    assert isinstance(decoder.net[0], ResidualBlock) and not isinstance(decoder.net[1], ResidualBlock)
    convs = [m for m in encoder.net.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(4, 8), (8, latent)]
    ups = [m for m in decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in ups] == [(latent, 8), (8, 4)]
    # depth 0: no residual blocks, only the strided convolutions
    plain = build_network(NetConfig(arch="resnet", width=4, depth=0, norm="none"), shape, code)
    assert not any(isinstance(m, ResidualBlock) for m in plain.modules()) and plain(torch.randn(2, *shape)).shape == (2, *code)


def test_translator_is_the_encoder_half_then_the_decoder_half():
    """The translator with K = 4k is the two halves in sequence, layer for layer (same initial weights from one seed)."""
    torch.manual_seed(0)
    translator = ResNetTranslator((1, 16, 16), 1, width=4, blocks=2, norm="none")
    torch.manual_seed(0)
    encoder = build_network(NetConfig(arch="resnet", width=4, depth=2, norm="none"), (1, 16, 16), (16, 4, 4))
    decoder = build_network(NetConfig(arch="resnet", width=4, depth=0, norm="none"), (16, 4, 4), (1, 16, 16))
    assert len(translator.net) == len(encoder.net) + len(decoder.net)
    decoder.load_state_dict({k.replace(f"net.{k.split('.')[1]}", f"net.{int(k.split('.')[1]) - len(encoder.net)}"): v
                             for k, v in translator.state_dict().items() if int(k.split(".")[1]) >= len(encoder.net)})  # fmt: skip
    x = torch.randn(2, 1, 16, 16)
    torch.testing.assert_close(translator(x), decoder(encoder(x)))


def test_resblocks_keep_the_shape_and_bad_shapes_are_user_errors():
    stack = build_network(NetConfig(arch="resblocks", depth=3, norm="batch"), (6, 8, 8), (6, 8, 8))
    assert isinstance(stack, ResidualStack) and sum(isinstance(m, ResidualBlock) for m in stack.modules()) == 3
    assert stack(torch.randn(2, 6, 8, 8)).shape == (2, 6, 8, 8)
    with pytest.raises(GankitError, match="'resblocks' builds"):
        build_network(NetConfig(arch="resblocks", depth=1), (6, 8, 8), (3, 8, 8))
    with pytest.raises(GankitError, match="depth >= 1"):
        build_network(NetConfig(arch="resblocks", depth=0), (6, 8, 8), (6, 8, 8))
    with pytest.raises(GankitError, match="divisible by 4"):
        build_network(NetConfig(arch="resnet", width=4), (1, 30, 30), (8, 7, 7))
    with pytest.raises(GankitError, match="depth >= 0"):
        build_network(NetConfig(arch="resnet", width=4, depth=-1), (1, 32, 32), (8, 8, 8))
