"""Networks, built from a player's :class:`~gankit.config.NetConfig`. They know nothing of losses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from gankit.config import NetConfig
from gankit.nets.mlp import ACTIVATIONS, MLP, NORMS, mlp_discriminator, mlp_generator


@dataclass(frozen=True)
class Architecture:
    generator: Callable[..., nn.Module]
    discriminator: Callable[..., nn.Module]


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(mlp_generator, mlp_discriminator),
}


def _options(cfg: NetConfig) -> dict:
    return {"width": cfg.width, "depth": cfg.depth, "activation": cfg.activation, "norm": cfg.norm}


def build_generator(cfg: NetConfig, z_dim: int, data_shape: tuple[int, ...]) -> nn.Module:
    """A network mapping (B, z_dim) noise to (B, *data_shape) samples."""
    return ARCHITECTURES[cfg.arch].generator(**_options(cfg), z_dim=z_dim, data_shape=data_shape)


def build_discriminator(cfg: NetConfig, data_shape: tuple[int, ...]) -> nn.Module:
    """A network mapping (B, *data_shape) samples to logits (B, 1)."""
    return ARCHITECTURES[cfg.arch].discriminator(**_options(cfg), data_shape=data_shape)


__all__ = ["ACTIVATIONS", "ARCHITECTURES", "MLP", "NORMS", "build_discriminator", "build_generator"]
