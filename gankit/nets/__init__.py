"""Networks, built by name from a registry of factories that read a player's :class:`~gankit.config.NetConfig` and its
input/output shapes. There are no fixed roles: the shapes decide what a factory builds (a vector to an image is a
generator, an image or vector to (1,) a critic, an image to an image a translation network). Networks know nothing
of losses. Every critic has ``heads(x, y=None)`` returning a dict with ``logits`` and ``features`` (and
``class_logits`` where it has a class head)."""

from __future__ import annotations

import difflib
from typing import Any, Protocol

import torch
from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_network
from gankit.nets.fcconv import FCConvDiscriminator, FCConvGenerator, fcconv_network
from gankit.nets.layers import MinibatchDiscrimination, ReferenceBatchGenerator, VirtualBatchNorm
from gankit.nets.mlp import ACTIVATIONS, MLP, NORMS, mlp_network
from gankit.nets.patchgan import PatchGANDiscriminator, patchgan_network
from gankit.nets.refiner import Refiner, refiner_network
from gankit.nets.resnet import (
    ResidualStack,
    ResNetDecoder,
    ResNetDiscriminator,
    ResNetEncoder,
    ResNetGenerator,
    ResNetTranslator,
    resblocks_network,
    resnet_network,
)
from gankit.nets.spectral import SpectralNorm, apply_spectral_norm
from gankit.nets.srresnet import SRGANDiscriminator, SRResNet, srgan_network, srresnet_network
from gankit.nets.unet import UNetGenerator, unet_network


class NetworkFactory(Protocol):
    """``factory(cfg, inputs, outputs, *, num_classes, conditioning, **extra) -> nn.Module``: builds from the shapes."""

    def __call__(
        self, cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none",
        critic: bool | None = None, **extra: Any,
    ) -> nn.Module: ...


NETWORKS: dict[str, NetworkFactory] = {}
ARCHITECTURES = NETWORKS  # the names ``model.<player>.arch`` accepts (config validation uses sorted(ARCHITECTURES))
_CONDITIONAL: set[str] = set()  # architectures that take labels


def register_network(name: str, factory: NetworkFactory, *, conditional: bool = False) -> NetworkFactory:
    """Add an architecture to the registry (``conditional``: it can take class labels); returns the factory."""
    if name in NETWORKS:
        raise ValueError(f"network architecture '{name}' is already registered")
    NETWORKS[name] = factory
    if conditional:
        _CONDITIONAL.add(name)
    return factory


register_network("mlp", mlp_network)
register_network("dcgan", dcgan_network, conditional=True)
register_network("resnet", resnet_network)
register_network("resblocks", resblocks_network)
register_network("unet", unet_network)
register_network("patchgan", patchgan_network)
register_network("fcconv", fcconv_network)
register_network("srresnet", srresnet_network)
register_network("srgan", srgan_network)
register_network("refiner", refiner_network)

REFERENCE_BATCH = 64  # virtual batch norm's reference batch of noise vectors


def _finish(net: nn.Module, cfg: NetConfig) -> nn.Module:
    """Options that apply to any architecture: spectral normalisation of every linear, convolutional and embedding layer."""
    return apply_spectral_norm(net) if cfg.sn else net


def build_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> nn.Module:
    """The network ``cfg.arch`` builds to map (B, *inputs) to (B, *outputs); ``critic`` (default: outputs are (1,))
    says whether it is a critic, whose forward returns its dict (a generator of 1-D data also maps to (1,)).

    ``num_classes`` > 0: the network takes labels too (a generator: one-hot labels with z; a critic: as
    ``conditioning`` says: concat, projection or aux). ``extra``: options of the architecture's constructor (e.g.
    ``dropout_at_test`` for unet). ``cfg.norm == "virtual"`` wraps a noise-input network in a fixed reference batch;
    ``cfg.sn`` spectrally normalises every layer.
    """
    if cfg.arch not in NETWORKS:
        close = difflib.get_close_matches(cfg.arch, NETWORKS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise GankitError(f"unknown network architecture '{cfg.arch}'; {hint}choose one of: {', '.join(sorted(NETWORKS))}")
    if num_classes and cfg.arch not in _CONDITIONAL:
        raise GankitError(f"architecture '{cfg.arch}' cannot be conditioned on labels; use one of: {', '.join(sorted(_CONDITIONAL))}")
    inputs, outputs = tuple(inputs), tuple(outputs)
    if cfg.norm == "virtual":
        if num_classes:
            raise GankitError("virtual batch norm is for unconditional noise-input networks (its reference batch has no labels)")
        if len(inputs) != 1:
            raise GankitError(f"virtual batch norm needs a noise-vector input (a generator), not inputs of shape {inputs}; use batch, layer or none")
    net = NETWORKS[cfg.arch](cfg, inputs, outputs, num_classes=num_classes, conditioning=conditioning, critic=critic, **extra)
    if cfg.norm == "virtual":  # the reference noise is drawn once, from the model-initialisation seed, and checkpointed
        net = ReferenceBatchGenerator(net, torch.randn(REFERENCE_BATCH, *inputs))
    return _finish(net, cfg)


def build_generator(cfg: NetConfig, z_dim: int, data_shape: tuple[int, ...], num_classes: int = 0) -> nn.Module:
    """A network mapping (B, z_dim) noise (and labels, when ``num_classes`` > 0) to (B, *data_shape) samples."""
    if cfg.minibatch:
        raise GankitError("model.g.minibatch: minibatch discrimination is a discriminator layer; set model.d.minibatch instead")
    if cfg.norm == "virtual" and num_classes:
        raise GankitError("model.g.norm: virtual batch norm is for unconditional generators (its reference batch has no labels)")
    return build_network(cfg, (z_dim,), tuple(data_shape), num_classes=num_classes, critic=False)


def build_discriminator(cfg: NetConfig, data_shape: tuple[int, ...], num_classes: int = 0, conditioning: str = "none") -> nn.Module:
    """A network mapping (B, *data_shape) samples (and labels, per ``conditioning``) to logits (B, 1)."""
    if cfg.norm == "virtual":
        raise GankitError("model.d.norm: virtual batch norm is implemented for generators; use batch, layer or none in D")
    labelled = num_classes if conditioning != "none" else 0  # conditioning "none" ignores the labels
    return build_network(cfg, tuple(data_shape), (1,), num_classes=labelled, conditioning=conditioning if labelled else "none", critic=True)


__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "MLP",
    "NETWORKS",
    "NORMS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "FCConvDiscriminator",
    "FCConvGenerator",
    "MinibatchDiscrimination",
    "NetworkFactory",
    "PatchGANDiscriminator",
    "ReferenceBatchGenerator",
    "Refiner",
    "ResNetDecoder",
    "ResNetDiscriminator",
    "ResNetEncoder",
    "ResNetGenerator",
    "ResNetTranslator",
    "ResidualStack",
    "SRGANDiscriminator",
    "SRResNet",
    "SpectralNorm",
    "UNetGenerator",
    "VirtualBatchNorm",
    "apply_spectral_norm",
    "build_discriminator",
    "build_generator",
    "build_network",
    "register_network",
]
