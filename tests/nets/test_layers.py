"""Minibatch discrimination and virtual batch norm: shapes, formulas and their (in)dependence on the batch."""

from __future__ import annotations

import torch

from gankit.config import NetConfig
from gankit.nets import MinibatchDiscrimination, ReferenceBatchGenerator, VirtualBatchNorm, build_discriminator, build_generator


def test_minibatch_discrimination_matches_its_formula_and_depends_on_the_batch():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, kernels=4, dims=3)
    x = torch.randn(5, 6)
    o = layer(x)
    assert o.shape == (5, 4)
    m = (x @ layer.T).reshape(5, 4, 3)
    expected = torch.zeros(5, 4)
    for i in range(5):
        for j in range(5):
            if i != j:
                expected[i] += torch.exp(-(m[i] - m[j]).abs().sum(dim=1))
    torch.testing.assert_close(o, expected)
    # another batch around the same first sample changes its output: the layer sees the minibatch
    other = torch.cat([x[:1], torch.randn(4, 6)])
    assert not torch.allclose(layer(other)[0], o[0])
    # identical samples (a collapsed generator) give the largest closeness, N - 1 per kernel
    torch.testing.assert_close(layer(x[:1].repeat(5, 1)), torch.full((5, 4), 4.0))


def test_discriminators_with_minibatch_features_keep_their_output_shape():
    for cfg, shape in ((NetConfig(arch="mlp", width=16, depth=2, minibatch=8), (2,)), (NetConfig(arch="dcgan", width=8, minibatch=8), (1, 32, 32))):
        d = build_discriminator(cfg, shape)
        x = torch.randn(6, *shape)
        out = d(x)
        assert isinstance(out, dict) and out["logits"].shape == (6, 1)
        assert out["features"].shape[0] == 6 and d.heads(x)["features"].shape[0] == 6


def _vbn_generator(arch="mlp"):
    torch.manual_seed(1)
    cfg = NetConfig(arch=arch, width=16, depth=2, norm="virtual")
    return build_generator(cfg, 4, (2,) if arch == "mlp" else (1, 32, 32))


def test_virtual_batch_norm_output_of_a_sample_does_not_depend_on_its_batch():
    for arch in ("mlp", "dcgan"):
        g = _vbn_generator(arch)
        assert isinstance(g, ReferenceBatchGenerator) and "z_ref" in g.state_dict()
        z = torch.randn(8, 4)
        alone = torch.cat([g(z[i : i + 1]) for i in range(8)])
        together = g(z)
        torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
        assert together.shape == (8, *((2,) if arch == "mlp" else (1, 32, 32)))
        g.eval()
        torch.testing.assert_close(g(z), together)  # no running statistics: the same in eval mode


def test_virtual_batch_norm_uses_the_reference_statistics_with_the_sample():
    layer = VirtualBatchNorm(3)
    layer.reference_size = 4
    ref, x = torch.randn(4, 3), torch.randn(2, 3)
    out = layer(torch.cat([ref, x]))
    for i in range(2):
        joint = torch.cat([ref, x[i : i + 1]])
        mean, var = joint.mean(0), joint.var(0, unbiased=False)
        torch.testing.assert_close(out[4 + i], (x[i] - mean) / torch.sqrt(var + 1e-5))
    torch.testing.assert_close(out[:4], (ref - ref.mean(0)) / torch.sqrt(ref.var(0, unbiased=False) + 1e-5))


def test_reference_batch_is_fixed_and_saved():
    g = _vbn_generator()
    z_ref = g.z_ref.clone()
    opt = torch.optim.Adam(g.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        g(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    assert torch.equal(g.z_ref, z_ref)
    other = _vbn_generator()
    other.load_state_dict(g.state_dict())
    torch.testing.assert_close(other(torch.ones(2, 4)), g(torch.ones(2, 4)))
