"""Import pytorch-fid 0.3.0 as a test-only oracle without torchvision.

pytorch-fid builds its FID Inception by constructing torchvision's ``Inception3`` (``torchvision.models.inception_v3``)
and subclassing its ``InceptionA/C/E`` blocks; ``fid_score`` also imports ``torchvision.transforms``. This stub
restates what of torchvision's Inception-v3 pytorch-fid uses (module names, layer shapes, BatchNorm eps 0.001, and
the forward passes of ``BasicConv2d``, ``InceptionB`` and ``InceptionD``, which pytorch-fid does not override) from
torchvision's published definition, independently of gankit's network. ``import_pytorch_fid`` puts the stub into
``sys.modules`` only while importing, then restores ``sys.modules`` exactly; no real torchvision is imported, and the
stub never downloads anything: the weights come from ``weights_from``, which replaces pytorch-fid's downloader.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

STUB_VERSION = "0.21.0+gankit-test-stub"  # >= 0.13: pytorch-fid passes weights=None and init_weights=False


class BasicConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(nn.Module):
    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)


class InceptionB(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)


class InceptionD(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)


class Inception3(nn.Module):
    """torchvision's Inception3 without the auxiliary classifier (pytorch-fid asks for ``aux_logits=False``)."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, init_weights: bool | None = None, **kwargs) -> None:
        super().__init__()
        if aux_logits or kwargs:
            raise NotImplementedError(f"the torchvision stub builds only what pytorch-fid asks for (aux_logits={aux_logits}, {kwargs})")
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.5)
        self.fc = nn.Linear(2048, num_classes)


def inception_v3(*, weights: object = None, progress: bool = True, **kwargs) -> Inception3:
    if weights is not None:
        raise RuntimeError("the torchvision stub has no pretrained weights")
    return Inception3(**kwargs)


def no_download(url: str, *args, **kwargs):
    raise RuntimeError(f"the torchvision stub never downloads ({url}); give the test's weights with weights_from")


class ToTensor:
    """PIL image or HWC uint8 array -> CHW float in [0, 1]."""

    def __call__(self, picture) -> Tensor:
        array = np.array(picture, dtype=np.uint8, copy=True)
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array).permute(2, 0, 1).float() / 255


def _stub_torchvision() -> dict[str, types.ModuleType]:
    root = types.ModuleType("torchvision")
    models = types.ModuleType("torchvision.models")
    inception = types.ModuleType("torchvision.models.inception")
    utils = types.ModuleType("torchvision.models.utils")
    transforms = types.ModuleType("torchvision.transforms")
    for cls in (BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, Inception3):
        setattr(inception, cls.__name__, cls)
    inception.inception_v3 = inception_v3
    models.inception, models.utils, models.inception_v3, models.Inception3 = inception, utils, inception_v3, Inception3
    utils.load_state_dict_from_url = no_download
    transforms.ToTensor = ToTensor
    root.models, root.transforms, root.__version__ = models, transforms, STUB_VERSION
    return {m.__name__: m for m in (root, models, inception, utils, transforms)}


def _ours(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in ("torchvision", "pytorch_fid"))


@contextmanager
def _stub_in_sys_modules() -> Iterator[None]:
    saved = {name: module for name, module in sys.modules.items() if _ours(name)}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(_stub_torchvision())
    try:
        yield
    finally:
        for name in [name for name in sys.modules if _ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def import_pytorch_fid() -> types.SimpleNamespace:
    """pytorch-fid's ``inception`` and ``fid_score`` modules, imported against the stub torchvision.

    ``sys.modules`` is restored before returning; the modules keep working through their own references to the stub.
    """
    with _stub_in_sys_modules():
        from pytorch_fid import fid_score, inception

    if inception.load_state_dict_from_url is not no_download:
        raise RuntimeError("pytorch-fid did not take its downloader from the torchvision stub")
    return types.SimpleNamespace(inception=inception, fid_score=fid_score)


@contextmanager
def weights_from(oracle: types.SimpleNamespace, state_dict: dict[str, Tensor]) -> Iterator[None]:
    """While active, pytorch-fid's weight "download" returns ``state_dict`` (it then loads it strictly)."""
    module = oracle.inception
    original: Callable = module.load_state_dict_from_url
    module.load_state_dict_from_url = lambda url, *args, **kwargs: {k: v.clone() for k, v in state_dict.items()}
    try:
        yield
    finally:
        module.load_state_dict_from_url = original


def random_inception_weights(seed: int) -> dict[str, torch.Tensor]:
    """Seeded random FID Inception weights whose features stay O(1): He-scaled convolutions, BatchNorm with random
    affine parameters and running statistics (used by the tests and by bench/metrics.py)."""
    from gankit.metrics.inception import FIDInceptionV3

    g = torch.Generator().manual_seed(seed)
    weights = {}
    for key, value in FIDInceptionV3().state_dict().items():
        if key.endswith("conv.weight"):
            weights[key] = torch.randn(value.shape, generator=g) * (2 / value[0].numel()) ** 0.5
        elif key.endswith(("bn.weight", "running_var")):
            weights[key] = 0.5 + torch.rand(value.shape, generator=g)
        elif key.endswith(("bn.bias", "running_mean")):
            weights[key] = 0.1 * torch.randn(value.shape, generator=g)
        elif key.endswith("num_batches_tracked"):
            weights[key] = torch.tensor(1000)
        else:
            weights[key] = 0.01 * torch.randn(value.shape, generator=g)
    return weights
