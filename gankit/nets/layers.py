"""Layers of the Improved-GAN techniques (Salimans et al., 2016): minibatch discrimination, virtual batch norm and
Gaussian noise."""

from __future__ import annotations

import torch
from torch import Tensor, nn

MINIBATCH_DIMS = 5  # C, the size of each kernel's projection


class GaussianNoise(nn.Module):
    """x + N(0, std²) in training, x at test time (the noise layers of Salimans et al., 2016's MNIST discriminator).
    Draws from torch's global generator, which the checkpoint carries."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x

    def extra_repr(self) -> str:
        return f"std={self.std}"


class MinibatchDiscrimination(nn.Module):
    """Side information on how close each sample is to the others of its minibatch.

    M = x T ∈ R^{N×B×C}; c_b(xᵢ, xⱼ) = exp(-‖M_{i,b} - M_{j,b}‖₁); o(xᵢ)_b = Σ_{j≠i} c_b(xᵢ, xⱼ). The output is
    o(x) ∈ R^{N×B}: a collapsed generator's samples are all close to each other, which D can then see.
    """

    def __init__(self, in_features: int, kernels: int, dims: int = MINIBATCH_DIMS) -> None:
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels * dims) * 0.1)

    def forward(self, x: Tensor) -> Tensor:
        m = (x.flatten(1) @ self.T).reshape(-1, self.kernels, self.dims).transpose(0, 1)  # (B, N, C)
        distances = torch.cdist(m, m, p=1.0)  # (B, N, N) L1 distances, without an N×N×B×C intermediate
        return torch.exp(-distances).sum(dim=2).t() - 1.0  # the j = i term is exp(0) = 1


class VirtualBatchNorm(nn.Module):
    """Virtual batch normalisation: each sample is normalised with the statistics of a fixed reference batch
    together with itself, so that a sample's output does not depend on the other samples of its minibatch.

    The network runs the reference batch first: ``forward`` sees the R reference rows followed by the N samples
    (``reference_size`` = R is set by :class:`ReferenceBatchGenerator`). Reference rows are normalised with the
    reference statistics; sample i with mean μᵢ = (R μ_ref + xᵢ)/(R + 1) and E[x²] likewise (per channel).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.reference_size = 0

    def forward(self, x: Tensor) -> Tensor:
        r = self.reference_size
        if r < 1:
            raise RuntimeError("VirtualBatchNorm needs its network wrapped in ReferenceBatchGenerator")
        dims = [0, *range(2, x.dim())]  # per channel: over the batch and any spatial dimensions
        ref, rest = x[:r], x[r:]
        mean_ref, sq_ref = ref.mean(dim=dims, keepdim=True), (ref * ref).mean(dim=dims, keepdim=True)
        shape = (1, -1, *([1] * (x.dim() - 2)))
        w, b = self.weight.reshape(shape), self.bias.reshape(shape)
        out_ref = (ref - mean_ref) / torch.sqrt(sq_ref - mean_ref**2 + self.eps) * w + b
        # each sample joins the reference batch: r * spatial reference values and its own spatial values
        own_dims = list(range(2, x.dim()))
        own_mean = rest.mean(dim=own_dims, keepdim=True) if own_dims else rest
        own_sq = (rest * rest).mean(dim=own_dims, keepdim=True) if own_dims else rest * rest
        new = 1.0 / (r + 1)
        mean = (1 - new) * mean_ref + new * own_mean
        var = (1 - new) * sq_ref + new * own_sq - mean**2
        out = (rest - mean) / torch.sqrt(var.clamp(min=0.0) + self.eps) * w + b
        return torch.cat([out_ref, out])


class ReferenceBatchGenerator(nn.Module):
    """A generator whose VirtualBatchNorm layers use a reference batch: noise ``z_ref`` drawn once when the network
    is built, kept as a buffer (so it is saved in checkpoints), run before every batch and dropped from the output."""

    def __init__(self, net: nn.Module, z_ref: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("z_ref", z_ref)
        self.layers = [m for m in net.modules() if isinstance(m, VirtualBatchNorm)]

    def forward(self, z: Tensor, *args: Tensor) -> Tensor:
        r = len(self.z_ref)
        for layer in self.layers:
            layer.reference_size = r
        out = self.net(torch.cat([self.z_ref.to(z.dtype), z]), *args)
        return out[r:]
