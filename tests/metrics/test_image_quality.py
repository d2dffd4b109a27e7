"""PSNR and SSIM against scikit-image 0.26 (a test-only oracle) on random and structured images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gankit.errors import GankitError
from gankit.metrics.image_quality import gaussian_window, psnr, ssim, ssim_window_sigma

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
    with pytest.raises(GankitError, match="sigma must be positive"):
        ssim(x, x, sigma=0.0)


def test_unit_range_is_the_default_and_channel_axis_zero_matches():
    """Images in [0, 1], N x C x H x W: data_range defaults to 1; skimage called with channel_axis=0 on (C, H, W)."""
    x, y = image_pairs(3, 1.0)
    ours_ssim, ours_psnr = ssim(torch.from_numpy(x), torch.from_numpy(y)), psnr(torch.from_numpy(x), torch.from_numpy(y))
    kwargs = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 1}
    for i in range(len(x)):
        assert float(ours_ssim[i]) == pytest.approx(structural_similarity(x[i], y[i], channel_axis=0, **kwargs), rel=REL)
        assert float(ours_psnr[i]) == pytest.approx(peak_signal_noise_ratio(x[i], y[i], data_range=1), rel=REL)


def test_window_sigma_shrinks_only_for_images_smaller_than_eleven_pixels():
    assert ssim_window_sigma(11, 11) == ssim_window_sigma(64, 12) == 1.5
    for side, radius in ((10, 4), (9, 4), (8, 3), (7, 3), (3, 1), (2, 0), (1, 0)):
        sigma = ssim_window_sigma(side, 40)
        assert sigma == pytest.approx(radius / 3.5) and ssim_window_sigma(40, side) == sigma
        assert (len(gaussian_window(sigma)) if sigma > 0 else 1) == 2 * radius + 1 <= side


@pytest.mark.parametrize(("h", "w"), [(8, 8), (10, 7), (5, 16), (3, 3), (2, 6)])
def test_small_images_use_the_largest_window_that_fits(h, w):
    """Below 11 px the Gaussian's σ shrinks so its 3.5σ-truncated window fits: skimage with that σ (which refuses σ = 1.5)."""
    rng = np.random.default_rng(h * 100 + w)
    x = rng.random((3, 2, h, w))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    ours = ssim(torch.from_numpy(x), torch.from_numpy(y))
    sigma = ssim_window_sigma(h, w)
    kwargs = {"gaussian_weights": True, "use_sample_covariance": False, "data_range": 1, "channel_axis": 0}
    with pytest.raises(ValueError, match="win_size exceeds image extent"):
        structural_similarity(x[0], y[0], sigma=1.5, **kwargs)
    for i in range(len(x)):
        assert float(ours[i]) == pytest.approx(structural_similarity(x[i], y[i], sigma=sigma, **kwargs), rel=REL)
    assert ssim(torch.from_numpy(x), torch.from_numpy(x)).tolist() == pytest.approx([1.0] * 3, rel=1e-12)


def test_ssim_in_chunks_equals_scikit_image_per_image(monkeypatch):
    """A batch longer than one chunk (ssim convolves SSIM_CHUNK images at a time, so 10,000 photo crops fit in memory)
    gives every image the score scikit-image gives it alone, in order; an empty batch gives an empty result."""
    import gankit.metrics.image_quality as iq

    monkeypatch.setattr(iq, "SSIM_CHUNK", 3)
    x, y = image_pairs(3, 1.0)
    x, y = np.concatenate([x, y]), np.concatenate([y, x])  # 8 pairs: chunks of 3, 3 and 2
    got = ssim(x, y).numpy()
    assert got.shape == (8,)
    np.testing.assert_allclose(got, [skimage_ssim(a, b, 1.0) for a, b in zip(x, y, strict=True)], rtol=REL)
    assert ssim(x[:0], y[:0]).shape == (0,)
