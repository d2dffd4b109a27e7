"""The FID Inception-v3: the network pytorch-fid 0.3.0 uses for FID (Heusel et al., 2017), written without torchvision.

It is Inception-v3 (Szegedy et al., 2016) with the changes of the TensorFlow graph the FID was defined on: average pools
that do not count padding, a max pool in the last block, and 1008 classes. Images in [0, 1] are resized bilinearly to
299×299 and scaled to [-1, 1]; the output is the 2048-d final average pool ("pool3"). Module names follow torchvision's
``Inception3``, so pytorch-fid's weights file loads with strict key checking. gankit never downloads it: the user
passes a local copy with ``--inception-weights PATH`` or ``GANKIT_INCEPTION_WEIGHTS``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError
from gankit.metrics.classifier import file_sha256

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_NAME}"
WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
FEATURES = 2048
INPUT_SIZE = 299
CLASSES = 1008


class BasicConv2d(nn.Module):
    """Convolution without bias, BatchNorm (eps 0.001), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], stride: int = 1, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_3x3(x: Tensor) -> Tensor:
    """TensorFlow's 3×3 average pool: padded positions are left out of the mean."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """35×35 block: 1×1, 5×5, double 3×3 and pooled branches -> 224 + ``pool_features`` channels."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool_3x3(x)),
            ],
            dim=1,
        )


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: strided 3×3, strided double 3×3 and a 3×3 max pool."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            dim=1,
        )


class FIDInceptionC(nn.Module):
    """17×17 block with factorised 7×7 convolutions (1×7 then 7×1) -> 768 channels."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = conv(double)
        return torch.cat([self.branch1x1(x), seven, double, self.branch_pool(_avg_pool_3x3(x))], dim=1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: strided 3×3 after 1×1, strided 3×3 after 1×7/7×1, and a 3×3 max pool."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        seven = x
        for conv in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            seven = conv(seven)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), seven, F.max_pool2d(x, kernel_size=3, stride=2)], dim=1)


class FIDInceptionE(nn.Module):
    """8×8 block whose 3×3 branches split into parallel 1×3 and 3×1 convolutions -> 2048 channels.

    ``pool`` is the pooling of the pool branch: "avg" (padding not counted) in Mixed_7b, "max" in Mixed_7c, as in
    the TensorFlow graph of the FID.
    """

    def __init__(self, in_channels: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        three = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg_pool_3x3(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(three),
                self.branch3x3_2b(three),
                self.branch3x3dbl_3a(double),
                self.branch3x3dbl_3b(double),
                self.branch_pool(pooled),
            ],
            dim=1,
        )


class FIDInceptionE_1(FIDInceptionE):
    """Mixed_7b: InceptionE with an average pool that leaves padding out."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, pool="avg")


class FIDInceptionE_2(FIDInceptionE):
    """Mixed_7c: InceptionE with a max pool (a quirk of the TensorFlow graph the FID was defined on)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, pool="max")


class FIDInceptionV3(nn.Module):
    """Images (B, 3, H, W) or (B, 1, H, W) in [0, 1] -> (B, 2048) float32 pool3 features, as pytorch-fid's
    ``InceptionV3([3])`` (resize to 299×299 bilinear, align_corners=False; scale to [-1, 1]).

    ``fc`` (2048 -> 1008 logits) is unused by the features; it is kept so that the weights file loads strictly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE_1(1280)
        self.Mixed_7c = FIDInceptionE_2(2048)
        self.fc = nn.Linear(FEATURES, CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise GankitError(f"the Inception network takes images (B, 3, H, W) or (B, 1, H, W), not shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise GankitError(f"the Inception network takes float images in [0, 1], not {x.dtype}; divide 8-bit images by 255")
        if x.numel() and (x.min() < -1e-3 or x.max() > 1 + 1e-3):
            raise GankitError(
                f"the Inception network takes images in [0, 1], got values in [{float(x.min()):.3g}, {float(x.max()):.3g}]; map [-1, 1] images with (x + 1) / 2"
            )
        x = x.float()
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def inception_weights_path(path: str | Path | None = None) -> Path:
    """The local weights file: ``path`` if given, else ``$GANKIT_INCEPTION_WEIGHTS``; it must exist."""
    source = "--inception-weights"
    if path is None or str(path) == "":
        path, source = os.environ.get(WEIGHTS_ENV) or None, WEIGHTS_ENV
    if path is None:
        raise GankitError(
            f"FID needs pytorch-fid's Inception weights {WEIGHTS_NAME}, which gankit never downloads: fetch it on a machine with internet "
            f"from {WEIGHTS_URL} and pass --inception-weights PATH or set {WEIGHTS_ENV}=PATH"
        )
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise GankitError(
            f"the Inception weights file {resolved} (from {source}) does not exist; pass the path of pytorch-fid's {WEIGHTS_NAME} "
            f"with --inception-weights PATH or {WEIGHTS_ENV}=PATH (download: {WEIGHTS_URL})"
        )
    return resolved


def inception_weights_sha256(path: str | Path | None = None) -> str:
    """The sha256 of the weights file, for the protocol record."""
    return file_sha256(inception_weights_path(path))


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GankitError(f"{path} is not a readable PyTorch weights file ({reason[:200]}); pass pytorch-fid's {WEIGHTS_NAME}") from exc
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise GankitError(f"{path} does not hold a state dict of tensors; pass pytorch-fid's {WEIGHTS_NAME}")
    return state


def _check_state_dict(state: dict[str, Tensor], model: nn.Module, path: Path) -> None:
    expected = model.state_dict()
    # Files saved before BatchNorm counted batches lack num_batches_tracked; load_state_dict fills it in.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(v.shape)} instead of {tuple(expected[k].shape)}" for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} wrong shapes (first: {wrong[0]})")
    if problems:
        raise GankitError(f"{path} is not the FID Inception-v3 state dict: {'; '.join(problems)}; pass pytorch-fid's {WEIGHTS_NAME}")


def load_inception(path: str | Path | None = None, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """The FID Inception-v3 in eval mode with frozen weights from the local file (see ``inception_weights_path``)."""
    resolved = inception_weights_path(path)
    state = _read_state_dict(resolved)
    model = FIDInceptionV3()
    _check_state_dict(state, model, resolved)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise GankitError(f"{resolved} does not load into the FID Inception-v3 ({str(exc).splitlines()[0]}); pass pytorch-fid's {WEIGHTS_NAME}") from exc
    model.requires_grad_(False)
    return model.eval().to(device)
