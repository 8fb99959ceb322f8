#!/usr/bin/env bash
# One GPU check, run once and unattended on a machine with an NVIDIA GPU (under 10 minutes):
#
#   bash scripts/gpu_check.sh              # the summary goes to $OUT/gpu_check.md if OUT is set
#   bash scripts/gpu_check.sh --dry-run    # every part on the CPU at tiny sizes, fake NVML
#                                          # and nvidia-smi (also GPU_CHECK_CPU=1)
#
# Parts, each with its own time budget and progress lines (docs/energy-validation.md):
#   env        machine, driver, packages, which power sensors the GPU has
#   energy     NVML counter vs 100 ms and 10 ms polling vs nvidia-smi on one job; idle power
#   training   SimpleCNN images/s: framework loop vs bare loop vs tutorial DataLoader; GPU util
#   inference  the thesis's five models at 224 px, batch 1 and 32, CUDA-synchronised latency
#   design     SimpleCNN conv in {1,4} x relu in {0,1}, randomized run order, real NVML: eta2
#              with intervals per factor, the temperature drift, the GPU's busy %
#   tests      pytest -m needs_cuda
#   overhead   scripts/bench_energy_overhead.py --real (the cost of real NVML polls)
#
# The GPU machine's own python3 and torch are used as they are: the package runs from this
# folder (PYTHONPATH), nothing is installed into that python. Packages the check could use but
# the machine lacks (missing.py: omegaconf, hydra-core, pytest...) are installed into a private
# temporary folder from GPU_CHECK_WHEELS (default scripts/gpu_check/wheels, filled beforehand
# by scripts/gpu_check/fetch_wheels.sh where a package registry answers); without them the
# parts that need them say so and the rest runs. Without a GPU: one line, exit status 0.
#
# Environment: PYTHON (default python3), OUT, GPU_CHECK_CPU, GPU_CHECK_WHEELS,
# GPU_CHECK_TOTAL_S (default 570: the parts' budgets are cut to fit it), GPU_CHECK_COMMIT (the
# commit named in the summary where the copy has no .git).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
py=${PYTHON:-python3}
dry=${GPU_CHECK_CPU:-0}
for arg in "$@"; do
    case $arg in
        --dry-run) dry=1 ;;
        -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check: unknown argument $arg (use --dry-run or --help)" >&2; exit 2 ;;
    esac
done
[ "$dry" = 1 ] || dry=0
started=$SECONDS
# limit S CMD...: CMD ended after S seconds (coreutils timeout, where there is one).
if command -v timeout >/dev/null; then
    limit() { timeout -k 5 "$@"; }
else
    limit() { shift; "$@"; }
fi
total=${GPU_CHECK_TOTAL_S:-$([ "$dry" = 1 ] && echo 1100 || echo 570)}

# -- Is there a GPU? ----------------------------------------------------------------------------
if [ "$dry" = 0 ]; then
    probe=$(limit 120 "$py" -c \
        'import torch; print(int(torch.cuda.is_available()), torch.__version__)' 2>&1 | tail -n 1)
    case $probe in
        "1 "*) ;;
        "0 "*)
            echo "gpu_check: no CUDA GPU visible to $py (torch ${probe#0 }): nothing to check"
            exit 0 ;;
        *)
            echo "gpu_check: no GPU check here: $py cannot import torch ($probe)"
            exit 0 ;;
    esac
fi

# -- Where the summary goes ---------------------------------------------------------------------
if [ -n "${OUT:-}" ]; then
    dir=$OUT
else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
fi
parts=$dir/gpu_check
mkdir -p "$parts"
summary=$dir/gpu_check.md
echo "gpu_check: summary will be $summary"
private=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_site.XXXXXX")
trap 'rm -rf "$private"' EXIT

# -- Packages: this folder's green_ai, plus what is missing from a local wheel folder -----------
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
wheels=${GPU_CHECK_WHEELS:-scripts/gpu_check/wheels}
case $wheels in /*) ;; *) wheels=$root/$wheels ;; esac
missing=$("$py" scripts/gpu_check/missing.py | tr '\n' ' ' | sed 's/ *$//')
installed=""
if [ -n "$missing" ]; then
    echo "gpu_check: $py lacks $missing; installing what $wheels has into a private folder"
    installed=$(limit 90 bash scripts/gpu_check/install_missing.sh "$py" "$wheels" \
        "$private" | tail -n 1)
    export PYTHONPATH="$PYTHONPATH:$private"
    missing=$("$py" scripts/gpu_check/missing.py | tr '\n' ' ' | sed 's/ *$//')
fi
export GPU_CHECK_INSTALLED=$installed GPU_CHECK_MISSING=$missing

part_env=()
cpu_flag=()
if [ "$dry" = 1 ]; then
    # The fakes stand in for NVML and nvidia-smi; nothing they give is a measurement.
    part_env=(env "PYTHONPATH=$root/scripts/gpu_check/fake:$PYTHONPATH")
    export GPU_CHECK_NVIDIA_SMI="$py $root/scripts/gpu_check/fake/nvidia_smi.py"
    cpu_flag=(--cpu)
fi

# -- The parts ----------------------------------------------------------------------------------
timing=()
failed=0

# run_part NAME TITLE BUDGET_S PYTHON_PART CMD...: with PYTHON_PART=1, CMD is one of the python
# parts and gets `--out DIR --budget-s S` (it writes its own section); any other command gets a
# section made from the tail of its output. The budget is cut to what is left of the total.
run_part() {
    local name=$1 title=$2 budget=$3 python_part=$4
    shift 4
    local left=$((total - (SECONDS - started) - 10))
    ((budget > left)) && budget=$left
    if ((budget < 15)); then
        printf '## %s\n\nNot run: the check ran out of time (%s s in all).\n\n' "$title" \
            "$total" >"$parts/$name.md"
        timing+=("| $name | 0 | 0 | skipped: no time left |")
        echo "== $name: skipped, no time left"
        return
    fi
    echo "== $name (budget ${budget} s)"
    local cmd=("$@")
    [ "$python_part" = 1 ] && cmd+=(--out "$parts" --budget-s "$budget" "${cpu_flag[@]}")
    local t0=$SECONDS
    limit "$budget" "${cmd[@]}" 2>&1 | tee "$parts/$name.log"
    local rc=${PIPESTATUS[0]} status=ok
    local used=$((SECONDS - t0))
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status="stopped by its time limit"
    elif [ "$rc" != 0 ]; then
        status="failed (exit status $rc)"
        failed=1
    fi
    if [ "$python_part" = 1 ] && [ -f "$parts/$name.md" ]; then
        if [ "$status" != ok ]; then
            # shellcheck disable=SC2016 # the backticks are markdown
            printf '**%s after %s s**; last lines of its output:\n\n```\n%s\n```\n\n' \
                "$status" "$used" "$(tail -n 15 "$parts/$name.log")" >>"$parts/$name.md"
        fi
    else
        {
            # shellcheck disable=SC2016 # the backticks are markdown
            printf '## %s\n\n`%s`: %s after %s s.\n\n```\n' "$title" "$*" "$status" "$used"
            tail -n 25 "$parts/$name.log"
            printf '```\n\n'
        } >"$parts/$name.md"
    fi
    timing+=("| $name | $budget | $used | $status |")
}

# note_part NAME TITLE TEXT: a part that cannot run here, said in its section.
note_part() {
    printf '## %s\n\nNot run: %s\n\n' "$2" "$3" >"$parts/$1.md"
    timing+=("| $1 | 0 | 0 | not run: $3 |")
    echo "== $1: not run: $3"
}

gpu_budget() { [ "$dry" = 1 ] && echo "$2" || echo "$1"; }  # GPU budget, dry-run budget

run_part env "Machine" "$(gpu_budget 30 90)" 1 "${part_env[@]}" "$py" scripts/gpu_check/env.py
run_part energy "Energy: NVML counter, polling, nvidia-smi" "$(gpu_budget 100 120)" 1 \
    "${part_env[@]}" "$py" scripts/gpu_check/energy.py
run_part training "Training throughput: SimpleCNN" "$(gpu_budget 100 150)" 1 \
    "${part_env[@]}" "$py" scripts/gpu_check/training.py
run_part inference "Inference latency: the thesis's five models, CUDA-synchronised" \
    "$(gpu_budget 120 240)" 1 "${part_env[@]}" "$py" scripts/gpu_check/inference.py
# The design part trains through the package's app: hydra, optuna and mlflow must import.
if ! "$py" -c 'import hydra, omegaconf, optuna, mlflow' 2>/dev/null; then
    note_part design "Architecture design, randomized run order" \
        "the sweep needs hydra-core, omegaconf, optuna and mlflow; $py lacks one (see Machine)"
else
    run_part design "Architecture design, randomized run order (real NVML)" \
        "$(gpu_budget 120 240)" 1 "${part_env[@]}" "$py" scripts/gpu_check/design.py
fi

# needs_cuda tests: only the files that use the marker, so a package missing for other tests
# cannot stop their collection.
mapfile -t cuda_tests < <(grep -rl --include='*.py' 'mark.needs_cuda' tests 2>/dev/null |
    grep -v '^tests/scripts/' | sort)
if ! "$py" -c 'import pytest, hydra, omegaconf' 2>/dev/null; then
    note_part tests "needs_cuda tests" \
        "the tests need pytest, hydra-core and omegaconf; $py lacks one (see Machine)"
elif [ "${#cuda_tests[@]}" = 0 ]; then
    note_part tests "needs_cuda tests" "no test file uses the needs_cuda marker"
else
    run_part tests "needs_cuda tests" "$(gpu_budget 45 120)" 0 \
        "$py" -m pytest -m needs_cuda -q -p no:cacheprovider "${cuda_tests[@]}"
fi

if ! "$py" -c 'import omegaconf' 2>/dev/null; then
    note_part overhead "Energy meter overhead" \
        "scripts/bench_energy_overhead.py needs omegaconf, missing from $py"
elif [ "$dry" = 1 ]; then
    run_part overhead "Energy meter overhead (fake NVML)" 90 0 \
        "$py" scripts/bench_energy_overhead.py --repeats 3 --steps 2
else
    run_part overhead "Energy meter overhead, real NVML polls" 30 0 \
        "$py" scripts/bench_energy_overhead.py --real --repeats 21
fi

# -- The summary --------------------------------------------------------------------------------
{
    echo "# GPU check"
    echo
    if [ "$dry" = 1 ]; then
        echo "**DRY RUN on the CPU with a fake NVML and a fake nvidia-smi: no figure below" \
             "measures anything; it only shows that every part runs.**"
        echo
    fi
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit" \
         "${GPU_CHECK_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}," \
         "\`bash scripts/gpu_check.sh$([ "$dry" = 1 ] && echo ' --dry-run')\`," \
         "$((SECONDS - started)) s in all. Raw figures: \`gpu_check/*.json\`, logs" \
         "\`gpu_check/*.log\`, nvidia-smi samples \`gpu_check/nvidia_smi.csv\`."
    echo
    for name in env energy training inference design tests overhead; do
        [ -f "$parts/$name.md" ] && cat "$parts/$name.md"
    done
    echo "## Time per part"
    echo
    echo "| part | budget s | used s | status |"
    echo "| --- | ---: | ---: | --- |"
    printf '%s\n' "${timing[@]}"
} >"$summary"
cat "$summary"
echo "gpu_check: summary in $summary ($((SECONDS - started)) s)"
exit "$failed"
