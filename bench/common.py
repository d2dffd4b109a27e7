"""Shared by the benchmark scripts: a one-line description of the machine they ran on, and mean ± std cells."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from pathlib import Path

import torch

from gankit import __version__


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def measured_on() -> tuple[str, str]:
    """A stored row's provenance: today's date (UTC) and the CPU model, so that a page can say where each row ran."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"), cpu_model()


def machine() -> str:
    """Platform, CPU model, cores and torch threads, GPU if any, torch and gankit versions."""
    threads = torch.get_num_threads()
    gpu = f"; {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{platform.platform()}; {cpu_model()}; {os.cpu_count()} cores ({threads} torch thread{'s' * (threads > 1)}){gpu}; "
        f"torch {torch.__version__}; gankit {__version__}"
    )


def mean_std(values: list[float], digits: int) -> str:
    """A table cell: the mean ± the sample standard deviation (0 for a single value)."""
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def preset_content(preset: str) -> str:
    """A shipped preset's YAML without its comment and blank lines: what a benchmark's results depend on (an edited
    comment does not make them stale)."""
    text = (Path(__file__).resolve().parents[1] / "gankit" / "presets" / f"{preset}.yaml").read_text()
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")) + "\n"
