"""Registered variants. Importing this package registers every variant module below."""

from gankit.variants import gan  # noqa: F401  (registers "gan")
from gankit.variants.base import VARIANTS, Step, StepContext, Variant, register

__all__ = ["VARIANTS", "Step", "StepContext", "Variant", "register"]
