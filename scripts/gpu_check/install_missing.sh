#!/usr/bin/env bash
# install_missing.sh PYTHON WHEELS TARGET: install what missing.py lists from the wheel folder
# WHEELS into the private folder TARGET, one distribution at a time (a wheel absent for this
# python costs only that distribution). No network (--no-index), no dependencies resolved
# (--no-deps: torch and the rest of the machine's stack are never touched). Prints the
# distributions installed, space-separated, as its last line.
set -uo pipefail
cd "$(dirname "$0")" || exit 1
py=$1 wheels=$2 target=$3
installed=()
if ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "gpu_check: $py has no pip: nothing installed" >&2
elif [ ! -d "$wheels" ]; then
    echo "gpu_check: no wheel folder $wheels (scripts/gpu_check/fetch_wheels.sh fills it):" \
         "nothing installed" >&2
else
    for dist in $("$py" missing.py); do
        if timeout 60 "$py" -m pip install --quiet --disable-pip-version-check --no-index \
            --no-deps --find-links "$wheels" --target "$target" "$dist" >/dev/null 2>&1; then
            installed+=("$dist")
        else
            echo "gpu_check: no wheel of $dist for $py in $wheels" >&2
        fi
    done
fi
echo "${installed[*]}"
