"""Tables of training studies round by round (thesis §3.5.1): best accuracy (Table 3.3),
convergence against rounds and joules, energy to target, and pruning.

Each follows the metric its study optimised (parent-run params `objective` and `direction`;
runs without them optimised accuracy, maximised): best-so-far is a running maximum or minimum,
and a table only holds studies of one objective, its columns named after it.

A round is a run in state COMPLETE or PRUNED (`runs.COUNTED_STATES`); a pruned round's
accuracy is not a result (its training stopped early, and Optuna ranks only completed trials),
but its joules were spent. Failed and cut-short runs are no rounds; the joules they logged
were spent too and count from where they ran; one that logged none adds nothing, as its cost
is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from green_ai.analysis import stats
from green_ai.analysis.runs import COUNTED_STATES, level_cell
from green_ai.errors import UserError

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
    "value",  # of the study's objective (its accuracy, for the thesis's studies)
    "best_so_far",
    "cumulative_energy_j",
    "energy",  # the round's own joules (the energy objective of a Pareto study's front)
]
# What a study optimised when its run does not say: the thesis's accuracy, maximised.
DEFAULT_OBJECTIVE = "accuracy"
DIRECTIONS = ("maximize", "minimize")
KNOWN_DIRECTIONS = {DEFAULT_OBJECTIVE: "maximize"}
# Columns of a rounds frame that hold no metric a study could optimise.
NOT_METRICS = frozenset(
    {"study_name", "round", "run_id", "state", "start_time", "energy", "idle_power_w"}
)


@dataclass(frozen=True)
class Objective:
    """The metric a study optimised and its direction, and how tables and files name it.

    `suffix` tells its tables' and figures' files apart from the thesis's (accuracy,
    maximised), whose names stay as they are.
    """

    name: str = DEFAULT_OBJECTIVE
    direction: str = "maximize"
    suffix: str = ""

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    @property
    def is_thesis(self) -> bool:
        return self.name == DEFAULT_OBJECTIVE and self.maximize

    @property
    def best_column(self) -> str:
        return f"best_{self.name}"

    @property
    def target_column(self) -> str:
        return f"target_{self.name}"

    @property
    def label(self) -> str:
        """How captions name it: `val_loss` (minimised)."""
        return f"`{self.name}` ({'maximised' if self.maximize else 'minimised'})"


THESIS_OBJECTIVE = Objective()


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


def with_objectives(studies: pd.DataFrame) -> pd.DataFrame:
    """`objective` and `direction` of every study, filled in where its run logged none."""
    studies = studies.copy()
    objective = _column(studies, "objective").fillna(DEFAULT_OBJECTIVE).astype(str)
    direction = _column(studies, "direction").fillna(objective.map(KNOWN_DIRECTIONS))
    for name, o, d in zip(studies["study_name"], objective, direction, strict=True):
        if d not in DIRECTIONS:
            given = "no param direction" if pd.isna(d) else f"direction={d!r}"
            raise UserError(
                f"training study {name!r} optimised {o} but its parent run has {given}; "
                "log direction=maximize or direction=minimize on that run to report it"
            )
    studies["objective"], studies["direction"] = objective, direction.astype(str)
    return studies


def objective_of(study: pd.Series) -> Objective:
    """The study's objective (accuracy, maximised, where the frame has none)."""
    name, direction = study.get("objective"), study.get("direction")
    if not isinstance(name, str):
        return THESIS_OBJECTIVE
    return Objective(name, direction if isinstance(direction, str) else "maximize")


def objective_groups(studies: pd.DataFrame) -> list[tuple[Objective, pd.DataFrame]]:
    """The studies split by objective and direction, the thesis's (accuracy, maximised)
    first; each objective knows the suffix of its files (`_val_loss`, and `_minimize` where
    the same metric is optimised both ways, or accuracy minimised)."""
    if studies.empty:
        return []
    keyed = with_objectives(studies)
    pairs = keyed[["objective", "direction"]].drop_duplicates()
    both_ways = set(pairs["objective"][pairs["objective"].duplicated()])
    groups = []
    for (name, direction), group in keyed.groupby(["objective", "direction"], sort=False):
        o = Objective(str(name), str(direction))
        if not o.is_thesis:
            # A minimised accuracy must not take the thesis's file names.
            plain = o.name not in both_ways and o.name != DEFAULT_OBJECTIVE
            # The metric as its name reads (`val_loss`), safe in a file name.
            part = re.sub(r"[^A-Za-z0-9_.-]+", "-", o.name).strip("-") or "metric"
            suffix = f"_{part}" + ("" if plain else f"_{o.direction}")
            o = Objective(o.name, o.direction, suffix)
        groups.append((o, group))
    return sorted(groups, key=lambda g: (not g[0].is_thesis, g[0].name, g[0].direction))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(object)
    return pd.Series([np.nan] * len(frame), index=frame.index, dtype=object)


def objective_values(rounds: pd.DataFrame, objective: str) -> pd.Series:
    """Each round's value of a metric; NaN where the rounds have none of that name."""
    if objective in NOT_METRICS or objective not in rounds.columns:
        return pd.Series(np.nan, index=rounds.index, dtype=float)
    return pd.to_numeric(rounds[objective], errors="coerce").astype(float)


def search_curves(rounds: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Per round of each study: its number `n` (1-based, rounds only), accuracy, the value of
    its objective and the best so far, and the joules spent up to and including it."""
    parts = []
    for _, s in studies.iterrows():
        name, objective = s["study_name"], objective_of(s)
        r = rounds[rounds["study_name"] == name].sort_values("round")
        counted = r["state"].isin(COUNTED_STATES).to_numpy()
        if not counted.any():
            continue
        energy = r["energy"].to_numpy(dtype=float)
        # Runs that are no rounds add what they logged; rounds of an unmetered study stay NaN.
        spent = np.cumsum(np.where(counted, energy, np.nan_to_num(energy, nan=0.0)))
        complete = r["state"] == "COMPLETE"
        accuracy = r["accuracy"].where(complete).to_numpy(dtype=float)[counted]
        value = objective_values(r, objective.name).where(complete).to_numpy()[counted]
        parts.append(
            pd.DataFrame(
                {
                    "study_name": name,
                    "round": r["round"].to_numpy()[counted],
                    "n": np.arange(1, counted.sum() + 1),
                    "state": r["state"].to_numpy()[counted],
                    "accuracy": accuracy,
                    "value": value,
                    "best_so_far": stats.best_so_far(value, maximize=objective.maximize),
                    "cumulative_energy_j": spent[counted],
                    "energy": energy[counted],
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CURVE_COLUMNS)


def uncounted_without_energy(rounds: pd.DataFrame, studies: pd.DataFrame) -> int:
    """Runs that are no rounds and logged no joules, in studies that are otherwise metered."""
    metered = studies[studies["energy_metric"] != "none"]["study_name"]
    r = rounds[rounds["study_name"].isin(metered)]
    return int((~r["state"].isin(COUNTED_STATES) & r["energy"].isna()).sum())


def best_accuracy_table(
    curves: pd.DataFrame, studies: pd.DataFrame, objective: Objective = THESIS_OBJECTIVE
) -> pd.DataFrame:
    """Table 3.3: best value of the objective per study (studies of that objective), the
    round (1-based) that first reached it, and the joules the study spent in all."""
    rows = []
    for _, s in studies.iterrows():
        c = curves[curves["study_name"] == s["study_name"]]
        values = c["value"].to_numpy(dtype=float)
        if not len(c) or np.isnan(values).all():
            continue
        best = stats.best_value(values, maximize=objective.maximize)
        idx = stats.first_reached(values, best, maximize=objective.maximize)
        assert idx is not None
        rows.append(
            {
                **search_keys(s),
                "rounds": len(c),
                objective.best_column: best,
                "rounds_to_best": int(c["n"].iloc[idx]),
                "energy_metric": s["energy_metric"],
                "energy_j": float(c["cumulative_energy_j"].iloc[-1]),
            }
        )
    columns = [*SEARCH_COLUMNS, "rounds", objective.best_column, "rounds_to_best"]
    return pd.DataFrame(rows, columns=[*columns, "energy_metric", "energy_j"])


def energy_to_target_table(
    curves: pd.DataFrame,
    studies: pd.DataFrame,
    target_pct: float,
    objective: Objective = THESIS_OBJECTIVE,
) -> pd.DataFrame:
    """Joules a search spent until its objective came within `target_pct` % (relative to
    |best|) of its final best."""
    rows = []
    maximize = objective.maximize
    for _, s in studies.iterrows():
        c = curves[curves["study_name"] == s["study_name"]]
        if not len(c) or c["value"].isna().all():
            continue
        energy = np.diff(c["cumulative_energy_j"].to_numpy(dtype=float), prepend=0.0)
        idx, target, spent = stats.energy_to_target(
            c["value"], energy, target_pct, maximize=maximize
        )
        total = float(c["cumulative_energy_j"].iloc[-1])
        rows.append(
            {
                **search_keys(s),
                objective.best_column: stats.best_value(c["value"], maximize=maximize),
                "target_pct": target_pct,
                objective.target_column: target,
                "rounds_to_target": int(c["n"].iloc[idx]) if idx is not None else None,
                "energy_to_target_j": spent,
                "total_energy_j": total,
                "energy_share": spent / total if total else float("nan"),
            }
        )
    columns = [
        *SEARCH_COLUMNS,
        objective.best_column,
        "target_pct",
        objective.target_column,
        "rounds_to_target",
        "energy_to_target_j",
        "total_energy_j",
        "energy_share",
    ]
    return pd.DataFrame(rows, columns=columns)


def pruning_table(
    curves: pd.DataFrame,
    studies: pd.DataFrame,
    target_pct: float,
    objective: Objective = THESIS_OBJECTIVE,
) -> pd.DataFrame:
    """Each strategy with and without pruning: joules spent, best value of the objective, and
    the joules until it came within `target_pct` % of the best that any of its studies
    reached, so every pruner is measured against the same target.

    Only comparisons with a pruned study are shown; `energy_vs_unpruned_pct` compares a study's
    joules with the mean of the same strategy's studies without a pruner.
    """
    keyed = pd.DataFrame([search_keys(s) for _, s in studies.iterrows()], columns=SEARCH_COLUMNS)
    maximize = objective.maximize
    parts: list[pd.DataFrame] = []
    for _, group in keyed.groupby(PRUNING_GROUP, sort=True, dropna=False):
        if (group["pruner"] == "none").all():
            continue
        c = curves[curves["study_name"].isin(group["study"])]
        if c.empty or c["value"].isna().all():
            continue
        best = stats.best_value(c["value"], maximize=maximize)
        target = stats.target_value(best, target_pct, maximize=maximize)
        part = pd.DataFrame(
            [
                _pruning_row(k, curves[curves["study_name"] == k["study"]], target, objective)
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
        objective.best_column,
        objective.target_column,
        "rounds_to_target",
        "energy_to_target_j",
        "energy_vs_unpruned_pct",
    ]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _pruning_row(
    keys: dict[str, Any], c: pd.DataFrame, target: float, objective: Objective
) -> dict[str, Any]:
    values = c["value"].to_numpy(dtype=float)
    idx = stats.first_reached(values, target, maximize=objective.maximize)
    return {
        **keys,
        "rounds": len(c),
        "pruned_rounds": int((c["state"] == "PRUNED").sum()),
        "energy_j": float(c["cumulative_energy_j"].iloc[-1]) if len(c) else np.nan,
        objective.best_column: stats.best_value(values, maximize=objective.maximize),
        objective.target_column: target,
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
