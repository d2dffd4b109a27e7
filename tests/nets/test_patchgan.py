"""The pix2pix PatchGAN (Isola et al., 2017): map sizes, receptive fields, per-patch locality, heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets import PatchGANDiscriminator, SpectralNorm, build_network
from gankit.nets.patchgan import patch_map_size, patch_receptive_field


def test_receptive_fields_are_the_papers():
    assert [patch_receptive_field(d) for d in (1, 2, 3, 4)] == [16, 34, 70, 142]  # the paper compares 16x16 (depth 1), 70x70 (3), 286x286 (5)
    assert patch_receptive_field(5) == 286
    assert patch_map_size(256, 3) == 30 and patch_map_size(32, 3) == 2 and patch_map_size(32, 1) == 14


@pytest.mark.parametrize(
    ("shape", "depth", "side"), [((2, 32, 32), 1, 14), ((2, 32, 32), 2, 6), ((2, 32, 32), 3, 2), ((6, 64, 64), 3, 6), ((3, 256, 256), 3, 30)]
)
def test_patch_map_sizes(shape, depth, side):
    d = build_network(NetConfig(arch="patchgan", width=4, depth=depth, norm="batch"), shape, (1,))
    assert isinstance(d, PatchGANDiscriminator) and d.map_shape == (1, side, side)
    x = torch.randn(2, *shape)
    assert d.patch_map(x).shape == (2, 1, side, side)
    heads = d.heads(x)
    assert heads["logits"].shape == (2, side * side)
    torch.testing.assert_close(heads["logits"], d.patch_map(x).flatten(1))
    out = d(x)  # forward gives the heads: the flattened map and the features
    assert isinstance(out, dict) and set(out) == {"logits", "features"}
    torch.testing.assert_close(out["logits"], heads["logits"])
    torch.testing.assert_close(out["features"], heads["features"])
    assert heads["features"].shape == (2, 4 * 2 ** min(depth, 3) * (side + 1) ** 2)  # the last hidden map, one side larger


def test_layer_pattern_and_initialisation():
    torch.manual_seed(0)
    d = PatchGANDiscriminator((6, 256, 256), width=64, depth=3)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.stride[0]) for c in convs] == [(64, 2), (128, 2), (256, 2), (512, 1), (1, 1)]  # C64-C128-C256-C512
    assert all(c.kernel_size == (4, 4) for c in convs)
    layers = list(d.body)
    assert isinstance(layers[1], nn.LeakyReLU) and layers[1].negative_slope == 0.2  # no norm on the first layer
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    weights = torch.cat([c.weight.flatten() for c in convs])
    assert abs(weights.mean().item()) < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize(("size", "depth"), [(32, 1), (64, 3)])
def test_a_patch_logit_only_sees_its_patch(size, depth):
    torch.manual_seed(1)
    d = build_network(NetConfig(arch="patchgan", width=4, depth=depth, norm="batch"), (2, size, size), (1,)).eval()
    x = torch.randn(1, 2, size, size, requires_grad=True)
    (grad,) = torch.autograd.grad(d.patch_map(x)[0, 0, 0, 0], x)
    seen = grad.abs().sum(dim=(0, 1)).nonzero()
    assert seen.max().item() < d.receptive_field and seen[:, 0].max() - seen[:, 0].min() < d.receptive_field
    far = x.detach().clone()
    far[..., -1, -1] += 10.0  # the opposite corner, outside patch (0, 0)'s window
    before, after = d.patch_map(x.detach()), d.patch_map(far)
    assert after[0, 0, 0, 0] == before[0, 0, 0, 0]
    assert after[0, 0, -1, -1] != before[0, 0, -1, -1]


def test_receptive_field_at_256_px_is_70():
    torch.manual_seed(2)
    d = PatchGANDiscriminator((1, 256, 256), width=2, depth=3, norm="none")
    x = torch.randn(1, 1, 256, 256, requires_grad=True)
    (grad,) = torch.autograd.grad(d.patch_map(x)[0, 0, 15, 15], x)  # an interior patch: no padding in its window
    rows, cols = grad[0, 0].abs().sum(dim=1).nonzero(), grad[0, 0].abs().sum(dim=0).nonzero()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_pair_and_single_image_inputs_and_options():
    pair = build_network(NetConfig(arch="patchgan", width=4, norm="layer", sn=True), (1 + 1, 32, 32), (1,))  # pix2pix: (a, b) on channels
    a, b = torch.randn(3, 1, 32, 32), torch.randn(3, 1, 32, 32)
    assert pair.patch_map(torch.cat([a, b], dim=1)).shape == (3, 1, 2, 2)
    assert pair(torch.cat([a, b], dim=1))["logits"].shape == (3, 2 * 2)
    assert all(isinstance(m.layer, nn.Conv2d) for m in pair.modules() if isinstance(m, SpectralNorm))
    assert sum(isinstance(m, SpectralNorm) for m in pair.modules()) == 5
    single = build_network(NetConfig(arch="patchgan", width=4, depth=2, norm="none"), (3, 64, 64), (1,))  # CycleGAN's D
    assert single.heads(torch.randn(2, 3, 64, 64))["logits"].shape == (2, 14 * 14)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) for m in single.modules())


def test_unsupported_settings_are_user_errors():
    with pytest.raises(GankitError, match="lower model"):
        PatchGANDiscriminator((1, 16, 16), depth=3)
    with pytest.raises(GankitError, match="patchgan"):
        build_network(NetConfig(arch="patchgan"), (1, 32, 32), (1, 32, 32))
    with pytest.raises(GankitError, match="minibatch"):
        build_network(NetConfig(arch="patchgan", minibatch=4), (1, 32, 32), (1,))
    with pytest.raises(GankitError, match="norm"):
        PatchGANDiscriminator((1, 32, 32), norm="virtual")
