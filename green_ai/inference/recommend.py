"""The tuning procedure of thesis §4.5.1, made automatic: among candidate batching policies, the
least predicted energy per image whose predicted p99 (or maximum) response time stays within a
limit.

Candidates whose predictions are identical (a timeout that never fires is fixed batching; a
greedy server that never finds two requests waiting serves batches of one) are collapsed into
one `Candidate` listing them all, the simplest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from green_ai.errors import UserError
from green_ai.inference.batching import (
    BatchingPolicy,
    FixedBatching,
    GreedyBatching,
    TimeoutBatching,
)
from green_ai.inference.metrics import RunMetrics
from green_ai.inference.profile import Profile
from green_ai.inference.simulator import simulate

__all__ = ["EXPECTED_ERROR", "STATISTICS", "Candidate", "candidates", "recommend"]

STATISTICS = {"p99": "response_p99_s", "max": "response_max_s"}

# The error to expect of one prediction, per policy and metric: three in four of the
# predictions that scripts/bench_simulator.py made on the shared development CPU (2 cores,
# load 6-8, ShuffleNetV2 at 64 px, 16 and 76 requests/s, one fresh profile per round) were
# within this relative error of the real run (docs/bench-inference.md, 2026-11-27). Another
# machine has its own; rerun the benchmark there.
EXPECTED_ERROR: dict[str, dict[str, float]] = {
    "fixed": {
        "response_p50_s": 0.09,
        "response_p99_s": 0.07,
        "response_max_s": 0.07,
        "energy_per_image_j": 0.29,
    },
    "greedy": {
        "response_p50_s": 0.22,
        "response_p99_s": 0.32,
        "response_max_s": 0.32,
        "energy_per_image_j": 0.18,
    },
    "timeout": {
        "response_p50_s": 0.05,
        "response_p99_s": 0.05,
        "response_max_s": 0.06,
        "energy_per_image_j": 0.09,
    },
}


@dataclass(frozen=True)
class Candidate:
    """A policy's prediction; `same_as`: other policies predicted identically."""

    policy: BatchingPolicy
    metrics: RunMetrics
    same_as: tuple[BatchingPolicy, ...] = ()

    @property
    def label(self) -> str:
        return self.policy.describe()

    @property
    def policies(self) -> tuple[BatchingPolicy, ...]:
        return (self.policy, *self.same_as)

    def expected_error(self, metric: str) -> float | None:
        """The relative error to expect of `metric` (largest of the collapsed policies)."""
        errors = [EXPECTED_ERROR.get(p.name, {}).get(metric) for p in self.policies]
        return None if None in errors else max(e or 0.0 for e in errors)


def candidates(
    batch_sizes: Sequence[int], *, max_batch: int, max_delays_s: Sequence[float]
) -> list[BatchingPolicy]:
    """Fixed batches of every size, greedy up to `max_batch`, timeout for every size × delay."""
    out: list[BatchingPolicy] = [FixedBatching(int(b)) for b in batch_sizes]
    out.append(GreedyBatching(int(max_batch)))
    out += [TimeoutBatching(int(b), float(d)) for d in max_delays_s for b in batch_sizes]
    return out


def recommend(
    profile: Profile,
    arrivals: np.ndarray,
    policies: Sequence[BatchingPolicy],
    *,
    limit_s: float,
    statistic: str = "p99",
    seed: int = 0,
    grid_intensity_g_per_kwh: float | None = None,
) -> tuple[Candidate | None, list[Candidate]]:
    """The least energy per image among `policies` whose predicted response time stays within
    `limit_s`, and every distinct prediction (least energy first).

    `statistic` is `p99` or `max`. Ties in energy go to the faster candidate. `None` when no
    candidate meets the limit. Without energy in the profile there is nothing to rank by:
    `UserError`.
    """
    if profile.energy_j is None or profile.idle_power_w is None:
        raise UserError(
            "recommend ranks by energy, but the profile has none (measured with energy=none?); "
            "profile again with energy=auto or energy=estimate"
        )
    key = STATISTICS.get(statistic)
    if key is None:
        raise UserError(f"recommend.statistic={statistic!r} must be p99 or max")
    predictions = [
        (
            p,
            simulate(
                profile,
                arrivals,
                p,
                seed=seed,
                grid_intensity_g_per_kwh=grid_intensity_g_per_kwh,
            )[0],
        )
        for p in policies
    ]
    results = _collapse(predictions)

    def order(c: Candidate) -> tuple[float, float]:
        assert c.metrics.energy_per_image_j is not None
        return (c.metrics.energy_per_image_j, getattr(c.metrics, key))

    results.sort(key=order)
    within = [c for c in results if getattr(c.metrics, key) <= limit_s]
    return (within[0] if within else None), results


def _collapse(predictions: list[tuple[BatchingPolicy, RunMetrics]]) -> list[Candidate]:
    """One candidate per distinct prediction, in the order policies were given."""
    groups: dict[RunMetrics, list[BatchingPolicy]] = {}
    for policy, metrics in predictions:
        groups.setdefault(metrics, []).append(policy)
    return [Candidate(ps[0], m, tuple(ps[1:])) for m, ps in groups.items()]
