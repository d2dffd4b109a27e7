"""The output commands of the opened core through real subprocesses: sample --fix/--label, interpolate --vary,
translate and encode on tiny runs of InfoGAN, pix2pix and CycleGAN, and the bad input around them (a command the
run cannot serve, unknown players, options and latent parts, user layouts with a missing side ...): exit 2, one
line, nothing created or changed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY, in_process, run_cli, set_args, snapshot
from tests.test_cli import PNG_MAGIC

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SMALL = {
    "gan-ring": [],
    "infogan-mnist": ["model.g.width=8", "model.d.width=8", "model.q.width=16", "train.batch_size=16", "train.sample_n=20"],
    "pix2pix-edges2digits": ["model.g.width=4", "model.d.width=4", "train.batch_size=4", "train.sample_n=4"],
    "cyclegan-digits2mnist": ["model.g_ab.width=4", "model.g_ba.width=4", "model.d_a.width=4", "model.d_b.width=4", "train.batch_size=4", "train.sample_n=4"],
}


def cli(*args: str, cwd: Path | None = None):
    return run_cli(*args, cwd=cwd, env=ONE_THREAD)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for preset, extra in SMALL.items():
        result = cli("train", preset, "--runs-dir", str(root), *set_args([*TINY, "train.steps=6", "train.sample_every=6", "train.ckpt_every=6", *extra]))
        assert result.returncode == 0, result.stderr
        out[preset] = Path(result.stdout.strip().splitlines()[-1])
    return out


# ------------------------------------------------------------------------------------------ happy paths


def test_sample_fixes_a_code_and_interpolate_traverses_one(runs, tmp_path):
    run = runs["infogan-mnist"]
    out = tmp_path / "c1.npz"
    result = cli("sample", str(run), "--n", "6", "--fix", "c1=3", "--fix", "c2=0.5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    fixed = np.load(out)["samples"]
    assert fixed.shape == (6, 1, 28, 28)
    other = tmp_path / "c1-other.npz"
    assert cli("sample", str(run), "--n", "6", "--fix", "c1=4", "--fix", "c2=0.5", "--out", str(other)).returncode == 0
    assert not np.array_equal(fixed, np.load(other)["samples"])  # the code changes the images; the noise is the same draw
    grid = tmp_path / "c2.png"
    result = cli("interpolate", str(run), "--vary", "c2", "--rows", "3", "--steps", "5", "--out", str(grid))
    assert result.returncode == 0, result.stderr
    with Image.open(grid) as img:  # 3 rows x 5 traversal steps of 28 px with 2 px padding, both scaled by 2
        assert img.size == (5 * (56 + 4) + 4, 3 * (56 + 4) + 4)
    cat = tmp_path / "c1.png"
    assert cli("interpolate", str(run), "--vary", "c1", "--rows", "2", "--out", str(cat)).returncode == 0
    with Image.open(cat) as img:  # a categorical part: one column per value
        assert img.size[0] == 10 * (56 + 4) + 4


def test_encode_writes_q_codes_with_labels(runs, tmp_path):
    out = tmp_path / "features.npz"
    result = cli("encode", str(runs["infogan-mnist"]), "--input", "test", "--n", "50", "--out", str(out))
    assert result.returncode == 0, result.stderr
    with np.load(out) as f:
        assert f["features"].shape == (50, 12) and f["labels"].shape == (50,)
        probs = f["features"][:, :10]
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # c1's softmax, then the two continuous means


def test_translate_writes_pictures_arrays_and_folders(runs, tmp_path):
    run = runs["pix2pix-edges2digits"]
    png = tmp_path / "rows.png"
    assert cli("translate", str(run), "--input", "test", "--out", str(png)).returncode == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    npz = tmp_path / "out.npz"
    result = cli("translate", str(run), "--input", "test", "--n", "7", "--out", str(npz))
    assert result.returncode == 0, result.stderr
    with np.load(npz) as f:
        assert f["images"].shape == f["inputs"].shape == f["targets"].shape == (7, 1, 32, 32)
        assert f["images"].min() >= 0.0 and f["images"].max() <= 1.0
    # a user's folder of inputs
    folder = tmp_path / "edges"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((np.random.default_rng(i).random((32, 32)) > 0.8).astype(np.uint8) * 255).save(folder / f"{i}.png")
    outdir = tmp_path / "translated"
    result = cli("translate", str(run), "--input", str(folder), "--out", str(outdir))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in outdir.iterdir()) == ["0.png", "1.png", "2.png"]


def test_cyclegan_translates_both_ways(runs, tmp_path):
    run = runs["cyclegan-digits2mnist"]
    for direction, shape in (("a2b", (5, 1, 32, 32)), ("b2a", (5, 1, 32, 32))):
        out = tmp_path / f"{direction}.npz"
        result = cli("translate", str(run), "--input", "test", "--direction", direction, "--n", "5", "--out", str(out))
        assert result.returncode == 0, result.stderr
        with np.load(out) as f:
            assert f["images"].shape == shape and "targets" not in f.files  # unpaired: no targets


# ------------------------------------------------------------------------------------------ bad input


@dataclass(frozen=True)
class Bad:
    id: str
    args: list[str]
    needle: str


def _layout(root: Path) -> Path:
    """A CycleGAN layout with trainA/ but no trainB/."""
    (root / "trainA").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "trainA" / "0.png")
    return root


def bad_cases(runs: dict[str, Path], tmp: Path) -> list[Bad]:
    ring, info, p2p = runs["gan-ring"], runs["infogan-mnist"], runs["pix2pix-edges2digits"]
    train = ["train", "--runs-dir", str(tmp / "runs")]
    tiny = set_args(TINY)
    return [
        Bad("translate-on-a-noise-model", ["translate", str(ring), "--out", str(tmp / "t.png")], "gankit sample"),
        Bad("sample-on-a-translation-model", ["sample", str(p2p), "--n", "4", "--out", str(tmp / "s.npz")], "gankit translate"),
        Bad("interpolate-on-a-translation-model", ["interpolate", str(p2p), "--out", str(tmp / "i.png")], "gankit translate"),
        Bad("encode-without-an-encoder", ["encode", str(ring), "--out", str(tmp / "f.npz")], "gankit sample"),
        Bad("unknown-player", [train[0], "gan-ring", *train[1:], *tiny, "--set", "model.q.width=3"], "model.q"),
        Bad("unknown-option", [train[0], "gan-ring", *train[1:], *tiny, "--set", "options.pakc=2"], "did you mean 'pack'"),
        Bad("option-of-another-variant", [train[0], "gan-ring", *train[1:], *tiny, "--set", "options.unroll_steps=3"], "variant 'unrolled'"),
        Bad("old-shared-key", [train[0], "unrolled-ring", *train[1:], *tiny, "--set", "train.unroll_steps=3"], "train.unroll_steps"),
        Bad("unknown-optimiser-group", [train[0], "infogan-mnist", *train[1:], *tiny, "--set", "optim.q.lr=0.1"], "optim.q"),
        Bad("missing-b-side", [*train[:1], "cyclegan-digits2mnist", *train[1:], *tiny, "--set", "data.name=unaligned",
                               "--set", f"data.root={_layout(tmp / 'l')}"], "trainB"),
        Bad("paired-variant-on-points", [train[0], "pix2pix-edges2digits", *train[1:], *tiny, "--set", "data.name=ring"], "pix2pix"),
        Bad("fix-unknown-part", ["sample", str(info), "--n", "4", "--fix", "c9=1", "--out", str(tmp / "s.npz")], "c9"),
        Bad("fix-categorical-out-of-range", ["sample", str(info), "--n", "4", "--fix", "c1=12", "--out", str(tmp / "s.npz")], "from 0 to 9"),
        Bad("fix-not-a-number", ["sample", str(info), "--n", "4", "--fix", "c2=left", "--out", str(tmp / "s.npz")], "c2"),
        Bad("vary-unknown-part", ["interpolate", str(info), "--vary", "c7", "--out", str(tmp / "i.png")], "c7"),
        Bad("label-on-infogan", ["sample", str(info), "--n", "4", "--label", "2", "--out", str(tmp / "s.npz")], "--fix"),
        Bad("translate-unknown-direction", ["translate", str(p2p), "--direction", "b2a", "--out", str(tmp / "t.png")], "a2b"),
        Bad("translate-input-missing", ["translate", str(p2p), "--input", str(tmp / "nowhere"), "--out", str(tmp / "t.png")], "nowhere"),
        Bad("translate-input-wrong-channels", ["translate", str(p2p), "--input", str(_colour_npz(tmp / "rgb.npz")), "--out", str(tmp / "t.npz")],
            "(1, 32, 32)"),
        Bad("empty-config-file", [train[0], str(_empty(tmp / "empty.yaml")), *train[1:]], "empty"),
        Bad("step-not-kept", ["sample", str(ring), "--step", "3", "--out", str(tmp / "s.npz")], "no checkpoint of step 3; kept: "),
        Bad("lsgan-target-under-another-game", [train[0], "gan-ring", *train[1:], *tiny, "--set", "loss.ls_a=0.5"], "would have no effect"),
        Bad("data-key-the-source-does-not-read", [train[0], "gan-ring", *train[1:], *tiny, "--set", "data.grid_size=7"], "does not apply to data.name=ring"),
    ]


def _colour_npz(path: Path) -> Path:
    np.savez(path, images=np.zeros((2, 32, 32, 3), np.uint8))
    return path


def _empty(path: Path) -> Path:
    path.write_text("")
    return path


def test_bad_input_is_one_clean_error_and_changes_nothing(runs, tmp_path, capsys, monkeypatch):
    """Each case runs in this process (the command line's own main(): no interpreter start-up per case); an
    exception that escapes main() is a traceback a user would see, and fails the case. tests/test_cli.py runs
    bad input through real subprocesses too."""
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    cases = bad_cases(runs, tmp_path)
    assert len(cases) >= 10 and len({c.id for c in cases}) == len(cases)
    watched = [tmp_path, *{r.parent for r in runs.values()}]
    failures = []
    for case in cases:
        before = [snapshot(p) for p in watched]
        try:
            code, out, err = in_process(capsys, *case.args)
        except Exception as exc:  # escaped main(): a traceback
            code, out, err = -1, "", f"Traceback: {type(exc).__name__}: {exc}\n"
        after = [snapshot(p) for p in watched]
        line = err.rstrip("\n")
        ok = (
            code == 2 and "Traceback" not in err and out == "" and err.count("\n") == 1
            and line.startswith("error: ") and case.needle in line and before == after
        )  # fmt: skip
        if not ok:
            failures.append(f"{case.id}: rc={code} changed={before != after}\n{err[-600:]}")
    assert not failures, "\n\n".join(failures)


def test_writing_commands_refuse_to_overwrite_and_overwrite_replaces_whole(runs, tmp_path, capsys):
    """One overwrite policy: an existing output file or a non-empty output folder is refused (exit 2, one line,
    unchanged) unless --overwrite, which replaces it whole: a folder then holds the new draw's files alone."""
    infogan, pix2pix, ring = runs["infogan-mnist"], runs["pix2pix-edges2digits"], runs["gan-ring"]
    png, npz, folder = tmp_path / "grid.png", tmp_path / "feat.npz", tmp_path / "draws"
    commands = {
        "sample": ["sample", str(infogan), "--n", "4", "--out", str(png)],
        "interpolate": ["interpolate", str(infogan), "--rows", "2", "--steps", "3", "--out", str(tmp_path / "path.gif")],
        "translate": ["translate", str(pix2pix), "--n", "3", "--out", str(tmp_path / "t.npz")],
        "encode": ["encode", str(infogan), "--n", "5", "--out", str(npz)],
        "stats": ["stats", "digits:test", "--extractor", "mnist", "--out", str(tmp_path / "stats.npz")],
        "report": ["report", str(ring)],
    }
    for name, args in commands.items():
        code, _, err = in_process(capsys, *args)
        assert code == 0, f"{name}: {err}"
        target = Path(ring / "report.md") if name == "report" else Path(args[args.index("--out") + 1])
        before = target.read_bytes()
        code, out, err = in_process(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 2 and out == "" and len(lines) == 1 and "--overwrite" in lines[0], f"{name}: {err}"
        assert target.read_bytes() == before, name
        code, _, err = in_process(capsys, *args, "--overwrite")
        assert code == 0, f"{name}: {err}"
    # a folder of per-sample PNGs: five draws do not join three earlier ones
    assert in_process(capsys, "sample", str(infogan), "--n", "3", "--out", str(folder))[0] == 0
    code, _, err = in_process(capsys, "sample", str(infogan), "--n", "5", "--out", str(folder))
    assert code == 2 and "already holds 3 file(s)" in err
    assert sorted(p.name for p in folder.iterdir()) == ["0.png", "1.png", "2.png"]
    assert in_process(capsys, "sample", str(infogan), "--n", "5", "--out", str(folder), "--overwrite")[0] == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"{i}.png" for i in range(5)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary files are left behind"
