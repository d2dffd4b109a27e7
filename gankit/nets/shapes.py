"""What a network factory reads from its input/output description: vectors (D,), images (C, H, W), critic logits (1,)."""

from __future__ import annotations

from gankit.errors import GankitError


def is_vector(shape: tuple[int, ...]) -> bool:
    return len(shape) == 1


def is_image(shape: tuple[int, ...]) -> bool:
    return len(shape) == 3


def is_logit(shape: tuple[int, ...]) -> bool:
    """(1,): one real score per sample (or per patch), i.e. a critic."""
    return tuple(shape) == (1,)


def unsupported(arch: str, inputs: tuple[int, ...], outputs: tuple[int, ...], builds: str) -> GankitError:
    """The error for shapes an architecture does not map between; ``builds`` lists what it does build."""
    return GankitError(f"architecture '{arch}' builds {builds}, not {tuple(inputs)} -> {tuple(outputs)}; choose another model.<player>.arch")
