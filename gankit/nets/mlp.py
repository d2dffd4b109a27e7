"""Multi-layer perceptrons for the toy distributions."""

from __future__ import annotations

import math

from torch import Tensor, nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}

NORMS = {
    "none": lambda width: nn.Identity(),
    "batch": nn.BatchNorm1d,
    "layer": nn.LayerNorm,
}


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, each Linear -> norm -> activation, then a Linear output.

    Inputs of any shape (B, ...) are flattened; the output is reshaped to ``out_shape``.
    """

    def __init__(
        self,
        in_features: int,
        out_shape: tuple[int, ...],
        width: int,
        depth: int,
        activation: str = "relu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        layers: list[nn.Module] = []
        features = in_features
        for _ in range(depth):
            layers += [nn.Linear(features, width), NORMS[norm](width), ACTIVATIONS[activation]()]
            features = width
        layers.append(nn.Linear(features, math.prod(self.out_shape)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out = self.net(x.flatten(1))
        return out.reshape(out.shape[0], *self.out_shape)


def mlp_generator(width: int, depth: int, activation: str, norm: str, z_dim: int, data_shape: tuple[int, ...]) -> MLP:
    return MLP(z_dim, data_shape, width, depth, activation, norm)


def mlp_discriminator(width: int, depth: int, activation: str, norm: str, data_shape: tuple[int, ...]) -> MLP:
    """Returns one logit per sample, shape (B, 1)."""
    return MLP(math.prod(data_shape), (1,), width, depth, activation, norm)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["ACTIVATIONS", "MLP", "NORMS", "count_parameters", "mlp_discriminator", "mlp_generator"]
