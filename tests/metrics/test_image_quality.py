"""PSNR and SSIM against scikit-image 0.26 (a test-only oracle) on random and structured images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gankit.errors import GankitError
from gankit.metrics.image_quality import gaussian_window, psnr, ssim

REL = 1e-6


def skimage_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """One (C, H, W) image pair, the Wang et al. (2004) settings."""
    kwargs = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": data_range}
    if x.shape[0] == 1:
        return structural_similarity(x[0], y[0], **kwargs)
    return structural_similarity(np.moveaxis(x, 0, -1), np.moveaxis(y, 0, -1), channel_axis=-1, **kwargs)


def image_pairs(channels: int, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Four pairs (4, C, 24, 20) in [0, data_range] (or [-1, 1] for range 2): noise, gradient, checkerboard, blocks."""
    rng = np.random.default_rng(channels)
    h, w = 24, 20
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h - 1, w - 1])[:, None, None]
    gradient = np.broadcast_to((xx + yy) / 2, (channels, h, w))
    checker = np.broadcast_to(((np.arange(h)[:, None] // 3 + np.arange(w) // 3) % 2).astype(float), (channels, h, w))
    blocks = np.kron(rng.random((channels, 4, 4)), np.ones((6, 5)))
    x = np.stack([rng.random((channels, h, w)), gradient, checker, blocks])
    noisy = [np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1) for a in (gradient, blocks)]
    y = np.stack([rng.random((channels, h, w)), noisy[0], 1 - checker, noisy[1]])
    low = -1.0 if data_range == 2 else 0.0
    return low + x * data_range, low + y * data_range


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("data_range", [1.0, 2.0, 255.0])
def test_ssim_and_psnr_equal_scikit_image(channels, data_range):
    x, y = image_pairs(channels, data_range)
    ours_ssim = ssim(torch.from_numpy(x), torch.from_numpy(y), data_range=data_range)
    ours_psnr = psnr(torch.from_numpy(x), torch.from_numpy(y), data_range=data_range)
    assert ours_ssim.shape == ours_psnr.shape == (4,)
    for i in range(len(x)):
        assert float(ours_ssim[i]) == pytest.approx(skimage_ssim(x[i], y[i], data_range), rel=REL, abs=1e-12)
        assert float(ours_psnr[i]) == pytest.approx(peak_signal_noise_ratio(x[i], y[i], data_range=data_range), rel=REL)


def test_numpy_float32_inputs_and_identical_images():
    x, y = image_pairs(3, 1.0)
    ours = ssim(x.astype(np.float32), y.astype(np.float32), data_range=1)
    assert ours.dtype == torch.float64
    ref = [skimage_ssim(x[i].astype(np.float32).astype(np.float64), y[i].astype(np.float32).astype(np.float64), 1.0) for i in range(len(x))]
    assert ours.tolist() == pytest.approx(ref, rel=REL)
    assert ssim(x, x, data_range=1).tolist() == pytest.approx([1.0] * 4, rel=1e-12)
    assert torch.isinf(psnr(x, x, data_range=1)).all()


def test_window_is_scipys_eleven_taps():
    w = gaussian_window(1.5)
    assert len(w) == 11
    assert float(w.sum()) == pytest.approx(1.0, rel=1e-15)
    assert float(w[5] / w[4]) == pytest.approx(np.exp(0.5 / 1.5**2), rel=1e-12)


def test_bad_inputs():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(GankitError, match="differ in shape"):
        ssim(x, torch.rand(2, 3, 16, 15), data_range=1)
    with pytest.raises(GankitError, match="differ in shape"):
        psnr(x, torch.rand(2, 1, 16, 16), data_range=1)
    for bad in (None, 0, -1.0, float("nan")):
        with pytest.raises(GankitError, match="data_range must be the positive span"):
            ssim(x, x, data_range=bad)
        with pytest.raises(GankitError, match="data_range must be the positive span"):
            psnr(x, x, data_range=bad)
    with pytest.raises(GankitError, match=r"\(B, C, H, W\)"):
        psnr(x[0], x[0], data_range=1)
    with pytest.raises(GankitError, match="at least 11x11 pixels"):
        ssim(torch.rand(1, 1, 10, 32), torch.rand(1, 1, 10, 32), data_range=1)
