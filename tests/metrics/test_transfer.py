"""The transfer metric: a fixed classifier recipe trained on translated labelled source images, tested on the target."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import evaluate
from gankit.metrics.transfer import accuracy, train_classifier, transfer_scores


def bars(n: int, seed: int, blur: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: a bright left half, class 1: a bright right half (with noise); ``blur`` fades the halves to the
    middle grey, a different 'domain' of the same classes."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = 0.1 * torch.rand(n, 1, 8, 8, generator=g)
    images[labels == 0, :, :, :4] += 0.8
    images[labels == 1, :, :, 4:] += 0.8
    if blur:
        images = 0.5 + 0.1 * (images - 0.5)
    return images.clamp(0, 1), labels


def test_the_recipe_is_a_function_of_its_seed_and_learns_a_separable_task():
    images, labels = bars(64, 0)
    a, b = train_classifier(images, labels, 2, seed=3, steps=30), train_classifier(images, labels, 2, seed=3, steps=30)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    c = train_classifier(images, labels, 2, seed=4, steps=30)
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values(), strict=True))
    test_images, test_labels = bars(40, 1)
    assert accuracy(a, test_images, test_labels) == 1.0


def test_transfer_scores_compare_translated_with_untranslated_training_images():
    target, target_labels = bars(40, 1)
    source, labels = bars(64, 2, blur=True)
    translated = torch.flip(source, dims=[3])  # a 'translation' that swaps the halves: every label now wrong
    scores = transfer_scores(bars(64, 2)[0], source, labels, target, target_labels, 2, steps=40)  # translated into the target's domain
    assert scores["transfer_accuracy"] == 1.0 and scores["gain"] == pytest.approx(scores["transfer_accuracy"] - scores["source_accuracy"])
    wrong = transfer_scores(translated, source, labels, target, target_labels, 2, steps=40)
    assert wrong["transfer_accuracy"] < 0.5


def test_each_accuracy_is_the_mean_over_classifiers_of_consecutive_seeds():
    target, target_labels = bars(40, 1)
    source, labels = bars(64, 2, blur=True)
    noisy = (source + 0.6 * torch.rand(source.shape, generator=torch.Generator().manual_seed(9))).clamp(0, 1)
    each = [accuracy(train_classifier(noisy, labels, 2, seed=s, steps=3), target, target_labels) for s in (5, 6, 7)]
    assert len(set(each)) > 1  # the seeds' classifiers differ here, so a mean over the wrong seeds would show
    scores = transfer_scores(noisy, source, labels, target, target_labels, 2, seed=5, steps=3, classifiers=3)
    assert scores["transfer_accuracy"] == pytest.approx(sum(each) / 3)
    assert transfer_scores(noisy, source, labels, target, target_labels, 2, seed=5, steps=3, classifiers=1)["transfer_accuracy"] == each[0]


def test_the_metric_on_a_refiner_run_and_its_bad_inputs(tmp_path, monkeypatch):
    from gankit.config import load_config
    from gankit.train.loop import train
    from tests.conftest import TINY

    monkeypatch.setattr("gankit.metrics.transfer.STEPS", 5)
    run = train(load_config("simgan-fonts2mnist", [*TINY, "model.r.width=4", "model.r.depth=1", "model.d.width=4", "train.steps=2",
                                                    "options.pretrain=1", "train.progress=none"]), tmp_path)  # fmt: skip
    entry = evaluate(run, ["transfer"], n=50)["transfer"]
    value = entry["value"]
    assert value["train_images"] == 50 and value["test_images"] == 500 and value["direction"] == "refine"
    assert 0 <= value["transfer_accuracy"] <= 1 and value["gain"] == pytest.approx(value["transfer_accuracy"] - value["source_accuracy"])
    assert "Adam" in entry["protocol"]["classifier"] and "untranslated" in entry["protocol"]["baseline"]
    assert "'y_a' labels" in entry["protocol"]["train"] and "'y_b' label" in entry["protocol"]["test"]
    from PIL import Image

    for side in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / "folder" / side).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (32, 32), color=40 * i).save(tmp_path / "folder" / side / f"{i}.png")
    unlabelled = train(load_config("simgan-fonts2mnist", [*TINY, "model.r.width=4", "model.r.depth=1", "model.d.width=4", "train.steps=1",
                                                          "data.name=unaligned", f"data.root={tmp_path / 'folder'}", "train.batch_size=4",
                                                          "train.progress=none"]), tmp_path / "unlabelled")  # fmt: skip
    with pytest.raises(GankitError, match="has no labels for 'a'"):
        evaluate(unlabelled, ["transfer"], n=4)
