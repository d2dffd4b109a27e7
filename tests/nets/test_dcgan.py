"""DCGAN follows the lectures' guidelines: strided convolutions, no pooling, BN placement, ReLU/tanh, LeakyReLU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets import build_network
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_layout
from gankit.nets.layers import GaussianNoise


@pytest.mark.parametrize(("size", "channels"), [(28, 1), (32, 1), (32, 3), (64, 1), (64, 3), (16, 1)])
def test_output_shapes(size, channels):
    g, d = DCGANGenerator(16, (channels, size, size), width=8), DCGANDiscriminator((channels, size, size), width=8)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    out = d(x)  # every critic's forward gives its dict of heads
    assert isinstance(out, dict) and {"logits", "features"} <= set(out)
    assert out["logits"].shape == (5, 1)
    heads = d.heads(x)
    assert heads["features"].shape[0] == 5 and set(out) == set(heads)
    for key in heads:
        torch.testing.assert_close(out[key], heads[key])


def _ordered(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not isinstance(m, nn.Sequential) and m is not module and list(m.children()) == []]


@pytest.mark.parametrize("size", [28, 32, 64])
def test_guidelines(size):
    g, d = DCGANGenerator(16, (3, size, size), width=8), DCGANDiscriminator((3, size, size), width=8)
    for net in (g, d):
        assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Linear)) for m in net.modules())
    g_layers = _ordered(g)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)  # no BN on G's output
    convs = [i for i, m in enumerate(g_layers) if isinstance(m, nn.ConvTranspose2d)]
    for i in convs[:-1]:  # every other G layer: ConvT -> BN -> ReLU
        assert isinstance(g_layers[i + 1], nn.BatchNorm2d) and isinstance(g_layers[i + 2], nn.ReLU)
    assert all(m.stride == (2, 2) for m in (g_layers[i] for i in convs[1:]))
    d_layers = _ordered(d.body)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)  # no BN on D's input
    assert d_layers[1].negative_slope == 0.2
    d_convs = [i for i, m in enumerate(d_layers) if isinstance(m, nn.Conv2d)]
    assert all(d_layers[i].stride == (2, 2) for i in d_convs)
    for i in d_convs[1:]:
        assert isinstance(d_layers[i + 1], nn.BatchNorm2d) and isinstance(d_layers[i + 2], nn.LeakyReLU)


def test_init_is_normal_0_02():
    torch.manual_seed(0)
    g = DCGANGenerator(100, (1, 64, 64), width=64)
    weights = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(weights.mean().item()) < 1e-3 and weights.std().item() == pytest.approx(0.02, rel=0.02)
    bn = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01)


def test_conditioning_changes_outputs_per_label():
    g = DCGANGenerator(8, (1, 28, 28), width=8, num_classes=10).eval()
    z = torch.randn(1, 8).repeat(2, 1)
    a, b = g(z, torch.tensor([1, 2]))
    assert not torch.equal(a, b)
    for mode in ("concat", "projection"):
        d = DCGANDiscriminator((1, 28, 28), width=8, num_classes=10, conditioning=mode).eval()
        x = torch.randn(1, 1, 28, 28).repeat(2, 1, 1, 1)
        out = d(x, torch.tensor([3, 4]))["logits"]
        assert out.shape == (2, 1) and out[0] != out[1]
    aux = DCGANDiscriminator((1, 28, 28), width=8, num_classes=10, conditioning="aux")
    x = torch.randn(3, 1, 28, 28)
    assert aux.heads(x)["class_logits"].shape == (3, 10)
    out = aux(x)  # forward gives the class head too
    assert out["class_logits"].shape == (3, 10) and out["logits"].shape == (3, 1)
    torch.testing.assert_close(out["class_logits"], aux.heads(x)["class_logits"])


def test_unsupported_sizes_are_user_errors():
    with pytest.raises(GankitError, match="4\\*2\\^k"):
        dcgan_layout(30)
    with pytest.raises(GankitError, match="square"):
        DCGANGenerator(8, (1, 28, 32))
    assert dcgan_layout(28) == (7, 2) and dcgan_layout(64) == (4, 4)


def test_an_image_to_vector_network_is_an_encoder_or_a_k_logit_critic_and_d_exposes_its_block_maps():
    from gankit.config import NetConfig
    from gankit.nets import build_network
    from gankit.nets.dcgan import DCGANDiscriminator, DCGANEncoder

    cfg = NetConfig(arch="dcgan", width=8, norm="batch")
    x = torch.randn(4, 1, 28, 28)
    encoder = build_network(cfg, (1, 28, 28), (12,), critic=False)
    assert isinstance(encoder, DCGANEncoder) and encoder(x).shape == (4, 12)
    critic = build_network(cfg, (1, 28, 28), (10,), critic=True)
    assert isinstance(critic, DCGANDiscriminator) and not isinstance(critic, DCGANEncoder)
    out = critic(x)
    assert out["logits"].shape == (4, 10) and out["features"].shape == (4, 16 * 7 * 7)
    maps = critic.feature_maps(x)
    assert [tuple(m.shape[1:]) for m in maps] == [(8, 14, 14), (16, 7, 7)]
    torch.testing.assert_close(maps[-1].flatten(1), out["features"])


def test_noise_layers_perturb_only_in_training_and_features_are_read_before_the_heads_noise():
    torch.manual_seed(0)
    plain = DCGANDiscriminator((1, 28, 28), width=8, norm="none", outputs=10)
    noisy = DCGANDiscriminator((1, 28, 28), width=8, norm="none", outputs=10, input_noise=0.3, noise=0.5)
    with torch.no_grad():  # parameter-free layers: the same parameters in the same order
        for mine, theirs in zip(noisy.parameters(), plain.parameters(), strict=True):
            mine.copy_(theirs)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    plain.eval(), noisy.eval()
    torch.testing.assert_close(noisy(x)["logits"], plain(x)["logits"])  # no noise at test time
    noisy.train()
    torch.manual_seed(1)
    heads = noisy.heads(x)
    assert not torch.allclose(heads["logits"], plain(x)["logits"])
    torch.manual_seed(1)  # the same draws, step by step: input noise, the blocks with their noise, then the heads' noise
    h = x + 0.3 * torch.randn_like(x)
    for layer in noisy.body:
        h = layer(h)
    torch.testing.assert_close(heads["features"], h.flatten(1))
    torch.testing.assert_close(heads["logits"], noisy.out(h + 0.5 * torch.randn_like(h)).flatten(1))
    assert sum(isinstance(m, GaussianNoise) for m in noisy.modules()) == 1 + 1 + (len(noisy.feature_maps(x)) - 1)


def test_a_generator_refuses_noise_layers():
    with pytest.raises(GankitError, match="generator cannot have them"):
        build_network(NetConfig(arch="dcgan", width=8, input_noise=0.3), (16,), (1, 28, 28), critic=False)
