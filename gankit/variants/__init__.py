"""Registered variants. Importing this package imports every module in it, and each module registers its
variants: adding a variant is adding a file here (plus presets), with no other edit."""

import importlib
import pkgutil

from gankit.variants.base import VARIANTS, Step, StepContext, Variant, register

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"gankit.variants.{_module}")

__all__ = ["VARIANTS", "Step", "StepContext", "Variant", "register"]
