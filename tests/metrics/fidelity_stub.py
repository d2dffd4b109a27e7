"""Import torch-fidelity 0.4.0 as a test-only oracle without torchvision.

torch-fidelity imports torchvision at module level (datasets, transforms, models) but its feature-level metric
functions never use it. ``torch_fidelity_loaded`` puts a minimal stub ``torchvision`` into ``sys.modules`` just
long enough to import those functions, then restores ``sys.modules`` exactly as it was: no real torchvision is
ever imported, and gankit itself never imports torch-fidelity.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


def _unavailable(name: str) -> type:
    def fail(*args, **kwargs):
        raise RuntimeError(f"torchvision.{name} is a test stub; the feature-level torch-fidelity metrics never need it")

    return type(name, (), {"__init__": fail})


def _stub_torchvision() -> dict[str, types.ModuleType]:
    root = types.ModuleType("torchvision")
    datasets = types.ModuleType("torchvision.datasets")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    models = types.ModuleType("torchvision.models")
    for name in ("CIFAR10", "CIFAR100", "STL10"):
        setattr(datasets, name, _unavailable(name))
    for name in ("Compose", "Resize", "CenterCrop"):
        setattr(transforms, name, _unavailable(name))
    transforms.functional = functional
    root.datasets, root.transforms, root.models = datasets, transforms, models
    root.__version__ = "0.0.0+gankit-test-stub"
    return {m.__name__: m for m in (root, datasets, transforms, functional, models)}


def _ours(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in ("torchvision", "torch_fidelity"))


@contextmanager
def torch_fidelity_loaded() -> Iterator[types.SimpleNamespace]:
    """Yield torch-fidelity's ``metric_isc``, ``metric_kid`` and ``metric_prc`` modules, imported against a stub torchvision."""
    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(_stub_torchvision())
    try:
        import torch_fidelity
        from torch_fidelity import metric_isc, metric_kid, metric_prc

        yield types.SimpleNamespace(version=torch_fidelity.__version__, isc=metric_isc, kid=metric_kid, prc=metric_prc)
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
