"""Helpers for the variant tests: a tiny state of a preset, and one step run through the loop's optimiser path."""

from __future__ import annotations

import torch

from gankit.config import load_config
from gankit.train.loop import build_state, make_trainable, optimise
from gankit.variants import StepContext
from tests.conftest import TINY


def tiny_state(preset: str, overrides: list[str] = ()):
    return build_state(load_config(preset, [*TINY, "train.batch_size=8", *overrides]))


def step_context(state, step, iteration: int = 1) -> StepContext:
    v, cfg = state.variant, state.cfg
    n = step.size(iteration, cfg.train.batch_size)
    batches = {name: state.streams[name].next(n) for name in step.streams}
    return StepContext(v.players, batches, n, state.noise, iteration, cfg.train.steps, state.device, v.state, {}, v.optimizers)


def weights(state) -> dict[str, dict[str, torch.Tensor]]:
    return {name: {k: p.detach().clone() for k, p in m.named_parameters()} for name, m in state.variant.players.items()}


def run_step(state, name: str) -> tuple[dict[str, torch.Tensor], set[str]]:
    """Run step ``name`` once as the loop does (its objective, one backward, its groups' optimisers); return its
    losses and the players whose weights it changed."""
    v = state.variant
    step = next(s for s in v.steps if s.name == name)
    before = weights(state)
    ctx = step_context(state, step)
    make_trainable(v, step)
    losses, _ = optimise(v, step, ctx)
    after = weights(state)
    changed = {p for p in before if any(not torch.equal(before[p][k], after[p][k]) for k in before[p])}
    return losses, changed
