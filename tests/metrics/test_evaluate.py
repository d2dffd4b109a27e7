"""`evaluate`: every metric on a tiny toy run and a tiny image run, seeds summarised, protocol recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit.config import load_config
from gankit.errors import GankitError
from gankit.metrics import METRICS, evaluate, summarise
from gankit.metrics.classifier import inception_score, judge_outputs
from gankit.metrics.fid import feature_statistics, frechet_distance
from gankit.sampling import draw_samples
from gankit.train.loop import load_run, train

TINY = ["train.steps=20", "train.log_every=10", "train.sample_every=20", "train.ckpt_every=20", "train.progress=none", "train.device=cpu"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    torch.set_num_threads(1)
    return train(load_config("gan-ring", TINY), tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    torch.set_num_threads(1)
    return train(load_config("dcgan-digits", [*TINY, "train.batch_size=16"]), tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    torch.set_num_threads(1)
    cfg = ["model.g.width=16", "model.d.width=16", "train.batch_size=16"]
    return train(load_config("dcgan-mnist", [*TINY, *cfg]), tmp_path_factory.mktemp("runs"))


def test_toy_run_gets_every_point_metric_with_its_protocol(ring_run):
    names = ["fid", "kid", "pr", "dc", "parzen", "modes"]
    results = evaluate(ring_run, names, n=2000)
    saved = json.loads((ring_run / "eval.json").read_text())
    for name in names:
        assert saved[name]["protocol"]["metric"] == name and saved[name]["protocol"]["n"] == 2000
        assert saved[name]["value"] == json.loads(json.dumps(results[name]["value"]))
    assert saved["fid"]["protocol"]["extractor"].startswith("raw")
    assert results["fid"]["value"]["fid"] >= 0
    assert 0 <= results["pr"]["value"]["precision"] <= 1 and 0 <= results["dc"]["value"]["coverage"] <= 1
    assert np.isfinite(results["parzen"]["value"]["mean"])

    # FID recomputed by hand from the same samples and the same real draws
    _, state, _ = load_run(ring_run)
    fake = draw_samples(state, 2000, 0).double()
    real = state.data.sample(10_000, torch.Generator().manual_seed(1_000_003)).double()
    by_hand = frechet_distance(*feature_statistics(fake), *feature_statistics(real))
    assert results["fid"]["value"]["fid"] == pytest.approx(by_hand, rel=1e-9)


def test_several_seeds_give_mean_std_and_per_seed_values(ring_run):
    one = evaluate(ring_run, ["fid"], n=1000, seed=1)["fid"]["value"]["fid"]
    entry = evaluate(ring_run, ["fid"], n=1000, seeds=[0, 1, 2])["fid"]
    per_seed = [entry["per_seed"][s]["fid"] for s in ("0", "1", "2")]
    assert per_seed[1] == pytest.approx(one, rel=1e-12)
    assert len(set(per_seed)) == 3
    assert entry["value"]["fid"]["mean"] == pytest.approx(np.mean(per_seed))
    assert entry["value"]["fid"]["std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert entry["protocol"]["seed"] == [0, 1, 2]
    with pytest.raises(GankitError, match="repeats"):
        evaluate(ring_run, ["fid"], seeds=[0, 0])


def test_summarise_keeps_shared_numbers_only():
    out = summarise([{"a": 1.0, "b": 2, "c": "x"}, {"a": 3.0, "b": 4}])
    assert out == {"a": {"mean": 2.0, "std": pytest.approx(np.sqrt(2))}, "b": {"mean": 3.0, "std": pytest.approx(np.sqrt(2))}}


def test_image_run_with_the_judge_extractor(mnist_run):
    names = ["fid", "kid", "is", "pr", "dc", "parzen", "judge"]
    results = evaluate(mnist_run, names, n=1000)
    protocol = results["fid"]["protocol"]
    assert protocol["extractor"].startswith("mnist") and "mnist5k train" in protocol["real"]
    assert results["kid"]["protocol"]["subset_size"] == 1000
    assert "not comparable" in results["parzen"]["protocol"]["splits"]
    # 'is' follows torch-fidelity (shuffled splits); 'judge' keeps the drawn order: same samples, same marginal
    _, state, _ = load_run(mnist_run)
    probs, _ = judge_outputs(torch.clamp((draw_samples(state, 1000, 0) + 1) / 2, 0, 1))
    assert results["judge"]["value"]["inception_score"] == pytest.approx(inception_score(probs)[0], rel=1e-9)
    order = torch.from_numpy(np.random.RandomState(2020).permutation(1000))
    assert results["is"]["value"]["inception_score"] == pytest.approx(inception_score(probs[order])[0], rel=1e-9)


def test_metrics_refuse_data_they_cannot_score(ring_run, digits_run, mnist_run):
    with pytest.raises(GankitError, match="point data"):
        evaluate(ring_run, ["is"])
    with pytest.raises(GankitError, match="point data"):
        evaluate(ring_run, ["fid"], extractor="mnist")
    with pytest.raises(GankitError, match="centres"):
        evaluate(digits_run, ["modes"])
    with pytest.raises(GankitError, match="samples"):
        evaluate(mnist_run, ["kid"], n=500)  # fewer than one KID subset of 1,000


def test_every_metric_is_registered_with_a_description():
    assert set(METRICS) == {"fid", "kid", "is", "pr", "dc", "parzen", "modes", "judge", "codes", "translation", "transfer"}
    assert all(m.description for m in METRICS.values())


@pytest.mark.parametrize("metric", ["judge", "is", "codes"])
def test_judge_based_metrics_refuse_data_the_judge_was_not_trained_for(digits_run, metric):
    """scikit-learn's 8 x 8 digits (upscaled to 16 px) read as '8' 99.9 % of the time: the judge refuses, naming what
    it reads and the data it supports."""
    with pytest.raises(GankitError, match=r"cannot read this run's real data \(digits, field x\): it reads 9\d\.\d% of them as digit 8.*supports mnist5k"):
        evaluate(digits_run, [metric], n=100)
    with pytest.raises(GankitError, match="cannot read this run's real data"):
        evaluate(digits_run, ["fid"], n=100, extractor="mnist")  # its features, too


def test_the_judge_fits_mnist_like_data_only():
    from gankit.data import build_dataset
    from gankit.data.real import real_set
    from gankit.metrics.classifier import judge_misfit

    config = load_config("dcgan-mnist").data
    mnist = build_dataset(config)
    images, labels = real_set(mnist, "x"), real_set(mnist, "y")
    assert judge_misfit(images, labels) is None
    assert "right" in judge_misfit(images, (labels + 1) % 10)  # wrong labels: the accuracy check can fail
    assert "as digit" in judge_misfit(torch.rand(500, 1, 28, 28))  # noise reads as one class
    stacked = build_dataset(load_config("dcgan-stacked").data)
    assert judge_misfit(real_set(stacked, "x", limit=2000), real_set(stacked, "y", limit=2000)) is None  # 1,000 classes: no accuracy check


def test_is_with_the_inception_classifier_uses_its_logits_without_bias(mnist_run):
    from torch import nn

    from gankit.metrics import EvalContext, _is, _is_classifier
    from gankit.metrics.extractors import InceptionExtractor
    from gankit.metrics.scores import inception_score_from_logits

    class Tiny(nn.Module):  # stands in for the 2048-d pool features and the 1008-way fc of the Inception network
        def __init__(self):
            super().__init__()
            self.pool = nn.Linear(3, 2048)
            self.fc = nn.Linear(2048, 1008)

        def forward(self, x):
            return self.pool(x.mean(dim=(2, 3)))

    torch.manual_seed(0)
    _, state, _ = load_run(mnist_run)
    ctx = EvalContext(state, 0, True, "inception")
    ctx._extractor = InceptionExtractor(Tiny(), "inception", progress=False)
    value = _is(ctx, 200)
    logits = ctx.features("fake", 200) @ ctx.extractor.module.fc.weight.detach().double().T
    assert value["inception_score"] == pytest.approx(inception_score_from_logits(logits, shuffle=True, seed=2020)[0], rel=1e-12)
    assert _is_classifier(ctx) == "inception"
    assert _is_classifier(EvalContext(state, 0, True)) == "judge"  # the default on digit data


def _image_context(name: str, split: str = "train", channels: int = 1):
    """An EvalContext for digit data without a trained run: what _parzen_splits and _is read of the state."""
    from types import SimpleNamespace

    from gankit.config import DataConfig
    from gankit.metrics import EvalContext

    data = SimpleNamespace(kind="images", shape=(channels, 28, 28))
    variant = SimpleNamespace(decode=None, latents=None, directions={})  # outputs in field x
    state = SimpleNamespace(cfg=SimpleNamespace(data=DataConfig(name=name, split=split)), data=data, device="cpu", variant=variant)
    return EvalContext(state, 0, False)


def _rows_list(images: torch.Tensor) -> list[bytes]:
    """Images in [0, 1] (any shape N x ...) as their exact byte contents."""
    return [bytes(row) for row in (images.reshape(len(images), -1) * 255).round().to(torch.uint8).numpy()]


def _rows(images: torch.Tensor) -> set[bytes]:
    return set(_rows_list(images))


@pytest.mark.parametrize(("name", "split", "held_out"), [("mnist5k", "train", "test"), ("digits", "train", "test"), ("mnist5k", "test", "train")])
def test_parzen_sigma_is_chosen_on_held_out_images_disjoint_from_training_and_scored_ones(name, split, held_out):
    """Goodfellow et al. (2014) chose σ on validation data: here 10 images per class of the split the generator did
    not see, scored on the rest of it; no σ-choosing image is in the training split or in the scored set."""
    from dataclasses import replace

    from gankit.data import build_dataset
    from gankit.metrics import _parzen_splits

    ctx = _image_context(name, split)
    validation, scored, note = _parzen_splits(ctx)
    trained = build_dataset(replace(ctx.state.cfg.data, split=split))
    other = build_dataset(replace(ctx.state.cfg.data, split=held_out))
    assert len(_rows(trained.images / 255)) == len(trained)  # no duplicate images: content identifies an image
    val_rows, scored_rows, trained_rows = _rows(validation), _rows(scored), _rows(trained.images / 255)
    assert len(val_rows) == len(validation) == 100 and len(scored_rows) == len(scored) == len(other) - 100
    assert not val_rows & trained_rows
    assert not val_rows & scored_rows
    assert not scored_rows & trained_rows
    assert val_rows | scored_rows == _rows(other.images / 255)
    label_of = dict(zip(_rows_list(other.images / 255), other.labels.tolist(), strict=True))
    assert sorted(label_of[r] for r in _rows_list(validation)) == sorted(list(range(10)) * 10)  # stratified: 10 per class
    assert f"{held_out} split" in note and "disjoint" in note
    again = _parzen_splits(_image_context(name, split))
    assert torch.equal(again[0], validation) and torch.equal(again[1], scored)  # a fixed seed


def test_parzen_refuses_a_run_trained_on_every_image():
    from gankit.metrics import _parzen_splits

    with pytest.raises(GankitError, match=r"trained on all of them; train with data\.split=train"):
        _parzen_splits(_image_context("mnist5k", "all"))


def test_parzen_on_a_digit_run_reports_the_held_out_protocol(digits_run):
    value = evaluate(digits_run, ["parzen"], n=200)["parzen"]
    assert value["value"]["n_validation"] == 100 and value["value"]["n_test"] == 79  # digits' test split: 179 images
    assert "test split" in value["protocol"]["splits"] and "not comparable" in value["protocol"]["splits"]


def test_is_on_stacked_digits_scores_triples_with_1000_classes():
    """Three real MNIST-5k test digits as channels: p(y|x) over 1,000 triples is the product of the judge's
    per-channel probabilities, so IS exceeds 10 (impossible for single digits) and equals the formula."""
    from gankit.config import DataConfig
    from gankit.data import build_dataset
    from gankit.metrics import _is, _is_protocol

    digits = build_dataset(DataConfig(name="mnist5k", split="test"))
    n = 2000
    pick = torch.randint(len(digits), (n, 3), generator=torch.Generator().manual_seed(7))
    triples = digits.images[pick].squeeze(2).float() / 255  # (n, 3, 28, 28)
    labels = digits.labels[pick]
    assert len(set((labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]).tolist())) > 800  # many of the 1,000 triples
    ctx = _image_context("stacked-mnist", channels=3)
    ctx._samples[n] = triples
    ctx._judge_misfit["x"] = None  # the judge reads Stacked MNIST's channels (its real data is checked in test_the_judge_fits...)
    value = _is(ctx, n)

    per_channel = [judge_outputs(triples[:, c : c + 1])[0].numpy() for c in range(3)]
    joint = np.einsum("na,nb,nc->nabc", *per_channel).reshape(n, 1000)[np.random.RandomState(2020).permutation(n)]
    scores = []
    for k in range(10):
        p = joint[k * n // 10 : (k + 1) * n // 10]
        marginal = p.mean(axis=0)
        kl = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - np.log(marginal)), 0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    assert value["inception_score"] > 10
    assert value["inception_score"] == pytest.approx(np.mean(scores), rel=1e-6)
    assert value["inception_score_std"] == pytest.approx(np.std(scores), rel=1e-6)
    assert "1,000 classes: product of the judge's per-channel probabilities" in _is_protocol(ctx, n)["classes"]


def test_eval_json_keeps_one_result_per_protocol_and_shows_the_newest(ring_run, tmp_path):
    from gankit.metrics import latest_results, merge_results, protocol_key, read_eval

    evaluate(ring_run, ["modes"], n=2500)
    evaluate(ring_run, ["modes"], n=100)  # a different protocol: kept beside the first, and now the one shown
    saved = read_eval(ring_run / "eval.json")
    modes = [h["protocol"]["n"] for h in saved["history"] if h["protocol"]["metric"] == "modes"]  # earlier tests' too
    assert modes.count(100) == modes.count(2500) == 1 and modes[-2:] == [2500, 100]
    assert saved["modes"]["protocol"]["n"] == 100
    evaluate(ring_run, ["modes"], n=2500)  # the same protocol again: replaces its old result, moves to the end
    saved = read_eval(ring_run / "eval.json")
    modes = [h["protocol"]["n"] for h in saved["history"] if h["protocol"]["metric"] == "modes"]
    assert modes.count(2500) == 1 and modes[-2:] == [100, 2500] and saved["modes"]["protocol"]["n"] == 2500
    assert len({protocol_key(h) for h in saved["history"]}) == len(saved["history"])
    # a file from before the history: its entries become the history
    old = tmp_path / "eval.json"
    old.write_text(json.dumps({"fid": saved["modes"] | {"protocol": {**saved["modes"]["protocol"], "metric": "fid"}}}))
    migrated = read_eval(old)
    assert [h["protocol"]["metric"] for h in migrated["history"]] == ["fid"] and set(latest_results(migrated)) == {"fid"}
    assert set(merge_results(migrated, {"modes": saved["modes"]})) == {"fid", "modes", "history"}


def test_fid_warns_when_samples_are_fewer_than_feature_dimensions(mnist_run, caplog):
    with caplog.at_level("WARNING"):
        evaluate(mnist_run, ["fid"], n=100)  # 100 samples of 128-d judge features
    assert "fewer samples than dimensions" in caplog.text and "--n 128" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluate(mnist_run, ["fid"], n=200)
    assert "fewer samples" not in caplog.text


def test_an_inpainting_run_is_scored_on_its_hole_against_the_blanked_input(tmp_path):
    torch.set_num_threads(1)
    run = train(load_config("inpaint-l2-mnist", [*TINY, "model.g.width=8", "train.batch_size=16"]), tmp_path)
    value = evaluate(run, ["translation"], n=40)["translation"]["value"]
    assert value["direction"] == "inpaint" and value["region"] == {"top": 8, "left": 8, "height": 12, "width": 12}
    assert {"region_psnr", "region_ssim", "input_region_psnr", "judge_accuracy", "input_judge_accuracy"} <= set(value)
    assert "cycle_psnr" not in value  # inpainting its own output is no round trip
    assert value["psnr"] > value["region_psnr"]  # the copied pixels lift the whole image's PSNR
    assert np.isfinite(value["input_psnr"]), "the baseline is the blanked input, not the target itself"
    saved = json.loads((run / "eval.json").read_text())
    assert "central hole" in saved["translation"]["protocol"]["region"]
