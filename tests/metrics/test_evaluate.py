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


def test_image_run_with_the_judge_extractor(digits_run):
    names = ["fid", "kid", "is", "pr", "dc", "parzen", "judge"]
    results = evaluate(digits_run, names, n=1000)
    protocol = results["fid"]["protocol"]
    assert protocol["extractor"].startswith("mnist") and "digits train" in protocol["real"]
    assert results["kid"]["protocol"]["subset_size"] == 1000
    assert "not comparable" in results["parzen"]["protocol"]["splits"]
    # 'is' follows torch-fidelity (shuffled splits); 'judge' keeps the drawn order: same samples, same marginal
    _, state, _ = load_run(digits_run)
    probs, _ = judge_outputs(torch.clamp((draw_samples(state, 1000, 0) + 1) / 2, 0, 1))
    assert results["judge"]["value"]["inception_score"] == pytest.approx(inception_score(probs)[0], rel=1e-9)
    order = torch.from_numpy(np.random.RandomState(2020).permutation(1000))
    assert results["is"]["value"]["inception_score"] == pytest.approx(inception_score(probs[order])[0], rel=1e-9)


def test_metrics_refuse_data_they_cannot_score(ring_run, digits_run):
    with pytest.raises(GankitError, match="point data"):
        evaluate(ring_run, ["is"])
    with pytest.raises(GankitError, match="point data"):
        evaluate(ring_run, ["fid"], extractor="mnist")
    with pytest.raises(GankitError, match="centres"):
        evaluate(digits_run, ["modes"])
    with pytest.raises(GankitError, match="samples"):
        evaluate(digits_run, ["kid"], n=500)  # fewer than one KID subset of 1,000


def test_every_metric_is_registered_with_a_description():
    assert set(METRICS) == {"fid", "kid", "is", "pr", "dc", "parzen", "modes", "judge"}
    assert all(m.description for m in METRICS.values())


def test_is_with_the_inception_classifier_uses_its_logits_without_bias(digits_run):
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
    _, state, _ = load_run(digits_run)
    ctx = EvalContext(state, 0, True, "inception")
    ctx._extractor = InceptionExtractor(Tiny(), "inception", progress=False)
    value = _is(ctx, 200)
    logits = ctx.features("fake", 200) @ ctx.extractor.module.fc.weight.detach().double().T
    assert value["inception_score"] == pytest.approx(inception_score_from_logits(logits, shuffle=True, seed=2020)[0], rel=1e-12)
    assert _is_classifier(ctx) == "inception"
    assert _is_classifier(EvalContext(state, 0, True)) == "judge"  # the default on digit data
