#!/usr/bin/env bash
# Set up .venv, then run the format and lint checks, the type checks and the tests.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy green_ai
.venv/bin/python -m pytest "$@"
