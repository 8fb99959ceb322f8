"""Tables of training studies round by round (thesis §3.5.1): best accuracy (Table 3.3),
convergence against rounds and joules, energy to target, and pruning.

A round is a run in state COMPLETE or PRUNED (`runs.COUNTED_STATES`); a pruned round's
accuracy is not a result (its training stopped early, and Optuna ranks only completed trials),
but its joules were spent. Failed and cut-short runs are no rounds; the joules they logged
were spent too and count from where they ran; one that logged none adds nothing, as its cost
is unknown.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from green_ai.analysis import stats
from green_ai.analysis.runs import COUNTED_STATES, level_cell

# What tells search studies apart in a table (Table 3.3's rows), and which of those form one
# comparison of pruners (everything but the pruner and the seed).
SEARCH_COLUMNS = [
    "net",
    "conv",
    "linear",
    "relu",
    "strategy",
    "pruner",
    "dataset",
    "hparams",
    "study",
]
PRUNING_GROUP = ["net", "conv", "linear", "relu", "dataset", "hparams", "strategy"]
CURVE_COLUMNS = [
    "study_name",
    "round",
    "n",
    "state",
    "accuracy",
    "best_so_far",
    "cumulative_energy_j",
]


def with_round_energy(rounds: pd.DataFrame, preferred: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add `energy` to each round and say, per study, which metric it came from.

    One metric per study, never a mix: `preferred` (idle removed, thesis §3.3.3) where every
    round has it, else gross `energy_j`, else none. Returns (rounds, per-study frame with
    study_name and energy_metric).
    """
    rounds = rounds.copy()
    rounds["energy"] = np.nan
    info = []
    for name, r in rounds.groupby("study_name", sort=False):
        counted = r[r["state"].isin(COUNTED_STATES)]
        chosen = None
        for metric in dict.fromkeys((preferred, "energy_j")):
            if len(counted) and counted[metric].notna().all():
                chosen = metric
                break
        if chosen is not None:
            rounds.loc[r.index, "energy"] = r[chosen]
        info.append({"study_name": name, "energy_metric": chosen or "none"})
    return rounds, pd.DataFrame(info, columns=["study_name", "energy_metric"])


def search_curves(rounds: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Per round of each study: its number `n` (1-based, rounds only), accuracy, best-so-far
    accuracy and the joules spent up to and including it."""
    parts = []
    for name in studies["study_name"]:
        r = rounds[rounds["study_name"] == name].sort_values("round")
        counted = r["state"].isin(COUNTED_STATES).to_numpy()
        if not counted.any():
            continue
        energy = r["energy"].to_numpy(dtype=float)
        # Runs that are no rounds add what they logged; rounds of an unmetered study stay NaN.
        spent = np.cumsum(np.where(counted, energy, np.nan_to_num(energy, nan=0.0)))
        accuracy = r["accuracy"].where(r["state"] == "COMPLETE").to_numpy(dtype=float)[counted]
        parts.append(
            pd.DataFrame(
                {
                    "study_name": name,
                    "round": r["round"].to_numpy()[counted],
                    "n": np.arange(1, counted.sum() + 1),
                    "state": r["state"].to_numpy()[counted],
                    "accuracy": accuracy,
                    "best_so_far": stats.best_so_far(accuracy),
                    "cumulative_energy_j": spent[counted],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CURVE_COLUMNS)


def uncounted_without_energy(rounds: pd.DataFrame, studies: pd.DataFrame) -> int:
    """Runs that are no rounds and logged no joules, in studies that are otherwise metered."""
    metered = studies[studies["energy_metric"] != "none"]["study_name"]
    r = rounds[rounds["study_name"].isin(metered)]
    return int((~r["state"].isin(COUNTED_STATES) & r["energy"].isna()).sum())


def best_accuracy_table(curves: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Table 3.3: best accuracy per study, the round (1-based) that first reached it, and the
    joules the study spent in all."""
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
                **search_keys(s),
                "rounds": len(c),
                "best_accuracy": best,
                "rounds_to_best": int(c["n"].iloc[idx]),
                "energy_metric": s["energy_metric"],
                "energy_j": float(c["cumulative_energy_j"].iloc[-1]),
            }
        )
    columns = [*SEARCH_COLUMNS, "rounds", "best_accuracy", "rounds_to_best"]
    return pd.DataFrame(rows, columns=[*columns, "energy_metric", "energy_j"])


def energy_to_target_table(
    curves: pd.DataFrame, studies: pd.DataFrame, target_pct: float
) -> pd.DataFrame:
    """Joules a search spent until its accuracy came within `target_pct` % of its final best."""
    rows = []
    for _, s in studies.iterrows():
        c = curves[curves["study_name"] == s["study_name"]]
        if not len(c) or c["accuracy"].isna().all():
            continue
        energy = np.diff(c["cumulative_energy_j"].to_numpy(dtype=float), prepend=0.0)
        idx, target, spent = stats.energy_to_target(c["accuracy"], energy, target_pct)
        total = float(c["cumulative_energy_j"].iloc[-1])
        rows.append(
            {
                **search_keys(s),
                "best_accuracy": float(np.nanmax(c["accuracy"])),
                "target_pct": target_pct,
                "target_accuracy": target,
                "rounds_to_target": int(c["n"].iloc[idx]) if idx is not None else None,
                "energy_to_target_j": spent,
                "total_energy_j": total,
                "energy_share": spent / total if total else float("nan"),
            }
        )
    columns = [
        *SEARCH_COLUMNS,
        "best_accuracy",
        "target_pct",
        "target_accuracy",
        "rounds_to_target",
        "energy_to_target_j",
        "total_energy_j",
        "energy_share",
    ]
    return pd.DataFrame(rows, columns=columns)


def pruning_table(curves: pd.DataFrame, studies: pd.DataFrame, target_pct: float) -> pd.DataFrame:
    """Each strategy with and without pruning (issue 14): joules spent, best accuracy, and the
    joules until the accuracy came within `target_pct` % of the best that any of its studies
    reached, so every pruner is measured against the same target.

    Only comparisons with a pruned study are shown; `energy_vs_unpruned_pct` compares a study's
    joules with the mean of the same strategy's studies without a pruner.
    """
    keyed = pd.DataFrame([search_keys(s) for _, s in studies.iterrows()], columns=SEARCH_COLUMNS)
    parts: list[pd.DataFrame] = []
    for _, group in keyed.groupby(PRUNING_GROUP, sort=True, dropna=False):
        if (group["pruner"] == "none").all():
            continue
        c = curves[curves["study_name"].isin(group["study"])]
        if c.empty or c["accuracy"].isna().all():
            continue
        target = float(np.nanmax(c["accuracy"])) * (1.0 - target_pct / 100.0)
        part = pd.DataFrame(
            [
                _pruning_row(k, curves[curves["study_name"] == k["study"]], target)
                for k in group.to_dict("records")
            ]
        )
        base = part.loc[part["pruner"] == "none", "energy_j"].mean()  # NaN without one
        part["energy_vs_unpruned_pct"] = (part["energy_j"] / base - 1.0) * 100.0
        parts.append(part)
    columns = [
        *SEARCH_COLUMNS,
        "rounds",
        "pruned_rounds",
        "energy_j",
        "best_accuracy",
        "target_accuracy",
        "rounds_to_target",
        "energy_to_target_j",
        "energy_vs_unpruned_pct",
    ]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _pruning_row(keys: dict[str, Any], c: pd.DataFrame, target: float) -> dict[str, Any]:
    acc = c["accuracy"].to_numpy(dtype=float)
    idx = stats.first_reached(acc, target)
    return {
        **keys,
        "rounds": len(c),
        "pruned_rounds": int((c["state"] == "PRUNED").sum()),
        "energy_j": float(c["cumulative_energy_j"].iloc[-1]) if len(c) else np.nan,
        "best_accuracy": float(np.nanmax(acc)) if len(c) and not np.isnan(acc).all() else np.nan,
        "target_accuracy": target,
        "rounds_to_target": int(c["n"].iloc[idx]) if idx is not None else None,
        "energy_to_target_j": float(c["cumulative_energy_j"].iloc[idx])
        if idx is not None
        else np.nan,
    }


def search_keys(s: pd.Series) -> dict[str, object]:
    """A study's identifying columns, as SEARCH_COLUMNS names them."""
    return {
        "net": s["net"],
        "conv": level_cell(s["conv"]),
        "linear": level_cell(s["linear"]),
        "relu": level_cell(s["relu"]),
        "strategy": s["search"],
        "pruner": s["pruner"],
        "dataset": s["dataset"],
        "hparams": s["hparams"],
        "study": s["study_name"],
    }
