"""Image datasets: shapes, ranges, split balance and determinism, streams that resume, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.data.images import resize_images, stratified_split, to_model_range, to_unit_range
from gankit.errors import GankitError


@pytest.fixture(scope="module")
def mnist_train():
    return build_dataset(DataConfig(name="mnist5k", split="train"))


def test_mnist5k_split_is_stratified_4500_500_and_disjoint(mnist_train):
    test = build_dataset(DataConfig(name="mnist5k", split="test"))
    everything = build_dataset(DataConfig(name="mnist5k", split="all"))
    assert mnist_train.images.shape == (4500, 1, 28, 28) and mnist_train.images.dtype == torch.uint8
    assert test.images.shape == (500, 1, 28, 28)
    assert len(everything) == 5000
    assert torch.bincount(mnist_train.labels).tolist() == [450] * 10
    assert torch.bincount(test.labels).tolist() == [50] * 10
    flat_train = {bytes(x.numpy()) for x in mnist_train.images}
    assert not any(bytes(x.numpy()) in flat_train for x in test.images)
    assert mnist_train.images.max() == 255 and mnist_train.images.min() == 0


def test_split_is_deterministic():
    labels = np.repeat(np.arange(10), 50)
    a, b = stratified_split(labels, 0.1), stratified_split(labels, 0.1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    again = build_dataset(DataConfig(name="mnist5k", split="test"))
    assert torch.equal(again.images, build_dataset(DataConfig(name="mnist5k", split="test")).images)


def test_mnist_pad_and_resize_to_32(mnist_train):
    padded = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32, resize="pad"))
    assert padded.shape == (1, 32, 32)
    test = build_dataset(DataConfig(name="mnist5k", split="test"))
    assert torch.equal(padded.images[:, :, 2:30, 2:30], test.images)
    assert padded.images[:, :, :2].sum() == 0
    resized = build_dataset(DataConfig(name="mnist5k", split="test", image_size=32))
    assert resized.shape == (1, 32, 32)


def test_batches_are_in_minus_one_one_with_labels(mnist_train):
    batch = mnist_train.stream(16, seed=0).next()
    assert batch["x"].shape == (16, 1, 28, 28) and batch["x"].dtype == torch.float32
    assert batch["x"].min() >= -1 and batch["x"].max() <= 1
    assert batch["y"].dtype == torch.int64
    u8 = torch.tensor([[[[0, 255, 128]]]], dtype=torch.uint8)
    torch.testing.assert_close(to_unit_range(to_model_range(u8)), u8.float() / 255)


def test_epoch_stream_visits_every_image_once_per_epoch_and_resumes(mnist_train):
    stream = mnist_train.stream(500, seed=1)
    seen = torch.cat([stream.next()["y"] for _ in range(9)])  # 4,500 = one epoch
    assert torch.bincount(seen).tolist() == [450] * 10
    state = stream.state_dict()
    want = [stream.next()["x"] for _ in range(12)]  # crosses into a new epoch
    other = mnist_train.stream(500, seed=99)
    other.load_state_dict(state)
    for w in want:
        assert torch.equal(other.next()["x"], w)


def test_digits_8x8_and_upscaled():
    digits = build_dataset(DataConfig(name="digits", split="all"))
    assert digits.images.shape == (1797, 1, 8, 8) and digits.num_classes == 10
    assert digits.images.max() == 255
    up = build_dataset(DataConfig(name="digits", image_size=16))
    assert up.shape == (1, 16, 16) and len(up) + len(build_dataset(DataConfig(name="digits", split="test"))) == 1797


def test_stacked_mnist_has_1000_classes_from_three_digits():
    stacked = build_dataset(DataConfig(name="stacked-mnist"))
    batch = stacked.stream(4000, seed=0).next()
    assert batch["x"].shape == (4000, 3, 28, 28) and stacked.num_classes == 1000
    assert batch["y"].max() < 1000 and len(torch.unique(batch["y"])) > 950


def test_photos_are_random_colour_crops():
    photos = build_dataset(DataConfig(name="photos", image_size=32))
    a, b = photos.stream(8, 0).next()["x"], photos.stream(8, 1).next()["x"]
    assert a.shape == (8, 3, 32, 32) and not torch.equal(a, b)
    with pytest.raises(GankitError, match="larger than the photos"):
        build_dataset(DataConfig(name="photos", image_size=1000))


def _write(path, mode="RGB", size=(20, 12), color=(200, 10, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color if mode == "RGB" else 120).save(path)


def test_folder_with_labels_resizes_and_crops(tmp_path):
    _write(tmp_path / "cats" / "a.png")
    _write(tmp_path / "cats" / "sub" / "b.jpg")
    _write(tmp_path / "dogs" / "c.png", color=(0, 0, 255))
    data = build_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8, labels=True))
    assert data.images.shape == (3, 3, 8, 8)
    assert data.class_names == ("cats", "dogs") and data.labels.tolist() == [0, 0, 1]
    assert data.images[2, 2].float().mean() > 200  # blue stays blue


@pytest.mark.parametrize(
    ("setup", "overrides", "needle"),
    [
        (lambda p: None, {}, "holds no images"),
        (lambda p: (p / "x.png").write_bytes(b"not a png"), {}, "cannot read image"),
        (lambda p: (_write(p / "a.png"), _write(p / "b.png", mode="L")), {}, "mixes greyscale"),
        (lambda p: (_write(p / "a.png", size=(8, 8)), _write(p / "b.png", size=(9, 8))), {}, "different sizes"),
        (lambda p: _write(p / "a.png"), {"labels": True}, "class sub-directory"),
    ],
)
def test_folder_errors(tmp_path, setup, overrides, needle):
    setup(tmp_path)
    with pytest.raises(GankitError, match=needle):
        build_dataset(DataConfig(name="folder", root=str(tmp_path), **overrides))


def test_folder_skip_bad_and_channel_conversion(tmp_path, caplog):
    _write(tmp_path / "a.png", size=(8, 8))
    _write(tmp_path / "b.png", mode="L", size=(8, 8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    data = build_dataset(DataConfig(name="folder", root=str(tmp_path), skip_bad=True, channels=1))
    assert data.images.shape == (2, 1, 8, 8)
    assert any("skipped 1" in r.getMessage() for r in caplog.records)


def test_folder_needs_a_root(tmp_path):
    with pytest.raises(GankitError, match=r"needs data\.root"):
        build_dataset(DataConfig(name="folder"))
    with pytest.raises(GankitError, match="not a directory"):
        build_dataset(DataConfig(name="folder", root=str(tmp_path / "nope")))


def test_npz_uint8_and_float_with_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.random.default_rng(0).integers(0, 256, (5, 6, 6), dtype=np.uint8), labels=np.arange(5))
    data = build_dataset(DataConfig(name="npz", root=str(path)))
    assert data.images.shape == (5, 1, 6, 6) and data.num_classes == 5
    np.savez(path, x=np.full((3, 4, 4, 3), 0.5, dtype=np.float32))
    data = build_dataset(DataConfig(name="npz", root=str(path), image_size=8))
    assert data.images.shape == (3, 3, 8, 8) and data.labels is None
    assert int(data.images[0, 0, 0, 0]) == 128


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"foo": np.zeros((2, 4, 4))}, "no 'images'"),
        ({"images": np.zeros((2, 4, 4, 5))}, "C = 1 or 3"),
        ({"images": np.full((2, 4, 4), 3.0)}, "must lie in"),
        ({"images": np.zeros((2, 4, 4), dtype=np.uint8), "labels": np.zeros(3, dtype=int)}, "one non-negative integer"),
    ],
)
def test_npz_errors(tmp_path, arrays, needle):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(GankitError, match=needle):
        build_dataset(DataConfig(name="npz", root=str(path)))


def test_npz_missing_and_corrupt(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        build_dataset(DataConfig(name="npz", root=str(tmp_path / "no.npz")))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(GankitError, match=r"not a readable \.npz"):
        build_dataset(DataConfig(name="npz", root=str(bad)))


def test_resize_modes():
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    assert resize_images(x, 8, "nearest").shape == (1, 1, 8, 8)
    padded = resize_images(x, 6, "pad")
    assert torch.equal(padded[:, :, 1:5, 1:5], x)
    cropped = resize_images(x, 2, "pad")
    assert torch.equal(cropped, x[:, :, 1:3, 1:3])


def test_folder_workers_decode_in_threads_and_give_the_same_images(tmp_path, monkeypatch):
    import threading

    from gankit.data import images as images_module

    for i in range(12):
        _write(tmp_path / f"{i:02d}.png", color=(20 * i, 5, 200 - 10 * i))
    serial = build_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8))
    threads: set[str] = set()
    load = images_module._load_image

    def spy(*args):
        threads.add(threading.current_thread().name)
        return load(*args)

    monkeypatch.setattr(images_module, "_load_image", spy)
    threaded = build_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8, workers=3))
    assert torch.equal(serial.images, threaded.images)  # same images, same order
    assert threads and all(name.startswith("gankit-load") for name in threads)
    with pytest.raises(GankitError, match=r"data\.workers must be zero or more"):
        from gankit.config import load_config

        load_config("gan-ring", ["data.workers=-1"])
