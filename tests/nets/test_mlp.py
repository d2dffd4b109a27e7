"""The MLP's options for the semi-supervised GAN: Gaussian noise layers in training only, weight normalisation."""

from __future__ import annotations

import pytest
import torch

from gankit.config import NetConfig, load_config
from gankit.errors import GankitError
from gankit.nets import build_network
from gankit.nets.mlp import GaussianNoise


def test_noise_layers_perturb_in_training_only_and_weight_norm_factors_every_linear():
    cfg = NetConfig(arch="mlp", width=32, depth=2, input_noise=0.3, noise=0.5, weight_norm=True)
    net = build_network(cfg, (1, 8, 8), (10,), critic=True)
    noise = [m for m in net.modules() if isinstance(m, GaussianNoise)]
    assert [m.std for m in noise] == [0.3, 0.5, 0.5]
    x = torch.randn(6, 1, 8, 8)
    net.train()
    assert not torch.equal(net(x)["logits"], net(x)["logits"])
    net.eval()
    assert torch.equal(net(x)["logits"], net(x)["logits"])
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3
    for layer in linears:
        g, v = layer.parametrizations.weight.original0, layer.parametrizations.weight.original1
        torch.testing.assert_close(layer.weight, g * v / v.norm(dim=1, keepdim=True))


def test_weight_norm_initialises_from_the_first_training_batch_once():
    cfg = NetConfig(arch="mlp", width=32, depth=2, weight_norm=True)  # no noise: the batch's pre-activations can be read back
    net = build_network(cfg, (1, 8, 8), (10,), critic=True)
    x = 3.0 * torch.rand(64, 1, 8, 8) + 1.0
    net.eval()
    net(x)
    assert bool(net.data_init_pending)  # evaluation does not initialise
    net.train()
    out = net(x)["logits"]
    assert not bool(net.data_init_pending)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    h = x.flatten(1)
    with torch.no_grad():
        for layer, after in zip(linears, [torch.relu, torch.relu, lambda t: t], strict=True):
            t = layer(h)
            torch.testing.assert_close(t.mean(dim=0), torch.zeros(t.shape[1]), atol=1e-4, rtol=0)
            torch.testing.assert_close(t.std(dim=0, unbiased=False), torch.ones(t.shape[1]), atol=1e-3, rtol=0)
            h = after(t)
    torch.testing.assert_close(out, h)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net(2 * x)  # a later batch leaves the scales alone
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert "data_init_pending" in before  # a resumed run does not initialise again
    resumed = build_network(cfg, (1, 8, 8), (10,), critic=True).train()
    resumed.load_state_dict(before)
    resumed(x)
    assert all(torch.equal(before[k], v) for k, v in resumed.state_dict().items())


def test_features_are_read_before_the_last_noise_and_tanh_bounds_the_output():
    cfg = NetConfig(arch="mlp", width=16, depth=2, noise=0.5, output="tanh")
    net = build_network(cfg, (4,), (3,), critic=True).train()
    x = 10 * torch.randn(32, 4)
    torch.manual_seed(0)
    heads = net.heads(x)
    torch.manual_seed(0)
    h = x
    for layer in list(net.net)[:-2]:  # up to the last hidden layer's activation, without its noise layer
        h = layer(h)
    torch.testing.assert_close(heads["features"], h)
    assert heads["logits"].abs().max() < 1 and heads["logits"].abs().max() > 0.5


def test_mlp_only_options_are_refused_on_other_architectures():
    with pytest.raises(GankitError, match="options of the mlp and dcgan architectures"):
        load_config("dcgan-mnist", ["model.d.arch=resnet", "model.d.noise=0.5"])
    with pytest.raises(GankitError, match="options of the mlp architecture"):
        load_config("dcgan-mnist", ["model.g.output=tanh"])
    with pytest.raises(GankitError, match=r"model\.g\.output"):
        load_config("gan-ring", ["model.g.output=sigmoid"])
