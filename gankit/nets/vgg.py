"""VGG19 (Simonyan & Zisserman, 2015) as a frozen feature extractor for perceptual losses (SRGAN's content loss).

The module names are torchvision's (``features.N``, ``classifier.N``), so a VGG19 state dict saved from torchvision
(``torch.save(torchvision.models.vgg19(weights=...).state_dict(), PATH)`` on a machine that has it) loads strictly
from the local file the user names. gankit never downloads weights; without a file the network has random weights
(tests).

``VGG19Features(layer="5_4")`` returns the activations after ReLU of conv ``i_j`` (SRGAN's φ_i,j; the paper's
VGG54 is ``5_4``, VGG22 ``2_2``) of an image batch in [-1, 1], RGB, normalised with ImageNet's mean and std first.
One-channel inputs are repeated to three.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import GankitError

# torchvision's configuration "E": channels per convolution, "M" a 2×2 max pool
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _conv_names() -> dict[str, int]:
    """``"i_j"`` -> index in ``features`` of the ReLU after conv j of block i (1-based, as in the papers)."""
    names, block, conv, index = {}, 1, 0, 0
    for item in VGG19_LAYOUT:
        if item == "M":
            block, conv, index = block + 1, 0, index + 1
        else:
            conv += 1
            names[f"{block}_{conv}"] = index + 1  # Conv2d at index, its ReLU at index + 1
            index += 2
    return names


RELU_INDEX = _conv_names()


class VGG19(nn.Module):
    """torchvision's VGG19 layout without batch norm: ``features``, ``avgpool``, ``classifier`` (1,000 classes)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG19_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def load_vgg19(path: str | Path | None) -> VGG19:
    """VGG19 with the weights of the torchvision-format state dict at ``path`` (strict: every name and shape must
    match); random weights when ``path`` is None. Bad files raise a one-line :class:`GankitError`."""
    if path is None:
        return VGG19()
    path = Path(path).expanduser()
    if not path.is_file():
        raise GankitError(f"VGG19 weights file {path} not found; give the path of a torchvision VGG19 state dict saved with torch.save (nothing is downloaded)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's input error
        raise GankitError(f"cannot read VGG19 weights from {path} ({type(exc).__name__}); it must be a state dict saved with torch.save") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise GankitError(f"{path} is not a state dict (name -> tensor); save torchvision's vgg19().state_dict() with torch.save")
    with torch.device("meta"):  # the layout without initialising 143M random weights that the file replaces
        net = VGG19()
    expected = net.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise GankitError(f"{path} is not a torchvision VGG19 state dict ({what}); VGG16 or VGG19-BN files do not fit")
    wrong = [k for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        k = wrong[0]
        raise GankitError(f"{path}: {k} has shape {tuple(state[k].shape)}, VGG19 needs {tuple(expected[k].shape)}; is it a VGG19 state dict?")
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True, assign=True)
    return net


class VGG19Features(nn.Module):
    """Frozen VGG19 features after the ReLU of conv ``layer`` (e.g. "5_4", "2_2") of images in [-1, 1]."""

    def __init__(self, weights: str | Path | None = None, layer: str = "5_4") -> None:
        super().__init__()
        if layer not in RELU_INDEX:
            raise GankitError(f"unknown VGG19 layer '{layer}'; choose one of: {', '.join(RELU_INDEX)}")
        vgg = load_vgg19(weights)
        self.layer = layer
        self.features = vgg.features[: RELU_INDEX[layer] + 1]
        for module in self.features:
            if isinstance(module, nn.ReLU):
                module.inplace = False
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        return super().train(False)  # always frozen, also inside a player that is switched to training

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[1] != 3:
            raise GankitError(f"VGG19 features take RGB or gray images, not {x.shape[1]} channels")
        return self.features(((x + 1) / 2 - self.mean) / self.std)  # not clamped: a perceptual loss keeps its gradient past the range


__all__ = ["RELU_INDEX", "VGG19", "VGG19Features", "load_vgg19"]
