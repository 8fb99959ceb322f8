"""The report's statistics, as plain functions on arrays (thesis §3.3.4, §3.5, §4.4).

Nothing here reads MLflow or draws: `tables.py` feeds these functions and `plots.py` draws
what they return, so each statistic can be checked on a few hand-computed numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from green_ai.stats import intervals

__all__ = [
    "KruskalResult",
    "best_so_far",
    "drift",
    "eta2_interval",
    "mean_interval",
    "dunn_pairs",
    "effect_magnitude",
    "energy_to_target",
    "eta_squared_h",
    "first_reached",
    "kruskal_wallis",
    "mean_increase",
    "median_split",
    "qq_points",
    "relative_change_pct",
    "shapiro_wilk",
    "two_means_split",
]

# Cohen's f of .10/.25/.40 (small/medium/large) as η² = f²/(1 + f²), rounded as in §3.3.4.
ETA2_THRESHOLDS = ((0.14, "large"), (0.06, "medium"), (0.01, "small"))


def _array(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64).ravel()


def shapiro_wilk(x: ArrayLike) -> tuple[float, float]:
    """Shapiro–Wilk W and p; NaN for fewer than 3 values or constant data (test undefined)."""
    a = _array(x)
    if a.size < 3 or np.ptp(a) == 0.0:
        return float("nan"), float("nan")
    res = stats.shapiro(a)
    return float(res.statistic), float(res.pvalue)


def eta_squared_h(h: float, n: int, k: int) -> float:
    """Effect size of Kruskal–Wallis: η² = (H − k + 1)/(n − k) (Tomczak & Tomczak 2014)."""
    if n <= k:
        return float("nan")
    return (h - k + 1) / (n - k)


def effect_magnitude(eta2: float) -> str:
    """Cohen's label for η²: .01/.06/.14 separate negligible/small/medium/large (§3.3.4)."""
    if np.isnan(eta2):
        return "n/a"
    for threshold, label in ETA2_THRESHOLDS:
        if eta2 >= threshold:
            return label
    return "negligible"


@dataclass(frozen=True)
class KruskalResult:
    statistic: float
    p: float
    eta2: float
    magnitude: str
    n: int
    k: int


def kruskal_wallis(groups: Sequence[ArrayLike]) -> KruskalResult:
    """Kruskal–Wallis H over groups (tie-corrected, as scipy), with η² and its magnitude."""
    arrays = [_array(g) for g in groups]
    arrays = [a[~np.isnan(a)] for a in arrays]
    arrays = [a for a in arrays if a.size]
    n = int(sum(a.size for a in arrays))
    k = len(arrays)
    if k < 2 or np.ptp(np.concatenate(arrays)) == 0.0:
        return KruskalResult(float("nan"), float("nan"), float("nan"), "n/a", n, k)
    res = stats.kruskal(*arrays)
    eta2 = eta_squared_h(float(res.statistic), n, k)
    return KruskalResult(
        float(res.statistic), float(res.pvalue), eta2, effect_magnitude(eta2), n, k
    )


def mean_interval(x: ArrayLike, confidence: float) -> tuple[float, float]:
    """The t-interval of the mean of `x`'s values (`green_ai.stats.intervals`, as a round's);
    NaN, NaN below two values: no interval exists for one observation."""
    a = _array(x)
    iv = intervals.mean_interval(a[~np.isnan(a)].tolist(), confidence)
    return (iv.low, iv.high) if iv is not None else (float("nan"), float("nan"))


def eta2_interval(
    groups: Sequence[ArrayLike], confidence: float, *, seed: int = 0, resamples: int = 999
) -> tuple[float, float]:
    """Percentile bootstrap interval of Kruskal–Wallis's η², each group's observations
    resampled with replacement (scipy.stats.bootstrap, seeded: the same data, the same
    interval). NaN where η² itself is undefined.

    A resample repeats observations, and the ties that makes are the resampling's, not the
    data's: H is corrected for the data's own ties in every resample, as in η² itself, so
    that the interval is not shifted away from the estimate (groups that do not overlap would
    otherwise get an interval above their η²)."""
    arrays = [a[~np.isnan(a)] for a in (_array(g) for g in groups)]
    arrays = [a for a in arrays if a.size]
    if len(arrays) < 2 or any(a.size < 2 for a in arrays):
        return float("nan"), float("nan")
    n, k = sum(a.size for a in arrays), len(arrays)
    ties = float(stats.tiecorrect(stats.rankdata(np.concatenate(arrays))))
    if ties == 0.0:  # every observation equal: η² is undefined
        return float("nan"), float("nan")
    bounds = np.cumsum([0, *(a.size for a in arrays)])

    def eta2(*samples: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
        pooled = np.concatenate([np.moveaxis(s, axis, -1) for s in samples], axis=-1)
        ranks = stats.rankdata(pooled, axis=-1)
        spread = sum(
            ranks[..., a:b].sum(axis=-1) ** 2 / (b - a)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        )
        h = (12.0 / (n * (n + 1)) * spread - 3.0 * (n + 1)) / ties
        return np.asarray((h - k + 1) / (n - k), dtype=np.float64)

    res = stats.bootstrap(
        tuple(arrays),
        eta2,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def drift(x: ArrayLike, y: ArrayLike) -> tuple[float, float, int]:
    """Spearman's rank correlation of `y` with `x` (a drift over time or temperature): rho, p
    and the number of pairs; NaN below three pairs or where either is constant."""
    a, b = _array(x), _array(y)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0.0 or np.ptp(b) == 0.0:
        return float("nan"), float("nan"), int(a.size)
    res = stats.spearmanr(a, b)
    return float(res.statistic), float(res.pvalue), int(a.size)


def dunn_pairs(values: ArrayLike, groups: Sequence[object], p_adjust: str) -> pd.DataFrame:
    """Dunn's pairwise test (scikit-posthocs) as one row per pair: a, b, p (adjusted).

    `p_adjust` names the correction of the pairs' family (statsmodels' names: holm, bonferroni,
    fdr_bh, ...).
    """
    import scikit_posthocs as sp

    frame = pd.DataFrame({"value": _array(values), "group": [str(g) for g in groups]})
    levels = sorted(frame["group"].unique(), key=_natural)
    if len(levels) < 2:
        return pd.DataFrame(columns=["a", "b", "p"])
    matrix = sp.posthoc_dunn(frame, val_col="value", group_col="group", p_adjust=p_adjust)
    rows = [
        {"a": a, "b": b, "p": float(matrix.loc[a, b])}
        for i, a in enumerate(levels)
        for b in levels[i + 1 :]
    ]
    return pd.DataFrame(rows, columns=["a", "b", "p"])


def mean_increase(values: ArrayLike, levels: Sequence[object]) -> pd.DataFrame:
    """Mean of each level against the lowest level, in percent (§3.5.2: conv 1 → 4: +95%)."""
    frame = pd.DataFrame({"value": _array(values), "level": list(levels)})
    means = frame.groupby("level", sort=True)["value"].mean()
    means = means.loc[sorted(means.index, key=_natural)]
    base_level, base = means.index[0], float(means.iloc[0])
    rows = [
        {
            "from_level": base_level,
            "to_level": level,
            "mean_from_j": base,
            "mean_to_j": float(mean),
            "increase_pct": (float(mean) / base - 1.0) * 100.0 if base else float("nan"),
        }
        for level, mean in means.iloc[1:].items()
    ]
    return pd.DataFrame(
        rows, columns=["from_level", "to_level", "mean_from_j", "mean_to_j", "increase_pct"]
    )


def two_means_split(x: ArrayLike) -> float:
    """Threshold of the exact 1-D k-means with k = 2: values above it form the high cluster.

    In one dimension the optimal 2-means clusters are contiguous in sorted order, so trying
    every split point finds the global minimum of the within-cluster sum of squares —
    deterministic, no random starts. The threshold is the midpoint of the gap at the split.
    """
    a = np.sort(_array(x)[~np.isnan(_array(x))])
    if a.size < 2 or a[0] == a[-1]:
        return float("nan")
    best_cost, best_i = np.inf, 1
    for i in range(1, a.size):
        lo, hi = a[:i], a[i:]
        cost = float(((lo - lo.mean()) ** 2).sum() + ((hi - hi.mean()) ** 2).sum())
        if cost < best_cost and a[i - 1] < a[i]:
            best_cost, best_i = cost, i
    return float((a[best_i - 1] + a[best_i]) / 2.0)


def median_split(x: ArrayLike) -> float:
    """Threshold at the median: values above it form the high cluster."""
    a = _array(x)
    a = a[~np.isnan(a)]
    return float(np.median(a)) if a.size else float("nan")


def best_so_far(values: ArrayLike, *, maximize: bool = True) -> NDArray[np.float64]:
    """Running maximum (minimum for a minimised metric) in round order; failed rounds (NaN)
    keep the best so far (Fig. 3.3)."""
    a = _array(values)
    worst = -np.inf if maximize else np.inf
    filled = np.where(np.isnan(a), worst, a)
    running = np.maximum if maximize else np.minimum
    out = running.accumulate(filled) if a.size else filled
    return np.where(out == worst, np.nan, out)


def first_reached(values: ArrayLike, target: float, *, maximize: bool = True) -> int | None:
    """Index of the first round at least as good as `target` (at least it when maximised, at
    most it when minimised), or None."""
    a = _array(values)
    if maximize:
        hits = np.flatnonzero(np.nan_to_num(a, nan=-np.inf) >= target)
    else:
        hits = np.flatnonzero(np.nan_to_num(a, nan=np.inf) <= target)
    return int(hits[0]) if hits.size else None


def best_value(values: ArrayLike, *, maximize: bool = True) -> float:
    """The best of the values (NaN when there is none)."""
    a = _array(values)
    if np.isnan(a).all():
        return float("nan")
    return float(np.nanmax(a) if maximize else np.nanmin(a))


def target_value(best: float, target_pct: float, *, maximize: bool = True) -> float:
    """The value `target_pct` % worse than `best`, relative to |best|: below it for a maximised
    metric (an accuracy), above it for a minimised one (a loss), whatever the sign of best."""
    worse = 1.0 - target_pct / 100.0
    # An accuracy's target stays best * (1 - pct/100), exactly as the thesis computes it.
    return best * (worse if maximize == (best >= 0) else 2.0 - worse)


def energy_to_target(
    values: ArrayLike, energy_j: ArrayLike, target_pct: float, *, maximize: bool = True
) -> tuple[int | None, float, float]:
    """First round within `target_pct` % (relative to |best|) of the final best, and the
    joules spent.

    Returns (round index, target value, cumulative energy up to and including that round).
    The energy counts every earlier round, failed ones too: they were paid for. NaN energy when
    any of those rounds has no measurement.
    """
    acc, energy = _array(values), _array(energy_j)
    if acc.size == 0 or np.all(np.isnan(acc)):
        return None, float("nan"), float("nan")
    target = target_value(best_value(acc, maximize=maximize), target_pct, maximize=maximize)
    idx = first_reached(acc, target, maximize=maximize)
    if idx is None:  # unreachable: the best itself meets any target worse than it
        return None, target, float("nan")
    spent = energy[: idx + 1]
    return idx, target, float(spent.sum()) if not np.isnan(spent).any() else float("nan")


def relative_change_pct(values: ArrayLike, baseline: float) -> NDArray[np.float64]:
    """Change against a baseline in percent (Fig. 4.4: each model against AlexNet)."""
    return (_array(values) / baseline - 1.0) * 100.0


def qq_points(x: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Normal Q–Q coordinates of standardised data: theoretical and ordered sample quantiles.

    Standardising each configuration lets several share the reference line y = x.
    """
    a = _array(x)
    a = a[~np.isnan(a)]
    if a.size < 2 or np.std(a, ddof=1) == 0.0:
        return np.array([]), np.array([])
    z = (a - a.mean()) / np.std(a, ddof=1)
    (theoretical, ordered), _ = stats.probplot(z, dist="norm")
    return np.asarray(theoretical, dtype=np.float64), np.asarray(ordered, dtype=np.float64)


def _natural(value: object) -> tuple[int, float, tuple[tuple[int, str], ...]]:
    """Sort numbers numerically, then strings, their digit runs as numbers: levels
    '3' < '7' < '10', configurations 'width=4 sgd' < 'width=16 adam'."""
    try:
        return (0, float(str(value)), ())
    except ValueError:
        chunks = re.split(r"(\d+)", str(value))
        return (1, 0.0, tuple((int(c), "") if c.isdecimal() else (-1, c) for c in chunks if c))
