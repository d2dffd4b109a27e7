"""Metrics benchmark: gankit's FID against pytorch-fid on the same images, the Fréchet distance at d = 2048, and
reference values of every metric on real MNIST-5k digits and on the demo model.

`make bench-metrics` runs it and writes docs/results/metrics.md, with the raw numbers in docs/results/metrics.json.

1. FID end to end, side by side in one run on the same images: ``--n`` (10,000) RGB 32×32 PNGs made
   deterministically from the MNIST-5k digits, split into two folders of n/2. gankit takes the path of `gankit fid`
   (load_source, the inception extractor, feature_statistics, frechet_distance); pytorch-fid 0.3.0 its own
   (InceptionV3, compute_statistics_of_path for both folders, calculate_frechet_distance) with its command's
   defaults: batch 50, dims 2048, and as many DataLoader workers as its command would start. Each tool runs in its
   own fresh process (``--time-tool``), as its users run it. There are no real
   Inception weights on this machine: both tools get the same seeded random weights (gankit from a .pth file,
   pytorch-fid through its patched downloader, as tests/metrics/torchvision_stub.py does).
2. The Fréchet distance alone at d = 2048: gankit's Cholesky/eigh against pytorch-fid's scipy ``sqrtm``.
3. Reference values on real data with the digit judge's features: MNIST-5k train against test.
4. The `make demo` model: every metric through ``gankit.metrics.evaluate``, evaluated on a copy of the run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from gankit.config import DataConfig  # noqa: E402
from gankit.data import build_dataset  # noqa: E402
from gankit.metrics import DC_K, IS_SHUFFLE_SEED, KID_SEED, KID_SUBSETS, PARZEN_VALIDATION, PR_K, evaluate  # noqa: E402
from gankit.metrics.classifier import inception_score, judge_outputs, judge_record  # noqa: E402
from gankit.metrics.extractors import build_extractor  # noqa: E402
from gankit.metrics.fid import feature_statistics, frechet_distance  # noqa: E402
from gankit.metrics.parzen import DEFAULT_SIGMAS, parzen_score  # noqa: E402
from gankit.metrics.scores import density_coverage, kernel_inception_distance, precision_recall  # noqa: E402
from gankit.metrics.sources import load_source  # noqa: E402

RERUN = "make bench-metrics"
DEMO_METRICS = ["fid", "kid", "is", "pr", "dc", "parzen", "judge"]
IMAGE_SEED, WEIGHTS_SEED, COVARIANCE_SEED = 0, 2017, 1982
PARZEN_SUBSET_SEED = 3_000_017  # the seeded subset of train digits gankit.metrics.evaluate chooses sigma on
AGREEMENT_GOAL, SPEEDUP_GOAL, FRECHET_GOAL_S = 1e-6, 2.0, 3.0
PYTORCH_FID_BATCH, PYTORCH_FID_DIMS = 50, 2048
NOISE_STD = 20.0  # grey levels of pixel noise in folder B


def log(message: str) -> None:
    print(f"[bench-metrics] {message}", flush=True)


@contextmanager
def thread_limits(threads: int) -> Iterator[str]:
    """torch's intra-op threads and the BLAS/OpenMP pools of numpy and scipy (threadpoolctl) while the benchmark runs."""
    torch.set_num_threads(threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)  # for child processes (pytorch-fid's DataLoader workers)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield f"torch.set_num_threads({threads}); BLAS/OpenMP pools as started (threadpoolctl is missing)"
        return
    with threadpool_limits(limits=threads):
        yield f"{threads} (torch.set_num_threads({threads}); threadpoolctl threadpool_limits({threads}) for BLAS/OpenMP)"


def relative_difference(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


# ------------------------------------------------------------------------------------------ 1. the images


def synthetic_digits(n: int, seed: int = IMAGE_SEED) -> np.ndarray:
    """``n`` RGB 32×32 uint8 images (N, 32, 32, 3): the 5,000 MNIST-5k digits (train and test) in turn, each placed
    at a random offset of a 32×32 canvas and drawn in a random bright colour on a random dark background; the second
    half also gets Gaussian pixel noise (std NOISE_STD grey levels), so that its distribution differs from the first."""
    digits = build_dataset(DataConfig(name="mnist5k", split="all")).images[:, 0].numpy().astype(np.float64) / 255.0
    rng = np.random.default_rng(seed)
    out = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        top, left = rng.integers(0, 5, size=2)
        ink = np.zeros((32, 32))
        ink[top : top + 28, left : left + 28] = digits[i % len(digits)]
        fg, bg = rng.uniform(0.6, 1.0, 3), rng.uniform(0.0, 0.3, 3)
        picture = 255 * (bg + ink[..., None] * (fg - bg))
        if i >= n // 2:
            picture = picture + rng.normal(0.0, NOISE_STD, picture.shape)
        out[i] = np.clip(np.rint(picture), 0, 255).astype(np.uint8)
    return out


def write_folders(images: np.ndarray, root: Path) -> tuple[Path, Path]:
    from PIL import Image

    half = len(images) // 2
    folders = root / "a", root / "b"
    for folder, part in zip(folders, (images[:half], images[half:]), strict=True):
        folder.mkdir()
        for i, picture in enumerate(part):
            Image.fromarray(picture).save(folder / f"{i:05d}.png")
    return folders


def import_oracle():
    try:
        from tests.metrics.torchvision_stub import import_pytorch_fid, weights_from
    except ImportError as exc:
        raise SystemExit(f"cannot import the pytorch-fid oracle ({exc}); run `make oracles`") from None
    try:
        return import_pytorch_fid(), weights_from
    except ImportError as exc:
        raise SystemExit(f"pytorch-fid 0.3.0 is not installed ({exc}); run `make oracles`") from None


def pytorch_fid_workers() -> int:
    """The DataLoader workers pytorch-fid's command starts when --num-workers is not given: min(8, usable CPUs)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    return min(cpus, 8)


def scipy_frechet(oracle: Any, mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm), its warnings silenced."""
    from scipy.linalg import LinAlgWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy >= 1.16 deprecates the `disp` argument it passes
        warnings.simplefilter("ignore", LinAlgWarning)
        return float(oracle.fid_score.calculate_frechet_distance(mu1, s1, mu2, s2))


def memory_format(images: torch.Tensor) -> str:
    if images.is_contiguous():
        return "contiguous NCHW"
    return "channels_last (NHWC)" if images.is_contiguous(memory_format=torch.channels_last) else f"strided {tuple(images.stride())}"


def time_gankit(folders: tuple[Path, Path], weights: Path) -> dict[str, Any]:
    """What `gankit fid A B --extractor inception --device cpu` does, timed stage by stage."""
    t0 = time.perf_counter()
    extractor = build_extractor("inception", inception_weights=str(weights), device="cpu")
    t_model = time.perf_counter() - t0
    stats, t_read, t_features = [], 0.0, 0.0
    for folder in folders:
        t = time.perf_counter()
        source = load_source(str(folder), channels=3)
        t_read += time.perf_counter() - t
        t = time.perf_counter()
        stats.append(feature_statistics(extractor(source.images)))
        t_features += time.perf_counter() - t
        log(f"gankit: {folder.name}/ done ({len(source.images)} images, {time.perf_counter() - t0:.0f} s so far)")
    feature_s = time.perf_counter() - t0
    t = time.perf_counter()
    fid = frechet_distance(*stats[0], *stats[1])
    frechet_s = time.perf_counter() - t
    return {
        "fid": fid,
        "feature_s": feature_s,
        "frechet_s": frechet_s,
        "total_s": feature_s + frechet_s,
        "breakdown_s": {"model": t_model, "read_images": t_read, "features_and_statistics": t_features},
        "input_memory_format": memory_format(extractor.prepare(source.images[:2])),
        "stats": stats,
    }


def time_pytorch_fid(folders: tuple[Path, Path], weights: Path, workers: int) -> dict[str, Any]:
    """pytorch-fid's calculate_fid_given_paths, stage by stage: the model, the statistics of both folders, the distance."""
    oracle, weights_from = import_oracle()
    inception, fid_score = oracle.inception, oracle.fid_score
    state_dict = torch.load(weights, map_location="cpu", weights_only=True)
    t0 = time.perf_counter()
    with weights_from(oracle, state_dict):
        model = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[PYTORCH_FID_DIMS]]).to("cpu")
    stats = []
    for folder in folders:
        stats.append(fid_score.compute_statistics_of_path(str(folder), model, PYTORCH_FID_BATCH, PYTORCH_FID_DIMS, "cpu", workers))
        log(f"pytorch-fid: {folder.name}/ done ({time.perf_counter() - t0:.0f} s so far)")
    feature_s = time.perf_counter() - t0
    t = time.perf_counter()
    fid = scipy_frechet(oracle, *stats[0], *stats[1])
    frechet_s = time.perf_counter() - t
    return {"fid": fid, "feature_s": feature_s, "frechet_s": frechet_s, "total_s": feature_s + frechet_s, "stats": stats}


TOOLS = {"gankit": time_gankit, "pytorch-fid": time_pytorch_fid}


def run_tool(tool: str, work: Path, threads: int, workers: int) -> dict[str, Any]:
    """One tool's FID of a/ vs b/ in a fresh Python process, as its user would run it: no allocator setting, thread
    pool or oneDNN kernel cache of one tool can help or hinder the other. The child writes its timings (JSON) and its
    feature statistics (.npz) into ``work``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--time-tool", tool, "--work", str(work), "--threads", str(threads)]
    command += ["--workers", str(workers)]
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise SystemExit(f"timing {tool} failed (exit {done.returncode}): {shlex.join(command)}")
    result = json.loads((work / f"{tool}.json").read_text())
    with np.load(work / f"{tool}.npz") as z:
        result["stats"] = [(z["mu_a"], z["sigma_a"]), (z["mu_b"], z["sigma_b"])]
    return result


def time_tool_child(tool: str, work: Path, workers: int) -> None:
    """The child side of run_tool."""
    folders, weights = (work / "a", work / "b"), work / "random-inception.pth"
    result = TOOLS[tool](folders, weights, workers) if tool == "pytorch-fid" else TOOLS[tool](folders, weights)
    (mu_a, sigma_a), (mu_b, sigma_b) = result.pop("stats")
    np.savez(work / f"{tool}.npz", mu_a=mu_a, sigma_a=sigma_a, mu_b=mu_b, sigma_b=sigma_b)
    (work / f"{tool}.json").write_text(json.dumps(result, default=_jsonable))


def time_gpu_features(folders: tuple[Path, Path], weights: Path, cpu_fid: float) -> dict[str, Any]:
    """gankit's feature extraction on the GPU in float32 (TF32 off), after one warm-up batch."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    extractor = build_extractor("inception", inception_weights=str(weights), device="cuda")
    images = [load_source(str(folder), channels=3).images for folder in folders]
    extractor(images[0][: extractor.batch_size])
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    stats = [feature_statistics(extractor(x)) for x in images]
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    fid = frechet_distance(*stats[0], *stats[1])
    return {"device": torch.cuda.get_device_name(0), "feature_s": seconds, "fid": fid, "relative_difference_to_cpu": relative_difference(fid, cpu_fid)}


def numerical_rank(sigma: np.ndarray) -> int:
    w = np.linalg.eigvalsh(sigma)
    return int((w > w[-1] * len(w) * np.finfo(np.float64).eps).sum())


def statistics_difference(ours: list[tuple[np.ndarray, np.ndarray]], theirs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The largest difference of the two tools' means and covariances, relative to the largest entry."""
    return {
        name: max(float(np.abs(a[i] - b[i]).max() / np.abs(b[i]).max()) for a, b in zip(ours, theirs, strict=True)) for i, name in enumerate(("mu", "sigma"))
    }


def speed_comparison(n: int, work: Path, threads: int) -> dict[str, Any]:
    import_oracle()
    log(f"making {n} images (MNIST-5k digits, RGB 32x32) in two folders of {n // 2} ...")
    folders = write_folders(synthetic_digits(n), work)
    from tests.metrics.torchvision_stub import random_inception_weights

    weights = work / "random-inception.pth"
    torch.save(random_inception_weights(WEIGHTS_SEED), weights)
    workers = pytorch_fid_workers()
    for folder in folders:  # the page cache: neither tool reads the PNGs from disk
        for path in sorted(folder.iterdir()):
            path.read_bytes()
    result: dict[str, Any] = {"n_images": n, "per_folder": n // 2, "pytorch_fid_workers": workers, "load_average_before": load_average()}
    log("pytorch-fid: folder a/ vs b/ (own process) ...")
    theirs = run_tool("pytorch-fid", work, threads, workers)
    log(f"pytorch-fid: FID {theirs['fid']:.9g} in {theirs['total_s']:.1f} s")
    log("gankit: folder a/ vs b/ (own process) ...")
    ours = run_tool("gankit", work, threads, workers)
    log(f"gankit: FID {ours['fid']:.9g} in {ours['total_s']:.1f} s")
    result["load_average_after"] = load_average()
    result["gankit"] = {k: v for k, v in ours.items() if k != "stats"}
    result["pytorch_fid"] = {k: v for k, v in theirs.items() if k != "stats"}
    result["fid_relative_difference"] = relative_difference(ours["fid"], theirs["fid"])
    result["speedup"] = theirs["total_s"] / ours["total_s"]
    result["statistics_relative_difference"] = statistics_difference(ours["stats"], theirs["stats"])
    result["covariance_rank"] = [numerical_rank(sigma) for _, sigma in ours["stats"]]
    if torch.cuda.is_available():
        log("gankit on the GPU ...")
        result["gpu"] = time_gpu_features(folders, weights, ours["fid"])
    result["_stats"] = ours["stats"]
    return result


# ------------------------------------------------------------------------------------------ 2. Fréchet distance


def random_statistics(d: int = 2048, seed: int = COVARIANCE_SEED) -> list[np.ndarray]:
    """Two seeded Gaussians in d dimensions with full-rank covariances A Aᵀ / d + 0.01 I."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        a = rng.standard_normal((d, d))
        out += [rng.standard_normal(d) * 0.1, a @ a.T / d + 0.01 * np.eye(d)]
    return out


def median_time(fn: Any, repeats: int) -> tuple[float, float, list[float]]:
    times, value = [], float("nan")
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return value, statistics.median(times), times


def frechet_comparison(feature_stats: list[tuple[np.ndarray, np.ndarray]], repeats: int) -> list[dict[str, Any]]:
    oracle, _ = import_oracle()
    cases = [
        ("features of part 1 (folder a vs b)", [x for pair in feature_stats for x in pair]),
        (f"random full-rank covariances (A Aᵀ/d + 0.01 I, seed {COVARIANCE_SEED})", random_statistics()),
    ]
    rows = []
    for name, stats in cases:
        log(f"Fréchet distance at d = {len(stats[0])}: {name} ...")
        ours, ours_s, ours_times = median_time(lambda s=stats: frechet_distance(*s), repeats)
        theirs, theirs_s, theirs_times = median_time(lambda s=stats: scipy_frechet(oracle, *s), repeats)
        rows.append({
            "statistics": name, "d": len(stats[0]), "gankit": ours, "scipy_sqrtm": theirs, "gankit_s": ours_s, "scipy_s": theirs_s,
            "gankit_times_s": ours_times, "scipy_times_s": theirs_times, "relative_difference": relative_difference(ours, theirs),
        })  # fmt: skip
        log(f"  gankit {ours:.9g} in {ours_s:.2f} s; scipy sqrtm {theirs:.9g} in {theirs_s:.2f} s")
    return rows


# ------------------------------------------------------------------------------------------ 3. real digits


def reference_values() -> dict[str, Any]:
    """Every feature metric of the 500 MNIST-5k test digits against the 4,500 train digits (digit judge features)."""
    train = build_dataset(DataConfig(name="mnist5k", split="train")).images.float() / 255.0
    test = build_dataset(DataConfig(name="mnist5k", split="test")).images.float() / 255.0
    extractor = build_extractor("mnist", progress=False)
    f_train, f_test = extractor(train), extractor(test)
    kid_subset = min(1000, len(test))
    rows: list[dict[str, Any]] = []

    def add(metric: str, value: str, protocol: str, **raw: Any) -> None:
        rows.append({"metric": metric, "value": value, "protocol": protocol, "raw": raw})

    fid = frechet_distance(*feature_statistics(f_test), *feature_statistics(f_train))
    add("FID", f"{fid:.4f}", "Fréchet distance of judge-feature Gaussians (128-d), test vs train", fid=fid)
    kid, kid_std = kernel_inception_distance(f_train, f_test, subsets=KID_SUBSETS, subset_size=kid_subset, seed=KID_SEED)
    add(
        "KID", f"{kid:.6f} ± {kid_std:.6f}",
        f"cubic kernel (x·y/d + 1)³, {KID_SUBSETS} subsets, seed {KID_SEED}; **deviation**: subsets of {kid_subset}, not 1,000, because the "
        f"test split has only {len(test)} digits (every test subset is then the whole test split, in a new order). The estimator is "
        "unbiased: about 0, and possibly negative, for two samples of one distribution",
        kid=kid, kid_std=kid_std, subset_size=kid_subset,
    )  # fmt: skip
    for name, images in (("test", test), ("train", train)):
        probs, _ = judge_outputs(images)
        order = torch.from_numpy(np.random.RandomState(IS_SHUFFLE_SEED).permutation(len(probs)))
        mean, std = inception_score(probs[order], splits=10)
        add(
            f"IS of the {name} digits", f"{mean:.3f} ± {std:.3f}",
            f"classifier Inception Score with the digit judge, 10 splits of {len(images) // 10} after a RandomState({IS_SHUFFLE_SEED}) "
            "shuffle" + ("; splits smaller than the models' 1,000 bias IS down" if len(images) < 10_000 else ""),
            inception_score=mean, inception_score_std=std, n=len(images),
        )  # fmt: skip
    precision, recall = precision_recall(f_train, f_test, k=PR_K)
    add("precision / recall", f"{precision:.4f} / {recall:.4f}", f"k = {PR_K} nearest-neighbour manifolds; real = train, 'generated' = test",
        precision=precision, recall=recall)  # fmt: skip
    density, coverage = density_coverage(f_train, f_test, k=DC_K)
    add("density / coverage", f"{density:.4f} / {coverage:.4f}", f"k = {DC_K}; real = train, 'generated' = test", density=density, coverage=coverage)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(PARZEN_SUBSET_SEED))
    validation, samples = train[pick[:PARZEN_VALIDATION]], train[pick[PARZEN_VALIDATION:]]
    parzen = parzen_score(samples.flatten(1).double(), validation.flatten(1).double(), test.flatten(1).double())
    add(
        "Parzen log-likelihood", f"{parzen['mean']:.2f} ± {parzen['stderr']:.2f} nats (σ = {parzen['sigma']:.3f})",
        f"pixels in [0, 1]; σ chosen on the grid logspace(-1, 0, {len(DEFAULT_SIGMAS)}) with {PARZEN_VALIDATION} train digits (the seeded subset "
        f"`evaluate` uses), scored on the {len(test)} test digits; the 'samples' are the other {len(samples)} real train digits (what a model "
        "that memorised them would get; the validation digits are left out of the samples, else σ selection sees its own points). "
        "Not comparable with the 2014 paper (10,000 samples, full MNIST)",
        **{k: v for k, v in parzen.items() if k != "sigmas"},
    )  # fmt: skip
    record = judge_record()
    return {"n_train": len(train), "n_test": len(test), "judge_sha256": record["sha256"], "judge_test_accuracy": record["test_accuracy"], "rows": rows}


# ------------------------------------------------------------------------------------------ 4. the demo model


def newest_demo_run() -> Path | None:
    runs = [p.parent.parent for p in (ROOT / "runs").glob("*-dcgan-mnist/checkpoints/last.pt")]
    return max(runs, key=lambda p: (p / "checkpoints" / "last.pt").stat().st_mtime) if runs else None


def demo_values(run: Path, n: int, work: Path) -> dict[str, Any]:
    """``evaluate`` on a copy of the run (its config and last checkpoint), so that the run's eval.json is left alone."""
    copy = work / "demo" / run.name
    (copy / "checkpoints").mkdir(parents=True)
    shutil.copyfile(run / "config.yaml", copy / "config.yaml")
    shutil.copyfile(run / "checkpoints" / "last.pt", copy / "checkpoints" / "last.pt")
    t = time.perf_counter()
    results = evaluate(copy, DEMO_METRICS, n=n)
    return {"run": str(run), "n": n, "seconds": time.perf_counter() - t, "results": results}


# ------------------------------------------------------------------------------------------ the report


def _g(x: float) -> str:
    return f"{x:.9g}"


def goals(speed: dict[str, Any], frechet: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    """The issue's goals: (goal, met, measured)."""
    agreement, frechet_s = speed["fid_relative_difference"], max(row["gankit_s"] for row in frechet)
    return [
        (f"gankit's FID equals pytorch-fid's to {AGREEMENT_GOAL:g} relative on the same images", agreement <= AGREEMENT_GOAL, f"{agreement:.2e}"),
        (f"gankit ≥ {SPEEDUP_GOAL:g}× faster than pytorch-fid end to end", speed["speedup"] >= SPEEDUP_GOAL, f"{speed['speedup']:.2f}×"),
        (f"Fréchet distance at d = 2048 in ≤ {FRECHET_GOAL_S:g} s", frechet_s <= FRECHET_GOAL_S, f"slowest median {frechet_s:.2f} s"),
    ]


def speed_section(speed: dict[str, Any], frechet: list[dict[str, Any]]) -> list[str]:
    ours, theirs = speed["gankit"], speed["pytorch_fid"]
    b, diff, rank = ours["breakdown_s"], speed["statistics_relative_difference"], speed["covariance_rank"]
    lines = [
        f"## 1. FID end to end: gankit against pytorch-fid on the same {speed['n_images']:,} images",
        "",
        f"Images: {speed['n_images']:,} RGB 32×32 PNGs made deterministically (seed {IMAGE_SEED}) from the 5,000 MNIST-5k digits, each",
        "digit at a random offset of a 32×32 canvas in a random bright colour on a random dark background. Folder `a/` holds the",
        f"first {speed['per_folder']:,}, folder `b/` the other {speed['per_folder']:,} (the same digits again, newly placed and coloured, plus",
        f"Gaussian pixel noise of std {NOISE_STD:g} grey levels). Both tools read the same two folders: FID(a, b).",
        "",
        f"Inception: the FID Inception-v3 with seeded random weights (seed {WEIGHTS_SEED}; He-scaled convolutions, random BatchNorm",
        "statistics), since this machine has no copy of pytorch-fid's weights file: gankit reads them from a .pth file",
        "(`--inception-weights`), pytorch-fid receives the same tensors through its patched downloader (the torchvision stub of",
        "the tests). FID values are therefore not comparable with published ones; the speed and the agreement are the point.",
        "",
        "gankit: the path of `gankit fid a b --extractor inception --device cpu` (load_source, the inception extractor with batches of 50,",
        "feature_statistics, frechet_distance). pytorch-fid 0.3.0: its `calculate_fid_given_paths` stage by stage (InceptionV3,",
        f"compute_statistics_of_path for both folders, calculate_frechet_distance) with its command's defaults: batch size {PYTORCH_FID_BATCH},",
        f"dims {PYTORCH_FID_DIMS}, device cpu, {speed['pytorch_fid_workers']} DataLoader workers (min(8, CPUs), as its command chooses).",
        "Each tool ran once, in its own fresh Python process (so that neither inherits the other's allocator settings, thread pools or",
        "oneDNN kernel cache), pytorch-fid first, then gankit, after every PNG had been read once into the page cache; the time starts",
        "after the imports and covers everything from building the network to the FID. The machine's load average (1/5/15 min) was",
        f"{speed['load_average_before']} before and {speed['load_average_after']} after.",
        "'Features' covers building the network, reading the images, the features and their statistics.",
        "",
        "| tool | features (s) | Fréchet distance (s) | total (s) | FID |",
        "|---|---|---|---|---|",
        f"| pytorch-fid 0.3.0 | {theirs['feature_s']:.1f} | {theirs['frechet_s']:.2f} | {theirs['total_s']:.1f} | {_g(theirs['fid'])} |",
        f"| gankit | {ours['feature_s']:.1f} | {ours['frechet_s']:.2f} | {ours['total_s']:.1f} | {_g(ours['fid'])} |",
        "",
        f"gankit's feature time: network {b['model']:.1f} s, reading the PNGs {b['read_images']:.1f} s, features and statistics "
        f"{b['features_and_statistics']:.1f} s. Relative difference of the two FIDs: {speed['fid_relative_difference']:.2e}; "
        f"speed-up end to end: {speed['speedup']:.2f}×. pytorch-fid runs its network as written; gankit's extractor folds each",
        "BatchNorm into its convolution, feeds the network channels_last and keeps freed blocks of up to 1 GiB in the heap",
        "(`reuse_large_allocations`: glibc's mmap threshold raised, so that each batch reuses the ~280 MB activation blocks of the",
        "last one instead of page-faulting fresh ones in).",
        "",
        f"The images reach gankit's network in {ours['input_memory_format']} memory layout (the inception extractor converts them, for speed) and",
        "pytorch-fid's in contiguous NCHW (its DataLoader stacks ToTensor's outputs)"
        + (
            "."
            if ours["input_memory_format"] == "contiguous NCHW"
            else ": the two layouts run different convolution kernels, which differ in speed and round differently."
        ),
        f"The two tools' feature statistics differ by at most {diff['mu']:.1e} (means) and {diff['sigma']:.1e} (covariances), relative to",
        f"their largest entries. The covariances have numerical rank {rank[0]} and {rank[1]} of {PYTORCH_FID_DIMS}"
        + (
            (
                ": singular (fewer images than features)"
                if speed["per_folder"] < PYTORCH_FID_DIMS
                else ": singular although there are more images than features (with random weights some pool features are constant"
                " or linearly dependent)"
            )
            + ", where scipy's sqrtm is inexact; part 2's first row compares the two Fréchet distances on the same statistics."
            if min(rank) < PYTORCH_FID_DIMS
            else "."
        ),
        "",
    ]
    if "gpu" in speed:
        gpu = speed["gpu"]
        lines += [
            f"GPU ({gpu['device']}): gankit's features of both folders in float32 (TF32 off) took {gpu['feature_s']:.1f} s after a warm-up batch;",
            f"FID {_g(gpu['fid'])} (relative difference to the CPU value {gpu['relative_difference_to_cpu']:.1e}).",
            "",
        ]
    else:
        lines += ["No GPU was available (torch.cuda.is_available() is false): no GPU timing.", ""]
    lines += [
        "## 2. The Fréchet distance alone at d = 2048",
        "",
        "gankit's `frechet_distance` (a factor B Bᵀ = Σ1 by Cholesky, or by eigh when Σ1 is singular; eigenvalues of the symmetric",
        "Bᵀ Σ2 B; float64) against pytorch-fid's",
        "`calculate_frechet_distance` (scipy.linalg.sqrtm of Σ1 Σ2) on the same statistics; median wall time of "
        f"{len(frechet[0]['gankit_times_s'])} call(s) each.",
        "",
        "| statistics | gankit (s) | scipy sqrtm (s) | gankit value | pytorch-fid value | relative difference |",
        "|---|---|---|---|---|---|",
    ]
    for row in frechet:
        values = f"{_g(row['gankit'])} | {_g(row['scipy_sqrtm'])} | {row['relative_difference']:.2e}"
        lines.append(f"| {row['statistics']} | {row['gankit_s']:.2f} | {row['scipy_s']:.2f} | {values} |")
    lines += [
        "",
        "Goals (issue), measured as above, never adjusted:",
        "",
        *(f"- {goal}: {verdict(ok)} ({measured})" for goal, ok, measured in goals(speed, frechet)),
        "",
    ]
    return lines


def reference_section(ref: dict[str, Any]) -> list[str]:
    lines = [
        f"## 3. Reference values on real digits: MNIST-5k test ({ref['n_test']}) against train ({ref['n_train']})",
        "",
        f"Features: the digit judge shipped in the package (128-d penultimate layer; sha256 `{ref['judge_sha256'][:16]}…`,",
        f"{100 * ref['judge_test_accuracy']:.1f}% on the test digits). The test digits play the generated samples, the train digits the real",
        "data: these are the values of a model whose samples are as good as unseen real digits.",
        "",
        "| metric | value | protocol |",
        "|---|---|---|",
    ]
    lines += [f"| {row['metric']} | {row['value']} | {row['protocol']} |" for row in ref["rows"]]
    return [*lines, ""]


def _demo_value(name: str, value: dict[str, Any]) -> str:
    if name == "fid":
        return f"{value['fid']:.4f}"
    if name == "kid":
        return f"{value['kid']:.6f} ± {value['kid_std']:.6f}"
    if name in ("is", "judge"):
        text = f"IS {value['inception_score']:.3f} ± {value['inception_score_std']:.3f}"
        if name == "judge":
            text += f"; classes {value['min_class_pct']:.1f}%–{value['max_class_pct']:.1f}%; mean confidence {value['mean_confidence']:.3f}"
        return text
    if name == "pr":
        return f"{value['precision']:.4f} / {value['recall']:.4f}"
    if name == "dc":
        return f"{value['density']:.4f} / {value['coverage']:.4f}"
    if name == "parzen":
        return f"{value['mean']:.2f} ± {value['stderr']:.2f} nats (σ = {value['sigma']:.3f})"
    return json.dumps(value)


def _demo_protocol(protocol: dict[str, Any]) -> str:
    skip = {"metric", "description", "gankit_version", "weights_sha256", "step", "ema", "seed", "n"}
    parts = [f"{k}: {v}" for k, v in protocol.items() if k not in skip]
    return "; ".join(parts).replace("|", "/")


def demo_section(demo: dict[str, Any] | None, run_hint: str) -> list[str]:
    lines = ["## 4. The demo model (`make demo`)", ""]
    if demo is None:
        return [
            *lines,
            f"No demo run was found ({run_hint}). Train it with `make demo` (about half an hour on 2 cores), then re-run",
            "`make bench-metrics`; or pass `--demo-run RUN_DIR`.",
            "",
        ]
    first = next(iter(demo["results"].values()))["protocol"]
    lines += [
        f"Run `{Path(demo['run']).name}` (step {first['step']}, {'EMA' if first['ema'] else 'raw'} generator, noise seed {first['seed']}):",
        f"`gankit.metrics.evaluate(run, {DEMO_METRICS}, n={demo['n']})` on a copy of the run (its eval.json is left alone),",
        f"{demo['seconds']:.0f} s. Real data: the run's MNIST-5k train split; section 3 gives the values real test digits score.",
        "",
        "| metric | value | protocol |",
        "|---|---|---|",
    ]
    for name, entry in demo["results"].items():
        lines.append(f"| {name} | {_demo_value(name, entry['value'])} | {_demo_protocol(entry['protocol'])} |")
    return [*lines, ""]


def write_report(out: Path, results: dict[str, Any]) -> None:
    command = results["command"]
    lines = [
        "# Metrics benchmark: gankit's FID against pytorch-fid, and reference values on MNIST-5k",
        "",
        f"Written by `bench/metrics.py` on {results['date']}. Re-run: `{RERUN}`" + ("" if results["default_run"] else f" (this run: `{command}`)") + ".",
        "",
        f"Machine: {results['machine']}; Python {results['python']}. Threads: {results['threads_note']}.",
        "",
    ]
    if results.get("speed"):
        lines += speed_section(results["speed"], results["frechet"])
    else:
        lines += ["Parts 1 and 2 (speed against pytorch-fid) were skipped in this run (`--skip-speed`).", ""]
    lines += reference_section(results["reference"])
    lines += demo_section(results.get("demo"), results["demo_hint"])
    out.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="images for the FID comparison, split into two folders of n/2")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "metrics.md", help="the report; the raw numbers go beside it (.json)")
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS/OpenMP threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each Fréchet distance (the median is reported)")
    parser.add_argument("--skip-speed", action="store_true", help="only the reference values and the demo model (parts 3 and 4)")
    parser.add_argument("--demo-run", type=Path, default=None, help="the demo run (default: the newest runs/*-dcgan-mnist with a checkpoint)")
    parser.add_argument("--demo-n", type=int, default=10_000, help="samples drawn from the demo model")
    parser.add_argument("--rewrite", action="store_true", help="rewrite the report from the raw numbers of the last run (--out's .json); measure nothing")
    parser.add_argument("--time-tool", choices=sorted(TOOLS), help=argparse.SUPPRESS)  # the child process of run_tool
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rewrite:
        results = json.loads(args.out.with_suffix(".json").read_text())
        write_report(args.out, results)
        print(f"rewrote {args.out} from {args.out.with_suffix('.json')} (measured {results['date']})")
        return
    if args.time_tool:
        with thread_limits(args.threads):
            time_tool_child(args.time_tool, args.work, args.workers)
        return
    if args.n < 4 or args.threads < 1 or args.repeats < 1 or args.demo_n < 1000:
        parser.error("--n must be at least 4, --threads and --repeats at least 1, --demo-n at least 1000 (KID's subsets)")
    if not args.out.parent.is_dir():
        parser.error(f"--out: directory {args.out.parent} does not exist")
    default = (args.n, args.threads, args.repeats, args.skip_speed, args.demo_run, args.demo_n) == (10_000, 2, 3, False, None, 10_000)
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([".venv/bin/python", "bench/metrics.py", *sys.argv[1:]]),
        "default_run": default,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": args.threads,
        "cuda_available": torch.cuda.is_available(),
    }
    t_start = time.perf_counter()
    with thread_limits(args.threads) as threads_note, tempfile.TemporaryDirectory(prefix="gankit-bench-metrics-") as tmp:
        results["threads_note"], results["machine"] = threads_note, machine()
        work = Path(tmp)
        if not args.skip_speed:
            speed = speed_comparison(args.n, work, args.threads)
            results["frechet"] = frechet_comparison(speed.pop("_stats"), args.repeats)
            results["speed"] = speed
        log("reference values on MNIST-5k (digit judge) ...")
        results["reference"] = reference_values()
        run = args.demo_run or newest_demo_run()
        results["demo_hint"] = f"looked for {args.demo_run}" if args.demo_run else "looked for runs/*-dcgan-mnist/checkpoints/last.pt"
        if run is not None and (run / "checkpoints" / "last.pt").is_file():
            log(f"the demo model {run}: {', '.join(DEMO_METRICS)} on {args.demo_n} samples ...")
            results["demo"] = demo_values(run, args.demo_n, work)
        else:
            log("no demo run found: `make demo` first")
    results["wall_s"] = time.perf_counter() - t_start
    write_report(args.out, results)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=_jsonable) + "\n")
    if results.get("speed"):
        for goal, ok, measured in goals(results["speed"], results["frechet"]):
            log(f"goal: {goal}: {'yes' if ok else 'no'} ({measured})")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} in {results['wall_s'] / 60:.1f} min")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


if __name__ == "__main__":
    main()
