"""Networks, built from a player's :class:`~gankit.config.NetConfig`. They know nothing of losses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from gankit.config import NetConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_discriminator, dcgan_generator
from gankit.nets.mlp import ACTIVATIONS, MLP, NORMS, mlp_discriminator, mlp_generator


@dataclass(frozen=True)
class Architecture:
    generator: Callable[..., nn.Module]
    discriminator: Callable[..., nn.Module]
    conditional: bool = False


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(mlp_generator, mlp_discriminator),
    "dcgan": Architecture(dcgan_generator, dcgan_discriminator, conditional=True),
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


def build_generator(cfg: NetConfig, z_dim: int, data_shape: tuple[int, ...], num_classes: int = 0) -> nn.Module:
    """A network mapping (B, z_dim) noise (and labels, when ``num_classes`` > 0) to (B, *data_shape) samples."""
    return ARCHITECTURES[cfg.arch].generator(**_options(cfg), z_dim=z_dim, data_shape=data_shape, **_conditional(cfg, num_classes))


def build_discriminator(cfg: NetConfig, data_shape: tuple[int, ...], num_classes: int = 0, conditioning: str = "none") -> nn.Module:
    """A network mapping (B, *data_shape) samples (and labels, per ``conditioning``) to logits (B, 1)."""
    extra = _conditional(cfg, num_classes if conditioning != "none" else 0)
    if extra:
        extra["conditioning"] = conditioning
    return ARCHITECTURES[cfg.arch].discriminator(**_options(cfg), data_shape=data_shape, **extra)


__all__ = ["ACTIVATIONS", "ARCHITECTURES", "MLP", "NORMS", "DCGANDiscriminator", "DCGANGenerator", "build_discriminator", "build_generator"]
