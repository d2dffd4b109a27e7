"""Registered variants. Importing this package registers every variant module below."""

from gankit.variants import conditional, cyclegan, gan, infogan, pix2pix, unrolled  # noqa: F401  (each module registers its variants)
from gankit.variants.base import VARIANTS, Step, StepContext, Variant, register

__all__ = ["VARIANTS", "Step", "StepContext", "Variant", "register"]
