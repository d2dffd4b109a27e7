"""One-file checkpoints, written atomically and loaded as plain data (``weights_only=True``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.files import atomic_write

REQUIRED_KEYS = ("gankit_version", "config", "step", "models", "ema", "optimizers", "schedulers", "rng", "state")


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` to ``path`` atomically (:func:`atomic_write`), first removing temporary files that a killed
    writer left behind."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    atomic_write(path, lambda f: torch.save(payload, f))


def _first_sentence(exc: Exception) -> str:
    """The first sentence of an error's message, whole (torch's run on for lines), or the error's type."""
    text = " ".join(str(exc).split())
    sentence = text.split(". ", 1)[0].rstrip(".")
    if len(sentence) > 160:
        sentence = sentence[:160].rsplit(" ", 1)[0] + " …"
    return sentence or type(exc).__name__


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a gankit checkpoint as plain data; any problem is a GankitError saying what to do."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(
            f"no checkpoint at {path}: the run has not reached its first checkpoint (train.ckpt_every) or the file was moved"
        )
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning: the error below says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt zip, truncated file, foreign pickle: all mean "not a usable checkpoint"
        raise GankitError(
            f"{path} is not a readable gankit checkpoint ({_first_sentence(exc)}); it may be truncated or corrupt — "
            "restore it from a copy or start a new run"
        ) from None
    if isinstance(payload, dict) and "variant_state" in payload and "state" not in payload:
        raise GankitError(
            f"{path} was written by gankit's version-1 core (players g/d only, config keys since moved to options.* and sampler.*); "
            "this gankit cannot continue it: train the run again"
        )
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(payload, dict) or k not in payload]
        raise GankitError(f"{path} is not a gankit checkpoint (missing: {', '.join(missing)}); point to a run made by `gankit train`")
    return payload
