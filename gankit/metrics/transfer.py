"""Whether a translation carries labels across domains: a classifier trained on translated labelled source images
and tested on the real, labelled target domain (Shrivastava et al., 2017: a gaze estimator trained on refined
synthetic eyes, tested on real ones; Zhu et al., 2017 and Liu et al., 2017: domain adaptation), beside the same
recipe trained on the untranslated source images. The recipe is fixed so that only the training images differ.

The classifier: two 3 x 3 convolutions (32 and 64 channels, ReLU, 2 x 2 max-pooling each), a 128-unit hidden layer,
then the classes; Adam (1e-3, decaying linearly to 0), batches of 64 drawn with replacement, :data:`STEPS` steps,
seeded; no augmentation. Each accuracy is the mean over :data:`CLASSIFIERS` classifiers of consecutive seeds: one
classifier's accuracy on a domain it was not trained on moves by points with its seed (the raw synthetic digits'
baseline read 48.4% and 52.8% with seeds 0 and 1) and, at a constant rate, with the float rounding of the machine
(50.4% with seed 0 on another CPU), a spread as large as the gains measured; the decay lets the weights settle and the
mean narrows the seed's part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

STEPS, BATCH, LR, HIDDEN, CLASSIFIERS = 1500, 64, 1e-3, 128, 3
RECIPE = (f"a CNN (conv 3x3 32 - ReLU - maxpool 2, conv 3x3 64 - ReLU - maxpool 2, linear {HIDDEN} - ReLU, linear classes) trained by Adam "
          f"(lr {LR:g} decaying linearly to 0) for {STEPS} steps of {BATCH} images drawn with replacement, no augmentation, seeded; "
          f"images in [0, 1]; each accuracy the mean of {CLASSIFIERS} such classifiers (seeds s to s + {CLASSIFIERS - 1})")  # fmt: skip


class SmallCNN(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, classes) logits; H and W divisible by 4."""

    def __init__(self, shape: tuple[int, ...], classes: int) -> None:
        super().__init__()
        channels, height, width = shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(64 * (height // 4) * (width // 4), HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def train_classifier(images: Tensor, labels: Tensor, classes: int, seed: int = 0, steps: int | None = None) -> SmallCNN:
    """The fixed recipe (:data:`RECIPE`; ``steps`` default :data:`STEPS`) on ``images`` (N, C, H, W in [0, 1]) and int
    labels; a function of ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(tuple(images.shape[1:]), classes)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    images, labels = images.float(), labels.long()
    model.train()
    total = STEPS if steps is None else steps
    for i in range(total):
        for group in opt.param_groups:  # linear decay to 0: the weights settle where float rounding moves them least
            group["lr"] = LR * (1 - i / total)
        idx = torch.randint(len(images), (BATCH,), generator=g)
        loss = F.cross_entropy(model(images[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """The classes ``model`` gives ``images`` (in [0, 1])."""
    return torch.cat([model(images[i : i + batch_size].float()).argmax(dim=1) for i in range(0, len(images), batch_size)])


def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    return float((predict(model, images) == labels.long()).double().mean())


def transfer_scores(translated: Tensor, untranslated: Tensor, labels: Tensor, test_images: Tensor, test_labels: Tensor, classes: int,
                    seed: int = 0, steps: int | None = None, classifiers: int | None = None) -> dict[str, float]:  # fmt: skip
    """Test accuracy on the target domain of the recipe trained on ``translated`` source images and, as the baseline,
    on the ``untranslated`` ones (both with the source ``labels``), each the mean over ``classifiers`` (default
    :data:`CLASSIFIERS`) classifiers of seeds ``seed``, ``seed + 1``, ...; the gain in points of accuracy."""
    seeds = range(seed, seed + (CLASSIFIERS if classifiers is None else classifiers))

    def mean_accuracy(images: Tensor) -> float:
        return sum(accuracy(train_classifier(images, labels, classes, s, steps), test_images, test_labels) for s in seeds) / len(seeds)

    translated_acc, source_acc = mean_accuracy(translated), mean_accuracy(untranslated)
    return {"transfer_accuracy": translated_acc, "source_accuracy": source_acc, "gain": translated_acc - source_acc}
