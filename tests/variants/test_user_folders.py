"""Every translation variant trains on a user's folder in the layout its README example names, and translates the
folder's test images (the two-line examples of the README, at a tiny size)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gankit.config import load_config
from gankit.data import build_dataset
from gankit.data.real import real_set
from gankit.sampling import translate_inputs
from gankit.train.loop import load_run, train

SIZE = 16


def save(path, rng, width: int = SIZE, channels: int = 3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    array = (rng.random((SIZE, width, channels)) * 255).astype(np.uint8)
    Image.fromarray(array if channels == 3 else array[..., 0]).save(path)


def layout(root, kind: str) -> None:
    rng = np.random.default_rng(0)
    for i in range(4):
        if kind == "aligned":
            for split in ("train", "test"):
                save(root / split / f"{i}.png", rng, width=2 * SIZE)
        elif kind == "unaligned":
            for side in ("trainA", "trainB", "testA", "testB"):
                save(root / side / f"{i}.png", rng)
        else:  # a folder; with classes, one sub-folder per class (StarGAN's domains)
            for domain in ("blond", "dark"):
                save(root / domain / f"{i}.png", rng)


CASES = {  # preset: (layout, the README's overrides beside data.root, tiny widths)
    "pix2pix-edges2digits": ("aligned", ["data.name=aligned"], ["model.g.width=4", "model.d.width=4"]),
    "cyclegan-digits2mnist": ("unaligned", ["data.name=unaligned"], [f"model.{p}.width=4" for p in ("g_ab", "g_ba", "d_a", "d_b")]),
    "unit-digits2mnist": ("unaligned", ["data.name=unaligned", "options.latent=4"], [f"model.{p}.width=4" for p in ("e_a", "e_b", "g_a", "g_b", "d_a", "d_b")]),
    "simgan-fonts2mnist": ("unaligned", ["data.name=unaligned"], ["model.r.width=4", "model.r.depth=1", "model.d.width=4"]),
    "stargan-digits": ("folder", ["data.name=folder", "data.labels=true", "options.domain=y"], ["model.g.width=4", "model.g.depth=1", "model.d.width=4"]),
    "inpaint-photos": ("folder", ["data.name=folder"], ["model.g.width=4", "model.d.width=4", "options.hole=8"]),
    # super-resolution from pix2pix-layout pairs: A the low-resolution image already enlarged to B's size (factor 1)
    "srresnet-photos": ("aligned", ["data.name=aligned"], ["model.g.width=4", "model.g.depth=1"]),
    "srgan-photos": ("aligned", ["data.name=aligned", "options.content=mse", "options.pretrain=1"], ["model.g.width=4", "model.g.depth=1", "model.d.width=4"]),
}


@pytest.mark.parametrize("preset", sorted(CASES))
def test_a_translation_variant_trains_on_a_users_folder_and_translates_its_test_images(preset, tmp_path):
    kind, data, tiny = CASES[preset]
    root = tmp_path / "data"
    layout(root, kind)
    overrides = [*data, f"data.root={root}", f"data.image_size={SIZE}", *tiny, "train.steps=2", "train.batch_size=2", "train.device=cpu",
                 "train.progress=none", "train.log_every=1", "train.ckpt_every=100", "train.sample_every=100", "train.ema=0", "data.split=train"]  # fmt: skip
    _, state, _ = load_run(train(load_config(preset, overrides), tmp_path / "runs"))
    direction = next(iter(state.variant.directions))
    source = state.variant.directions[direction][0]
    test = build_dataset(load_config(preset, [*overrides[:-1], "data.split=test" if kind != "folder" else "data.split=all"]).data)
    inputs = real_set(test, source)
    out = translate_inputs(state, inputs * 2 - 1, direction)
    assert out.shape == (len(inputs), 3, SIZE, SIZE) and out.abs().max() <= 1.0
