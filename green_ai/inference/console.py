"""What the inference app prints: one aligned line per run, the profile, the recommendation.

Lines of a sweep share their column widths, so the runs of `python -m green_ai.infer -m ...`
read as a table. Nothing here computes a figure; it formats what it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from green_ai.columns import aligned
from green_ai.inference.batching import BatchingPolicy, policy_overrides
from green_ai.inference.metrics import RunMetrics
from green_ai.inference.profile import Profile
from green_ai.inference.recommend import STATISTICS, Candidate
from green_ai.inference.settings import Settings

__all__ = ["command_line", "profile_table", "recommend_table", "run_line"]


def run_line(kind: str, s: Settings, m: RunMetrics) -> str:
    """`kind` (`measured`, `predicted`) and the run's figures on one fixed-width line."""
    stream = f"{s.frequency:g}/s {s.arrivals}"
    return (
        f"{kind:9s} {s.model:20s} {s.policy.describe():20s} {stream:16s}"
        f" {_joules(m.energy_per_image_j):>12s}/image {_grams(m.co2_g):>10s}"
        f"  p50 {_seconds(m.response_p50_s)}  p99 {_seconds(m.response_p99_s)}"
        f"  max {_seconds(m.response_max_s)}"
        f"  batch {m.batch_size_mean:6.1f}  lag max {m.arrival_lag_max_s * 1e3:6.1f} ms"
    )


def profile_table(profile: Profile, path: Path) -> str:
    """The measured costs per batch size: back to back and after each pause."""
    pauses = profile.pauses_s or []
    rows = []
    for i, size in enumerate(profile.batch_sizes):
        row = {
            "batch": size,
            "back to back": _ms(profile.service_s[i]),
            "energy": _joules(None if profile.energy_j is None else profile.energy_j[i]),
        }
        for k, pause in enumerate(pauses):
            cold = profile.service_cold_s[k][i] if profile.service_cold_s else None
            energy = profile.energy_cold_j[k][i] if profile.energy_cold_j else None
            row[f"after {pause:g} s"] = _ms(cold)
            row[f"energy {pause:g} s"] = _joules(energy)
        rows.append(row)
    meta = profile.meta
    idle = "not measured" if profile.idle_power_w is None else f"{profile.idle_power_w:.3g} W"
    lags = sorted(profile.wake_lag_s or [])
    lag = f"p50 {_ms(lags[len(lags) // 2])}, max {_ms(lags[-1])}" if lags else "not measured"
    return "\n".join(
        [
            f"profile of {meta.get('model')} at {meta.get('image_size')} px on "
            f"{meta.get('device')} -> {path}",
            _table(rows, right=set(rows[0]) - {"batch"} if rows else set()),
            f"idle power: {idle}; wake-up lag of the server loop: {lag}; energy per wake-up: "
            f"{_joules(profile.wake_energy_j)}",
        ]
    )


def recommend_table(
    s: Settings, ranked: Sequence[Candidate], best: Candidate | None, profile_path: Path
) -> str:
    """Every distinct prediction, least energy first, with the error to expect of each figure
    and whether it meets the limit; then the choice and the command that applies it."""
    r = s.recommend
    key = STATISTICS[r.statistic]
    limit = f"{r.statistic} <= {r.limit_s:g} s"
    rows = []
    for c in ranked:
        m = c.metrics
        label = c.label + (
            f" (= {', '.join(p.describe() for p in c.same_as)})" if c.same_as else ""
        )
        rows.append(
            {
                " ": "→" if c is best else "",
                "policy": label,
                "energy per image": _with_error(
                    _joules(m.energy_per_image_j), c.expected_error("energy_per_image_j")
                ),
                "p99": _with_error(_seconds(m.response_p99_s), c.expected_error("response_p99_s")),
                "max": _with_error(_seconds(m.response_max_s), c.expected_error("response_max_s")),
                f"meets {limit}": "✓" if getattr(m, key) <= r.limit_s else "✗",
            }
        )
    table = _table(rows, right={"energy per image", "p99", "max"})
    lines = [
        f"{s.model} at {s.frequency:g} requests/s ({s.arrivals}), {limit}, predicted from "
        f"{profile_path}; ± the error that 3 in 4 such predictions stayed within when "
        "measured (docs/bench-inference.md):",
        table,
    ]
    if best is None:
        lines.append(f"no batching meets {limit}; raise recommend.limit_s")
        return "\n".join(lines)
    lines.append(f"recommended: {best.label}")
    error = best.expected_error(key)
    if error is not None and getattr(best.metrics, key) * (1 + error) > r.limit_s:
        lines.append(f"  (its {r.statistic} is within the expected error of the limit)")
    lines.append(f"apply it: {command_line(s, best.policy)}")
    return "\n".join(lines)


def command_line(s: Settings, policy: BatchingPolicy) -> str:
    """The command that runs `policy` on the stream `s` describes."""
    parts = ["python -m green_ai.infer", f"model={s.model}"]
    if s.weights is not None:
        parts.append(f"model.weights={s.weights}")
    parts += [f"image_size={s.image_size}", f"frequency={s.frequency:g}"]
    if s.arrivals != "constant":
        parts.append(f"arrivals={s.arrivals}")
    return " ".join(parts + policy_overrides(policy))


def _table(rows: Sequence[Mapping[str, object]], *, right: set[str]) -> str:
    """Rows under their headers, columns padded to their widest cell; the `right` columns
    (figures) aligned right, the others left."""
    if not rows:
        return ""
    columns = list(rows[0])
    return aligned(columns, [[str(row[c]) for c in columns] for row in rows], right=right)


def _with_error(text: str, error: float | None) -> str:
    return text if error is None else f"{text} ±{error:.0%}"


def _seconds(value: float) -> str:
    return f"{value:7.3f} s"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1e3:.2f} ms"


def _joules(value: float | None) -> str:
    return "energy n/a" if value is None else f"{value:.4g} J"


def _grams(value: float | None) -> str:
    return "" if value is None else f"{value:.3g} gCO2"
