#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv on a fresh machine.
# torch is installed first and pinned to the CPU build, so that no dependency pulls a
# multi-GB CUDA build; on a GPU cluster, install the CUDA torch of your site first and
# set BATSCREEN_TORCH_SPEC="" to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${BATSCREEN_TORCH_SPEC-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
if [ -n "$TORCH_SPEC" ]; then
    .venv/bin/python -m pip install --quiet "$TORCH_SPEC" 2>&1 | grep -v "is ignored" || true
fi
.venv/bin/python -m pip install --quiet -e ".[dev]" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import screen, torch, chgnet, mace; print('batscreen', screen.__version__, 'torch', torch.__version__)"
