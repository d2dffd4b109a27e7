"""The digit judge: a small CNN trained on the MNIST-5k train split, shipped inside the package.

It scores generated digits the way the Inception network scores photos: the classifier Inception Score
(Salimans et al., 2016) over 10 splits, the histogram of predicted classes, the accuracy of conditional
samples against their requested labels, and its penultimate-layer features for Fréchet-style distances.
Stacked MNIST images are judged one channel at a time (1,000 modes); their class distribution is the product of the
three channels' (:func:`judge_class_probs`, 1,000 classes). Train it with ``make judge``
(``scripts/train_judge.py``); the weights' sha256 and held-out accuracy are recorded beside them.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError

WEIGHTS_NAME = "mnist_judge.pt"
RECORD_NAME = "mnist_judge.json"
FEATURES = 128


class DigitJudge(nn.Module):
    """Input (B, 1, 28, 28) in [0, 1]; output class logits (B, 10). ``features`` is the 128-d penultimate layer."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, FEATURES), nn.ReLU(),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURES, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body((x - 0.1307) / 0.3081)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.features(x)))


def weights_path() -> Path:
    return Path(str(resources.files("gankit.metrics") / "weights" / WEIGHTS_NAME))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def judge_record() -> dict[str, Any]:
    path = weights_path().with_name(RECORD_NAME)
    if not path.is_file():
        raise GankitError(f"the digit judge's record {path} is missing; run `make judge` to train it")
    return json.loads(path.read_text())


@cache
def load_judge(device: str = "cpu") -> DigitJudge:
    """The shipped judge in eval mode; its file must match the recorded sha256."""
    path = weights_path()
    if not path.is_file():
        raise GankitError(f"the digit judge's weights {path} are missing; run `make judge` to train them")
    record = judge_record()
    digest = file_sha256(path)
    if digest != record["sha256"]:
        raise GankitError(f"{path} does not match its recorded sha256; reinstall gankit or run `make judge`")
    judge = DigitJudge()
    judge.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return judge.eval().to(device)


def to_judge_input(images: Tensor) -> Tensor:
    """(B, C, H, W) in [0, 1] -> (B * C, 1, 28, 28): channels judged separately; other sizes resized bilinearly."""
    b, c, h, w = images.shape
    x = images.reshape(b * c, 1, h, w).float()
    if (h, w) == (32, 32):
        return x[:, :, 2:30, 2:30]  # MNIST padded to 32: undo the padding
    if (h, w) != (28, 28):
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=h > 28)
    return x


@torch.no_grad()
def judge_outputs(images: Tensor, batch_size: int = 1000, device: str = "cpu") -> tuple[Tensor, Tensor]:
    """Class probabilities (N * C, 10) and features (N * C, 128) of images in [0, 1]."""
    judge = load_judge(device)
    x = to_judge_input(images)
    probs, feats = [], []
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size].to(device)
        f = judge.features(chunk)
        probs.append(F.softmax(judge.head(f).double(), dim=1).cpu())
        feats.append(f.double().cpu())
    return torch.cat(probs), torch.cat(feats)


def judge_class_probs(images: Tensor, batch_size: int = 1000, device: str = "cpu") -> Tensor:
    """p(y|x) (N, 10^C) of images (N, C, H, W) in [0, 1] holding one digit per channel: the outer product of the judge's
    per-channel probabilities, the channels judged independently. Class k reads the digits in channel order
    (Stacked MNIST's label 100 · red + 10 · green + blue); one channel gives the judge's 10 classes."""
    channels = images.shape[1]
    if channels > 3:
        raise GankitError(f"the judge's class product over {channels} channels would have 10^{channels} classes; give at most 3 channels")
    probs, _ = judge_outputs(images, batch_size, device)
    per_channel = probs.reshape(len(images), channels, 10)
    joint = per_channel[:, 0]
    for c in range(1, channels):
        joint = (joint[:, :, None] * per_channel[:, c, None, :]).reshape(len(images), -1)
    return joint


def inception_score(probs: Tensor, splits: int = 10) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))), computed on ``splits`` equal chunks: mean and std over the chunks
    (Salimans et al., 2016)."""
    n = len(probs)
    if n < splits:
        raise GankitError(f"the Inception Score needs at least {splits} samples for {splits} splits (got {n})")
    probs = probs.double()
    scores = []
    for k in range(splits):
        part = probs[k * n // splits : (k + 1) * n // splits]
        marginal = part.mean(dim=0, keepdim=True)
        kl = (part * (torch.log(part.clamp_min(1e-30)) - torch.log(marginal.clamp_min(1e-30)))).sum(dim=1)
        scores.append(torch.exp(kl.mean()))
    s = torch.stack(scores)
    return float(s.mean()), float(s.std(unbiased=False))


JUDGE_DATA = ("mnist5k", "stacked-mnist", "the MNIST side of edges2digits and digits2mnist")
FIT_SAMPLES, FIT_SEED = 2000, 0
FIT_TOP_SHARE, FIT_CONFIDENCE, FIT_ACCURACY = 0.3, 0.8, 0.8


def judge_misfit(images: Tensor, labels: Tensor | None = None) -> str | None:
    """Why the judge cannot read ``images`` (real data in [0, 1], one digit per channel), or None when it can.

    The judge was trained on MNIST digits; on other data its numbers mean nothing (scikit-learn's 8 × 8 digits read
    as '8' 99.9 % of the time). So it must read up to 2,000 of the real images (a fixed random subset) as MNIST: no
    class above 30 % of them, mean confidence at least 0.8, and, where 10-class labels come with them, at least
    80 % right. Real MNIST-5k reads 10.8 % at most per class, confidence 0.996."""
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(FIT_SEED))[:FIT_SAMPLES]
    probs, _ = judge_outputs(images[pick])
    predicted = probs.argmax(dim=1)
    top = torch.bincount(predicted, minlength=10).double().max().item() / len(predicted)
    confidence = probs.max(dim=1).values.mean().item()
    reasons = []
    if top > FIT_TOP_SHARE:
        reasons.append(f"it reads {100 * top:.1f}% of them as digit {int(torch.bincount(predicted).argmax())}")
    if confidence < FIT_CONFIDENCE:
        reasons.append(f"its mean confidence is {confidence:.2f}")
    if labels is not None and images.shape[1] == 1 and int(labels.max()) < 10:
        accuracy = (predicted == labels[pick].long()).double().mean().item()
        if accuracy < FIT_ACCURACY:
            reasons.append(f"it labels {100 * accuracy:.1f}% of them right")
    return "; ".join(reasons) or None
