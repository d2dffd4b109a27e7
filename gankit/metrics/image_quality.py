"""Full-reference image quality for translation: PSNR and SSIM per image, equal to scikit-image's on the same data.

Images are (N, C, H, W) tensors or arrays, computed in float64; both functions return an (N,) float64 tensor.
``data_range`` (max - min possible value) is 1 by default, for images in [0, 1] (gankit's samples and translations
after ``to_unit_range``); pass 2 for [-1, 1] or 255 for bytes. It is never guessed from the dtype, since such a guess
is wrong for float images.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import GankitError

ArrayLike = Tensor | np.ndarray
SSIM_CHUNK = 256  # images per pass of ssim's convolutions
TRUNCATE = 3.5  # scikit-image's truncation for Gaussian weights: 11 taps for σ = 1.5, as Wang et al. (2004)


def _image_pair(x: ArrayLike, y: ArrayLike, data_range: float | None) -> tuple[Tensor, Tensor, float]:
    a = x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    b = y.detach() if isinstance(y, Tensor) else torch.as_tensor(np.asarray(y))
    if a.ndim != 4:
        raise GankitError(f"images must be (B, C, H, W) (got shape {tuple(a.shape)}); add the missing axes, e.g. x[None] or x[:, None]")
    if a.shape != b.shape:
        raise GankitError(f"the two image batches differ in shape ({tuple(a.shape)} vs {tuple(b.shape)}); compare images of the same size")
    if data_range is None or not math.isfinite(float(data_range)) or float(data_range) <= 0:
        raise GankitError(f"data_range must be the positive span of possible values (1 for [0, 1], 2 for [-1, 1], 255 for bytes); got {data_range}")
    return a.to(torch.float64), b.to(a.device, torch.float64), float(data_range)


def psnr(outputs: ArrayLike, targets: ArrayLike, data_range: float = 1.0) -> Tensor:
    """PSNR = 10 log10(R² / MSE) per image, MSE over each image's C·H·W values (as skimage's
    ``peak_signal_noise_ratio``); inf for identical images."""
    a, b, r = _image_pair(outputs, targets, data_range)
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(r**2 / mse)


def gaussian_window(sigma: float, truncate: float = TRUNCATE) -> Tensor:
    """The normalised 1-D Gaussian taps scipy.ndimage uses: radius int(truncate·σ + 0.5), 11 taps for σ = 1.5."""
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 / sigma**2 * t**2)
    return w / w.sum()


def ssim_window_sigma(height: int, width: int, sigma: float = 1.5) -> float:
    """The σ SSIM uses on images of that size: ``sigma`` when its window (2·int(3.5σ + 0.5) + 1 taps, 11 for 1.5)
    fits, else r / 3.5 with r = (min(height, width) - 1) // 2, the largest radius that fits (a 7 x 7 window on
    8 x 8 digits; 0, one pixel, below 3 px)."""
    if not sigma > 0:
        raise GankitError(f"the SSIM window's sigma must be positive (got {sigma})")
    fits = (min(height, width) - 1) // 2
    return float(sigma) if int(TRUNCATE * sigma + 0.5) <= fits else fits / TRUNCATE


def ssim(outputs: ArrayLike, targets: ArrayLike, data_range: float = 1.0, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Mean SSIM (Wang et al., 2004) per image with Gaussian-weighted local statistics (σ = 1.5, truncated at 3.5σ:
    an 11 x 11 window) and population covariances, C1 = (k1 R)², C2 = (k2 R)²; the SSIM map is averaged over the
    positions where the window fits inside the image, per channel, then over channels. Equals skimage's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=R,
    channel_axis=0)`` on each (C, H, W) image.

    Images smaller than the window (under 11 px for σ = 1.5, which skimage refuses) use the largest window that fits,
    with σ shrunk to keep the 3.5σ truncation (:func:`ssim_window_sigma`): skimage with that σ."""
    a, b, r = _image_pair(outputs, targets, data_range)
    n, c, h, wd = a.shape
    sigma = ssim_window_sigma(h, wd, sigma)
    w = (gaussian_window(sigma) if sigma > 0 else torch.ones(1, dtype=torch.float64)).to(a.device)
    c1, c2 = (k1 * r) ** 2, (k2 * r) ** 2
    out = []
    for i in range(0, n, SSIM_CHUNK):  # in chunks: the convolutions' buffers grow with the batch (10,000 crops: ~45 GB at once)
        x, y = a[i : i + SSIM_CHUNK], b[i : i + SSIM_CHUNK]
        stats = torch.stack([x, y, x * x, y * y, x * y], dim=2).reshape(len(x) * c * 5, 1, h, wd)
        stats = F.conv2d(F.conv2d(stats, w.view(1, 1, -1, 1)), w.view(1, 1, 1, -1))
        ux, uy, uxx, uyy, uxy = stats.reshape(len(x), c, 5, *stats.shape[-2:]).unbind(dim=2)
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        out.append(s.mean(dim=(1, 2, 3)))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)
