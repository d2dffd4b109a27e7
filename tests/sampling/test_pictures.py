"""What runs write (gankit.sampling.pictures), end to end: an image run's grids, sample files, interpolations and
report (50 steps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import in_process, run_cli, set_args

IMAGE_TINY = [
    "train.steps=50",
    "train.batch_size=16",
    "train.log_every=10",
    "train.sample_every=25",
    "train.ckpt_every=25",
    "train.sample_n=30",
    "train.device=cpu",
    "train.progress=none",
    "model.g.width=8",
    "model.d.width=8",
]


def test_tiny_image_run_writes_grids_samples_interpolations_and_report(tmp_path, capsys):
    """Trained by a real `gankit train`; the later commands run in this process (no start-up per call)."""
    result = run_cli("train", "cgan-mnist", "--runs-dir", str(tmp_path), *set_args(IMAGE_TINY))
    assert result.returncode == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    grids = sorted((run / "samples").glob("step-*.png"))
    assert [p.name for p in grids] == ["step-000000.png", "step-000025.png", "step-000050.png"]
    with Image.open(grids[-1]) as img:
        assert img.size == (2 * (3 * 30 + 2), 2 * (10 * 30 + 2))  # one row per class, 3 per row, 28-px digits x2

    assert in_process(capsys, "sample", str(run), "--n", "20", "--out", str(tmp_path / "s.npz"))[0] == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f["samples"].shape == (20, 1, 28, 28) and f["samples"].dtype == np.float32
        assert f["samples"].min() >= 0 and f["samples"].max() <= 1
        assert f["labels"].tolist() == [i % 10 for i in range(20)]
    assert in_process(capsys, "sample", str(run), "--n", "5", "--label", "7", "--out", str(tmp_path / "sevens.npz"))[0] == 0
    with np.load(tmp_path / "sevens.npz") as f:
        assert f["labels"].tolist() == [7] * 5
    assert in_process(capsys, "sample", str(run), "--n", "3", "--out", str(tmp_path / "each"))[0] == 0
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == ["0.png", "1.png", "2.png"]

    assert in_process(capsys, "interpolate", str(run), "--out", str(tmp_path / "i.png"), "--steps", "6", "--rows", "3")[0] == 0
    with Image.open(tmp_path / "i.png") as img:
        assert img.size == (2 * (6 * 30 + 2), 2 * (3 * 30 + 2))  # 6 steps x 3 rows, 28-px digits x2 as in the sample grids
    assert in_process(capsys, "interpolate", str(run), "--out", str(tmp_path / "i.gif"), "--steps", "4")[0] == 0
    with Image.open(tmp_path / "i.gif") as gif:
        assert gif.n_frames == 16

    code, _, err = in_process(capsys, "report", str(run))
    assert code == 0, err
    report = (run / "report.md").read_text()
    for needle in ("report/losses.png", "report/samples.png", "report/interpolation.png", "gankit eval"):
        assert needle in report
    assert (run / "report" / "losses.png").stat().st_size > 1000
