"""VGG19 for perceptual losses: torchvision's names (a torchvision state dict loads strictly), the feature layers,
and one-line errors for weights files that do not fit."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.nets.vgg import RELU_INDEX, VGG19, VGG19Features, load_vgg19

# torchvision.models.vgg19().state_dict(): its names and shapes, written out from torchvision's layout "E"
CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256), (16, 256, 256)]
CONVS += [(19, 256, 512), (21, 512, 512), (23, 512, 512), (25, 512, 512), (28, 512, 512), (30, 512, 512), (32, 512, 512), (34, 512, 512)]
TORCHVISION = {f"features.{i}.weight": (o, c, 3, 3) for i, c, o in CONVS} | {f"features.{i}.bias": (o,) for i, _, o in CONVS}
TORCHVISION |= {"classifier.0.weight": (4096, 25088), "classifier.0.bias": (4096,), "classifier.3.weight": (4096, 4096), "classifier.3.bias": (4096,)}
TORCHVISION |= {"classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,)}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A torchvision-format VGG19 state dict with random values, saved as a user would save torchvision's."""
    torch.manual_seed(0)
    state = {k: torch.randn(shape) * 0.01 for k, shape in TORCHVISION.items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path, state


def test_the_module_names_and_shapes_are_torchvisions():
    with torch.device("meta"):
        net = VGG19()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == TORCHVISION


def test_a_torchvision_state_dict_loads_strictly_and_the_features_stop_at_the_named_relu(weights):
    path, state = weights
    net = load_vgg19(path)
    for k, v in state.items():
        assert torch.equal(net.state_dict()[k], v)
    assert RELU_INDEX["5_4"] == 35 and RELU_INDEX["2_2"] == 8  # torchvision's features[:36] and [:9]
    phi = VGG19Features(path, "2_2")
    assert len(phi.features) == 9 and not any(p.requires_grad for p in phi.parameters())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    normalised = ((x + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    with torch.no_grad():
        expected = net.features[:9](normalised)
    torch.testing.assert_close(phi(x), expected)
    assert phi(x[:, :1]).shape == (2, 128, 16, 16)  # gray images are repeated to RGB
    phi.train()
    assert not phi.training  # frozen even inside a player switched to training


def test_bad_weights_files_are_one_line_errors(tmp_path, weights):
    _, state = weights
    with pytest.raises(GankitError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(GankitError, match="cannot read"):
        load_vgg19(tmp_path / "junk.pth")
    wrong = dict(state)
    wrong["classifier.6.weight"] = torch.zeros(10, 4096)
    wrong["classifier.6.bias"] = torch.zeros(10)
    torch.save(wrong, tmp_path / "ten.pth")
    with pytest.raises(GankitError, match=r"classifier\.6\.weight has shape \(10, 4096\)"):
        load_vgg19(tmp_path / "ten.pth")
    vgg16 = {k: v for k, v in state.items() if k not in ("features.16.weight", "features.16.bias")}
    torch.save(vgg16, tmp_path / "vgg16.pth")
    with pytest.raises(GankitError, match="missing"):
        load_vgg19(tmp_path / "vgg16.pth")
    with pytest.raises(GankitError, match="unknown VGG19 layer"):
        VGG19Features(None, "6_1")
