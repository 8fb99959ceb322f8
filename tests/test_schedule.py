"""The run order of a sweep's rounds (green_ai.schedule) and how the sweep's summary folds a
job per round back into a line per cell."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from green_ai.schedule import job_overrides, round_order, waves
from green_ai.sweep import (
    SUMMARY_FILE,
    SWEEP_FILE,
    JobInfo,
    JobSummary,
    SweepSummary,
    write_job_summary,
)


def cells_of(order: str, rounds: list[int], seed: int = 0) -> list[int]:
    return [launch.cell for launch in round_order(rounds, order, seed)]


def test_sequential_runs_each_cells_rounds_in_turn() -> None:
    assert cells_of("sequential", [2, 3]) == [0, 0, 1, 1, 1]


def test_interleaved_is_round_robin_and_cells_with_fewer_rounds_drop_out() -> None:
    assert cells_of("interleaved", [2, 3, 1]) == [0, 1, 2, 0, 1, 1]


def test_randomized_is_seeded_and_holds_every_round_once() -> None:
    rounds = [4, 4, 4, 4]
    a, b = cells_of("randomized", rounds, 1), cells_of("randomized", rounds, 1)
    assert a == b  # the same seed: the same order (a rerun resumes in it)
    assert a != cells_of("randomized", rounds, 2)
    assert Counter(a) == {0: 4, 1: 4, 2: 4, 3: 4}
    # No cell's rounds all come before another's.
    last = {c: max(i for i, x in enumerate(a) if x == c) for c in range(4)}
    first = {c: min(i for i, x in enumerate(a) if x == c) for c in range(4)}
    assert all(first[c] < last[d] for c in range(4) for d in range(4))


def test_each_launch_counts_its_cells_rounds_and_its_position() -> None:
    launches = round_order([2, 2], "randomized", 4)
    assert [x.position for x in launches] == [0, 1, 2, 3]
    for cell in (0, 1):
        assert [x.rounds for x in launches if x.cell == cell] == [1, 2]
    assert job_overrides(["conv=4"], launches[0])[-2:] == [
        f"design.sweep_rounds={launches[0].rounds}",
        "design.sweep_position=0",
    ]


@pytest.mark.parametrize("max_size", [None, 2])
def test_a_wave_never_holds_a_cell_twice(max_size: int | None) -> None:
    launches = round_order([3, 3, 3], "randomized", 0)
    planned = waves(launches, max_size)
    assert [x for w in planned for x in w] == launches  # the order is kept
    for wave in planned:
        assert len({x.cell for x in wave}) == len(wave)
        assert max_size is None or len(wave) <= max_size
    interleaved = waves(round_order([3, 3, 3], "interleaved", 0))
    assert [[x.cell for x in w] for w in interleaved] == [[0, 1, 2]] * 3


def test_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError, match="foo"):
        round_order([1], "foo", 0)


def test_the_summary_shows_one_line_per_cell_of_an_ordered_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = [[2, 1], [1, 1], [1, 2], [2, 2]]
    (tmp_path / SWEEP_FILE).write_text(json.dumps({"jobs": 2, "schedule": schedule}))
    for job, (cell, rounds) in enumerate(schedule, start=1):
        summary = JobSummary(
            job=job,
            cell=f"conv{cell}",
            rounds=rounds,
            best_accuracy=0.5,
            energy_j=10.0 * rounds,
            duration_s=1.5,
            study_name=f"s{cell}",
            stop_reason="",
            experiment_id="1",
            mlflow_run_id=f"r{cell}",
        )
        write_job_summary(JobInfo(number=job, total=4, output_dir=tmp_path / str(job)), summary)
    SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    lines = (tmp_path / SUMMARY_FILE).read_text().splitlines()[1:]
    rows = [line.split(",")[:7] for line in lines]
    # Each cell's latest job: both rounds, their joules, the time of both jobs.
    assert rows == [
        ["1", "conv1", "2", "0.5", "20.0", "0.4", "3.0"],
        ["2", "conv2", "2", "0.5", "20.0", "0.4", "3.0"],
    ]
    assert "no result" not in capsys.readouterr().out
