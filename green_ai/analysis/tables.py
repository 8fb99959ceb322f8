"""The report's tables, computed from the frames of `load.py` with the functions of `stats.py`.

Three kinds of study are told apart by their params (thesis chapter 3 and 4):
- an *architecture factorial* (§3.4.2): training studies sharing network, dataset, search,
  search space, epochs and batch size, over at least two (linear, conv, relu) combinations;
- *search-strategy* studies (§3.4.1): every other training study;
- *inference* runs (§4.3): tagged `inference`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from green_ai.analysis import stats
from green_ai.analysis.models import imagenet_top1, publication_order, publication_year

FACTORS = ("linear", "conv", "relu")
# A factorial is one design run at different layer counts; these must agree within it.
FACTORIAL_KEY = ("net", "dataset", "search", "hparams", "epochs", "batch_size")
SEARCH_KEY = ("net", "conv", "linear", "relu", "dataset", "hparams")


# --- training energy -------------------------------------------------------------------------


def with_round_energy(rounds: pd.DataFrame, preferred: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add `energy` to each round and say, per study, which metric it came from.

    One metric per study, never a mix: `preferred` (idle removed, thesis §3.3.3) where every
    completed round has it, else gross `energy_j`, else none. Returns (rounds, per-study
    frame with study_name, energy_metric, unmetered).
    """
    rounds = rounds.copy()
    rounds["energy"] = np.nan
    info = []
    for name, r in rounds.groupby("study_name", sort=False):
        done = r[r["state"] == "COMPLETE"]
        chosen = None
        for metric in dict.fromkeys((preferred, "energy_j")):
            if metric in r and len(done) and done[metric].notna().all():
                chosen = metric
                break
        if chosen is not None:
            rounds.loc[r.index, "energy"] = r[chosen]
        info.append(
            {
                "study_name": name,
                "energy_metric": chosen or "none",
                "unmetered": int(done[chosen].isna().sum()) if chosen else len(done),
            }
        )
    return rounds, pd.DataFrame(info, columns=["study_name", "energy_metric", "unmetered"])


# --- kinds of study ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Factorial:
    """One architecture factorial: its studies and a label/slug that tell it from others."""

    label: str
    slug: str
    studies: pd.DataFrame


def split_kinds(studies: pd.DataFrame) -> tuple[pd.DataFrame, list[Factorial]]:
    """(search-strategy studies, factorials); see the module docstring for the rule."""
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
        slug = "_".join(_slug(str(values[k])) for k in varying)
        factorials.append(Factorial(label, slug, g))
    return studies[~in_factorial], factorials


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "x"


def config_label(linear: object, conv: object, relu: object) -> str:
    """Short name of one architecture (Table 3.2 row)."""
    return f"lin{_int(linear)} conv{_int(conv)} relu{_int(relu)}"


def _int(x: object) -> str:
    try:
        f = float(str(x))
    except ValueError:
        return str(x)
    return str(int(f)) if not math.isnan(f) and f.is_integer() else str(x)


# --- search strategies (Table 3.3, Figures 3.3–3.6) ---------------------------------------------


def search_curves(rounds: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Best-so-far accuracy and cumulative joules per round of each search study."""
    parts = []
    for _, s in studies.iterrows():
        r = rounds[rounds["study_name"] == s["study_name"]].sort_values("round")
        if r.empty:
            continue
        # A round cut short (Ctrl-C) logs no energy; its partial cost is unknown and left out
        # rather than turning every later cumulative figure into NaN.
        energy = np.where(
            (r["state"] != "COMPLETE") & r["energy"].isna(), 0.0, r["energy"].to_numpy(dtype=float)
        )
        parts.append(
            pd.DataFrame(
                {
                    "study_name": s["study_name"],
                    "round": r["round"].to_numpy(),
                    "accuracy": r["accuracy"].to_numpy(dtype=float),
                    "best_so_far": stats.best_so_far(r["accuracy"]),
                    "cumulative_energy_j": np.cumsum(energy),
                }
            )
        )
    columns = ["study_name", "round", "accuracy", "best_so_far", "cumulative_energy_j"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def best_accuracy_table(curves: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Table 3.3: best accuracy per study and the number of rounds run when first reached."""
    rows = []
    for _, s in studies.iterrows():
        c = curves[curves["study_name"] == s["study_name"]]
        acc = c["accuracy"].to_numpy(dtype=float)
        if not len(c) or np.isnan(acc).all():
            continue
        best = float(np.nanmax(acc))
        idx = stats.first_reached(acc, best)
        assert idx is not None
        rows.append(
            {
                **_search_keys(s),
                "rounds": len(c),
                "best_accuracy": best,
                "rounds_to_best": int(c["round"].iloc[idx]) + 1,
            }
        )
    return pd.DataFrame(
        rows, columns=[*_SEARCH_COLUMNS, "rounds", "best_accuracy", "rounds_to_best"]
    )


def energy_to_target_table(
    curves: pd.DataFrame, studies: pd.DataFrame, target_pct: float
) -> pd.DataFrame:
    """Joules a search spent until its accuracy came within `target_pct` % of its final best."""
    rows = []
    for _, s in studies.iterrows():
        c = curves[curves["study_name"] == s["study_name"]]
        if not len(c):
            continue
        energy = np.diff(c["cumulative_energy_j"].to_numpy(dtype=float), prepend=0.0)
        idx, target, spent = stats.energy_to_target(c["accuracy"], energy, target_pct)
        total = float(c["cumulative_energy_j"].iloc[-1])
        rows.append(
            {
                **_search_keys(s),
                "best_accuracy": float(np.nanmax(c["accuracy"])),
                "target_pct": target_pct,
                "target_accuracy": target,
                "rounds_to_target": (int(c["round"].iloc[idx]) + 1) if idx is not None else None,
                "energy_to_target_j": spent,
                "total_energy_j": total,
                "energy_share": spent / total if total else float("nan"),
            }
        )
    columns = [
        *_SEARCH_COLUMNS,
        "best_accuracy",
        "target_pct",
        "target_accuracy",
        "rounds_to_target",
        "energy_to_target_j",
        "total_energy_j",
        "energy_share",
    ]
    return pd.DataFrame(rows, columns=columns)


_SEARCH_COLUMNS = ["net", "conv", "linear", "relu", "strategy", "dataset", "hparams", "study"]


def _search_keys(s: pd.Series) -> dict[str, object]:
    return {
        "net": s["net"],
        "conv": _int(s["conv"]),
        "linear": _int(s["linear"]),
        "relu": _int(s["relu"]),
        "strategy": s["search"],
        "dataset": s["dataset"],
        "hparams": s["hparams"],
        "study": s["study_name"],
    }


# --- architecture factorial (Tables 3.4, 3.5, Figures 3.7, 3.8) ---------------------------------


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
            "linear": _int(g["linear"].iloc[0]),
            "conv": _int(g["conv"].iloc[0]),
            "relu": _int(g["relu"].iloc[0]),
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
        levels = [_int(v) for v in points[factor]]
        pairs = stats.dunn_pairs(points["energy_j"], levels, p_adjust)
        parts.append(pairs.assign(factor=factor, p_adjust=p_adjust))
    columns = ["factor", "a", "b", "p", "p_adjust"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def increase_table(points: pd.DataFrame) -> pd.DataFrame:
    """Mean energy at each level of a factor against its lowest level (§3.5.2)."""
    parts = [
        stats.mean_increase(points["energy_j"], [_int(v) for v in points[f]]).assign(factor=f)
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


# --- inference (Table 4.1, Figures 4.2–4.4) -----------------------------------------------------


def inference_points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run with its batch label (G for greedy, as Figure 4.2 labels points)."""
    frame = runs.copy()
    greedy = frame["batching"].astype(str).str.lower() == "greedy"
    frame["batch_label"] = [
        _batch_label(str(b), size, delay)
        for b, size, delay in zip(
            frame["batching"], frame["batch_size"], frame["max_delay_s"], strict=True
        )
    ]
    # Mean batch size where logged; the fixed size otherwise.
    frame["batch_effective"] = frame["batch_size_mean"].fillna(frame["batch_size"].where(~greedy))
    order = {m: i for i, m in enumerate(publication_order(sorted(frame["model"].unique())))}
    frame["_order"] = frame["model"].map(order)
    frame = frame.sort_values(["_order", "frequency", "batch_effective"]).drop(columns="_order")
    columns = [
        "model",
        "frequency",
        "batching",
        "batch_label",
        "batch_effective",
        "energy_per_image_j",
        "response_max_s",
        "power_peak_w_mean",
        "run_id",
    ]
    return frame[columns].reset_index(drop=True)


def _batch_label(batching: str, size: object, delay: object) -> str:
    """Figure 4.2's point labels: the batch size, G for greedy; timeout adds its delay."""
    if batching.lower() == "greedy":
        return "G"
    if batching.lower() == "timeout":
        return f"{_int(size)}/{_int(delay)}s"
    return _int(size)


def peak_power_table(points: pd.DataFrame, small_max: float, large_min: float) -> pd.DataFrame:
    """Table 4.1: mean peak power at small against large batches, per model.

    Small: runs whose mean batch is at most `small_max` (1–2 in the thesis), else the model's
    smallest; large: at least `large_min` (128), else its largest. The batch sizes used are in
    the table.
    """
    rows = []
    for model in publication_order(sorted(points["model"].unique())):
        g = points[(points["model"] == model) & points["power_peak_w_mean"].notna()]
        g = g[g["batch_effective"].notna()]
        if g.empty:
            continue
        b = g["batch_effective"]
        small = g[b <= small_max] if (b <= small_max).any() else g[b == b.min()]
        large = g[b >= large_min] if (b >= large_min).any() else g[b == b.max()]
        sp, lp = float(small["power_peak_w_mean"].mean()), float(large["power_peak_w_mean"].mean())
        rows.append(
            {
                "model": model,
                "small_batch": _range(small["batch_effective"]),
                "small_peak_w": sp,
                "large_batch": _range(large["batch_effective"]),
                "large_peak_w": lp,
                "difference_pct": (lp / sp - 1.0) * 100.0 if sp else float("nan"),
            }
        )
    columns = ["model", "small_batch", "small_peak_w", "large_batch", "large_peak_w"]
    return pd.DataFrame(rows, columns=[*columns, "difference_pct"])


def _range(values: pd.Series) -> str:
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g}-{hi:.4g}"


def timeline_table(points: pd.DataFrame) -> pd.DataFrame:
    """Figure 4.3: mean energy per image per model and frequency, models oldest first (§4.3.2)."""
    g = points.dropna(subset=["energy_per_image_j"])
    table = (
        g.groupby(["model", "frequency"])["energy_per_image_j"]
        .agg(["mean", "count"])
        .reset_index()
        .rename(columns={"mean": "energy_per_image_j", "count": "runs"})
    )
    order = {m: i for i, m in enumerate(publication_order(sorted(table["model"].unique())))}
    table["year"] = table["model"].map(publication_year)
    table = table.sort_values(["model"], key=lambda s: s.map(order), kind="stable")
    return table[["model", "year", "frequency", "runs", "energy_per_image_j"]].reset_index(
        drop=True
    )


def relative_change_table(timeline: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Figure 4.4: energy per image and ImageNet top-1 against a baseline model, in percent.

    A model's energy is the mean over frequencies of its per-frequency means, so each
    frequency weighs the same. The baseline is `baseline` if measured, else the oldest model.
    """
    per_model = timeline.groupby("model", sort=False)["energy_per_image_j"].mean()
    if per_model.empty:
        return pd.DataFrame()
    base = baseline if baseline in per_model.index else str(per_model.index[0])
    acc = pd.Series({m: imagenet_top1(m) for m in per_model.index})
    table = pd.DataFrame(
        {
            "model": per_model.index,
            "year": [publication_year(m) for m in per_model.index],
            "energy_per_image_j": per_model.to_numpy(),
            "energy_change_pct": stats.relative_change_pct(per_model, float(per_model[base])),
            "imagenet_top1": acc.to_numpy(),
            "accuracy_change_pct": stats.relative_change_pct(acc, float(acc[base])),
            "baseline": base,
        }
    )
    return table.reset_index(drop=True)
