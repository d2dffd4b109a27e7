"""Train the digit judge reproducibly on the MNIST-5k train split (4,500 digits) and ship its weights.

Run with ``make judge``. Writes gankit/metrics/weights/mnist_judge.pt and mnist_judge.json (sha256, held-out
accuracy on the 500 test digits, the recipe). CPU, deterministic seed, a couple of minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.data import build_dataset
from gankit.metrics.classifier import RECORD_NAME, DigitJudge, file_sha256, weights_path


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random affine jitter: rotation up to 10 degrees, scale 0.9-1.1, shifts up to 2 px."""
    b = x.shape[0]
    angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(b, generator=generator) * 2 - 1) * 0.1
    shift = (torch.rand(b, 2, generator=generator) * 2 - 1) * (2 / 14)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def accuracy(model: DigitJudge, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(images[i : i + 500]).argmax(1) for i in range(0, len(images), 500)])
    return float((pred == labels).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train = build_dataset(DataConfig(name="mnist5k", split="train"))
    test = build_dataset(DataConfig(name="mnist5k", split="test"))
    x_train, y_train = train.images.float() / 255, train.labels
    x_test, y_test = test.images.float() / 255, test.labels
    model = DigitJudge()
    steps_per_epoch = math.ceil(len(x_train) / 64)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=args.epochs * steps_per_epoch)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(perm), 64):
            idx = perm[i : i + 64]
            loss = F.cross_entropy(model(augment(x_train[idx], gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % 3 == 0:
            print(f"epoch {epoch + 1}: held-out accuracy {accuracy(model, x_test, y_test):.4f} ({time.time() - t0:.0f} s)", flush=True)
    acc = accuracy(model, x_test, y_test)
    path = weights_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    record = {
        "sha256": file_sha256(path),
        "test_accuracy": acc,
        "test_split": "mnist5k test (500 digits, 50 per class)",
        "train_split": "mnist5k train (4,500 digits)",
        "recipe": f"AdamW 2e-3 one-cycle, batch 64, {args.epochs} epochs, affine jitter, seed {args.seed}",
        "torch": torch.__version__,
    }
    path.with_name(RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n")
    print(f"held-out accuracy {acc:.4f}; wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
