"""Factorials (thesis §3.4.2, §3.5.2; which studies form one: `factors.py`): their
observations, and the tables of Figures 3.7, 3.8 and Tables 3.4, 3.5, for the thesis's layer
factors or whatever factors a sweep varied.

The thesis's unit of analysis is one training iteration (a repetition) with the idle energy
factored out (§3.3.3): Table 3.4's H is computed over every training of a dataset. Each table
here is computed per factorial, and a factorial never spans two datasets, so every table has
a `dataset` column next to the factorial's `group` label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from green_ai.analysis import stats
from green_ai.analysis.factors import FACTORS as FACTORS
from green_ai.analysis.factors import Factorial as Factorial
from green_ai.analysis.factors import config_name
from green_ai.analysis.factors import find_factorials as find_factorials
from green_ai.analysis.runs import level_cell, level_label

# The columns of an observation besides its factors (which come after `study_name`).
POINT_COLUMNS = [
    "group",
    "dataset",
    "study_name",
    "config",
    "round",
    "repetition",
    "energy_j",
    "accuracy",
]
NOT_FACTORS = frozenset([*POINT_COLUMNS, "cluster", "threshold_j"])


# --- observations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Points:
    """A factorial's observations (POINT_COLUMNS with the factors after `study_name`), one
    energy source for all of them."""

    frame: pd.DataFrame
    energy: str  # what `energy_j` is, for report.md; "" when no study has energy
    left_out: list[str]  # studies without that energy


# Energy sources in order of preference: (column, what report.md calls it).
ROUND_ENERGY = {
    "energy_net_j": [
        ("energy_net_j", "`energy_net_j` of each round (idle-subtracted)"),
        ("energy_j", "`energy_j` of each round (gross, idle included: no idle baseline)"),
    ],
    "energy_j": [("energy_j", "`energy_j` of each round (gross, idle included)")],
}
REP_ENERGY = {
    "energy_net_j": [
        ("rep_energy_net_j", "`rep_energy_net_j` (idle-subtracted)"),
        (
            "rep_energy_derived_j",
            "`rep_energy_j` − `idle_power_w` × `rep_duration_s` (idle-subtracted here: the "
            "runs log no `rep_energy_net_j`)",
        ),
        ("rep_energy_j", "`rep_energy_j` (gross, idle included: no idle baseline)"),
    ],
    "energy_j": [("rep_energy_j", "`rep_energy_j` (gross, idle included)")],
}


def round_points(rounds: pd.DataFrame, f: Factorial, preferred: str) -> Points:
    """One observation per completed round: its repetitions' joules summed, their accuracies
    averaged."""
    r = _completed(rounds, f)
    frame = r.assign(repetition=np.nan)
    return _points(frame, f, ROUND_ENERGY[preferred])


def repetition_points(
    rounds: pd.DataFrame, reps: pd.DataFrame, f: Factorial, preferred: str
) -> Points:
    """One observation per training iteration (§3.3.3), from the rounds' `rep_*` histories.

    Where the runs predate `rep_energy_net_j`, the idle power the study measured is taken off
    each repetition's gross joules over its duration, as the meter does for a round.
    """
    r = _completed(rounds, f).merge(reps, on="run_id", how="left")
    frame = r.assign(
        repetition=r["step"],
        accuracy=r["rep_accuracy"],
        rep_energy_derived_j=r["rep_energy_j"] - r["idle_power_w"] * r["rep_duration_s"],
    )
    return _points(frame, f, REP_ENERGY[preferred])


def _completed(rounds: pd.DataFrame, f: Factorial) -> pd.DataFrame:
    # Pruned rounds trained fewer epochs: their joules are not the configuration's cost.
    ours = rounds["study_name"].isin(f.studies["study_name"]) & (rounds["state"] == "COMPLETE")
    return rounds[ours].merge(f.studies[["study_name", *f.factors]], on="study_name")


def _points(frame: pd.DataFrame, f: Factorial, sources: list[tuple[str, str]]) -> Points:
    """Keep the first energy source that every metered study has in full; leave the others out.

    One source for the whole factorial: mixing gross and idle-subtracted joules across
    configurations would show up as a layer effect.
    """
    columns = [c for c, _ in sources]
    full = frame.groupby("study_name")[columns].agg(lambda c: bool(c.notna().all()))
    metered = full.index[full.any(axis=1)]
    chosen = next(((c, text) for c, text in sources if full.loc[metered, c].all()), None)
    if not len(metered) or chosen is None:
        empty = pd.DataFrame(columns=[*POINT_COLUMNS[:3], *f.factors, *POINT_COLUMNS[3:]])
        return Points(empty, "", sorted(full.index))
    column, text = chosen
    frame = frame[frame["study_name"].isin(metered)]
    factors = list(f.factors)
    points = pd.DataFrame(
        {
            "group": f.label,
            "dataset": f.dataset,
            "study_name": frame["study_name"],
            **{k: frame[k] for k in factors},
            "config": [
                config_name(factors, v) for v in zip(*(frame[k] for k in factors), strict=True)
            ],
            "round": frame["round"],
            "repetition": frame["repetition"],
            "energy_j": frame[column].astype(float),
            "accuracy": frame["accuracy"].astype(float),
        }
    )
    points = points.sort_values([*factors, "round", "repetition"])
    left_out = sorted(set(full.index) - set(metered))
    return Points(points.reset_index(drop=True), text, left_out)


# --- tables -------------------------------------------------------------------------------------


def _by(points: pd.DataFrame, *keys: str) -> pd.core.groupby.DataFrameGroupBy:
    return points.groupby(["group", "dataset", *keys], sort=False)


def factor_columns(points: pd.DataFrame) -> list[str]:
    """The factors of a frame of observations: every column that is not an observation's own
    (factorials over different factors leave each other's columns empty)."""
    return [c for c in points.columns if c not in NOT_FACTORS]


def varying_factors(points: pd.DataFrame) -> list[str]:
    return [f for f in factor_columns(points) if points[f].nunique() >= 2]


def energy_cv_table(points: pd.DataFrame) -> pd.DataFrame:
    """Figure 3.7: CV of energy (sample std / mean) per configuration, accuracy next to it."""
    rows = []
    factors = factor_columns(points)
    for (group, dataset, _), g in _by(points, "config"):
        e, a = g["energy_j"].to_numpy(), g["accuracy"].dropna().to_numpy()
        rows.append(
            {
                "group": group,
                "dataset": dataset,
                **{k: level_cell(g[k].iloc[0]) for k in factors},
                "n": len(g),
                "mean_energy_j": float(e.mean()),
                "std_energy_j": float(e.std(ddof=1)) if len(e) > 1 else np.nan,
                "cv": float(sps.variation(e, ddof=1)) if len(e) > 1 else np.nan,
                "mean_accuracy": float(a.mean()) if len(a) else np.nan,
                "std_accuracy": float(a.std(ddof=1)) if len(a) > 1 else np.nan,
            }
        )
    columns = ["group", "dataset", *factors, "n", "mean_energy_j"]
    return pd.DataFrame(
        rows, columns=[*columns, "std_energy_j", "cv", "mean_accuracy", "std_accuracy"]
    )


def shapiro_table(points: pd.DataFrame, alpha: float, min_n: int) -> pd.DataFrame:
    """Shapiro–Wilk per configuration (§3.3.4): normal unless p < alpha; withheld below min_n
    observations, where the test cannot tell a normal sample from a skewed one."""
    rows = []
    for (group, dataset, config), g in _by(points, "config"):
        w, p = stats.shapiro_wilk(g["energy_j"]) if len(g) >= min_n else (np.nan, np.nan)
        if len(g) < min_n:
            normal = "withheld"
        else:
            normal = "n/a" if np.isnan(p) else ("yes" if p >= alpha else "no")
        row = {"group": group, "dataset": dataset, "config": config, "n": len(g)}
        rows.append({**row, "W": w, "p": p, "normal": normal})
    return pd.DataFrame(rows, columns=["group", "dataset", "config", "n", "W", "p", "normal"])


def qq_table(points: pd.DataFrame, min_n: int) -> pd.DataFrame:
    """Q–Q coordinates of each configuration's standardised energies (min_n or more of them)."""
    parts = []
    for (group, _, config), g in _by(points, "config"):
        if len(g) < min_n:
            continue
        theoretical, ordered = stats.qq_points(g["energy_j"])
        parts.append(
            pd.DataFrame(
                {"group": group, "config": config, "theoretical": theoretical, "sample": ordered}
            )
        )
    columns = ["group", "config", "theoretical", "sample"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def energy_interval_table(points: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Each configuration's mean energy with its Student-t interval over its observations
    (`design.confidence`); no interval for a configuration of one observation."""
    rows = []
    for (group, dataset, config), g in _by(points, "config"):
        low, high = stats.mean_interval(g["energy_j"], confidence)
        mean = float(g["energy_j"].mean())
        rows.append(
            {
                "group": group,
                "dataset": dataset,
                "config": config,
                "n": len(g),
                "mean_energy_j": mean,
                "ci_low_j": low,
                "ci_high_j": high,
                "half_width_pct": (high - low) / 2 / mean * 100 if mean else np.nan,
            }
        )
    columns = ["group", "dataset", "config", "n", "mean_energy_j", "ci_low_j", "ci_high_j"]
    return pd.DataFrame(rows, columns=[*columns, "half_width_pct"])


def kruskal_table(points: pd.DataFrame, min_n: int, confidence: float = 0.95) -> pd.DataFrame:
    """Table 3.4: Kruskal–Wallis of energy across the levels of each factor, per dataset, with
    a bootstrap interval of η² (`confidence`; observations resampled within each level).

    The effect-size label is withheld where a level has fewer than `min_n` observations: H's
    chi-square approximation, and with it η², is not to be trusted on so few.
    """
    rows = []
    for (group, dataset), p in _by(points):
        for factor in varying_factors(p):
            sizes = p.groupby(factor).size()
            groups = [g["energy_j"] for _, g in p.groupby(factor, sort=True)]
            res = stats.kruskal_wallis(groups)
            low, high = stats.eta2_interval(groups, confidence)
            label = res.magnitude if sizes.min() >= min_n else "withheld"
            rows.append(
                {
                    "group": group,
                    "dataset": dataset,
                    "factor": factor,
                    "n": res.n,
                    "k": res.k,
                    "n_smallest": int(sizes.min()),
                    "statistic": res.statistic,
                    "p": res.p,
                    "eta2": res.eta2,
                    "eta2_ci_low": low,
                    "eta2_ci_high": high,
                    "magnitude": label,
                }
            )
    columns = ["group", "dataset", "factor", "n", "k", "n_smallest", "statistic", "p", "eta2"]
    return pd.DataFrame(rows, columns=[*columns, "eta2_ci_low", "eta2_ci_high", "magnitude"])


def dunn_table(points: pd.DataFrame, p_adjust: str) -> pd.DataFrame:
    """Dunn's pairwise comparisons per factor and across all configurations (§3.5.2)."""
    parts = []
    for (group, dataset), p in _by(points):
        for factor in [*varying_factors(p), "config"]:
            if p[factor].nunique() < 2:
                continue
            levels = [level_label(v) for v in p[factor]]
            pairs = stats.dunn_pairs(p["energy_j"], levels, p_adjust)
            parts.append(pairs.assign(group=group, dataset=dataset, factor=factor))
    columns = ["group", "dataset", "factor", "a", "b", "p"]
    if not parts:
        return pd.DataFrame(columns=[*columns, "p_adjust"])
    return pd.concat(parts, ignore_index=True)[columns].assign(p_adjust=p_adjust)


def increase_table(points: pd.DataFrame) -> pd.DataFrame:
    """Mean energy at each level of a factor against its lowest level, per dataset (§3.5.2)."""
    parts = [
        stats.mean_increase(p["energy_j"], [level_label(v) for v in p[factor]]).assign(
            group=group, dataset=dataset, factor=factor
        )
        for (group, dataset), p in _by(points)
        for factor in varying_factors(p)
    ]
    columns = ["group", "dataset", "factor", "from_level", "to_level", "mean_from_j"]
    columns += ["mean_to_j", "increase_pct"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def assign_clusters(points: pd.DataFrame, method: str) -> pd.DataFrame:
    """E+/E− (§3.5.2, Figure 3.8) by configuration: its mean energy above the threshold of its
    factorial's configuration means, so every configuration is in exactly one cluster, as the
    thesis reads its clusters ("all data points in E− ... a single convolutional layer").

    `method`: kmeans (exact 1-D 2-means of the means, follows the gap) or median.
    """
    split = stats.two_means_split if method == "kmeans" else stats.median_split
    parts = []
    for _, p in _by(points):
        means = p.groupby("config")["energy_j"].mean()
        threshold = split(means.to_numpy())
        high = means > threshold  # all False when the means do not split (NaN threshold)
        parts.append(
            p.assign(
                cluster=np.where(p["config"].map(high), "E+", "E-"),
                threshold_j=threshold,
            )
        )
    if not parts:
        return pd.DataFrame(columns=[*POINT_COLUMNS, "cluster", "threshold_j"])
    return pd.concat(parts, ignore_index=True)


def cluster_table(clustered: pd.DataFrame) -> pd.DataFrame:
    """Table 3.5: mean energy and mean/max/std accuracy of the E+ and E− clusters."""
    rows = []
    for (group, dataset), p in _by(clustered):
        for cluster in ("E+", "E-"):
            g = p[p["cluster"] == cluster]
            if g.empty:
                continue
            rows.append(
                {
                    "group": group,
                    "dataset": dataset,
                    "cluster": cluster,
                    "n": len(g),
                    "mean_energy_j": float(g["energy_j"].mean()),
                    "mean_accuracy": float(g["accuracy"].mean()),
                    "max_accuracy": float(g["accuracy"].max()),
                    "std_accuracy": float(g["accuracy"].std(ddof=1)),
                    "threshold_j": float(g["threshold_j"].iloc[0]),
                    "configs": "; ".join(sorted(g["config"].unique())),
                }
            )
    columns = ["group", "dataset", "cluster", "n", "mean_energy_j", "mean_accuracy"]
    columns += ["max_accuracy", "std_accuracy", "threshold_j", "configs"]
    return pd.DataFrame(rows, columns=columns)
