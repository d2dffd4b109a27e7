"""Numeric precision of a training step (``train.precision``): ``fp32`` (the default), ``bf16`` (autocast to
bfloat16: fp32's range, no scaling needed) or ``fp16`` (autocast to float16 with a dynamic loss scaler per
optimiser group, whose scale and growth tracker are in the checkpoint, so that a resumed run scales as the
uninterrupted one). Autocast covers the variant's objective (forward passes and losses); the backward pass and the
optimisers' updates run on the fp32 weights, and the losses logged are fp32 batch means."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from gankit.errors import GankitError

if TYPE_CHECKING:
    from gankit.train.distributed import GradientReducer

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """Autocast and, for fp16, the loss scalers of a run's optimiser groups."""

    def __init__(self, name: str, device: torch.device, groups: Sequence[str]) -> None:
        self.name = name
        self.dtype = PRECISIONS[name]
        self.device_type = device.type
        self.scalers = {g: torch.amp.GradScaler(device.type) for g in groups} if name == "fp16" else {}

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield

    def backward_and_step(self, total: Tensor, groups: Sequence[str], optimizers: dict[str, Any], reducer: GradientReducer | None = None) -> None:
        """One backward pass of ``total`` (in a data-parallel run ``reducer`` all-reduces the gradients as they
        become ready and puts their means in place before the optimisers step), and a step of each group's
        optimiser. fp16: the loss is scaled by the first group's scaler (a step that updates several groups shares
        it; steps update one group in most variants), the steps are skipped when the gradients overflowed (on any
        rank: an overflow survives the average), and the scale is updated once."""
        scaler = self.scalers[groups[0]] if self.scalers else None
        with reducer.overlapping() if reducer is not None else contextlib.nullcontext():
            (scaler.scale(total) if scaler is not None else total).backward()
        if reducer is not None:
            reducer.finish()
        if scaler is None:
            for group in groups:
                optimizers[group].step()
            return
        for group in groups:
            scaler.step(optimizers[group])
        scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "scalers": {g: s.state_dict() for g, s in self.scalers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("scalers", {})
        if set(saved) != set(self.scalers):
            raise GankitError(f"loss scalers for {sorted(saved)}, but train.precision={self.name} builds {sorted(self.scalers)}")
        for group, scaler in self.scalers.items():
            scaler.load_state_dict(saved[group])
