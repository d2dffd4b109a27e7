"""Multi-layer perceptrons for the toy distributions."""

from __future__ import annotations

import math
from itertools import islice
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import NetConfig
from gankit.nets.layers import GaussianNoise, MinibatchDiscrimination, VirtualBatchNorm

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
}

NORMS = {
    "none": lambda width: nn.Identity(),
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
    "virtual": VirtualBatchNorm,
}


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, each Linear -> norm -> activation, then a Linear output.

    Inputs of any shape (B, ...) are flattened; the output is reshaped to ``out_shape``. ``input_noise`` and
    ``noise``: Gaussian noise added in training to the input and to each hidden layer's output;
    ``weight_norm``: every Linear weight-normalised (w = g·v/‖v‖ per output unit); ``output``: "tanh" bounds the output.
    """

    def __init__(
        self,
        in_features: int,
        out_shape: tuple[int, ...],
        width: int,
        depth: int,
        activation: str = "relu",
        norm: str = "none",
        minibatch: int = 0,
        critic: bool = False,
        input_noise: float = 0.0,
        noise: float = 0.0,
        weight_norm: bool = False,
        output: str = "none",
    ) -> None:
        super().__init__()
        self.out_shape, self.critic = tuple(out_shape), critic

        def linear(i: int, o: int) -> nn.Module:
            layer = nn.Linear(i, o)
            return nn.utils.parametrizations.weight_norm(layer) if weight_norm else layer

        layers: list[nn.Module] = [GaussianNoise(input_noise)] if input_noise else []
        features = in_features
        for _ in range(depth):
            layers += [linear(features, width), NORMS[norm](width), ACTIVATIONS[activation]()]
            if noise:
                layers.append(GaussianNoise(noise))
            features = width
        layers.append(linear(features, math.prod(self.out_shape)))
        self.net = nn.Sequential(*layers)
        self.tanh = output == "tanh"
        # weight norm's data-dependent initialisation (Salimans & Kingma, 2016, section 3): on the first forward pass in
        # training, each layer's scale and bias are set so that its pre-activations have zero mean and unit variance on
        # that batch. The flag is a buffer, so a resumed run does not initialise again, mirrored in a Python bool (read
        # on every forward without a device sync) that loading a state dict refreshes
        self.init_pending = weight_norm
        if weight_norm:
            self.register_buffer("data_init_pending", torch.tensor(True))
            self.register_load_state_dict_post_hook(lambda module, _keys: setattr(module, "init_pending", bool(module.data_init_pending)))
        # minibatch discrimination: o(h) from the last hidden layer, with its own linear map into the output
        self.minibatch = MinibatchDiscrimination(features, minibatch) if minibatch else None
        self.minibatch_out = nn.Linear(minibatch, math.prod(self.out_shape), bias=False) if minibatch else None

    def heads(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """``features``: the last hidden layer (before its noise, as Salimans et al. match features); ``logits``: the
        output. An MLP is unconditional: ``y`` is ignored."""
        h = features = x.flatten(1)
        init = self.training and self.init_pending
        for layer in islice(self.net, len(self.net) - 1):  # not self.net[:-1], which builds a new Sequential per call
            if init and isinstance(layer, nn.Linear):
                _data_init(layer, h)
            h = layer(h)
            if not isinstance(layer, GaussianNoise):
                features = h
        if init:
            _data_init(self.net[-1], h)
            self.data_init_pending.fill_(False)
            self.init_pending = False
        out = self.net[-1](h)
        if self.minibatch is not None:
            out = out + self.minibatch_out(self.minibatch(h))
        return {"features": features, "logits": (torch.tanh(out) if self.tanh else out).reshape(out.shape[0], *self.out_shape)}

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor | dict[str, Tensor]:
        """A critic (built with ``critic=True``: outputs (1,)) returns its dict, as every critic; otherwise the output."""
        return self.heads(x) if self.critic else self.heads(x)["logits"]


@torch.no_grad()
def _data_init(layer: nn.Linear, h: Tensor) -> None:
    """Set a weight-normalised layer's scale g and bias b so that its outputs on ``h`` have zero mean and unit variance
    per unit: t = v·h/‖v‖, g ← 1/σ(t), b ← -μ(t)/σ(t). Under data parallelism the moments are averaged over the ranks,
    so that every rank sets the same values."""
    wn = layer.parametrizations.weight
    t = h @ (wn.original1 / wn.original1.norm(dim=1, keepdim=True)).T
    moments = torch.stack([t.mean(dim=0), t.pow(2).mean(dim=0)])
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.all_reduce(moments)
        moments /= torch.distributed.get_world_size()
    mean, std = moments[0], (moments[1] - moments[0].pow(2)).clamp_min(0).sqrt() + 1e-6
    wn.original0.copy_((1.0 / std).reshape(wn.original0.shape))
    layer.bias.copy_(-mean / std)


def mlp_network(
    cfg: NetConfig, inputs: tuple[int, ...], outputs: tuple[int, ...], *, num_classes: int = 0, conditioning: str = "none", critic: bool | None = None,
    **extra: Any,
) -> MLP:
    """Any shape to any shape: a generator (z_dim,) -> data, or a critic data -> (1,) (with ``cfg.minibatch`` kernels). An
    MLP from (1,) to (1,) may be either (a generator of 1-D data): ``critic`` says which, else outputs (1,) mean a critic."""
    critic = tuple(outputs) == (1,) if critic is None else critic
    return MLP(
        math.prod(inputs), outputs, cfg.width, cfg.depth, cfg.activation, cfg.norm, cfg.minibatch, critic=critic,
        input_noise=cfg.input_noise, noise=cfg.noise, weight_norm=cfg.weight_norm, output=cfg.output, **extra,
    )  # fmt: skip


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["ACTIVATIONS", "MLP", "NORMS", "GaussianNoise", "count_parameters", "mlp_network"]
