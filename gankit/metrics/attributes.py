"""An attribute (domain) classifier for multi-domain translation (Choi et al., 2018 score their outputs
with a classifier trained on the real images' attributes): a small CNN fitted with a fixed recipe and seed on
domain-labelled real images, and the share of translated images it reads as their target domain.

Images are (N, C, H, W) in [0, 1], as everywhere in the metrics. The recipe (Adam 1e-3 decaying linearly to 0, batch
64, ATTRIBUTE_STEPS steps, seed 0, batches drawn from one seeded generator) makes the classifier a function of its
training set. The decay matters: at a constant rate the weights the recipe stops at moved with the float rounding of
the machine (the same recipe on the digit-domains read 97.6% of the real test digits' domains with one torch thread
and 94.4% with two, and a shear's outputs 95.2% vs 76.8% slanted); decaying over 2,000 steps both read 99.4%.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError

ATTRIBUTE_STEPS = 2000
ATTRIBUTE_BATCH = 64
ATTRIBUTE_LR = 1e-3
ATTRIBUTE_SEED = 0


class AttributeClassifier(nn.Module):
    """(B, C, H, W) in [0, 1] -> domain logits (B, K): three 3x3 conv + BN + ReLU blocks (16, 32, 64 channels), each
    halving the side by max-pooling, then global average pooling and a linear map."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = channels
        for out in (16, 32, 64):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            width = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x * 2 - 1).mean(dim=(2, 3)))


def train_attribute_classifier(
    images: Tensor, labels: Tensor, classes: int | None = None, *, steps: int = ATTRIBUTE_STEPS, seed: int = ATTRIBUTE_SEED
) -> AttributeClassifier:
    """A classifier of the attribute ``labels`` (int64, (N,)) of real ``images`` ((N, C, H, W) in [0, 1]), trained on
    the CPU by the fixed recipe (module docstring) for ``steps`` steps from ``seed``; returned in eval mode, frozen."""
    if images.dim() != 4 or len(images) != len(labels) or len(images) == 0:
        raise GankitError(f"an attribute classifier needs N images (N, C, H, W) and N labels, not {tuple(images.shape)} and {tuple(labels.shape)}")
    classes = classes or int(labels.max()) + 1
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AttributeClassifier(images.shape[1], classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=ATTRIBUTE_LR)
    images, labels = images.float().cpu(), labels.long().cpu()
    model.train()
    for step in range(steps):
        idx = torch.randint(len(images), (min(ATTRIBUTE_BATCH, len(images)),), generator=generator)
        loss = F.cross_entropy(model(images[idx]), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:  # linear decay to 0: the weights settle (float noise of other machines fades)
            group["lr"] = ATTRIBUTE_LR * (1 - step / steps)
        optimizer.step()
    return model.requires_grad_(False).eval()


@torch.no_grad()
def attribute_predictions(classifier: nn.Module, images: Tensor) -> Tensor:
    """The classifier's attribute (int64, (N,)) of each image ((N, C, H, W) in [0, 1]), in chunks."""
    classifier.eval()
    device = next(classifier.parameters()).device
    return torch.cat([classifier(part.float().to(device)).argmax(dim=1).cpu() for part in images.split(512)])


def attribute_accuracy(classifier: nn.Module, images: Tensor, targets: Tensor) -> float:
    """Share of ``images`` the classifier reads as their ``targets`` (the target domains of a translation)."""
    if len(images) != len(targets):
        raise GankitError(f"attribute accuracy needs one target per image: {len(images)} images, {len(targets)} targets")
    return float((attribute_predictions(classifier, images) == targets.cpu()).double().mean())


def domain_classifier(split: str = "train", steps: int = ATTRIBUTE_STEPS, seed: int = ATTRIBUTE_SEED) -> AttributeClassifier:
    """The attribute classifier of ``digit-domains``: trained on its ``split`` (default train: each real digit in
    its one domain, labelled with it)."""
    from gankit.data.domains import DOMAINS, domain_digits

    images, domains, _ = domain_digits(split)
    return train_attribute_classifier(images.float() / 255.0, domains, len(DOMAINS), steps=steps, seed=seed)
