"""Feature extractors: batching does not change features; the judge's per-channel features; errors."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.metrics.classifier import judge_outputs
from gankit.metrics.extractors import InceptionExtractor, ModuleExtractor, build_extractor


def test_module_extractor_batches_and_flattens():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    images = torch.rand(7, 3, 8, 8)
    whole = ModuleExtractor(net, batch_size=100, progress=False)(images)
    pieces = ModuleExtractor(net, batch_size=3, progress=False)(images)
    assert whole.shape == (7, 4 * 6 * 6) and whole.dtype == torch.float64
    assert torch.allclose(whole, pieces, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(whole, net(images).flatten(1).double(), atol=1e-6)


def test_mnist_extractor_is_the_judges_penultimate_layer():
    extractor = build_extractor("mnist", progress=False)
    images = torch.rand(6, 1, 28, 28)
    feats = extractor(images)
    _, reference = judge_outputs(images)
    assert feats.shape == (6, 128)
    assert torch.allclose(feats, reference, atol=1e-5)
    stacked = torch.rand(4, 3, 32, 32)  # Stacked MNIST: one digit per channel, features concatenated
    per_channel = extractor(stacked)
    assert per_channel.shape == (4, 3 * 128)
    assert torch.allclose(per_channel[:, 128:256], extractor(stacked[:, 1:2]), atol=1e-5)
    assert "weights_sha256" in extractor.protocol


def test_greyscale_is_repeated_for_inception_and_bad_shapes_are_errors():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(x.shape)
            return x.mean(dim=(2, 3))

    extractor = InceptionExtractor(Spy(), "inception", progress=False)
    assert extractor(torch.rand(2, 1, 5, 5)).shape == (2, 3)
    assert seen[-1] == (2, 3, 5, 5)
    with pytest.raises(GankitError, match="channels"):
        extractor(torch.rand(2, 4, 5, 5))
    with pytest.raises(GankitError, match=r"\(N, C, H, W\)"):
        extractor(torch.rand(2, 5, 5))
    with pytest.raises(GankitError, match="unknown extractor"):
        build_extractor("vgg")


def test_folding_batchnorm_into_convolutions_keeps_the_function():
    from gankit.metrics.extractors import fold_batchnorm
    from gankit.metrics.inception import BasicConv2d

    torch.manual_seed(0)
    net = nn.Sequential(BasicConv2d(3, 8, 3, padding=1), BasicConv2d(8, 4, 1))
    for block in net:  # non-trivial running statistics and affine parameters
        block.bn.running_mean.uniform_(-1, 1)
        block.bn.running_var.uniform_(0.5, 2)
        block.bn.weight.data.uniform_(0.5, 1.5)
        block.bn.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    folded = fold_batchnorm(net)
    assert all(isinstance(block.bn, nn.Identity) for block in folded)
    assert all(isinstance(block.bn, nn.BatchNorm2d) for block in net)  # the original is untouched
    x = torch.rand(2, 3, 9, 9)
    with torch.no_grad():
        assert torch.allclose(folded(x), net(x), atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_inception_extractor_keeps_large_blocks_in_the_heap():
    """After the CPU Inception extractor has run, a freed 256 MB block is reused by the next allocation instead of
    being unmapped and page-faulted in again (what made every batch of 299 px activations slow)."""
    import resource

    from gankit.metrics.extractors import reuse_large_allocations

    extractor = InceptionExtractor(nn.Conv2d(3, 2, 3), "inception", progress=False)
    extractor(torch.rand(2, 1, 8, 8))
    assert reuse_large_allocations() is True and reuse_large_allocations() is True  # applied once, idempotent
    for _ in range(2):  # 256 MB, freed at once; by default glibc maps and unmaps such a block every time
        torch.empty(64 * 2**20).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(64 * 2**20).fill_(2.0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 0.1 * (256 * 2**20 // 4096), f"{faults} page faults: the block was not reused"
