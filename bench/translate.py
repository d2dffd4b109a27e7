"""Translation benchmark: pix2pix (edges2digits with its L1-only ablation, gray2color), CycleGAN and UNIT (digits2mnist), SimGAN and the
context encoder (inpainting, with its L2-only baseline), each measured with `gankit eval RUN --metrics translation`
(the metric any user can run on a translation run).

`make bench-translate` runs it and writes docs/results/translate.md (pictures under docs/results/translate/).

- edges2digits: `pix2pix-edges2digits` (L1 + cGAN) and `l1-edges2digits` (the same U-Net, L1 only), 3 seeds each, on
  the 500 held-out MNIST-5k digits: the digit judge's accuracy on the outputs against the digits' labels (and on the
  real targets), PSNR/SSIM against the targets, and the Fréchet distance of judge features of outputs vs real
  digits — the paper's table (Isola et al., 2017, Table 1: L1 vs L1 + cGAN).
- gray2color: `pix2pix-gray2color`, PSNR/SSIM against the colour crops of two held-out photos, beside the grey input.
- digits2mnist: `cyclegan-digits2mnist` and `unit-digits2mnist` trained without labels; the judge's accuracy on all
  1,797 translated 8×8 digits (and on the 180 of the held-out split alone) beside its accuracy on the untranslated
  (upscaled) digits, and the cycle reconstruction's PSNR.
- inpaint: `inpaint-l2-mnist` / `inpaint-mnist` (a central 12 × 12 hole in the 500 held-out digits) and
  `inpaint-l2-photos` / `inpaint-photos` (the central 32 × 32 square of 64 px crops of the held-out photos): PSNR and
  SSIM of the hole alone, L2 only vs L2 + adversarial, beside the grey hole; on digits the judge's accuracy on the
  filled-in digits, on the holed inputs and on the real digits.
- sr: `srresnet-photos` (a pixel loss only) and `srgan-photos` (×4 on 64 px crops of the held-out photos) beside bicubic
  upsampling; SRGAN's content loss is VGG54 with `--vgg-weights PATH` (a local VGG19 file), else the pixels' MSE
  (SRGAN-MSE), as the page says; `srgan-digits` (8 → 32 px held-out digits, the judge's features as content loss).
- simgan: `simgan-fonts2mnist` refines rendered font digits towards MNIST-5k without labels; `gankit eval RUN --metrics
  transfer`: a fixed CNN recipe trained on the 5,000 refined synthetic digits vs on the raw ones, tested on the 500
  real held-out digits; and the translation metric on the 500 synthetic test digits.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import functools
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.common import machine, mean_std, measured_on, preset_content  # noqa: E402
from gankit.config import load_config  # noqa: E402
from gankit.data.domains import PAIRS  # noqa: E402
from gankit.metrics import evaluate  # noqa: E402
from gankit.sampling import translation_picture  # noqa: E402
from gankit.sampling.pictures import real_examples  # noqa: E402
from gankit.train.loop import load_run, train  # noqa: E402

TASKS = {
    "edges2digits": ["pix2pix-edges2digits", "l1-edges2digits"],
    "gray2color": ["pix2pix-gray2color"],
    "digits2mnist": ["cyclegan-digits2mnist", "unit-digits2mnist"],
    "inpaint": ["inpaint-l2-mnist", "inpaint-mnist", "inpaint-l2-photos", "inpaint-photos"],
    "sr": ["srresnet-photos", "srgan-photos", "srgan-digits"],
    "simgan": ["simgan-fonts2mnist"],
    # StarGAN's comparison: one CycleGAN per pair of its domains (a job "PRESET:PAIR" trains PRESET on data domains-PAIR)
    "stargan": ["stargan-digits", *(f"cyclegan-digit-domains:{a}2{b}" for a, b in PAIRS)],
}
SR_GOAL_DB = 2.0  # SRResNet >= bicubic + 2 dB on the held-out photo crops
CROPS = ("gray2color", "photo-crops")  # drawn crops: 1,000 of them are scored
JUDGE_GOAL, GAIN_GOAL, CYCLE_GOAL = 0.97, 0.10, 0.90
STARGAN_DOMAIN_GOAL, STARGAN_JUDGE_GOAL = 0.90, 0.95  # target-domain accuracy (attribute classifier) with the digit kept (judge)
SIMGAN_GOAL = 0.10  # a classifier trained on refined synthetic digits beats one trained on the raw ones by >= 10 points on real digits


def picture(run: Path, folder: Path, name: str, direction: str | None = None) -> str:
    """input | output | [round trip] | [target] rows for 16 held-out inputs."""
    from dataclasses import replace

    from gankit.data import build_dataset

    _, state, _ = load_run(run)
    v = state.variant
    direction = direction or next(iter(v.directions))
    source, target = v.directions[direction]
    data = build_dataset(replace(state.cfg.data, split="test"))
    inputs = real_examples(data, [source, *([target] if v.paired else [])], 16, seed=0)
    path = folder / f"{name}.png"
    translation_picture(state, inputs, path, direction)
    return path.name


def preset_of(job: str) -> str:
    """The preset a bench job trains: a job is a preset's name, or ``PRESET:PAIR`` for a CycleGAN between two digit domains."""
    return job.split(":")[0]


def preset_overrides(preset: str, vgg_weights: str | None) -> list[str]:
    """SRGAN on photos: the VGG54 content loss from the given local VGG19 file, or SRGAN-MSE without one; a pair job
    (``PRESET:A2B``): the data of that pair of digit domains."""
    if ":" in preset:
        return [f"data.name=domains-{preset.split(':')[1]}"]
    if preset == "srgan-photos":
        return [f"options.vgg_weights={vgg_weights}"] if vgg_weights else ["options.content=mse"]
    return []


def preset_sha(preset: str) -> str:
    """The preset as trained (:func:`bench.common.preset_content`), hashed: kept in each row so that a row of a preset
    edited since it was measured is measured again (and left off the page until then)."""
    return hashlib.sha256(preset_content(preset_of(preset)).rstrip("\n").encode()).hexdigest()[:16]


def recipe_sha(preset: str) -> str | None:
    """The fixed recipe a preset's row trains to score it (SimGAN's transfer classifier), hashed; None where the row
    trains none. Kept in each row: a row scored by a recipe changed since is measured again, as an edited preset's."""
    if preset in TASKS["simgan"]:
        from gankit.metrics.transfer import RECIPE

        return hashlib.sha256(RECIPE.encode()).hexdigest()[:16]
    return None


def current(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """The rows measured with the presets (and scoring recipes) as they are now, and the stale rest."""
    presets = {r["preset"] for r in rows}
    shas, recipes = {p: preset_sha(p) for p in presets}, {p: recipe_sha(p) for p in presets}
    fresh = [r.get("preset_sha") == shas[r["preset"]] and r.get("recipe_sha") == recipes[r["preset"]] for r in rows]
    return [r for r, ok in zip(rows, fresh, strict=True) if ok], [r for r, ok in zip(rows, fresh, strict=True) if not ok]


@functools.cache
def _attribute_judge():
    """The digit-domains attribute classifier (gankit.metrics.attributes; a fixed recipe, so one per bench process
    serves every row) and the 500 held-out digits in their domains, in [0, 1]: images, domains, digit classes."""
    from gankit.data.domains import domain_digits
    from gankit.metrics.attributes import domain_classifier

    images, domains, digits = domain_digits("test")
    return domain_classifier(), images.float() / 255, domains, digits


def _scored(images, target: int, digits) -> dict:
    """The share of ``images`` the attribute classifier reads as domain ``target`` and the judge as their ``digits``."""
    from gankit.metrics.attributes import attribute_accuracy
    from gankit.metrics.translation import judge_accuracy

    classifier = _attribute_judge()[0]
    return {"n": len(images), "domain_accuracy": attribute_accuracy(classifier, images, torch.full((len(images),), target)),
            "judge_accuracy": judge_accuracy(images, digits)}  # fmt: skip


def _translated(state, inputs, direction: str):
    from gankit.sampling import translate_inputs

    return (translate_inputs(state, inputs * 2 - 1, direction).clamp(-1, 1) + 1) / 2


def stargan_scores(run: Path) -> dict:
    """The 500 held-out digit-domains digits, each translated to the three domains it is not in: the share the attribute
    classifier (trained on the real train digits' domains, gankit.metrics.attributes) reads as the target domain, and
    the share the judge reads as the digit; per target, beside the fixed edit itself applied to the same digits."""
    from gankit.config import DataConfig
    from gankit.data.domains import DOMAINS, edit_domain
    from gankit.data.tasks import mnist32
    from gankit.metrics.attributes import attribute_accuracy
    from gankit.metrics.translation import judge_accuracy

    _, state, _ = load_run(run)
    classifier, real, domains, digits = _attribute_judge()
    originals = mnist32(DataConfig(name="mnist5k", split="test")).images
    scores: dict = {"real_domain_accuracy": attribute_accuracy(classifier, real, domains), "real_judge_accuracy": judge_accuracy(real, digits),
                    "per_target": {}}  # fmt: skip
    totals = {"domain_accuracy": 0.0, "judge_accuracy": 0.0, "edit_domain_accuracy": 0.0, "edit_judge_accuracy": 0.0}
    for k, name in enumerate(DOMAINS):
        keep = domains != k
        edit = _scored(edit_domain(originals[keep], name).float() / 255, k, digits[keep])
        part = {**_scored(_translated(state, real[keep], f"to-{name}"), k, digits[keep]),
                "edit_domain_accuracy": edit["domain_accuracy"], "edit_judge_accuracy": edit["judge_accuracy"]}  # fmt: skip
        scores["per_target"][name] = part
        for key in totals:
            totals[key] += part[key] * part["n"]
    n = sum(p["n"] for p in scores["per_target"].values())
    return scores | {key: value / n for key, value in totals.items()} | {"n": n}


def pair_scores(run: Path) -> dict:
    """A two-domain translation model between two digit domains (data ``domains-A2B``) scored as :func:`stargan_scores`
    scores a multi-domain one: the held-out digits in domain A translated a2b, those in B translated b2a; the share the
    attribute classifier reads as the target domain and the judge as the digit, per direction."""
    from gankit.data.domains import DOMAINS

    _, state, _ = load_run(run)
    a, b = state.data.a.name, state.data.b.name  # each side is named after its domain
    _, real, domains, digits = _attribute_judge()
    scores: dict = {"per_direction": {}}
    for direction, source, target in (("a2b", a, b), ("b2a", b, a)):
        keep = domains == DOMAINS.index(source)
        part = _scored(_translated(state, real[keep], direction), DOMAINS.index(target), digits[keep])
        scores["per_direction"][f"{source}2{target}"] = {"target": target, **part}
    return scores


def run_one(preset: str, seed: int, runs: Path, folder: Path, overrides: list[str], vgg_weights: str | None = None) -> dict:
    own = preset_overrides(preset, vgg_weights)
    cfg = load_config(preset_of(preset), ["train.progress=none", f"train.seed={seed}", *own, *overrides])
    t0 = time.perf_counter()
    run = train(cfg, runs)
    minutes = (time.perf_counter() - t0) / 60
    measured, cpu = measured_on()
    row: dict = {"preset": preset, "seed": seed, "preset_sha": preset_sha(preset), "recipe_sha": recipe_sha(preset), "steps": cfg.train.steps,
                 "minutes": minutes, "overrides": own, "cpu": cpu, "measured": measured}  # fmt: skip
    if ":" in preset:
        row["test"] = pair_scores(run)
    elif cfg.variant in ("cyclegan", "unit"):
        row["all"] = evaluate(run, ["translation"], split="all")["translation"]["value"]
        row["test"] = evaluate(run, ["translation"], split="test")["translation"]["value"]
    elif cfg.variant == "stargan":
        row["test"] = stargan_scores(run)
    elif cfg.variant == "simgan":
        row["test"] = evaluate(run, ["translation"], split="test")["translation"]["value"]
        row["transfer"] = evaluate(run, ["transfer"], split="test")["transfer"]["value"]
    else:
        n = 1000 if cfg.data.name in CROPS or cfg.data.name == "sr-photos" else 10_000
        row["test"] = evaluate(run, ["translation"], n=n, split="test")["translation"]["value"]
    row["picture"] = picture(run, folder, f"{preset.replace(':', '-')}-seed-{seed}", "to-slanted" if cfg.variant == "stargan" else None)
    print(f"[bench-translate] {preset} seed {seed}: {row['test']} in {row['minutes']:.1f} min", flush=True)
    return row


def cell(rows: list[dict], split: str, key: str, scale: float = 1.0, digits: int = 2) -> str:
    values = [scale * r[split][key] for r in rows if key in r[split]]
    return mean_std(values, digits) if values else "—"


def judge_cells(rs: list[dict], keys: tuple[str, ...]) -> str:
    """The judge's accuracies (%) of ``keys`` as table cells, dashes where the rows have no judge (photos)."""
    return " | ".join(f"{cell(rs, 'test', k, 100)}%" if "judge_accuracy" in rs[0]["test"] else "—" for k in keys)


def pictures(by: dict[str, list[dict]], presets: list[str], rows: str) -> list[str]:
    """Each preset's seed-0 picture under a caption naming its ``rows``."""
    return [line for p in presets for line in (f"`{p}` (seed 0), rows: {rows}:", "", f"![{p}](translate/{by[p][0]['picture']})", "")]


def row_machines(rows: list[dict]) -> str:
    """Where the rows were measured (train min compares only within one CPU): per CPU model, its rows; rows from before
    the store recorded it are counted as such."""
    by: dict[str, list[str]] = {}
    for r in rows:
        where = f"{r['cpu']}, {r['measured']}" if "cpu" in r else "not recorded (measured before the store kept it)"
        by.setdefault(where, []).append(f"{r['preset']} seed {r['seed']}")
    parts = [f"{where}: {', '.join(names) if len(names) <= 6 else f'{len(names)} rows'}" for where, names in by.items()]
    return "Rows measured on: " + "; ".join(parts) + "."


def write(rows: list[dict], stale: list[dict], out: Path, args: argparse.Namespace, started: str) -> None:
    """The page from the rows of the presets as they are; ``stale`` rows (their preset edited since) are only named."""
    by = {p: [r for r in rows if r["preset"] == p] for p in dict.fromkeys(r["preset"] for r in rows)}
    lines = [
        "# Image-to-image translation: pix2pix, CycleGAN, inpainting and super-resolution on offline tasks",
        "",
        f"Written by `bench/translate.py` on {started} (rows kept in `translate.json`, one per preset and seed; rows already there are"
        " kept unless their preset was edited since, so a page can hold rows of several invocations). Re-run: `make bench-translate` (all rows anew)"
        + (f" (this run used overrides: `{' '.join(args.overrides)}`)" if args.overrides else "") + f"; {args.threads} torch thread(s).",
        "",
        f"Machine (of this invocation): {machine()}. {row_machines(rows)}",
        "",
        "Every number is `gankit eval RUN --metrics translation` on a held-out split (mean ± std over the seeds; each seed a",
        "separate training run). PSNR (dB) and SSIM (Gaussian window σ 1.5, scikit-image's convention) on images in [0, 1],",
        "all channels (RGB for colour), no border crop. Judge: the digit CNN shipped in the package (trained on MNIST-5k train).",
        "FID: Fréchet distance of the judge's 128-d features of the outputs vs the split's real target digits.",
        "",
    ]
    if stale:
        tasks = sorted({task for task, presets in TASKS.items() for r in stale if r["preset"] in presets})
        names = ", ".join(sorted(f"{r['preset']} seed {r['seed']}" for r in stale))
        lines += [
            f"Left off (their preset or scoring recipe was edited after they were measured): {names}. Re-run"
            f" `python bench/translate.py --tasks {' '.join(tasks)}` to measure them again.",
            "",
        ]
    if "pix2pix-edges2digits" in by or "l1-edges2digits" in by:
        lines += [
            "## edges2digits (pix2pix, Isola et al., 2017)",
            "",
            "A = a fixed edge map of each MNIST-5k digit (32 px), B = the digit; the 500 held-out digits. Real targets score the",
            "judge accuracy in the last column.",
            "",
            "| model | seeds | steps | train min | judge accuracy | PSNR | SSIM | judge FID | judge on targets |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for preset in ("l1-edges2digits", "pix2pix-edges2digits"):
            rs = by.get(preset, [])
            if not rs:
                continue
            label = "L1 only" if preset.startswith("l1") else "L1 + cGAN"
            lines.append(
                f"| {label} (`{preset}`) | {len(rs)} | {rs[0]['steps']} | {statistics.mean(r['minutes'] for r in rs):.1f} | "
                f"{cell(rs, 'test', 'judge_accuracy', 100)}% | {cell(rs, 'test', 'psnr')} | {cell(rs, 'test', 'ssim', 1, 3)} | "
                f"{cell(rs, 'test', 'judge_fid', 1, 3)} | {cell(rs, 'test', 'target_judge_accuracy', 100)}% |"
            )
        gan, l1 = by.get("pix2pix-edges2digits", []), by.get("l1-edges2digits", [])
        if gan and l1:
            acc = statistics.mean(r["test"]["judge_accuracy"] for r in gan)
            fid_gan, fid_l1 = (statistics.mean(r["test"]["judge_fid"] for r in rs) for rs in (gan, l1))
            ok = acc >= JUDGE_GOAL and fid_gan < fid_l1
            lines += ["", f"Goal (issue): L1 + cGAN ≥ {100 * JUDGE_GOAL:.0f}% judge accuracy and a lower FID than L1 only — "
                      f"**{'met' if ok else 'not met'}** ({100 * acc:.2f}%; FID {fid_gan:.3f} vs {fid_l1:.3f}).", ""]
        lines += ["Per seed: " + "; ".join(f"`{r['preset']}` seed {r['seed']}: {100 * r['test']['judge_accuracy']:.1f}%, FID {r['test']['judge_fid']:.3f}"
                                           for p in ("l1-edges2digits", "pix2pix-edges2digits") for r in by.get(p, [])) + ".", ""]
        for p in ("l1-edges2digits", "pix2pix-edges2digits"):
            if by.get(p):
                lines += [f"`{p}` (seed 0), rows: input edges | output | target:", "", f"![{p}](translate/{by[p][0]['picture']})", ""]
    if "pix2pix-gray2color" in by:
        rs = by["pix2pix-gray2color"]
        lines += [
            "## gray2color (pix2pix)",
            "",
            "A = luma of random 64 px crops, B = the colour crop; 1,000 test crops (seeded) of the two held-out photos",
            "(scikit-image's chelsea and coffee). Baseline: the grey input itself, repeated to RGB.",
            "",
            "| model | seeds | steps | train min | PSNR | SSIM | grey input PSNR | grey input SSIM |",
            "|---|---|---|---|---|---|---|---|",
            f"| `pix2pix-gray2color` | {len(rs)} | {rs[0]['steps']} | {statistics.mean(r['minutes'] for r in rs):.1f} | {cell(rs, 'test', 'psnr')} | "
            f"{cell(rs, 'test', 'ssim', 1, 3)} | {cell(rs, 'test', 'input_psnr')} | {cell(rs, 'test', 'input_ssim', 1, 3)} |",
            "",
            "Rows: grey input | output | target (seed 0):", "", f"![gray2color](translate/{rs[0]['picture']})", "",
        ]
    unpaired_models = [p for p in TASKS["digits2mnist"] if p in by]
    if unpaired_models:
        lines += [
            "## digits2mnist (CycleGAN, Zhu et al., 2017; UNIT, Liu et al., 2017)",
            "",
            "A = scikit-learn's 8×8 digits upscaled to 32 px, B = MNIST-5k at 32 px; unpaired, labels never used in training.",
            "The judge reads A's digits translated to B (a2b) against their labels; the same split and judge for both models.",
            "",
            "| model | split | seeds | steps | train min | judge on translated | judge on untranslated | cycle PSNR | cycle SSIM |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for preset in unpaired_models:
            rs = by[preset]
            for split, name in (("all", "all"), ("test", "held-out")):
                lines.append(
                    f"| `{preset}` | {name} ({rs[0][split]['n']:,} digits) | {len(rs)} | {rs[0]['steps']} | {statistics.mean(r['minutes'] for r in rs):.1f} | "
                    f"{cell(rs, split, 'judge_accuracy', 100)}% | "
                    f"{cell(rs, split, 'input_judge_accuracy', 100)}% | {cell(rs, split, 'cycle_psnr')} | {cell(rs, split, 'cycle_ssim', 1, 3)} |"
                )
        for preset in unpaired_models:
            rs = by[preset]
            gain = statistics.mean(r["all"]["judge_accuracy"] - r["all"]["input_judge_accuracy"] for r in rs)
            acc = statistics.mean(r["all"]["judge_accuracy"] for r in rs)
            ok = gain >= GAIN_GOAL and acc >= CYCLE_GOAL
            lines += [
                "",
                f"`{preset}` against the CycleGAN goal (issue: translation raises the judge's accuracy by ≥ {100 * GAIN_GOAL:.0f} points, to ≥ "
                f"{100 * CYCLE_GOAL:.0f}%): **{'met' if ok else 'not met'}** ({100 * acc:.2f}%, +{100 * gain:.2f} points). Per seed (all 1,797): "
                + "; ".join(f"seed {r['seed']}: {100 * r['all']['judge_accuracy']:.1f}% from {100 * r['all']['input_judge_accuracy']:.1f}%" for r in rs) + ".",
            ]
        lines += ["", *pictures(by, unpaired_models, "input | output (a2b) | round trip (b2a)")]
    inpainting = [p for p in TASKS["inpaint"] if p in by]
    if inpainting:
        lines += [
            "## Inpainting (context encoder, Pathak et al., 2016)",
            "",
            "A U-Net fills a central hole from the rest of the image and the hole's mask: 0.999·L2 on the hole + 0.001·adversarial",
            "(a DCGAN D on the filled-in image) against the L2-only baseline (no D). Digits: a 12 × 12 hole in the 500 held-out",
            "MNIST-5k digits (28 px); photos: the central 32 × 32 of 1,000 seeded 64 px crops of the two held-out photos. Hole PSNR",
            "and SSIM score the hole alone (`region_*`); the whole image's PSNR also counts the copied pixels. Baseline: the hole",
            "left at mid-grey, which is what the model sees. The judge reads the filled-in digits against their labels.",
            "",
            "| model | seeds | steps | train min | hole PSNR | hole SSIM | image PSNR | grey hole PSNR | judge on filled | judge on holed | judge on real |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for preset in inpainting:
            rs = by[preset]
            label = ("L2 only" if "-l2-" in preset else "L2 + adversarial") + (", digits" if preset.endswith("mnist") else ", photos")
            lines.append(
                f"| {label} (`{preset}`) | {len(rs)} | {rs[0]['steps']} | {statistics.mean(r['minutes'] for r in rs):.1f} | "
                f"{cell(rs, 'test', 'region_psnr')} | {cell(rs, 'test', 'region_ssim', 1, 3)} | {cell(rs, 'test', 'psnr')} | "
                f"{cell(rs, 'test', 'input_region_psnr')} | {judge_cells(rs, ('judge_accuracy', 'input_judge_accuracy', 'target_judge_accuracy'))} |"
            )
        lines += ["", *pictures(by, inpainting, "input (hole grey) | output | target")]
    sr = [p for p in TASKS["sr"] if p in by]
    if sr:
        lines += [
            "## Super-resolution ×4 (SRResNet and SRGAN, Ledig et al., 2017)",
            "",
            "Inputs are the targets downscaled ×4 by antialiased bicubic resampling. Photos: 1,000 seeded 64 px crops of the two",
            "held-out photos (16 px inputs); digits: the 500 held-out MNIST-5k digits at 32 px (8 px inputs). Convention: RGB (all",
            "channels, not Y), images in [0, 1], no border crop. Bicubic: the input upsampled by PyTorch's bicubic interpolation",
            "(a = -0.75). SRGAN's content loss is named in the model column.",
            "",
            "| model | content loss | seeds | steps | train min | PSNR | SSIM | bicubic PSNR | bicubic SSIM | judge on output | judge on bicubic |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for preset in sr:
            rs = by[preset]
            cfg = load_config(preset, rs[0].get("overrides", []))
            contents = {"vgg": f"VGG{cfg.options.vgg_layer.replace('_', '')}", "judge": "digit judge features",
                        "mse": "pixels' MSE (SRGAN-MSE: no VGG19 file here)"}
            kind = f"{'L1' if cfg.options.pixel == 'l1' else 'MSE'} only" if cfg.options.adversarial == 0 else contents[cfg.options.content]
            kind += "; pairs turned in training (dihedral)" if cfg.options.dihedral else ""
            kind += "; test-time self-ensemble (mean of 8)" if cfg.options.self_ensemble else ""
            lines.append(
                f"| `{preset}` | {kind} | {len(rs)} | {rs[0]['steps']} | {statistics.mean(r['minutes'] for r in rs):.1f} | {cell(rs, 'test', 'psnr')} | "
                f"{cell(rs, 'test', 'ssim', 1, 3)} | {cell(rs, 'test', 'input_psnr')} | {cell(rs, 'test', 'input_ssim', 1, 3)} | "
                f"{judge_cells(rs, ('judge_accuracy', 'input_judge_accuracy'))} |"
            )
        if "srresnet-photos" in by:
            rs = by["srresnet-photos"]
            gain = statistics.mean(r["test"]["psnr"] - r["test"]["input_psnr"] for r in rs)
            lines += ["", f"Goal (issue): SRResNet ≥ bicubic + {SR_GOAL_DB:.1f} dB PSNR on the held-out photo crops — "
                      f"**{'met' if gain >= SR_GOAL_DB else 'not met'}** ({gain:+.2f} dB; published on Set5: 32.05 vs 28.43 dB)."]
        lines += ["", *pictures(by, sr, "input (enlarged, pixels repeated) | output | target")]
    if "simgan-fonts2mnist" in by:
        rs = by["simgan-fonts2mnist"]
        gain = statistics.mean(r["transfer"]["gain"] for r in rs)
        lines += [
            "## Learning from simulated digits (SimGAN, Shrivastava et al., 2017)",
            "",
            "A = digits rendered from the fonts matplotlib ships (20 fonts; random stroke, scale, rotation, shear, position; 5,000",
            "train / 500 test, fixed seeds), labelled by the renderer; B = MNIST-5k digits, unlabelled for the refiner. The",
            "refiner is trained without any label. Transfer (`gankit eval RUN --metrics transfer`): one fixed CNN recipe",
            "(gankit.metrics.transfer; Adam 1e-3 decaying linearly to 0) trained on the 5,000 refined synthetic train digits with",
            "their rendered labels, and the same recipe and seeds on the raw ones, both tested on the 500 real held-out MNIST-5k",
            "digits; each accuracy the mean of 3 such classifiers (seeds 0-2). The judge reads the 500 refined / raw synthetic",
            "test digits; FID: judge features of the refined test digits vs the real test digits.",
            "",
            "| model | seeds | steps | train min | real-digit accuracy: trained on refined | on raw | gain (points) | judge on refined | on raw | judge FID |",
            "|---|---|---|---|---|---|---|---|---|---|",
            f"| `simgan-fonts2mnist` | {len(rs)} | {rs[0]['steps']} | {statistics.mean(r['minutes'] for r in rs):.1f} | "
            f"{cell(rs, 'transfer', 'transfer_accuracy', 100)}% | {cell(rs, 'transfer', 'source_accuracy', 100)}% | {cell(rs, 'transfer', 'gain', 100)} | "
            f"{cell(rs, 'test', 'judge_accuracy', 100)}% | {cell(rs, 'test', 'input_judge_accuracy', 100)}% | {cell(rs, 'test', 'judge_fid')} |",
            "",
            f"Goal (issue): the classifier trained on refined digits beats the one trained on raw digits by ≥ {100 * SIMGAN_GOAL:.0f} points — "
            f"**{'met' if gain >= SIMGAN_GOAL else 'not met'}** ({100 * gain:+.2f} points; published: 22% relative improvement in gaze estimation).",
            "",
            "Per seed: " + "; ".join(f"seed {r['seed']}: {100 * r['transfer']['transfer_accuracy']:.1f}% vs {100 * r['transfer']['source_accuracy']:.1f}%"
                                     for r in rs) + ".",
            "",
            *pictures(by, ["simgan-fonts2mnist"], "synthetic input | refined"),
        ]
    if "stargan-digits" in by:
        rs = by["stargan-digits"]
        domain_acc, judge_acc = (statistics.mean(r["test"][k] for r in rs) for k in ("domain_accuracy", "judge_accuracy"))
        ok = domain_acc >= STARGAN_DOMAIN_GOAL and judge_acc >= STARGAN_JUDGE_GOAL
        lines += [
            "## Multi-domain translation (StarGAN, Choi et al., 2018)",
            "",
            "`stargan-digits`: each MNIST-5k digit in one of four domains made by fixed edits (original; thin and thick: grey-level",
            "erosion and dilation by half a pixel; slanted: a shear of 0.3), one domain per image, no pairs. One generator",
            "G(x, c) translates the 500 held-out digits to each of the three domains each is not in (1,500 translations). Domain",
            "accuracy: an attribute classifier (gankit.metrics.attributes: a fixed CNN recipe, seed 0) trained on the real train",
            "digits' domains reads the outputs as the target domain; judge: the digit is kept. The fixed edit itself, applied to",
            "the same digits, is the ceiling of both.",
            "",
            "| target | seeds | domain accuracy | judge accuracy | the edit: domain accuracy | the edit: judge |",
            "|---|---|---|---|---|---|",
        ]
        for name in rs[0]["test"]["per_target"]:
            per = [{"test": r["test"]["per_target"][name]} for r in rs]
            lines.append(f"| {name} | {len(rs)} | {cell(per, 'test', 'domain_accuracy', 100)}% | {cell(per, 'test', 'judge_accuracy', 100)}% | "
                         f"{cell(per, 'test', 'edit_domain_accuracy', 100)}% | {cell(per, 'test', 'edit_judge_accuracy', 100)}% |")
        lines += [
            f"| **all** | {len(rs)} | {cell(rs, 'test', 'domain_accuracy', 100)}% | {cell(rs, 'test', 'judge_accuracy', 100)}% | "
            f"{cell(rs, 'test', 'edit_domain_accuracy', 100)}% | {cell(rs, 'test', 'edit_judge_accuracy', 100)}% |",
            "",
            f"Real test digits in their own domains: the classifier reads {cell(rs, 'test', 'real_domain_accuracy', 100)}% of their domains, the judge "
            f"{cell(rs, 'test', 'real_judge_accuracy', 100)}% of their digits. {rs[0]['steps']} steps, {statistics.mean(r['minutes'] for r in rs):.1f} "
            "min of training.",
            "",
            f"Goal (issue): ≥ {100 * STARGAN_DOMAIN_GOAL:.0f}% target-domain accuracy with ≥ {100 * STARGAN_JUDGE_GOAL:.0f}% digit identity kept — "
            f"**{'met' if ok else 'not met'}** ({100 * domain_acc:.2f}%, {100 * judge_acc:.2f}%).",
            "",
            *pictures(by, ["stargan-digits"], "input (its own domain) | output (to-slanted)"),
            *pair_comparison(by, rs),
        ]
    out.write_text("\n".join(lines))


def pair_comparison(by: dict[str, list[dict]], stargan: list[dict]) -> list[str]:
    """StarGAN beside the paper's comparison: one CycleGAN per pair of domains (six models per seed), each held-out digit
    translated into each domain it is not in by the pair model of its domain and the target (the same 1,500
    translations, scored by the same classifier and judge); per target, over the seeds whose six models are all measured."""
    jobs = [job for job in TASKS["stargan"] if ":" in job]
    seeds = sorted(set.intersection(*({r["seed"] for r in by.get(job, [])} for job in jobs)))
    if not seeds:
        measured = sorted(job.split(":")[1] for job in jobs if job in by)
        return ["The paper's comparison, CycleGAN between each pair of domains (six models, `cyclegan-digit-domains`), is not measured yet"
                + (f" (measured: {', '.join(measured)})" if measured else "") + ": `python bench/translate.py --tasks stargan`.", ""]
    directions: dict[int, dict[str, dict]] = {s: {} for s in seeds}
    for job in jobs:
        for r in by[job]:
            if r["seed"] in directions:
                directions[r["seed"]].update(r["test"]["per_direction"])

    def per_target(seed: int, target: str | None, key: str) -> float:
        parts = [d for d in directions[seed].values() if target is None or d["target"] == target]
        return sum(d[key] * d["n"] for d in parts) / sum(d["n"] for d in parts)

    def both(target: str | None, key: str) -> tuple[str, str]:
        star = [{"test": r["test"] if target is None else r["test"]["per_target"][target]} for r in stargan]
        return cell(star, "test", key, 100), mean_std([100 * per_target(s, target, key) for s in seeds], 2)

    minutes = statistics.mean(r["minutes"] for job in jobs for r in by[job] if r["seed"] in directions)
    lines = [
        "### StarGAN against one CycleGAN per pair of domains",
        "",
        f"The paper's comparison: `cyclegan-digit-domains` (CycleGAN with `cyclegan-digits2mnist`'s settings, {by[jobs[0]][0]['steps']} steps,"
        f" {minutes:.1f} min of training each) trained on each pair of domains (data `domains-A2B`: the train digits in A and those in B,",
        "the same images StarGAN sees of the two), six models per seed. Each held-out digit is translated into each domain it",
        "is not in by the model of its pair, and scored like StarGAN's outputs.",
        "",
        f"| target | StarGAN: domain accuracy ({len(stargan)} seeds) | StarGAN: judge | CycleGAN per pair: domain accuracy ({len(seeds)} seed(s)) "
        "| CycleGAN: judge |",
        "|---|---|---|---|---|",
    ]
    for target in [*stargan[0]["test"]["per_target"], None]:
        (sd, cd), (sj, cj) = both(target, "domain_accuracy"), both(target, "judge_accuracy")
        lines.append(f"| {target or '**all**'} | {sd}% | {sj}% | {cd}% | {cj}% |")
    first = sorted(directions[seeds[0]].items())
    lines += ["", f"CycleGAN per direction (seed {seeds[0]}; domain / judge): "
              + "; ".join(f"{name}: {100 * d['domain_accuracy']:.1f}% / {100 * d['judge_accuracy']:.1f}%" for name, d in first) + ".", ""]
    job = jobs[-1]
    return [*lines, *pictures(by, [job], f"input | output ({job.split(':')[1]}, a2b) | round trip")]


def load_rows(store: Path) -> list[dict]:
    return json.loads(store.read_text()) if store.exists() else []


def save_row(store: Path, row: dict) -> list[dict]:
    """Add (or replace) one (preset, seed) row in the results store, under a lock: several bench processes (disjoint
    tasks or seeds) may share the machine's cores and the one page."""
    with open(store.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = [r for r in load_rows(store) if (r["preset"], r["seed"]) != (row["preset"], row["seed"])] + [row]
        rows.sort(key=lambda r: (r["preset"], r["seed"]))
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
        tmp.replace(store)
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "translate.md")
    parser.add_argument("--seeds", default="3", help="a count (0..N-1) or a comma-separated list of seeds (2, for seed 2 alone)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--presets", nargs="+", default=[], help="only these of the tasks' presets (e.g. srresnet-photos)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 lets two benchmarks share a 2-core machine)")
    parser.add_argument("--fresh", action="store_true", help="forget the stored rows (docs/results/translate.json) and measure everything anew")
    parser.add_argument("--vgg-weights", help="a local VGG19 state dict for srgan-photos' VGG54 content loss (without: SRGAN-MSE)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override for every run (for smoke runs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",") if s] if "," in args.seeds else list(range(int(args.seeds)))  # "2," is seed 2 alone
    known = [p for task in args.tasks for p in TASKS[task]]
    unknown = sorted(set(args.presets) - set(known))
    if unknown:
        parser.error(f"--presets {' '.join(unknown)}: not a preset of the tasks {' '.join(args.tasks)}; choose among {', '.join(known)}")
    if not seeds:
        parser.error(f"--seeds {args.seeds} measures nothing: give a count (3: seeds 0, 1, 2) or a list ('0,' for seed 0 alone)")
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    folder = args.out.parent / "translate"
    folder.mkdir(parents=True, exist_ok=True)
    store = args.out.with_suffix(".json")  # one row per (preset, seed): a later run adds seeds, a fresh one starts over
    if args.fresh or args.overrides:
        store = store if not args.overrides else Path(tempfile.mkdtemp()) / "smoke.json"
        store.unlink(missing_ok=True)
    done = {(r["preset"], r["seed"]) for r in current(load_rows(store))[0]}  # a row of an edited preset is measured again
    with tempfile.TemporaryDirectory(prefix="gankit-bench-translate-") as tmp:
        for seed in seeds:  # seed by seed, so that a partial run covers every model
            for task in args.tasks:
                for preset in TASKS[task]:
                    if (preset, seed) in done or (args.presets and preset not in args.presets):
                        continue
                    rows = save_row(store, run_one(preset, seed, Path(tmp), folder, args.overrides, args.vgg_weights))
                    write(*current(rows), args.out, args, started)
    write(*current(load_rows(store)), args.out, args, started)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
