"""Tables of training studies round by round (thesis §3.5.1): best accuracy (Table 3.3),
convergence against rounds and joules, and energy to target."""

from __future__ import annotations

import numpy as np
import pandas as pd

from green_ai.analysis import stats
from green_ai.analysis.runs import level_label

# What tells search studies apart in a table (Table 3.3's rows).
SEARCH_COLUMNS = ["net", "conv", "linear", "relu", "strategy", "dataset", "hparams", "study"]


def with_round_energy(rounds: pd.DataFrame, preferred: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add `energy` to each round and say, per study, which metric it came from.

    One metric per study, never a mix: `preferred` (idle removed, thesis §3.3.3) where every
    completed round has it, else gross `energy_j`, else none. Returns (rounds, per-study
    frame with study_name and energy_metric).
    """
    rounds = rounds.copy()
    rounds["energy"] = np.nan
    info = []
    for name, r in rounds.groupby("study_name", sort=False):
        done = r[r["state"] == "COMPLETE"]
        chosen = None
        for metric in dict.fromkeys((preferred, "energy_j")):
            if len(done) and done[metric].notna().all():
                chosen = metric
                break
        if chosen is not None:
            rounds.loc[r.index, "energy"] = r[chosen]
        info.append({"study_name": name, "energy_metric": chosen or "none"})
    return rounds, pd.DataFrame(info, columns=["study_name", "energy_metric"])


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
                **search_keys(s),
                "rounds": len(c),
                "best_accuracy": best,
                "rounds_to_best": int(c["round"].iloc[idx]) + 1,
            }
        )
    return pd.DataFrame(
        rows, columns=[*SEARCH_COLUMNS, "rounds", "best_accuracy", "rounds_to_best"]
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
                **search_keys(s),
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


def search_keys(s: pd.Series) -> dict[str, object]:
    """A study's identifying columns, as SEARCH_COLUMNS names them."""
    return {
        "net": s["net"],
        "conv": level_label(s["conv"]),
        "linear": level_label(s["linear"]),
        "relu": level_label(s["relu"]),
        "strategy": s["search"],
        "dataset": s["dataset"],
        "hparams": s["hparams"],
        "study": s["study_name"],
    }
