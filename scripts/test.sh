#!/usr/bin/env bash
# Set up .venv (and Chromium for the dashboard test), then the format and lint checks, the
# type checks and the tests. Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# tests/scripts/test_check_dashboards.py reads MLflow's and optuna-dashboard's pages in a
# real headless Chromium: Debian's package, installed here when missing and apt can.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
    echo "test: installing Debian's chromium for the dashboard test"
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy green_ai
.venv/bin/python -m pytest "$@"
