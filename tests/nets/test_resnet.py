"""The SN-ResNet pair of Miyato et al. (2018): shapes, sizes, spectral norm, and that it trains as any architecture."""

from __future__ import annotations

import pytest
import torch

from gankit.config import NetConfig, load_config
from gankit.errors import GankitError
from gankit.nets import SpectralNorm, build_discriminator, build_generator
from gankit.nets.resnet import DownBlock, UpBlock
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
