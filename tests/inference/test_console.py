"""What the app prints: aligned run lines, the recommendation table and its command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from green_ai.inference import (
    GreedyBatching,
    Profile,
    TimeoutBatching,
    candidates,
    recommend,
    settings_from,
    simulate,
)
from green_ai.inference.console import command_line, recommend_table, run_line

Compose = Callable[..., DictConfig]

# 1 J per batch whatever its size, 10 ms, no idle power; a request every 0.1 s.
FLAT = Profile([1, 8], service_s=[0.01, 0.01], energy_j=[1.0, 1.0], idle_power_w=0.0)
STREAM = np.arange(40) / 10


def test_run_lines_of_a_sweep_align(infer_cfg: Compose) -> None:
    lines = []
    for overrides in (
        ["model=alexnet", "batching=fixed", "batch_size=8", "frequency=16"],
        ["model=shufflenet_v2_x1_0", "batching=greedy", "frequency=128", "arrivals=poisson"],
    ):
        s = settings_from(infer_cfg(*overrides))
        metrics, _ = simulate(FLAT, STREAM, s.policy)
        lines.append(run_line("predicted", s, metrics))
    assert "alexnet" in lines[0] and "fixed-8" in lines[0] and "16/s constant" in lines[0]
    assert "greedy-128" in lines[1] and "128/s poisson" in lines[1]
    # Every field starts at the same column on both lines.
    for field in ("J/image", " p50 ", " p99 ", " max ", " batch ", " lag max "):
        assert lines[0].index(field) == lines[1].index(field), field
    assert "\n" not in lines[0]


def test_the_recommendation_is_a_table_with_marks_and_the_command(infer_cfg: Compose) -> None:
    s = settings_from(
        infer_cfg(
            "model=alexnet", "frequency=10", "recommend.limit_s=0.35", "recommend.statistic=max"
        )
    )
    policies = candidates([1, 2, 4, 8], max_batch=128, max_delays_s=[0.25])
    best, ranked = recommend(FLAT, STREAM, policies, limit_s=0.35, statistic="max")
    text = recommend_table(s, ranked, best, Path("p.json"))
    lines = text.splitlines()
    header = lines[1]
    for column in ("policy", "energy per image", "p99", "max", "meets max <= 0.35 s"):
        assert column in header
    rows = {
        line.split()[0] if not line.startswith("→") else line.split()[1]: line
        for line in lines[2:-2]
    }
    assert "✗" in rows["fixed-8"]  # the least energy, but over the limit
    assert "✓" in rows["fixed-4"]
    assert lines[2 + [r.split()[0] for r in lines[2:-2]].index("→")].split()[1] == "fixed-4"
    assert "fixed-1 (= greedy-128, timeout-1-0.25s)" in text  # collapsed
    assert "±" in rows["fixed-4"]
    assert lines[-2] == "recommended: fixed-4"
    assert lines[-1] == (
        "apply it: python -m green_ai.infer model=alexnet image_size=224 frequency=10 "
        "batching=fixed batch_size=4"
    )
    none = recommend_table(s, ranked, None, Path("p.json"))
    assert none.splitlines()[-1] == "no batching meets max <= 0.35 s; raise recommend.limit_s"


def test_the_command_selects_each_policy_exactly(infer_cfg: Compose) -> None:
    s = settings_from(infer_cfg("model=vit_b_16", "frequency=64", "arrivals=poisson"))
    assert command_line(s, GreedyBatching(64)) == (
        "python -m green_ai.infer model=vit_b_16 image_size=224 frequency=64 arrivals=poisson "
        "batching=greedy batching.max_batch=64"
    )
    timeout = command_line(s, TimeoutBatching(32, 0.25))
    assert timeout.endswith("batching=timeout batch_size=32 batching.max_delay_s=0.25")
    # The overrides compose into the very policy they name.
    overrides = timeout.split()[3:]
    assert settings_from(infer_cfg(*overrides)).policy == TimeoutBatching(32, 0.25)
