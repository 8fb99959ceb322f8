#!/usr/bin/env bash
# Create .venv and install green_ai with its development tools. Safe to run again.
#
# torch and torchvision must be a matched pair: constraints.txt pins one that imports on a
# CPU-only machine. On a machine that already has its own torch (a GPU box), create the venv
# with `python3 -m venv --system-site-packages .venv` and run with GREEN_AI_KEEP_TORCH=1 to
# keep that torch/torchvision instead.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
constraints=(-c scripts/constraints.txt)
if [ "${GREEN_AI_KEEP_TORCH:-0}" = 1 ]; then
    constraints=()
fi
# pip warns about every missing folder of an extra local index; those lines are noise.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "${constraints[@]}" -e '.[dev]' \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
    echo "setup: torch and torchvision do not import together in .venv;" \
         "install a matched pair (see scripts/constraints.txt)" >&2
    exit 1
fi
