"""The network registry: each architecture is built from shapes, not roles; the old builders are thin wrappers that
give bit-identical networks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets import (
    ARCHITECTURES,
    MLP,
    NETWORKS,
    DCGANDiscriminator,
    DCGANGenerator,
    PatchGANDiscriminator,
    ReferenceBatchGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
    SpectralNorm,
    SRGANDiscriminator,
    SRResNet,
    UNetGenerator,
    build_discriminator,
    build_generator,
    build_network,
)

# name: (cfg, z_dim, data_shape, num_classes)
GENERATORS = {
    "mlp-g": (NetConfig(arch="mlp", width=16, depth=2), 2, (2,), 0),
    "mlp-g-batch-leaky": (NetConfig(arch="mlp", width=16, depth=3, norm="batch", activation="leaky_relu"), 4, (2,), 0),
    "mlp-g-layer-image": (NetConfig(arch="mlp", width=32, depth=2, norm="layer"), 8, (1, 8, 8), 0),
    "mlp-g-virtual": (NetConfig(arch="mlp", width=16, depth=2, norm="virtual"), 4, (2,), 0),
    "mlp-g-sn": (NetConfig(arch="mlp", width=16, depth=2, sn=True), 2, (2,), 0),
    "dcgan-g-28": (NetConfig(arch="dcgan", width=8, norm="batch"), 16, (1, 28, 28), 0),
    "dcgan-g-32-rgb": (NetConfig(arch="dcgan", width=8, norm="batch"), 16, (3, 32, 32), 0),
    "dcgan-g-64": (NetConfig(arch="dcgan", width=8, norm="layer"), 16, (1, 64, 64), 0),
    "dcgan-g-conditional": (NetConfig(arch="dcgan", width=8, norm="batch"), 16, (1, 32, 32), 10),
    "dcgan-g-virtual": (NetConfig(arch="dcgan", width=8, norm="virtual"), 16, (1, 32, 32), 0),
    "dcgan-g-sn": (NetConfig(arch="dcgan", width=8, norm="batch", sn=True), 16, (1, 32, 32), 0),
    "resnet-g-32": (NetConfig(arch="resnet", width=16, norm="batch"), 8, (3, 32, 32), 0),
    "resnet-g-28": (NetConfig(arch="resnet", width=16, norm="none"), 8, (1, 28, 28), 0),
}
# name: (cfg, data_shape, num_classes, conditioning). The ResNet discriminator is not here: its layout was corrected
# (Miyato et al., 2018, Table 4: one down-block fewer), which changes it on purpose.
DISCRIMINATORS = {
    "mlp-d": (NetConfig(arch="mlp", width=16, depth=2), (2,), 0, "none"),
    "mlp-d-minibatch": (NetConfig(arch="mlp", width=16, depth=2, minibatch=8), (2,), 0, "none"),
    "mlp-d-sn-batch-image": (NetConfig(arch="mlp", width=16, depth=2, norm="batch", sn=True), (1, 8, 8), 0, "none"),
    "dcgan-d-32": (NetConfig(arch="dcgan", width=8, norm="batch"), (1, 32, 32), 0, "none"),
    "dcgan-d-28-none": (NetConfig(arch="dcgan", width=8, norm="none"), (1, 28, 28), 0, "none"),
    "dcgan-d-64-layer-rgb": (NetConfig(arch="dcgan", width=8, norm="layer"), (3, 64, 64), 0, "none"),
    "dcgan-d-minibatch": (NetConfig(arch="dcgan", width=8, norm="batch", minibatch=8), (1, 32, 32), 0, "none"),
    "dcgan-d-concat": (NetConfig(arch="dcgan", width=8, norm="batch"), (1, 28, 28), 10, "concat"),
    "dcgan-d-projection": (NetConfig(arch="dcgan", width=8, norm="batch"), (1, 28, 28), 10, "projection"),
    "dcgan-d-aux": (NetConfig(arch="dcgan", width=8, norm="batch"), (1, 28, 28), 10, "aux"),
    "dcgan-d-sn": (NetConfig(arch="dcgan", width=8, norm="none", sn=True), (1, 32, 32), 0, "none"),
    "dcgan-d-sn-aux": (NetConfig(arch="dcgan", width=8, norm="none", sn=True), (1, 32, 32), 10, "aux"),
    "dcgan-d-unconditioned-labels": (NetConfig(arch="dcgan", width=8, norm="batch"), (1, 32, 32), 10, "none"),
}
# Computed with the builders of commit d80eaf1, before the registry existed: module tree, state dict (names, shapes,
# values) and the global RNG's state after building, from torch.manual_seed(1234), on the CPU CI used then (the result
# pages of that time name an AMD EPYC). SN_ON_INTEL holds what the same builders give on an Intel Xeon for the
# spectrally normalised networks (the power iteration's float rounding differs between the two CPUs' kernels; every
# other network hashes the same on both).
FINGERPRINTS = {
    "mlp-g": "93a666eedbaa4a46",
    "mlp-g-batch-leaky": "312824a3948bbcb0",
    "mlp-g-layer-image": "f196c2c620f90dc7",
    "mlp-g-virtual": "0a7150c667013986",
    "mlp-g-sn": "8445fbc639a0c86c",
    "dcgan-g-28": "8cae7e5a170f36ce",
    "dcgan-g-32-rgb": "ff4ddf44830e6108",
    "dcgan-g-64": "988bc4dd33f01891",
    "dcgan-g-conditional": "2e9c8b64f2b5f9e4",
    "dcgan-g-virtual": "710ff05335b87bd8",
    "dcgan-g-sn": "1950c07a4866a126",
    "resnet-g-32": "e8b57d490bcfddd1",
    "resnet-g-28": "b4b58fdbe3e5cbf1",
    "mlp-d": "14cf88ba440a6cda",
    "mlp-d-minibatch": "379b9078989c7d45",
    "mlp-d-sn-batch-image": "3a333df385c37384",
    "dcgan-d-32": "d7519de22495f502",
    "dcgan-d-28-none": "c6358b50812cbfab",
    "dcgan-d-64-layer-rgb": "2a17d944cf1dbf54",
    "dcgan-d-minibatch": "0478c9cbb483a84c",
    "dcgan-d-concat": "e0e9bf799342208d",
    "dcgan-d-projection": "1964e29c62a4592a",
    "dcgan-d-aux": "90381770436d5c8c",
    "dcgan-d-sn": "a2b19cd84ee076fe",
    "dcgan-d-sn-aux": "9b96c562dc98cf6f",
    "dcgan-d-unconditioned-labels": "d7519de22495f502",
}
SN_ON_INTEL = {
    "mlp-g-sn": "633b6a54c23dd099",
    "dcgan-g-sn": "ef7a59b18a195ccb",
    "mlp-d-sn-batch-image": "99ed2d789e541c89",
    "dcgan-d-sn": "c64373dafc8b475b",
    "dcgan-d-sn-aux": "bc4e8ff839049439",
}
# The spectrally normalised projection discriminator now also wraps its embedding (Miyato & Koyama, 2018), which
# renames embed.weight and adds its ũ, ṽ; its parameter values, in order, and the RNG draws are those of d80eaf1.
SN_PROJECTION_PARAMETERS = "e0e2d06798d28e94"


def _before(name: str) -> set[str]:
    """The fingerprints d80eaf1's builders gave for ``name`` on the CPUs they were recorded on."""
    return {FINGERPRINTS[name], SN_ON_INTEL.get(name, FINGERPRINTS[name])}


def _fingerprint(build: Callable[[], nn.Module]) -> str:
    torch.manual_seed(1234)
    net = build()
    h = hashlib.sha256()
    for name, m in net.named_modules():
        h.update(f"{name}:{type(m).__name__};".encode())
    for name, t in net.state_dict().items():
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.detach().contiguous().numpy().tobytes())
    h.update(torch.randn(8).numpy().tobytes())  # the global RNG is left where it was: the same number of draws
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", list(GENERATORS))
def test_build_generator_is_bit_identical_to_before(name):
    cfg, z_dim, shape, classes = GENERATORS[name]
    assert _fingerprint(lambda: build_generator(cfg, z_dim, shape, classes)) in _before(name)
    assert _fingerprint(lambda: build_network(cfg, (z_dim,), shape, num_classes=classes)) in _before(name)


@pytest.mark.parametrize("name", list(DISCRIMINATORS))
def test_build_discriminator_is_bit_identical_to_before(name):
    cfg, shape, classes, conditioning = DISCRIMINATORS[name]
    assert _fingerprint(lambda: build_discriminator(cfg, shape, classes, conditioning)) in _before(name)


def test_sn_projection_discriminator_keeps_its_parameter_values():
    torch.manual_seed(1234)
    d = build_discriminator(NetConfig(arch="dcgan", width=8, norm="none", sn=True), (1, 28, 28), 10, "projection")
    h = hashlib.sha256()
    for p in d.parameters():
        h.update(p.detach().numpy().tobytes())
    h.update(torch.randn(8).numpy().tobytes())
    assert h.hexdigest()[:16] == SN_PROJECTION_PARAMETERS


def test_registry_names_are_the_config_choices():
    assert {"mlp", "dcgan", "resnet", "unet", "patchgan"} <= set(NETWORKS)
    assert sorted(ARCHITECTURES) == sorted(NETWORKS)


@pytest.mark.parametrize(
    ("arch", "inputs", "outputs", "kind", "out_shape"),
    [
        ("mlp", (4,), (2,), MLP, (2,)),  # a toy generator
        ("mlp", (2,), (1,), MLP, (1,)),  # a toy critic
        ("mlp", (1, 8, 8), (1,), MLP, (1,)),
        ("dcgan", (16,), (1, 32, 32), DCGANGenerator, (1, 32, 32)),
        ("dcgan", (3, 32, 32), (1,), DCGANDiscriminator, (1,)),
        ("resnet", (16,), (3, 32, 32), ResNetGenerator, (3, 32, 32)),
        ("resnet", (3, 32, 32), (1,), ResNetDiscriminator, (1,)),
        ("unet", (1, 32, 32), (1, 32, 32), UNetGenerator, (1, 32, 32)),
        ("unet", (3, 64, 64), (1, 64, 64), UNetGenerator, (1, 64, 64)),
        ("patchgan", (2, 32, 32), (1,), PatchGANDiscriminator, (1, 2, 2)),
        ("srresnet", (3, 8, 8), (3, 32, 32), SRResNet, (3, 32, 32)),
        ("srgan", (3, 32, 32), (1,), SRGANDiscriminator, (1,)),
    ],
)
def test_each_architecture_builds_from_shapes(arch, inputs, outputs, kind, out_shape):
    norm = "none" if arch == "resnet" and outputs == (1,) else "batch"
    net = build_network(NetConfig(arch=arch, width=8, depth=2 if arch == "mlp" else 5 if arch == "unet" else 3, norm=norm), inputs, outputs)
    assert isinstance(net, kind)
    x = torch.randn(3, *inputs)
    out = net(x)
    if outputs == (1,):  # every critic's forward gives its dict of heads, as heads() does
        heads = net.heads(x)
        assert isinstance(out, dict) and {"logits", "features"} <= set(heads) and set(out) == set(heads)
        assert heads["features"].shape[0] == heads["logits"].shape[0] == 3
        for key in heads:
            torch.testing.assert_close(out[key], heads[key])
        scores = net.patch_map(x) if isinstance(net, PatchGANDiscriminator) else out["logits"]
        assert scores.shape == (3, *out_shape)
    else:
        assert isinstance(out, torch.Tensor) and out.shape == (3, *out_shape)


# arch: (cfg, image shape, logits per sample). Every registered architecture that builds critics is here; the others
# are in NOT_CRITICS, so that a newly registered one has to be put in one or the other.
CRITICS = {
    "mlp": (NetConfig(arch="mlp", width=16, depth=2), (1, 8, 8), 1),
    "dcgan": (NetConfig(arch="dcgan", width=8, norm="batch"), (1, 32, 32), 1),
    "resnet": (NetConfig(arch="resnet", width=8, norm="none"), (3, 32, 32), 1),
    "patchgan": (NetConfig(arch="patchgan", width=4, depth=2, norm="batch"), (2, 32, 32), 6 * 6),
    "fcconv": (NetConfig(arch="fcconv", width=4, norm="batch"), (1, 28, 28), 1),
    "srgan": (NetConfig(arch="srgan", width=4, norm="batch"), (3, 32, 32), 1),
}
NOT_CRITICS = {"unet", "srresnet", "resblocks", "refiner"}


def test_every_registered_critic_returns_its_dict_and_generators_return_tensors():
    assert set(CRITICS) | NOT_CRITICS == set(NETWORKS) and not set(CRITICS) & NOT_CRITICS
    for arch, (cfg, shape, n) in CRITICS.items():
        for sn in (False, True):
            net = build_network(replace(cfg, sn=sn), shape, (1,))
            x = torch.randn(4, *shape)
            out = net(x)
            assert isinstance(out, dict) and {"logits", "features"} <= set(out), arch
            assert out["logits"].shape == (4, n), (arch, tuple(out["logits"].shape))
            assert out["features"].dim() == 2 and out["features"].shape[0] == 4 and out["features"].shape[1] >= 1, arch
            heads = net.heads(x)
            assert set(out) == set(heads), arch
            for key in heads:
                torch.testing.assert_close(out[key], heads[key])
    for arch in NOT_CRITICS:
        with pytest.raises(GankitError, match=f"'{arch}' builds"):
            build_network(NetConfig(arch=arch), (1, 32, 32), (1,))
    generator = build_network(NetConfig(arch="mlp", width=16, depth=2), (4,), (2,))
    z = torch.randn(4, 4)
    assert isinstance(generator, MLP) and isinstance(generator(z), torch.Tensor) and generator(z).shape == (4, 2)
    torch.testing.assert_close(generator(z), generator.heads(z)["logits"])


def test_a_generator_of_one_dimensional_data_returns_a_tensor():
    """(1,) -> (1,) is a generator of 1-D data (gan-1d) or a critic of it: the caller says which."""
    g = build_generator(NetConfig(arch="mlp", width=16, depth=2), 1, (1,))
    out = g(torch.randn(4, 1))
    assert isinstance(out, torch.Tensor) and out.shape == (4, 1)
    d = build_discriminator(NetConfig(arch="mlp", width=16, depth=2), (1,))
    assert isinstance(d(torch.randn(4, 1)), dict)
    virtual = build_generator(NetConfig(arch="mlp", width=16, depth=2, norm="virtual"), 2, (1,))
    assert virtual(torch.randn(4, 2)).shape == (4, 1)


def test_noise_networks_with_virtual_batch_norm_are_wrapped_in_their_reference_batch():
    net = build_network(NetConfig(arch="dcgan", width=8, norm="virtual"), (16,), (1, 32, 32))
    assert isinstance(net, ReferenceBatchGenerator) and net.z_ref.shape == (64, 16)
    with pytest.raises(GankitError, match="noise-vector"):
        build_network(NetConfig(arch="unet", norm="virtual"), (1, 32, 32), (1, 32, 32))


def test_spectral_norm_applies_to_any_architecture():
    net = build_network(NetConfig(arch="unet", width=4, depth=3, sn=True), (1, 32, 32), (1, 32, 32))
    assert sum(isinstance(m, SpectralNorm) for m in net.modules()) == 6
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_user_errors_name_what_to_do():
    with pytest.raises(GankitError, match=r"unknown network architecture 'unett'; did you mean 'unet'\? choose one of: dcgan, fcconv, mlp, patchgan"):
        build_network(NetConfig(arch="unett"), (1, 32, 32), (1, 32, 32))
    with pytest.raises(GankitError, match=r"'dcgan' builds .*not \(1, 32, 32\) -> \(1, 32, 32\)"):
        build_network(NetConfig(arch="dcgan"), (1, 32, 32), (1, 32, 32))
    with pytest.raises(GankitError, match="'unet' cannot be conditioned on labels; use one of: dcgan"):
        build_network(NetConfig(arch="unet"), (1, 32, 32), (1, 32, 32), num_classes=10)
    with pytest.raises(GankitError, match="'mlp' cannot be conditioned"):
        build_discriminator(NetConfig(arch="mlp"), (2,), num_classes=3, conditioning="projection")
    with pytest.raises(GankitError, match=r"model\.g\.minibatch"):
        build_generator(NetConfig(arch="dcgan", minibatch=4), 8, (1, 32, 32))
    with pytest.raises(GankitError, match=r"model\.d\.norm"):
        build_discriminator(NetConfig(arch="dcgan", norm="virtual"), (1, 32, 32))
    with pytest.raises(GankitError, match="square"):
        build_generator(NetConfig(arch="dcgan"), 8, (2,))
