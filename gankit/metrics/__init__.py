"""Metrics of a trained run, each returned with the protocol it was measured under.

``evaluate`` draws samples from a run's last checkpoint (once per sample count and seed), extracts features
once per extractor, and computes the requested metrics against the run's real data:

- ``fid``: Fréchet distance of feature means/covariances (Heusel et al., 2017);
- ``kid``: kernel distance, cubic polynomial kernel, 100 subsets of 1,000 (Bińkowski et al., 2018);
- ``is``: Inception Score over 10 splits (Salimans et al., 2016) — the digit judge's classes on digit data;
- ``pr``: precision/recall of k-NN manifolds, k = 3 (Kynkäänniemi et al., 2019);
- ``dc``: density/coverage, k = 5 (Naeem et al., 2020);
- ``parzen``: Parzen-window log-likelihood (Goodfellow et al., 2014);
- ``modes``: VEEGAN mode coverage on the toys; ``judge``: the digit judge's report (IS, class shares, labels,
  Stacked MNIST modes).

Feature extractors: ``mnist`` (the digit judge) by default on digit data, ``inception`` (local weights) on other
images, the raw coordinates on the toys.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit import __version__
from gankit.errors import GankitError
from gankit.metrics.modes import PROTOCOL_SAMPLES, THRESHOLD_STDS, mode_coverage

REAL_DRAWN = 10_000  # real samples drawn from datasets without a fixed set of images (toys, Stacked MNIST)
KID_SUBSETS, KID_SUBSET_SIZE, KID_SEED = 100, 1000, 2020  # torch-fidelity's protocol and default subset seed
IS_SHUFFLE_SEED = 2020  # torch-fidelity shuffles samples with RandomState(2020) before splitting
PR_K, DC_K = 3, 5
PARZEN_VALIDATION = 500
log = logging.getLogger(__name__)


@dataclass
class EvalContext:
    """One run, one seed: samples and features are computed once and shared by the metrics."""

    state: Any
    seed: int
    use_ema: bool
    extractor_name: str | None = None
    inception_weights: str | None = None
    split: str | None = None
    direction: str | None = None
    _samples: dict[int, Tensor] = field(default_factory=dict)
    _real: Tensor | None = None
    _features: dict[tuple[str, int], Tensor] = field(default_factory=dict)
    _extractor: Any = None
    _judge_misfit: dict[str, str | None] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        return self.state.data

    @property
    def is_points(self) -> bool:
        return self.data.kind == "points"

    @property
    def dataset_name(self) -> str:
        return self.state.cfg.data.name

    def samples(self, n: int) -> Tensor:
        """Generated samples: points, or images in [0, 1]; conditional models cycle through their labels."""
        if n not in self._samples:
            from gankit.data.images import to_unit_range
            from gankit.sampling import draw_samples

            v = self.state.variant
            if v.decode is None and v.translate is not None:  # a translation model's samples: its outputs for real inputs
                from gankit.sampling import translate_inputs
                from gankit.sampling.pictures import real_examples

                source = next(iter(v.directions.values()))[0]
                inputs = real_examples(self.data, [source], n, self.seed)[source]
                drawn = translate_inputs(self.state, inputs, use_ema=self.use_ema)
                self._samples[n] = to_unit_range(drawn)
                return self._samples[n]
            classes = v.num_classes
            labels = torch.arange(n) % classes if classes else None
            drawn = draw_samples(self.state, n, self.seed, use_ema=self.use_ema, labels=labels)
            self._samples[n] = drawn if self.is_points else to_unit_range(drawn)
        return self._samples[n]

    def real(self) -> Tensor:
        """The run's real data in the samples' field: every item of the configured split, or REAL_DRAWN fresh draws
        (fixed seed) from a source without a fixed set (toys, Stacked MNIST)."""
        if self._real is None:
            from gankit.data.real import real_set
            from gankit.sampling.pictures import output_field

            self._real = real_set(self.data, output_field(self.state.variant), limit=REAL_DRAWN, seed=1_000_003)
        return self._real

    @property
    def extractor(self) -> Any:
        if self._extractor is None:
            from gankit.metrics.extractors import build_extractor

            name = self.extractor_name or self.default_extractor()
            if name == "raw":
                self._extractor = _Raw()
            else:
                if self.is_points:
                    raise GankitError(f"the {name} extractor takes images; '{self.dataset_name}' is point data (use --extractor raw)")
                if name == "mnist":
                    self.judge_check("the mnist extractor")
                self._extractor = build_extractor(name, inception_weights=self.inception_weights, device=str(self.state.device))
        return self._extractor

    def default_extractor(self) -> str:
        if self.is_points:
            return "raw"
        return "mnist" if self.judge_fits() else "inception"

    def judge_fits(self, field_name: str | None = None) -> bool:
        """Whether the digit judge reads this run's real data (of ``field_name``, default the samples' field) as
        MNIST (:func:`~gankit.metrics.classifier.judge_misfit`); measured once per field."""
        from gankit.metrics.classifier import FIT_SAMPLES, judge_misfit
        from gankit.sampling.pictures import output_field

        name = field_name or output_field(self.state.variant)
        if name not in self._judge_misfit:
            if self.is_points or self.data.fields[name].kind != "image" or self.data.fields[name].shape[0] > 3:
                self._judge_misfit[name] = "they are not images of one to three channels"
            else:
                from gankit.data.real import real_set

                images = real_set(self.data, name, limit=FIT_SAMPLES)
                label_name = _label_field(self.data, name)
                labels = real_set(self.data, label_name, limit=FIT_SAMPLES) if label_name else None
                self._judge_misfit[name] = judge_misfit(images, labels if labels is not None and len(labels) == len(images) else None)
        return self._judge_misfit[name] is None

    def judge_check(self, metric: str, field_name: str | None = None) -> None:
        """Refuse a judge-based measurement on data the judge was not trained for, naming the data it supports."""
        from gankit.metrics.classifier import JUDGE_DATA

        if not self.judge_fits(field_name):
            from gankit.sampling.pictures import output_field

            name = field_name or output_field(self.state.variant)
            raise GankitError(
                f"{metric} reads samples with the MNIST digit judge, which cannot read this run's real data "
                f"({self.dataset_name}, field {name}): {self._judge_misfit[name]}. The judge supports {', '.join(JUDGE_DATA)}; "
                "on other images use fid, kid, pr or dc with --extractor inception --inception-weights PATH"
            )

    def features(self, which: str, n: int = 0) -> Tensor:
        key = (which, n)
        if key not in self._features:
            images = self.real() if which == "real" else self.samples(n)
            self._features[key] = self.extractor(images).double()
        return self._features[key]

    def feature_protocol(self) -> dict[str, Any]:
        real = self.real()
        return {**self.extractor.protocol, "real": f"{self.dataset_name} {self.state.cfg.data.split} ({len(real)} samples)"}


class _Raw:
    """Toy points are their own features."""

    @property
    def protocol(self) -> dict[str, Any]:
        return {"extractor": "raw (the points' coordinates)"}

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim != 2:
            raise GankitError("the raw extractor takes point data (N, D); use --extractor mnist or inception for images")
        return x.double()


@dataclass(frozen=True)
class Metric:
    compute: Callable[[EvalContext, int], dict[str, Any]]
    default_n: Callable[[EvalContext], int]
    description: str
    protocol: Callable[[EvalContext, int], dict[str, Any]] = lambda ctx, n: {}


def _fixed(n: int) -> Callable[[EvalContext], int]:
    return lambda ctx: n


# ------------------------------------------------------------------------------------------------ metrics


def _warn_few_samples(ctx: EvalContext, metric: str, n: int) -> None:
    """FID's covariance (and KID's kernel mean) is poorly estimated from fewer samples than feature dimensions: the
    sample covariance is then singular and the value biased upwards, not comparable to one measured at 10,000."""
    dims = ctx.features("fake", n).shape[1]
    real = len(ctx.features("real"))
    if min(n, real) < dims:
        log.warning(
            "warning: %s from %d generated and %d real samples of %d-d features: fewer samples than dimensions, so the value "
            "is biased upwards and not comparable to the 10,000-sample protocol; use --n %d or more", metric, n, real, dims, dims,
        )


def _fid(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.fid import feature_statistics, frechet_distance

    _warn_few_samples(ctx, "fid", n)
    mu_r, sigma_r = feature_statistics(ctx.features("real"))
    mu_f, sigma_f = feature_statistics(ctx.features("fake", n))
    return {"fid": frechet_distance(mu_f, sigma_f, mu_r, sigma_r)}


def _kid(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.scores import kernel_inception_distance

    _warn_few_samples(ctx, "kid", n)
    mean, std = kernel_inception_distance(ctx.features("real"), ctx.features("fake", n), subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE, seed=KID_SEED)
    return {"kid": mean, "kid_std": std}


def _pr(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.scores import precision_recall

    precision, recall = precision_recall(ctx.features("real"), ctx.features("fake", n), k=PR_K)
    return {"precision": precision, "recall": recall}


def _dc(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.scores import density_coverage

    density, coverage = density_coverage(ctx.features("real"), ctx.features("fake", n), k=DC_K)
    return {"density": density, "coverage": coverage}


def _is_classifier(ctx: EvalContext) -> str:
    if ctx.is_points:
        raise GankitError(f"metric 'is' scores images with a classifier; '{ctx.dataset_name}' is point data")
    if ctx.extractor_name == "inception":
        return "inception"
    if ctx.extractor_name not in (None, "mnist"):
        raise GankitError(f"metric 'is' needs a classifier: --extractor mnist (the digit judge) or inception, not '{ctx.extractor_name}'")
    ctx.judge_check("metric 'is'")  # the default on images: the judge where it reads the data, else say why not
    return "judge"


def _is(ctx: EvalContext, n: int) -> dict[str, Any]:
    """Inception Score of ``n`` samples; with the judge, p(y|x) is over 10^C classes for C channels (one digit each):
    the product of the judge's per-channel probabilities, so Stacked MNIST is scored on its 1,000 triples."""
    from gankit.metrics.classifier import inception_score, judge_class_probs

    if _is_classifier(ctx) == "inception":
        from gankit.metrics.scores import inception_score_from_logits

        # torch-fidelity's 'logits_unbiased': the 1008-way classifier on the pool features, without its bias
        weight = ctx.extractor.module.fc.weight.detach().double().cpu()
        mean, std = inception_score_from_logits(ctx.features("fake", n) @ weight.T, splits=10, shuffle=True, seed=IS_SHUFFLE_SEED)
        return {"inception_score": mean, "inception_score_std": std}
    probs = judge_class_probs(ctx.samples(n))  # one digit per channel: Stacked MNIST's triples, 1,000 classes
    order = np.random.RandomState(IS_SHUFFLE_SEED).permutation(len(probs))
    mean, std = inception_score(probs[torch.from_numpy(order)], splits=10)
    return {"inception_score": mean, "inception_score_std": std}


def _parzen_splits(ctx: EvalContext) -> tuple[Tensor, Tensor, str]:
    """Validation points (to choose sigma) and the points scored, flattened; the protocol note for eval.json.

    As Goodfellow et al. (2014), sigma is chosen on held-out data: toys draw both sets afresh from the true mixture;
    on mnist5k and digits the split the generator never saw (test, for a run on train) is divided by
    ``parzen.validation_split`` into 10 images per class (stratified, fixed seed) for sigma and the rest to score,
    so the two sets share no image and neither holds one of the generator's training images."""
    if ctx.is_points:
        rng = torch.Generator().manual_seed(2_000_003)
        note = f"{PARZEN_VALIDATION} validation and {REAL_DRAWN} test points drawn from the true mixture"
        return ctx.data.sample(PARZEN_VALIDATION, rng), ctx.data.sample(REAL_DRAWN, rng), note
    if ctx.dataset_name not in ("mnist5k", "digits"):
        raise GankitError(f"metric 'parzen' needs a dataset with a held-out test split (mnist5k, digits) or a toy; '{ctx.dataset_name}' has none")
    from gankit.data import build_dataset
    from gankit.metrics.parzen import VALIDATION_PER_CLASS, VALIDATION_SEED, validation_split

    cfg = ctx.state.cfg.data
    if cfg.split == "all":
        raise GankitError(f"metric 'parzen' needs {cfg.name} images the generator never saw, but this run trained on all of them; train with data.split=train")
    held_out = "test" if cfg.split == "train" else "train"
    data = build_dataset(replace(cfg, split=held_out))
    validation, scored = validation_split(data.labels)
    images = (data.images.float() / 255.0).flatten(1)
    note = (
        f"sigma chosen on {len(validation)} images of the {cfg.name} {held_out} split ({VALIDATION_PER_CLASS} per class, stratified, "
        f"seed {VALIDATION_SEED}), scored on its other {len(scored)}; the two sets are disjoint from each other and from the "
        f"{cfg.split} split the generator trained on. The 2014 paper used full MNIST's validation and 10,000 test digits, "
        "so values are not comparable to its table"
    )
    return images[validation], images[scored], note


def _parzen(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.parzen import parzen_score

    validation, test, _ = _parzen_splits(ctx)
    sigmas = np.logspace(-3, 0, 16) if ctx.is_points else None  # images: the paper's grid for pixels in [0, 1]
    result = parzen_score(ctx.samples(n).flatten(1).double(), validation.double(), test.double(), sigmas=sigmas)
    return {k: (float(v) if isinstance(v, (float, np.floating, int)) else v) for k, v in result.items()}


def _modes(ctx: EvalContext, n: int) -> dict[str, Any]:
    data = ctx.data
    if not hasattr(data, "centres"):
        raise GankitError(f"metric 'modes' needs a toy mixture with known centres (ring, grid, gaussian1d), not '{ctx.dataset_name}'")
    return mode_coverage(ctx.samples(n), data.centres, data.std).as_dict()


def _judge(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.classifier import inception_score, judge_outputs

    if ctx.is_points:
        raise GankitError(f"metric 'judge' scores digit images; '{ctx.dataset_name}' is point data")
    ctx.judge_check("metric 'judge'")
    classes = ctx.state.variant.num_classes
    images = ctx.samples(n)
    probs, _ = judge_outputs(images)
    predicted = probs.argmax(dim=1)
    value: dict[str, Any] = {}
    if images.shape[1] == 3:  # Stacked MNIST: one digit per channel, 1,000 modes
        digits = predicted.reshape(-1, 3)
        modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
        counts = torch.bincount(modes, minlength=1000).double()
        share = counts / counts.sum()
        nonzero = share[share > 0]
        value.update(modes=int((counts > 0).sum()), modes_total=1000, kl_to_uniform=float((nonzero * torch.log(nonzero * 1000)).sum()))
        return value
    mean, std = inception_score(probs, splits=10)
    fractions = torch.bincount(predicted, minlength=10).double() / len(predicted)
    value.update(
        inception_score=mean,
        inception_score_std=std,
        class_fractions=[round(float(f), 5) for f in fractions],
        min_class_pct=100 * float(fractions.min()),
        max_class_pct=100 * float(fractions.max()),
        mean_confidence=float(probs.max(dim=1).values.mean()),
    )
    if classes:
        labels = torch.arange(n) % classes
        value["label_accuracy"] = float((predicted == labels).double().mean())
    return value


def _code_parts(ctx: EvalContext) -> tuple[Any, list[Any]]:
    spec = ctx.state.variant.latents
    if ctx.state.variant.decode is None or spec is None:
        raise GankitError(f"metric 'codes' scores a generator's latent codes; this run's variant '{ctx.state.cfg.variant}' has no latents")
    categorical = next((p for p in spec.parts if p.kind == "categorical"), None)
    continuous = [p for p in spec.parts if p.kind != "categorical" and p.size == 1]
    if categorical is None and not continuous:
        raise GankitError(f"metric 'codes' needs a categorical or one-dimensional continuous latent part; this model has {spec.describe()}")
    return categorical, continuous


def _codes(ctx: EvalContext, n: int) -> dict[str, Any]:
    """The code evaluation of Chen et al. (2016): ``n`` samples, as many per value of the categorical code, read by the
    digit judge; the one-to-one matching of code values to digits (Hungarian, on the confusion counts) and its
    accuracy. Continuous one-dimensional codes: Spearman's ρ with the samples' slant and width (image moments) over
    ``n`` samples with every part drawn as in training."""
    from gankit.data.images import to_unit_range
    from gankit.metrics.classifier import judge_outputs
    from gankit.metrics.codes import confusion_counts, matched_accuracy, rank_correlation, slant_and_width
    from gankit.sampling import draw_samples

    if ctx.is_points:
        raise GankitError(f"metric 'codes' reads samples with the digit judge; '{ctx.dataset_name}' is point data")
    ctx.judge_check("metric 'codes'")
    categorical, continuous = _code_parts(ctx)
    value: dict[str, Any] = {}
    if categorical is not None:
        k = categorical.size
        values = torch.arange(n) % k
        images = to_unit_range(draw_samples(ctx.state, n, ctx.seed, use_ema=ctx.use_ema, codes={categorical.name: values}))
        probs, _ = judge_outputs(images)
        counts = confusion_counts(values, probs.argmax(dim=1), k, probs.shape[1])
        accuracy, matching = matched_accuracy(counts)
        value.update(matched_accuracy=accuracy, matching={str(i): c for i, c in enumerate(matching)}, code=categorical.name,
                     per_value_accuracy=[round(float(counts[i, matching[i]] / counts[i].sum()), 5) for i in range(k)])
    if continuous:
        from gankit.sampling.draw import sampling_players
        from gankit.sampling.standing import eval_mode

        spec = ctx.state.variant.latents
        players = sampling_players(ctx.state, ctx.use_ema)
        rng = torch.Generator(device=ctx.state.device).manual_seed(ctx.seed + 1)
        latents = spec.draw(n, rng, ctx.state.device, balanced=False)
        with torch.no_grad(), eval_mode(players):
            images = torch.cat([to_unit_range(ctx.state.variant.decode(players, {p: t[i : i + 4096] for p, t in latents.items()}).float().cpu())
                                for i in range(0, n, 4096)])
        slant, width = slant_and_width(images[:, :1])
        for part in continuous:
            code = latents[part.name][:, 0].cpu()
            value[f"{part.name}_slant_rho"] = rank_correlation(code, slant)
            value[f"{part.name}_width_rho"] = rank_correlation(code, width)
    return value


def _label_field(data: Any, field_name: str) -> str | None:
    for name in (f"y_{field_name}", "y"):
        if name in data.fields and data.fields[name].kind == "label":
            return name
    return None


def _translation_model(ctx: EvalContext, metric: str) -> Any:
    """The run's variant, which must translate; a one-line error naming what it serves otherwise."""
    v = ctx.state.variant
    if v.translate is None:
        raise GankitError(f"metric '{metric}' needs a translation model; this run's variant '{ctx.state.cfg.variant}' serves "
                          f"{', '.join(v.capabilities()) or 'no output command'}")
    return v


def _translation(ctx: EvalContext, n: int) -> dict[str, Any]:
    """A translation model on the ``split`` of its data (default test, the held-out items): its outputs for the
    inputs of ``direction`` (default: the first), scored against the paired targets, the inputs' labels (digit
    outputs, read by the judge), the target domain's real digits (judge-feature FID) and its round trip."""
    from gankit.data import build_dataset
    from gankit.data.base import blank_region
    from gankit.data.real import real_set
    from gankit.metrics.translation import translation_scores
    from gankit.sampling import translate_inputs
    from gankit.sampling.draw import check_direction, inverse_direction

    v = _translation_model(ctx, "translation")
    direction = check_direction(ctx.state, ctx.direction)
    source, target = v.directions[direction]
    data = build_dataset(replace(ctx.state.cfg.data, split=ctx.split or "test"))
    inputs = real_set(data, source, limit=n, seed=ctx.seed)[:n]
    label_name = _label_field(data, source)
    labels = real_set(data, label_name, limit=n, seed=ctx.seed)[:n] if label_name else None
    targets = real_set(data, target, limit=n, seed=ctx.seed)[:n] if v.paired else None
    outputs = (translate_inputs(ctx.state, inputs * 2 - 1, direction, use_ema=ctx.use_ema).clamp(-1, 1) + 1) / 2
    back = inverse_direction(v, direction)
    round_trip = (translate_inputs(ctx.state, outputs * 2 - 1, back, use_ema=ctx.use_ema).clamp(-1, 1) + 1) / 2 if back else None
    digits = outputs.shape[1] == 1 and ctx.judge_fits(target)  # the judge's parts only where it reads the target domain
    reference = real_set(data, target, limit=n, seed=ctx.seed + 1) if digits else None
    region = v.region(*inputs.shape[-2:]) if v.region is not None else None
    seen = blank_region(inputs, region, 0.5) if region is not None else inputs  # an inpainting model's input: the hole blanked
    value = translation_scores(seen, outputs, targets=targets, labels=labels, round_trip=round_trip, reference=reference, digits=digits, region=region)
    extra = {"region": dict(zip(("top", "left", "height", "width"), region, strict=True))} if region is not None else {}
    return {"direction": direction, "split": ctx.split or "test", **extra, **value}


def _translation_protocol(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.sampling.draw import check_direction

    protocol: dict[str, Any] = {
        "split": f"{ctx.split or 'test'} split of {ctx.dataset_name}",
        "pairs": "PSNR (dB) and SSIM (Wang et al., 2004; Gaussian window sigma 1.5, scikit-image's convention) of outputs vs targets, "
                 "images in [0, 1], all channels, no border crop; input_*: the untranslated input (grey repeated to the target's channels; "
                 "upsampled bicubically to the output's size where smaller: super-resolution's bicubic baseline)",
    }
    if ctx.state.variant.region is not None:
        protocol["region"] = ("region_*: the same measures on the box the model fills in alone (inpainting: the central hole); the inputs are the "
                              "images with that box at mid-grey (0.5), which is what input_* scores")
    _, target = ctx.state.variant.directions[check_direction(ctx.state, ctx.direction)]
    if ctx.data.fields[target].shape[0] == 1 and ctx.judge_fits(target):
        protocol |= {**_judge_protocol(ctx, n), "fid": "judge features (128-d) of outputs vs the split's real target-domain digits"}
    return protocol


def _transfer_sides(ctx: EvalContext) -> tuple[str, str, str, str, str]:
    """The direction, its source and target fields and their label fields; a one-line error where they are missing."""
    from gankit.sampling.draw import check_direction

    v = _translation_model(ctx, "transfer")
    direction = check_direction(ctx.state, ctx.direction)
    source, target = v.directions[direction]
    source_labels, target_labels = _label_field(ctx.data, source), _label_field(ctx.data, target)
    if source_labels is None or target_labels is None:
        side = source if source_labels is None else target
        raise GankitError(f"metric 'transfer' trains a classifier on labelled translated '{source}' images and tests it on labelled '{target}' images; "
                          f"data '{ctx.dataset_name}' has no labels for '{side}'")
    classes = (ctx.data.fields[source_labels].classes, ctx.data.fields[target_labels].classes)
    if classes[0] != classes[1]:
        raise GankitError(f"metric 'transfer': '{source}' has {classes[0]} classes and '{target}' {classes[1]}; the classifier needs the same classes on both "
                          "sides")
    return direction, source, target, source_labels, target_labels


def _transfer(ctx: EvalContext, n: int) -> dict[str, Any]:
    """A translation's use for domain adaptation: the fixed classifier recipe of :mod:`gankit.metrics.transfer` trained on
    up to ``n`` labelled train-split source images translated by the model, tested on the target domain's labelled
    ``split`` (default test); beside the same recipe trained on the untranslated images."""
    from gankit.data import build_dataset
    from gankit.data.real import real_set
    from gankit.metrics.transfer import transfer_scores
    from gankit.sampling import translate_inputs

    direction, source, target, source_labels, target_labels = _transfer_sides(ctx)
    train_data = build_dataset(replace(ctx.state.cfg.data, split="train"))
    test_data = build_dataset(replace(ctx.state.cfg.data, split=ctx.split or "test"))
    inputs = real_set(train_data, source, limit=n, seed=ctx.seed)[:n]
    labels = real_set(train_data, source_labels, limit=n, seed=ctx.seed)[:n]
    translated = (translate_inputs(ctx.state, inputs * 2 - 1, direction, use_ema=ctx.use_ema).clamp(-1, 1) + 1) / 2
    if translated.shape[1:] != inputs.shape[1:]:
        from gankit.metrics.translation import as_channels, to_size

        inputs = as_channels(to_size(inputs, translated.shape[-2:]), translated.shape[1])
    test_images, test_labels = real_set(test_data, target), real_set(test_data, target_labels)
    classes = ctx.data.fields[source_labels].classes
    scores = transfer_scores(translated, inputs, labels, test_images, test_labels, classes, seed=ctx.seed)
    return {"direction": direction, "train_images": len(inputs), "test_images": len(test_images), **scores}


def _transfer_protocol(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.transfer import RECIPE

    direction, source, target, source_labels, target_labels = _transfer_sides(ctx)
    return {
        "train": f"up to {n} items of the train split's '{source}' images (a fixed random subset), translated {direction}, with their '{source_labels}' labels",
        "test": f"every '{target}' image of the {ctx.split or 'test'} split of {ctx.dataset_name}, with its '{target_labels}' label",
        "classifier": RECIPE, "baseline": "source_accuracy: the same recipe and seed trained on the untranslated images",
    }  # fmt: skip


def _judge_protocol(ctx: EvalContext, n: int) -> dict[str, Any]:
    from gankit.metrics.classifier import judge_record

    record = judge_record()
    return {
        "extractor": "mnist judge",
        "weights_sha256": record["sha256"],
        "judge_test_accuracy": record["test_accuracy"],
        "resize": "32 px: centre 28 crop; other sizes: bilinear to 28",
        "splits": 10,
    }


def _is_protocol(ctx: EvalContext, n: int) -> dict[str, Any]:
    shuffle = {"shuffle": f"RandomState({IS_SHUFFLE_SEED}) permutation before splitting, as torch-fidelity", "splits": 10}
    if _is_classifier(ctx) == "inception":
        return {**ctx.extractor.protocol, **shuffle}
    channels = ctx.samples(n).shape[1]
    classes = f"{10**channels:,} classes: product of the judge's per-channel probabilities" if channels > 1 else "10 classes: the judge's digits"
    return {**_judge_protocol(ctx, n), **shuffle, "classes": classes}


def _judge_n(ctx: EvalContext) -> int:
    return 26_000 if ctx.dataset_name == "stacked-mnist" else 10_000


METRICS: dict[str, Metric] = {
    "fid": Metric(_fid, _fixed(10_000), "Fréchet distance between Gaussians fitted to real and generated features (Heusel et al., 2017)",
                  lambda ctx, n: ctx.feature_protocol()),
    "kid": Metric(_kid, _fixed(10_000), "kernel distance: unbiased MMD² with the cubic polynomial kernel (Bińkowski et al., 2018)",
                  lambda ctx, n: {**ctx.feature_protocol(), "subsets": KID_SUBSETS, "subset_size": KID_SUBSET_SIZE,
                                               "subset_seed": KID_SEED, "kernel": "(x·y/d + 1)^3"}),
    "is": Metric(_is, _fixed(10_000), "Inception Score over 10 splits (Salimans et al., 2016): the digit judge's classes on digit data, "
                 "else the Inception network's 1008 logits without bias (torch-fidelity's logits_unbiased)", _is_protocol),
    "pr": Metric(_pr, _fixed(10_000), "precision and recall of k-NN feature manifolds (Kynkäänniemi et al., 2019)",
                 lambda ctx, n: {**ctx.feature_protocol(), "k": PR_K}),
    "dc": Metric(_dc, _fixed(10_000), "density and coverage of k-NN feature balls (Naeem et al., 2020)",
                 lambda ctx, n: {**ctx.feature_protocol(), "k": DC_K}),
    "parzen": Metric(_parzen, _fixed(10_000), "Parzen-window log-likelihood: Gaussian kernels on generated samples, sigma chosen on held-out "
                     "validation data (Goodfellow et al., 2014)",
                     lambda ctx, n: {"space": "pixels in [0, 1]" if not ctx.is_points else "points", "splits": _parzen_splits(ctx)[2]}),
    "judge": Metric(_judge, _judge_n,
                    "digit judge (CNN trained on MNIST-5k train): classifier Inception Score over 10 splits, class histogram, "
                    "label accuracy of conditional samples; Stacked MNIST: modes out of 1,000 and KL to uniform",
                    _judge_protocol),
    "modes": Metric(_modes, _fixed(PROTOCOL_SAMPLES), f"VEEGAN mode coverage: modes captured, % within {THRESHOLD_STDS:g} std, reverse KL"),
    "translation": Metric(_translation, _fixed(10_000), "a translation's outputs on held-out inputs: PSNR/SSIM vs paired targets, the judge's "
                          "accuracy on digit outputs (beside inputs and targets), judge-feature FID vs the target domain, round-trip PSNR/SSIM",
                          _translation_protocol),
    "transfer": Metric(_transfer, _fixed(10_000), "a translation as domain adaptation: a fixed classifier recipe trained on translated labelled "
                       "source images, tested on the labelled target domain, beside the recipe trained on the untranslated images "
                       "(Shrivastava et al., 2017)", _transfer_protocol),
    "codes": Metric(_codes, _fixed(10_000), "latent codes vs the judge (Chen et al., 2016): a categorical code matched one-to-one to digits "
                    "(Hungarian on the confusion counts, equal samples per value) and its accuracy; continuous codes' Spearman rho "
                    "with slant and width (image moments)", lambda ctx, n: {**_judge_protocol(ctx, n), "matching": "scipy linear_sum_assignment"}),
}  # fmt: skip


def suggest_metric(state: Any) -> str:
    """An ``eval`` command line that serves this run: mode coverage on toy mixtures, the translation metric for
    translation models, the digit judge where it reads the data, else FID on Inception features."""
    ctx = EvalContext(state, 0, True)
    if hasattr(ctx.data, "centres"):
        return "--metrics modes"
    if state.variant.decode is None and state.variant.translate is not None:
        return "--metrics translation"
    if ctx.is_points:
        return "--metrics fid,pr"
    if ctx.judge_fits():
        return "--metrics judge"
    return "--metrics fid --extractor inception --inception-weights PATH"


def parse_metric_names(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise GankitError(f"--metrics is empty; choose from: {', '.join(sorted(METRICS))}")
    for name in names:
        if name not in METRICS:
            raise GankitError(f"unknown metric '{name}'; choose from: {', '.join(sorted(METRICS))}")
    return names


def _numbers(value: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def summarise(values: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation (over seeds or runs) of every number the metric reports."""
    keys = set.intersection(*(set(_numbers(v)) for v in values)) if values else set()
    out: dict[str, Any] = {}
    for key in sorted(keys):
        xs = np.array([_numbers(v)[key] for v in values])
        out[key] = {"mean": float(xs.mean()), "std": float(xs.std(ddof=1)) if len(xs) > 1 else 0.0}
    return out


def evaluate(
    run: str | Path,
    names: list[str],
    n: int | None = None,
    seed: int = 0,
    use_ema: bool = True,
    *,
    seeds: list[int] | None = None,
    extractor: str | None = None,
    inception_weights: str | None = None,
    split: str | None = None,
    direction: str | None = None,
    step: int | None = None,
) -> dict[str, Any]:
    """Compute metrics of a run's last checkpoint (or the kept one of ``step``) and merge them into ``RUN/eval.json``; return the new entries.

    With several ``seeds`` each metric is computed once per noise seed; the entry holds every seed's value under
    ``per_seed`` and the mean ± std under ``value``."""
    from gankit.train.loop import load_run

    if n is not None and n <= 0:
        raise GankitError(f"--n must be a positive number of samples (got {n})")
    seeds = list(seeds) if seeds else [seed]
    if len(set(seeds)) != len(seeds):
        raise GankitError(f"--seeds has repeats ({', '.join(map(str, seeds))}); give distinct seeds")
    path, state, payload = load_run(run, step=step)
    contexts = [EvalContext(state, s, use_ema and bool(state.ema), extractor, inception_weights, split, direction) for s in seeds]
    first = contexts[0]
    results = {}
    for name in names:
        metric = METRICS[name]
        per_seed = []
        for ctx in contexts:
            if ctx is not first:  # the seeds differ only in the noise: share the network, real data and real features
                ctx._extractor, ctx._real, ctx._judge_misfit = first._extractor, first._real, first._judge_misfit
                if ("real", 0) in first._features:
                    ctx._features[("real", 0)] = first._features[("real", 0)]
            count = n or metric.default_n(ctx)
            per_seed.append(metric.compute(ctx, count))
        ctx = contexts[0]
        count = n or metric.default_n(ctx)
        entry: dict[str, Any] = {
            "value": per_seed[0] if len(seeds) == 1 else summarise(per_seed),
            "protocol": {
                "metric": name,
                "description": metric.description,
                "n": count,
                "seed": seeds[0] if len(seeds) == 1 else seeds,
                "ema": ctx.use_ema,
                "step": int(payload["step"]),
                "gankit_version": __version__,
                **metric.protocol(ctx, count),
            },
        }
        if len(seeds) > 1:
            entry["per_seed"] = {str(s): v for s, v in zip(seeds, per_seed, strict=True)}
        results[name] = entry
    out = path / "eval.json"
    merged = merge_results(read_eval(out), results)
    from gankit.files import atomic_write

    atomic_write(out, lambda f: f.write((json.dumps(merged, indent=2, default=_jsonable) + "\n").encode()))
    return results


PROTOCOL_KEYS = ("metric", "n", "seed", "step", "ema", "extractor", "weights_sha256", "split", "direction")


def protocol_key(entry: dict[str, Any]) -> str:
    """What makes two results of a metric the same measurement: metric, sample count, seed(s), step, EMA, features
    (extractor and weights), split and direction. A new result replaces only the one of the same protocol."""
    protocol = entry.get("protocol", {})
    return json.dumps({k: protocol.get(k) for k in PROTOCOL_KEYS}, sort_keys=True, default=str)


def read_eval(path: Path) -> dict[str, Any]:
    """A run's ``eval.json``: ``{metric: newest result, ..., "history": [every protocol's newest result, oldest
    first]}``; files written before the history was kept are read as a history of their entries. An unreadable
    file reads as empty (it is rewritten whole by the next eval)."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    if not isinstance(data.get("history"), list):
        data["history"] = [e for k, e in data.items() if k != "history" and isinstance(e, dict) and "value" in e]
    return data


def latest_results(data: dict[str, Any]) -> dict[str, Any]:
    """The newest result of each metric in an ``eval.json`` read by :func:`read_eval`."""
    return {k: e for k, e in data.items() if k != "history" and isinstance(e, dict) and "value" in e}


def merge_results(existing: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """``existing`` (from :func:`read_eval`) with ``results`` added: each is its metric's newest result and joins the
    history, replacing an earlier result of the same protocol (:func:`protocol_key`)."""
    history = list(existing.get("history", []))
    for entry in results.values():
        key = protocol_key(entry)
        history = [h for h in history if protocol_key(h) != key] + [entry]
    return {**latest_results(existing), **results, "history": history}


def format_value(value: dict[str, Any]) -> str:
    """A metric's value on one line: numbers to 4 significant digits, ``mean ± std`` for results over seeds or runs;
    lists (class fractions, matchings) are left out."""
    parts = []
    for key, v in value.items():
        if isinstance(v, dict) and set(v) == {"mean", "std"}:
            parts.append(f"{key} = {v['mean']:.4g} ± {v['std']:.2g}")
        elif isinstance(v, float):
            parts.append(f"{key} = {v:.4g}")
        elif isinstance(v, (int, str)) and not isinstance(v, bool):
            parts.append(f"{key} = {v}")
    return ", ".join(parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (np.ndarray, Tensor)):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"cannot write {type(value).__name__} to eval.json")
