"""Every scripts/bench_*.py runs with --smoke and prints its usual tables (their shape, not
their figures: those are measured by running the scripts for real, docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"

pytestmark = pytest.mark.slow  # each test starts a Python that imports torch


def run_smoke(script: str, tmp_path: Path, *args: str, timeout: float = 300) -> list[str]:
    """Run `scripts/<script> --smoke` in an empty working directory with its temporary files
    under tmp_path; return its output lines. The run must succeed, delete its own temporary
    stores, and write nothing into the working directory or the repository."""
    cwd, temp = tmp_path / "cwd", tmp_path / "temp"
    cwd.mkdir()
    temp.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(temp),
        # torch keeps a compile cache under TMPDIR on purpose; it is not the script's.
        "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "torch-cache"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("MLFLOW_TRACKING_URI", None)  # a store named outside would hide a missing one
    repo_before = set(ROOT.iterdir())
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / script), "--smoke", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    print(f"{script} --smoke: {seconds:.1f} s")  # shown by pytest -s or -rP
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert list(cwd.iterdir()) == [], "the script wrote into its working directory"
    assert list(temp.iterdir()) == [], "the script left temporary files behind"
    assert set(ROOT.iterdir()) <= repo_before | {ROOT / ".pytest_cache"}
    return result.stdout.splitlines()


def rows_after(lines: list[str], header: str) -> list[str]:
    """The lines after the first one matching `header` (a regex), up to a blank line; a
    Markdown table's |---| rule and a plain table's ---- rule are skipped."""
    start = next(i for i, line in enumerate(lines) if re.search(header, line))
    rows = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if not re.fullmatch(r"\|?[-|]+\|?", line.strip()):
            rows.append(line)
    return rows


NUMBER = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"


def test_energy_overhead(tmp_path: Path) -> None:
    lines = run_smoke("bench_energy_overhead.py", tmp_path)
    assert lines[0].startswith("4 pairs of 2 steps")
    for label in ("no meter", "metered"):
        assert any(re.match(rf"block time {label}: +median {NUMBER} s", x) for x in lines), label
    assert any(re.search(rf"^power samples taken: \d+ in {NUMBER} s", x) for x in lines)
    assert any(re.search(rf"^median ratio within pairs {NUMBER} -> slowdown", x) for x in lines)
    assert re.search(rf"^one poll costs {NUMBER} us", lines[-1])


def test_loop_versions_compares_this_loop_with_itself(tmp_path: Path) -> None:
    lines = run_smoke("bench_loop_versions.py", tmp_path)
    rounds = [line for line in lines if line.startswith("round ")]
    assert [r.split(":")[0] for r in rounds] == [
        f"round {r}{' (warm-up)' if r == 0 else ''} {way}"
        for r in range(2)
        for way in ("bare", "old", "new")
    ]
    summary = json.loads(next(line for line in lines if line.startswith("{")))
    assert set(summary["median_images_per_s"]) == {"bare", "old", "new"}
    assert re.fullmatch(
        rf"old / bare {NUMBER} +new / bare {NUMBER} +new / old {NUMBER}", lines[-1]
    )


def test_loop_versions_without_old_is_one_error_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "bench_loop_versions.py")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: --old is required") and result.stderr.count("\n") == 1


def test_pruning(tmp_path: Path) -> None:
    lines = run_smoke("bench_pruning.py", tmp_path)
    rows = rows_after(lines, r"^seed +pruner +pruned +joules")
    pruners = ["none", "median", "successive_halving", "hyperband"]
    assert [row.split()[:2] for row in rows[: len(pruners)]] == [["0", p] for p in pruners]
    assert all(len(row.split()) == 11 for row in rows[: len(pruners)])
    medians = rows_after(lines, r"^median over seeds")
    assert [m.split()[0] for m in medians] == pruners[1:]


def test_repetitions(tmp_path: Path) -> None:
    lines = run_smoke("bench_repetitions.py", tmp_path)
    assert lines[0].startswith("random search, 2 rounds × 1 epochs")
    rows = [line.split() for line in lines if re.match(r"^ +0 +(fixed|auto) ", line)]
    assert [row[1] for row in rows] == ["fixed", "auto"]
    assert rows[0][2] == "3.0" and 2.0 <= float(rows[1][2]) <= 3.0  # repetitions per round
    assert re.fullmatch(
        rf"median over seeds \(auto / fixed\): joules {NUMBER} \(-?{NUMBER} J saved\); "
        rf"joules per repetition {NUMBER}",
        lines[-1],
    )


def test_pareto_pruning(tmp_path: Path) -> None:
    lines = run_smoke("bench_pareto_pruning.py", tmp_path)
    rows = rows_after(lines, r"^seed +pruner +pruned +joules")
    assert [row.split()[:2] for row in rows[:2]] == [["0", "none"], ["0", "pareto"]]
    assert all(len(row.split()) == 12 for row in rows[:2])
    assert rows[0].split()[4] == "1.00" and rows[0].split()[7] == "1.000"  # none / none
    medians = rows_after(lines, r"^median over seeds")
    assert re.match(rf"joules {NUMBER}; hypervolume {NUMBER}; joules to 95%", medians[0].strip())
    assert re.fullmatch(r"goal \(.*\): met in [01]/1 seeds", lines[-1])


def test_samplers(tmp_path: Path) -> None:
    lines = run_smoke("bench_samplers.py", tmp_path)
    strategies = ["gp_pi", "gp", "tpe", "random", "grid"]
    gaps = rows_after(lines, r"^\| function \| budget \| " + r" \| ".join(strategies) + r" \|$")
    assert len(gaps) == 1 and gaps[0].startswith("| hartmann3 | 12 |")
    assert len(gaps[0].strip("|").split("|")) == 2 + len(strategies)
    wins = [line for line in lines if line.startswith("budget 12: gp_pi better than")]
    assert len(wins) == len(strategies) - 1
    timing = rows_after(lines, r"^\| space \| trials \| .* \| gp_pi / gp \|$")
    assert len(timing) == 1 and timing[0].startswith("| adam3 | 12 |")
    assert len(timing[0].strip("|").split("|")) == 3 + len(strategies)


def test_simulator(tmp_path: Path) -> None:
    lines = run_smoke("bench_simulator.py", tmp_path)
    speed = re.fullmatch(
        rf"simulator speed: 8192 greedy requests at 16/s in {NUMBER} s, (\d+)x faster than "
        rf"the {NUMBER} s stream",
        lines[0],
    )
    assert speed is not None and int(speed.group(1)) > 1
    policies = ["fixed-8", "fixed-32", "greedy", "timeout-32-0.25s"]
    errors = rows_after(lines, r"^ *freq policy +p50 +p99 +max +energy/image$")
    # 64 requests/s and `near`, a rate measured from the profile; four policies at each.
    assert [row.split()[1] for row in errors[:8]] == policies * 2
    assert errors[0].split()[0] == "64" and re.fullmatch(r"\d+", errors[4].split()[0])
    assert all(row.count("[") == 4 for row in errors[:8])  # four metrics, noise floors each
    single = rows_after(lines, r"^one prediction against its own run")
    assert [row.split()[0] for row in single] == ["fixed", "greedy", "timeout"]
    each_round = rows_after(lines, r"^real / predicted, each round:$")
    assert len(each_round) == 8 and all("mean batch" in row for row in each_round)


def test_sweep(tmp_path: Path) -> None:
    lines = run_smoke("bench_sweep.py", tmp_path)
    runs = [line.split(":")[0] for line in lines if re.search(rf": {NUMBER} s$", line)]
    assert runs == ["sequential", "joblib n_jobs=2"]
    assert [line.split(":")[0].strip() for line in lines if "median" in line] == runs
    assert re.fullmatch(rf"speed-up sequential / parallel: {NUMBER}", lines[-1])


def test_training(tmp_path: Path) -> None:
    lines = run_smoke("bench_training.py", tmp_path)
    assert lines[0].startswith("SimpleCNN conv=1 linear=3, device cpu, 256 images × 1 epochs")
    rates = [line.split()[0] for line in lines if line.endswith(" images/s")]
    assert rates == ["framework", "framework+eval", "tutorial", "bare"]
    ratios = [line.split("=")[0].strip() for line in lines if "(goal" in line or "(eval" in line]
    assert ratios == ["framework / bare", "framework / tutorial", "framework+eval / bare"]


def test_warmup(tmp_path: Path) -> None:
    lines = run_smoke("bench_warmup.py", tmp_path, "--energy")
    assert lines[0].startswith("SimpleCNN conv=1 linear=3 relu=1, device cpu, 128 images")
    measured = [line.split(":")[0].split() for line in lines if "rep1/rep2 median" in line]
    assert measured == [
        ["cold", "seconds"],
        ["cold", "joules"],
        ["warm", "seconds"],
        ["warm", "joules"],
    ]
    assert re.fullmatch(rf"warm_up took {NUMBER} s \(median\)", lines[-2])
    assert lines[-1].startswith("meter: ")
