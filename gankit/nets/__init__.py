"""Networks, built from a player's :class:`~gankit.config.NetConfig`. They know nothing of losses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_discriminator, dcgan_generator
from gankit.nets.layers import MinibatchDiscrimination, ReferenceBatchGenerator, VirtualBatchNorm
from gankit.nets.mlp import ACTIVATIONS, MLP, NORMS, mlp_discriminator, mlp_generator
from gankit.nets.resnet import resnet_discriminator, resnet_generator
from gankit.nets.spectral import SpectralNorm, apply_spectral_norm


@dataclass(frozen=True)
class Architecture:
    generator: Callable[..., nn.Module]
    discriminator: Callable[..., nn.Module]
    conditional: bool = False


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(mlp_generator, mlp_discriminator),
    "dcgan": Architecture(dcgan_generator, dcgan_discriminator, conditional=True),
    "resnet": Architecture(resnet_generator, resnet_discriminator),
}


def _options(cfg: NetConfig) -> dict:
    return {"width": cfg.width, "depth": cfg.depth, "activation": cfg.activation, "norm": cfg.norm}


def _conditional(cfg: NetConfig, num_classes: int) -> dict:
    if not num_classes:
        return {}
    if not ARCHITECTURES[cfg.arch].conditional:
        conditional = [name for name, a in ARCHITECTURES.items() if a.conditional]
        raise GankitError(f"architecture '{cfg.arch}' cannot be conditioned on labels; use one of: {', '.join(conditional)}")
    return {"num_classes": num_classes}


REFERENCE_BATCH = 64  # virtual batch norm's reference batch of noise vectors


def _finish(net: nn.Module, cfg: NetConfig) -> nn.Module:
    """Options that apply to any architecture: spectral normalisation of every linear and convolutional layer."""
    return apply_spectral_norm(net) if cfg.sn else net


def build_generator(cfg: NetConfig, z_dim: int, data_shape: tuple[int, ...], num_classes: int = 0) -> nn.Module:
    """A network mapping (B, z_dim) noise (and labels, when ``num_classes`` > 0) to (B, *data_shape) samples."""
    if cfg.minibatch:
        raise GankitError("model.g.minibatch: minibatch discrimination is a discriminator layer; set model.d.minibatch instead")
    if cfg.norm == "virtual" and num_classes:
        raise GankitError("model.g.norm: virtual batch norm is for unconditional generators (its reference batch has no labels)")
    net = ARCHITECTURES[cfg.arch].generator(**_options(cfg), z_dim=z_dim, data_shape=data_shape, **_conditional(cfg, num_classes))
    if cfg.norm == "virtual":  # the reference noise is drawn once, from the model-initialisation seed, and checkpointed
        net = ReferenceBatchGenerator(net, torch.randn(REFERENCE_BATCH, z_dim))
    return _finish(net, cfg)


def build_discriminator(cfg: NetConfig, data_shape: tuple[int, ...], num_classes: int = 0, conditioning: str = "none") -> nn.Module:
    """A network mapping (B, *data_shape) samples (and labels, per ``conditioning``) to logits (B, 1)."""
    if cfg.norm == "virtual":
        raise GankitError("model.d.norm: virtual batch norm is implemented for generators; use batch, layer or none in D")
    extra = _conditional(cfg, num_classes if conditioning != "none" else 0)
    if extra:
        extra["conditioning"] = conditioning
    if cfg.minibatch:
        extra["minibatch"] = cfg.minibatch
    return _finish(ARCHITECTURES[cfg.arch].discriminator(**_options(cfg), data_shape=data_shape, **extra), cfg)


__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "MLP",
    "NORMS",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MinibatchDiscrimination",
    "ReferenceBatchGenerator",
    "SpectralNorm",
    "VirtualBatchNorm",
    "apply_spectral_norm",
    "build_discriminator",
    "build_generator",
]
