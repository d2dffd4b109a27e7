"""Writing what a run makes: the training snapshots, sample files and pictures, translation pictures (input |
output | [round trip] | [target] rows, real A, fake B, reconstructed A)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.data.base import blank_region
from gankit.data.images import to_unit_range
from gankit.errors import GankitError
from gankit.sampling.draw import classify_inputs, draw_samples, inverse_direction, sampling_players, translate_inputs
from gankit.sampling.standing import eval_mode

TRANSLATION_COLUMNS = 8  # images per row of a translation picture


def output_field(variant: Any) -> str:
    """The data field a run's outputs live in: ``x`` for a noise model, the target field of its first translation."""
    if variant.decode is not None and variant.latents is not None:
        return "x"
    if variant.directions:
        return next(iter(variant.directions.values()))[1]
    return "x"


def snapshot_codes(state: Any, n: int) -> tuple[str, Tensor] | None:
    """For a picture of a model with a categorical latent part (a class label, a categorical code): one row per value."""
    spec = state.variant.latents
    part = next((p for p in spec.parts if p.kind == "categorical"), None) if spec is not None else None
    if part is None or part.size > 100:
        return None
    per_row = max(1, n // part.size)
    return part.name, torch.arange(part.size).repeat_interleave(per_row)


def snapshot(state: Any, path: Path, seed: int, title: str = "") -> Tensor:
    """The run's picture at this step: fixed-noise samples (one row per categorical value) or translations of fixed
    inputs. Returns the outputs (model range, CPU)."""
    v = state.variant
    n = state.cfg.train.sample_n
    if v.decode is not None and v.latents is not None:
        codes = snapshot_codes(state, n)
        # A refitted DRS estimator costs minutes: the pictures during training show G's proposals, the last one DRS's
        sampler = "plain" if state.cfg.sampler.estimator == "refit" and state.step < state.cfg.train.steps else None
        if codes is None:
            samples = draw_samples(state, n, seed, sampler=sampler)
            write_picture(state, samples, path, title=title)
        else:
            name, values = codes
            samples = draw_samples(state, len(values), seed, codes={name: values}, sampler=sampler)
            write_picture(state, samples, path, title=title, nrow=len(values) // v.latents.part(name).size)
        return samples
    if v.translate is not None:
        return translation_picture(state, fixed_inputs(state, min(n, TRANSLATION_COLUMNS * 2), seed), path)
    if v.classify is not None:  # a classifier: fixed real inputs, in the order of the class it gives each
        inputs = real_examples(state.data, [v.encodes], n, seed)[v.encodes]
        order = classify_inputs(state, inputs).argmax(dim=1).argsort(stable=True)
        write_picture(state, inputs[order], path, title=f"{title} — inputs sorted by predicted class".strip(" —"))
        return inputs[order]
    raise GankitError(f"variant '{state.cfg.variant}' has neither decode, translate nor classify: nothing to picture")


def fixed_inputs(state: Any, n: int, seed: int) -> dict[str, Tensor]:
    """``n`` fixed examples of each field the first translation direction reads and targets (model range)."""
    source, target = next(iter(state.variant.directions.values()))
    fields = [source] + ([target] if state.variant.paired else [])
    return real_examples(state.data, fields, n, seed)


def real_examples(data: Any, fields: list[str], n: int, seed: int) -> dict[str, Tensor]:
    """``n`` real examples (model range) of each of ``fields``, aligned across the fields of a paired source: a
    seeded subset of a fixed set (the same items for every field), or ``n`` seeded draws."""
    from gankit.data.real import real_set

    out = {}
    for name in fields:
        values = real_set(data, name, limit=n, seed=seed)
        if len(values) > n:
            values = values[torch.randperm(len(values), generator=torch.Generator().manual_seed(seed))[:n]]
        out[name] = values * 2 - 1 if values.dim() == 4 else values
    return out


def translation_rows(state: Any, inputs: dict[str, Tensor], direction: str | None = None, use_ema: bool = True) -> tuple[list[str], list[Tensor]]:
    """The rows a person looks at for a translation: the input (its ``region`` blanked, for inpainting; a smaller input
    enlarged by repeating its pixels), the output, the round trip (when the variant translates back) and the target
    (paired data); names and tensors in [0, 1]."""
    v = state.variant
    direction = direction or next(iter(v.directions))
    source, target = v.directions[direction]
    x = inputs[source]
    out = translate_inputs(state, x, direction, use_ema=use_ema)
    shown = blank_region(x, v.region(*x.shape[-2:])) if v.region is not None else x  # what an inpainting G sees
    names, rows = [f"input ({source})", f"output ({direction})"], [shown, out]
    back = inverse_direction(v, direction)
    if back is not None:
        names.append(f"round trip ({back})")
        rows.append(translate_inputs(state, out, back, use_ema=use_ema))
    if v.paired and target in inputs:
        names.append(f"target ({target})")
        rows.append(inputs[target])
    size = max((tuple(r.shape[-2:]) for r in rows), key=lambda hw: hw[0] * hw[1])
    # smaller rows (a super-resolution model's inputs) shown at the largest size, pixels repeated (nearest)
    rows = [torch.nn.functional.interpolate(r.float(), size=size, mode="nearest") if tuple(r.shape[-2:]) != size else r for r in rows]
    return names, [to_unit_range(r.float().cpu()) for r in rows]


def translation_picture(state: Any, inputs: dict[str, Tensor], path: Path, direction: str | None = None, use_ema: bool = True) -> Tensor:
    """Write a picture with one band per row kind (input | output | round trip | target), TRANSLATION_COLUMNS
    images per line; return the outputs (model range, CPU)."""
    from gankit.viz import save_image_grid

    _, rows = translation_rows(state, inputs, direction, use_ema)
    columns = min(TRANSLATION_COLUMNS, len(rows[0]))
    lines = []
    for start in range(0, len(rows[0]), columns):
        lines += [r[start : start + columns] for r in rows]
    channels = max(r.shape[1] for r in rows)
    grid = torch.cat([line.expand(-1, channels, -1, -1) if line.shape[1] != channels else line for line in lines])
    save_image_grid(grid, path, nrow=columns, scale=max(1, 64 // grid.shape[-1]))
    return rows[1] * 2 - 1


def write_picture(state: Any, samples: Tensor, path: Path, title: str = "", nrow: int | None = None) -> None:
    """The run's picture of ``samples``: an image grid for images, a density plot with D(x) for 1-D data,
    a scatter against the real data for 2-D data."""
    from gankit.viz import plot_points, save_image_grid

    data = state.data
    if data.kind == "images":
        side = samples.shape[-1]
        save_image_grid(to_unit_range(samples), path, nrow=nrow, scale=max(1, 64 // side))
        return
    probe = None
    if state.variant.score is not None and data.dim == 1:
        players = state.variant.players

        @torch.no_grad()
        def probe(x: Tensor) -> Tensor:
            with eval_mode(players):
                return state.variant.score(players, x.to(state.device)).cpu()

    real = data.sample(len(samples), torch.Generator().manual_seed(0)) if data.dim == 2 else None
    plot_points(data, samples, path, probe=probe, title=title, real=real)


def save_samples(state: Any, samples: Tensor, out: Path, labels: Tensor | None = None) -> None:
    """Write samples to ``out``: ``.npz`` (``samples`` [, ``labels``]; images as N, C, H, W in [0, 1]),
    ``.png`` (a picture), or, for images, a directory of one PNG per sample. A failed write is a GankitError and
    leaves no partial file."""
    arrays = {"labels": labels} if labels is not None else {}
    if state.data.kind == "images":
        varied = labels is not None and len(torch.unique(labels)) > 1 and state.variant.num_classes <= 100
        per_row = state.variant.num_classes if varied else None  # labels cycle 0..K-1: one class per column
        save_images(to_unit_range(samples), out, arrays, key="samples", nrow=per_row)
        return
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".npz", ".png"):
        raise GankitError(f"--out must end in .npz (arrays) or .png (a picture) for this model (got '{out}')")
    try:
        if suffix == ".npz":
            _save_npz(out, {"samples": samples, **arrays})
        else:
            write_picture(state, samples, out, title=f"{state.cfg.name}: {len(samples)} samples")
    except OSError as exc:
        raise GankitError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None


def _save_npz(out: Path, arrays: dict[str, Tensor]) -> None:
    """Arrays (float tensors as float32) to ``out``, atomically: a failed write leaves the previous file or none."""
    from gankit.files import atomic_write

    values = {k: v.cpu().numpy().astype(np.float32) if v.is_floating_point() else v.cpu().numpy() for k, v in arrays.items()}
    atomic_write(out, lambda f: np.savez(f, **values))


def save_images(images: Tensor, out: Path, arrays: dict[str, Tensor] | None = None, *, key: str = "images", nrow: int | None = None) -> None:
    """Images in [0, 1]: ``.npz`` (the images under ``key``, plus ``arrays``), ``.png`` (a grid, ``nrow`` per row)
    or a directory of PNGs. A failed write is a GankitError and leaves no partial file."""
    from gankit.files import replace_folder
    from gankit.viz import save_image, save_image_grid

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".npz", ".png", ""):
        raise GankitError(f"--out must end in .npz (arrays), .png (a picture) or be a directory (got '{out}')")
    try:
        if suffix == ".npz":
            _save_npz(out, {key: images, **(arrays or {})})
        elif suffix == ".png":
            save_image_grid(images, out, nrow=nrow, scale=max(1, 64 // images.shape[-1]))
        else:  # a folder of this command's images alone: written beside it, then put in its place
            width = len(str(len(images) - 1))

            def write(folder: Path) -> None:
                for i, image in enumerate(images):
                    save_image(image, folder / f"{i:0{width}d}.png")

            replace_folder(out, write)
    except OSError as exc:
        raise GankitError(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None


__all__ = ["output_field", "sampling_players", "save_images", "save_samples", "snapshot", "translation_picture", "write_picture"]
