#!/usr/bin/env bash
# The format and lint checks, the type checks and the tests, after setting up .venv (and
# Chromium for the dashboard test). Extra arguments go to pytest.
#
#   bash scripts/test.sh            everything (what CI runs)
#   bash scripts/test.sh --fast     the same checks, but only the tests not marked `slow`: the
#                                   edit-test loop (tests/conftest.py says which are slow)
set -euo pipefail
cd "$(dirname "$0")/.."

fast=0
if [ "${1:-}" = --fast ]; then
    fast=1
    shift
fi
start=$SECONDS
report_time() {
    local status=$? took=$((SECONDS - start))
    local what="all tests"
    [ "$fast" = 1 ] && what="fast tier"
    echo "test: $what $([ "$status" = 0 ] && echo passed || echo FAILED)" \
        "in $((took / 60))m$((took % 60))s"
}
trap report_time EXIT

# Set-up takes ~20 s even when nothing changed; the fast tier skips it while pyproject.toml and
# the constraints are those .venv was last set up with.
stamp=.venv/.setup-inputs
inputs=$(cat pyproject.toml scripts/constraints.txt scripts/setup.sh | cksum)
if [ "$fast" = 0 ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
    bash scripts/setup.sh
    echo "$inputs" >"$stamp"
fi

if [ "$fast" = 0 ]; then
    # tests/scripts/test_check_dashboards.py reads MLflow's and optuna-dashboard's pages in a
    # real headless Chromium: Debian's package, installed here when missing and apt can.
    if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
        && [ "$(id -u)" = 0 ]; then
        echo "test: installing Debian's chromium for the dashboard test"
        apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
    fi
    # tests/cluster/ start a one-node SLURM cluster of their own (its config, munge key and
    # socket in a temporary directory): Debian's packages, installed here when missing.
    if { [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/munged ]; } \
        && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "test: installing Debian's slurm-wlm and munge for the cluster tests"
        apt-get update -qq >/dev/null && apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
fi
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy green_ai
if [ "$fast" = 1 ]; then
    .venv/bin/python -m pytest -m "not slow" "$@"
else
    .venv/bin/python -m pytest "$@"
fi
