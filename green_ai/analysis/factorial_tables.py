"""The architecture factorial (thesis §3.4.2, §3.5.2): its observations, and the tables of
Figures 3.7, 3.8 and Tables 3.4, 3.5."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from green_ai.analysis import stats
from green_ai.analysis.runs import config_label, level_label, slug

FACTORS = ("linear", "conv", "relu")
# A factorial is one design run at different layer counts; these must agree within it.
FACTORIAL_KEY = ("net", "dataset", "search", "hparams", "pruner", "epochs", "batch_size")


@dataclass(frozen=True)
class Factorial:
    """One architecture factorial: its studies and a label/slug that tell it from others."""

    label: str
    slug: str
    studies: pd.DataFrame


def find_factorials(studies: pd.DataFrame) -> tuple[pd.DataFrame, list[Factorial]]:
    """(the other studies, factorials): studies that agree on FACTORIAL_KEY and cover at least
    two (linear, conv, relu) combinations form a factorial (§3.4.2)."""
    if studies.empty:
        return studies, []
    key = [k for k in FACTORIAL_KEY if k in studies]
    keyed = studies.assign(**{k: studies[k].astype(str) for k in key})
    groups = []
    in_factorial = pd.Series(False, index=studies.index)
    for values, g in keyed.groupby(key, sort=True, dropna=False):
        if len(g[list(FACTORS)].astype(str).drop_duplicates()) >= 2:
            groups.append((dict(zip(key, values, strict=True)), studies.loc[g.index]))
            in_factorial[g.index] = True
    # Name each factorial by what tells it from the others (usually the dataset).
    varying = [k for k in key if len({str(v[k]) for v, _ in groups}) > 1]
    factorials = []
    for values, g in groups:
        shown = varying or ["net", "dataset"]
        label = ", ".join(f"{k}={values[k]}" for k in shown)
        name = "_".join(slug(str(values[k])) for k in varying)
        factorials.append(Factorial(label, name, g))
    return studies[~in_factorial], factorials


def factorial_points(
    rounds: pd.DataFrame, studies: pd.DataFrame, reps: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per measurement: a round, or each repetition when `reps` (metric_steps) is given.

    Columns: study_name, linear, conv, relu, config, round, energy_j, accuracy.
    """
    r = rounds[rounds["study_name"].isin(studies["study_name"]) & (rounds["state"] == "COMPLETE")]
    r = r.merge(studies[["study_name", *FACTORS]], on="study_name")
    if reps is not None:
        reps = reps.rename(columns={"rep_energy_j": "rep_energy", "rep_accuracy": "rep_acc"})
        r = r.merge(reps, on="run_id")
        r = r.assign(energy=r["rep_energy"], accuracy=r["rep_acc"])
    points = pd.DataFrame(
        {
            "study_name": r["study_name"],
            "linear": r["linear"],
            "conv": r["conv"],
            "relu": r["relu"],
            "config": [
                config_label(a, b, c)
                for a, b, c in zip(r["linear"], r["conv"], r["relu"], strict=True)
            ],
            "round": r["round"],
            "energy_j": r["energy"].astype(float),
            "accuracy": r["accuracy"].astype(float),
        }
    )
    return points.sort_values(["linear", "conv", "relu", "round"]).reset_index(drop=True)


def energy_cv_table(points: pd.DataFrame) -> pd.DataFrame:
    """Figure 3.7: CV of energy across the rounds of each configuration (sample std / mean)."""
    rows = [
        {
            "linear": level_label(g["linear"].iloc[0]),
            "conv": level_label(g["conv"].iloc[0]),
            "relu": level_label(g["relu"].iloc[0]),
            "n": len(g),
            "mean_energy_j": float(g["energy_j"].mean()),
            "std_energy_j": float(g["energy_j"].std(ddof=1)),
            "cv": float(sps.variation(g["energy_j"], ddof=1)) if len(g) > 1 else np.nan,
        }
        for _, g in points.groupby("config", sort=False)
    ]
    return pd.DataFrame(rows)


def shapiro_table(points: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Shapiro–Wilk per configuration (§3.3.4): normal unless p < alpha."""
    rows = []
    for config, g in points.groupby("config", sort=False):
        w, p = stats.shapiro_wilk(g["energy_j"])
        rows.append(
            {
                "config": config,
                "n": len(g),
                "W": w,
                "p": p,
                "normal": "n/a" if math.isnan(p) else ("yes" if p >= alpha else "no"),
            }
        )
    return pd.DataFrame(rows, columns=["config", "n", "W", "p", "normal"])


def qq_table(points: pd.DataFrame) -> pd.DataFrame:
    """Q–Q coordinates of each configuration's standardised energies."""
    parts = []
    for config, g in points.groupby("config", sort=False):
        theoretical, ordered = stats.qq_points(g["energy_j"])
        parts.append(
            pd.DataFrame({"config": config, "theoretical": theoretical, "sample": ordered})
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def varying_factors(points: pd.DataFrame) -> list[str]:
    return [f for f in FACTORS if points[f].nunique() >= 2]


def kruskal_table(points: pd.DataFrame) -> pd.DataFrame:
    """Table 3.4: Kruskal–Wallis of energy across the levels of each layer factor."""
    rows = []
    for factor in varying_factors(points):
        groups = [g["energy_j"].to_numpy() for _, g in points.groupby(factor, sort=True)]
        res = stats.kruskal_wallis(groups)
        rows.append(
            {
                "factor": factor,
                "statistic": res.statistic,
                "p": res.p,
                "eta2": res.eta2,
                "magnitude": res.magnitude,
            }
        )
    return pd.DataFrame(rows, columns=["factor", "statistic", "p", "eta2", "magnitude"])


def dunn_table(points: pd.DataFrame, p_adjust: str) -> pd.DataFrame:
    """Dunn's pairwise comparisons per factor and across all configurations (§3.5.2)."""
    parts = []
    for factor in [*varying_factors(points), "config"]:
        if points[factor].nunique() < 2:
            continue
        levels = [level_label(v) for v in points[factor]]
        pairs = stats.dunn_pairs(points["energy_j"], levels, p_adjust)
        parts.append(pairs.assign(factor=factor, p_adjust=p_adjust))
    columns = ["factor", "a", "b", "p", "p_adjust"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def increase_table(points: pd.DataFrame) -> pd.DataFrame:
    """Mean energy at each level of a factor against its lowest level (§3.5.2)."""
    parts = [
        stats.mean_increase(points["energy_j"], [level_label(v) for v in points[f]]).assign(
            factor=f
        )
        for f in varying_factors(points)
    ]
    columns = ["factor", "from_level", "to_level", "mean_from_j", "mean_to_j", "increase_pct"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def assign_clusters(points: pd.DataFrame, method: str) -> tuple[pd.DataFrame, float]:
    """Label each point E+ (above the energy threshold) or E− (§3.5.2, Figure 3.8).

    `method`: kmeans (exact 1-D 2-means, follows the gap) or median.
    """
    split = stats.two_means_split if method == "kmeans" else stats.median_split
    threshold = split(points["energy_j"])
    cluster = np.where(points["energy_j"] > threshold, "E+", "E-")
    return points.assign(cluster=cluster), threshold


def cluster_table(points: pd.DataFrame) -> pd.DataFrame:
    """Table 3.5: mean energy and mean/max/std accuracy of the E+ and E− clusters."""
    rows = []
    for cluster in ("E+", "E-"):
        g = points[points["cluster"] == cluster]
        if g.empty:
            continue
        rows.append(
            {
                "cluster": cluster,
                "n": len(g),
                "mean_energy_j": float(g["energy_j"].mean()),
                "mean_accuracy": float(g["accuracy"].mean()),
                "max_accuracy": float(g["accuracy"].max()),
                "std_accuracy": float(g["accuracy"].std(ddof=1)),
                "configs": "; ".join(sorted(g["config"].unique())),
            }
        )
    return pd.DataFrame(rows)
