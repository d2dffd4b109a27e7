"""What `gankit stats` / `gankit fid` read: folders, image and statistics .npz files, dataset names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import GankitError
from gankit.metrics.sources import load_source


def _write_pngs(folder, arrays):
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"{i:03d}.png")


def test_folder_is_read_at_native_size_in_unit_range(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (20, 24), dtype=np.uint8) for _ in range(3)]
    _write_pngs(tmp_path / "imgs", arrays)
    source = load_source(str(tmp_path / "imgs"))
    assert source.images.shape == (3, 1, 20, 24)
    assert torch.equal(source.images[1, 0], torch.from_numpy(arrays[1]).float() / 255)
    rgb = load_source(str(tmp_path / "imgs"), channels=3)
    assert rgb.images.shape == (3, 3, 20, 24)
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])  # greyscale converted to RGB as PIL does


def test_folder_of_mixed_sizes_is_refused(tmp_path):
    _write_pngs(tmp_path / "imgs", [np.zeros((8, 8), np.uint8), np.zeros((9, 8), np.uint8)])
    with pytest.raises(GankitError, match="different sizes"):
        load_source(str(tmp_path / "imgs"))


def test_gankit_sample_files_and_image_arrays(tmp_path):
    samples = torch.rand(5, 1, 8, 8).numpy()
    np.savez(tmp_path / "s.npz", samples=samples)
    source = load_source(str(tmp_path / "s.npz"))
    assert np.allclose(source.images.numpy(), samples)
    np.savez(tmp_path / "x.npz", images=(samples[:, 0] * 255).astype(np.uint8))
    assert load_source(str(tmp_path / "x.npz")).images.shape == (5, 1, 8, 8)
    np.savez(tmp_path / "bad.npz", samples=samples * 3)
    with pytest.raises(GankitError, match=r"\[0, 1\]"):
        load_source(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "points.npz", samples=np.zeros((5, 2), np.float32))
    with pytest.raises(GankitError, match="not images"):
        load_source(str(tmp_path / "points.npz"))


def test_statistics_files(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3)
    np.savez_compressed(tmp_path / "stats.npz", mu=mu, sigma=sigma)
    source = load_source(str(tmp_path / "stats.npz"))
    assert source.is_stats and np.array_equal(source.mu, mu) and np.array_equal(source.sigma, sigma)


def test_dataset_names_and_bad_specs(tmp_path):
    test = load_source("mnist5k:test")
    assert test.images.shape == (500, 1, 28, 28) and float(test.images.min()) >= 0 and float(test.images.max()) <= 1
    with pytest.raises(GankitError, match="split"):
        load_source("mnist5k:validation")
    with pytest.raises(GankitError, match="does not exist"):
        load_source(str(tmp_path / "nope"))
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(GankitError, match="expected a folder"):
        load_source(str(tmp_path / "a.txt"))
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(GankitError, match="readable"):
        load_source(str(tmp_path / "broken.npz"))
