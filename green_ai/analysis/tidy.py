"""A tidy CSV of observations as the report's frames, so results that green_ai did not produce
(an older testbed's raw data, a colleague's runs) get the same analysis as tracked runs.

Two kinds of row, told apart by the `search` column:
- factorial rows (no `search` value), one per training iteration: `dataset`, `conv`, `linear`,
  `relu` (0/1), `energy_j` (idle-subtracted, thesis §3.3.3), `accuracy`; optional `round`,
  `repetition`, `net`, `sweep_position` and `temp_c_start` (where and at what temperature
  the round ran: the report tests them for a drift). Without `round` each row is its own
  round; without `repetition` rows are numbered in file order within their round. With
  `factors=[...]` the factors are those columns instead of `conv`, `linear`, `relu` (which
  become optional).
- search rows, one per round: `dataset`, `net`, `search`, `hparams`, `round` (0-based, as
  Optuna numbers trials), `accuracy`; optional `energy_j` (idle-subtracted), `state`
  (COMPLETE, PRUNED or FAIL; COMPLETE when empty), `pruner`, `seed`, `conv`, `linear`, `relu`.

Other columns are ignored. Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from green_ai.analysis.factors import FACTORS, check_names
from green_ai.analysis.runs import (
    DESIGN_METRICS,
    INFERENCE_COLUMNS,
    REP_COLUMNS,
    ROUND_COLUMNS,
    STUDY_COLUMNS,
    Runs,
    config_label,
    empty,
    level_label,
)
from green_ai.errors import UserError

FACTORIAL_REQUIRED = ("dataset", "conv", "linear", "relu", "energy_j", "accuracy")
SEARCH_REQUIRED = ("dataset", "net", "search", "hparams", "round", "accuracy")
STATES = ("COMPLETE", "PRUNED", "FAIL")


def read_tidy(path: Path, factors: Sequence[str] = ()) -> Runs:
    """Studies, rounds and repetitions of the CSV at `path`, its factorial rows' factors the
    columns `factors` (default: conv, linear, relu); a malformed cell is a UserError naming
    the file, the row and the column."""
    check_names(factors)
    table = _Table.read(path)
    absent = [f for f in factors if f not in table.frame.columns]
    if absent:
        raise UserError(
            f"factors: {path.name} has no column `{absent[0]}`; its columns: "
            f"{', '.join(table.frame.columns)} (name factors=[...] from these)"
        )
    is_search = table.text_column("search") != ""
    parts = [
        _factorial(table, table.frame.index[~is_search], factors),
        _search(table, table.frame.index[is_search]),
    ]
    studies = pd.concat([p[0] for p in parts if len(p[0])], ignore_index=True)
    rounds = pd.concat([p[1] for p in parts if len(p[1])], ignore_index=True)
    reps = pd.concat([p[2] for p in parts], ignore_index=True)

    def rep_metrics(run_ids: list[str]) -> pd.DataFrame:
        return reps[reps["run_id"].isin(run_ids)].reset_index(drop=True)

    extra = [f for f in factors if f not in STUDY_COLUMNS]
    return Runs(
        f"file `{path.name}`",
        studies.reindex(columns=[*STUDY_COLUMNS, *extra]),
        rounds[ROUND_COLUMNS],
        empty(INFERENCE_COLUMNS),
        rep_metrics=rep_metrics,
        notes=(
            "The file's `energy_j` is taken as idle-subtracted joules (thesis §3.3.3); the "
            "tables call it `energy_net_j` (per training iteration `rep_energy_net_j`), as "
            "for tracked runs.",
        ),
    )


class _Table:
    """The CSV as text cells, with parsers whose errors name the row and the column."""

    def __init__(self, frame: pd.DataFrame, name: str) -> None:
        self.frame = frame
        self.name = name

    @classmethod
    def read(cls, path: Path) -> _Table:
        if not path.is_file():
            raise UserError(f"input={path}: no such file (give the path of a CSV of results)")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"input={path}: not a readable CSV file ({first})") from err
        if frame.empty:
            raise UserError(f"input={path}: a header but no rows")
        frame.columns = [str(c).strip() for c in frame.columns]
        frame = frame.apply(lambda c: c.str.strip())
        return cls(frame, path.name)

    def row(self, index: object) -> int:
        return int(str(index)) + 2  # the header is row 1

    def text_column(self, column: str) -> pd.Series:
        if column in self.frame:
            return self.frame[column]
        return pd.Series("", index=self.frame.index)

    def require(self, columns: Sequence[str], rows: pd.Index, kind: str) -> None:
        for column in columns:
            if column not in self.frame:
                raise UserError(
                    f"{self.name} row {self.row(rows[0])}: no column `{column}`; {kind} rows "
                    f"need {', '.join(columns)}"
                )

    def text(self, column: str, rows: pd.Index) -> pd.Series:
        values = self.frame.loc[rows, column]
        self._no_empty(column, values)
        return values

    def number(self, column: str, rows: pd.Index, *, allow_empty: bool = False) -> pd.Series:
        values = self.frame.loc[rows, column]
        if not allow_empty:
            self._no_empty(column, values)
        parsed = pd.to_numeric(values.where(values != ""), errors="coerce")
        bad = (values != "") & ~np.isfinite(parsed.fillna(0.0))
        bad |= (values != "") & parsed.isna()
        if bad.any():
            i = bad.idxmax()
            raise UserError(
                f"{self.name} row {self.row(i)}: {column}={values[i]!r} is not a number"
            )
        return parsed.astype(float)

    def count(self, column: str, rows: pd.Index, *, allow_empty: bool = False) -> pd.Series:
        """Whole numbers from 0 up (layer counts, round and repetition numbers)."""
        parsed = self.number(column, rows, allow_empty=allow_empty)
        bad = parsed.notna() & ((parsed < 0) | (parsed != parsed.round()))
        if bad.any():
            i = bad.idxmax()
            value = self.frame.loc[i, column]
            raise UserError(
                f"{self.name} row {self.row(i)}: {column}={value!r} is not a whole number "
                "from 0 up"
            )
        return parsed

    def choice(
        self,
        column: str,
        rows: pd.Index,
        allowed: Sequence[str],
        default: str = "",
        *,
        allow_empty: bool = False,
    ) -> pd.Series:
        values = self.text_column(column)[rows]
        if default:
            values = values.replace("", default)
        bad = ~values.isin(allowed) & ~(allow_empty & (values == ""))
        if bad.any():
            i = bad.idxmax()
            raise UserError(
                f"{self.name} row {self.row(i)}: {column}={values[i]!r} is not one of "
                + ", ".join(allowed)
            )
        return values

    def unique(self, frame: pd.DataFrame, key: list[str], what: str) -> None:
        """Each `key` (study_name first) once: a repeated row is a copy-paste slip."""
        keys = frame[key].astype(str)
        dup = keys.duplicated(keep="first")
        if dup.any():
            i = dup.idxmax()
            first = keys.index[(keys == keys.loc[i]).all(axis=1)][0]
            where = ", ".join(f"{k}={level_label(frame.loc[i, k])}" for k in key[1:])
            raise UserError(
                f"{self.name} row {self.row(i)}: the same {what} as row {self.row(first)} "
                f"({frame.loc[i, key[0]]}, {where})"
            )

    def _no_empty(self, column: str, values: pd.Series) -> None:
        if (values == "").any():
            i = (values == "").idxmax()
            raise UserError(f"{self.name} row {self.row(i)}: {column} is empty")


_Parts = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def _factorial(table: _Table, rows: pd.Index, factors: Sequence[str]) -> _Parts:
    """One study per (dataset, net, conv, linear, relu and other factors) cell; rounds sum
    their repetitions' joules and average their accuracies, as a tracked round does."""
    if rows.empty:
        return empty(STUDY_COLUMNS), empty(ROUND_COLUMNS), empty(REP_COLUMNS)
    named = list(factors) or list(FACTORS)
    others = [k for k in named if k not in (*FACTORS, "net")]
    required = ("dataset", *named, "energy_j", "accuracy") if factors else FACTORIAL_REQUIRED
    table.require(list(dict.fromkeys(required)), rows, "factorial")
    cols = table.frame.columns
    layers = _layer_counts(table, rows, named)
    f = pd.DataFrame(
        {
            "dataset": table.text("dataset", rows),
            "net": (
                table.text("net", rows)
                if "net" in named
                else table.text_column("net")[rows].replace("", np.nan)
            ),
            **layers,
            **{k: table.text(k, rows) for k in others},
            "energy": table.number("energy_j", rows),
            "accuracy": table.number("accuracy", rows),
            **{
                k: table.number(k, rows, allow_empty=True)
                for k in DESIGN_METRICS
                if k in table.frame.columns
            },
        }
    )
    cell = ["dataset", "net", "linear", "conv", "relu", *others]
    f["study_name"] = [
        _cell_name(dict(zip(cell, values, strict=True))) for values in f[cell].values
    ]
    by_cell = f.groupby("study_name", sort=False)
    f["round"] = table.count("round", rows) if "round" in cols else by_cell.cumcount()
    if "repetition" in cols:
        f["repetition"] = table.count("repetition", rows)
    else:
        f["repetition"] = f.groupby(["study_name", "round"], sort=False).cumcount()
    table.unique(f, ["study_name", "round", "repetition"], "observation")
    f["run_id"] = f["study_name"] + "#" + f["round"].astype(int).astype(str)

    studies = f.drop_duplicates("study_name")[["study_name", *cell]].assign(pruner="none")
    grouped = f.groupby(["study_name", "run_id", "round"], sort=False)
    rounds = grouped.agg(
        accuracy=("accuracy", "mean"),
        accuracy_std=("accuracy", lambda a: float(np.std(a))),  # as training logs it
        energy_net_j=("energy", "sum"),
        # A round's position and start temperature: its first repetition's.
        **{k: (k, "first") for k in DESIGN_METRICS if k in f.columns},
    ).reset_index()
    rounds = rounds.assign(state="COMPLETE").reindex(columns=ROUND_COLUMNS)
    reps = pd.DataFrame(
        {
            "run_id": f["run_id"],
            "step": f["repetition"].astype(int),
            "rep_energy_net_j": f["energy"],
            "rep_accuracy": f["accuracy"],
        }
    ).reindex(columns=REP_COLUMNS)
    extra = [k for k in others if k not in STUDY_COLUMNS]
    return studies.reindex(columns=[*STUDY_COLUMNS, *extra]), rounds, reps


def _layer_counts(table: _Table, rows: pd.Index, named: Sequence[str]) -> dict[str, Any]:
    """The layer counts where the file has them (required unless other factors are named)."""
    cols = table.frame.columns
    layers: dict[str, Any] = {}
    for k in ("conv", "linear"):
        optional = k not in named
        layers[k] = table.count(k, rows, allow_empty=optional) if k in cols else np.nan
    if "relu" in cols:
        optional = "relu" not in named
        relu = table.choice("relu", rows, ("0", "1"), allow_empty=optional)
        layers["relu"] = relu.replace("", np.nan).astype(float)
    else:
        layers["relu"] = np.nan
    return layers


def _cell_name(cell: dict[str, object]) -> str:
    """`dataset lin3 conv1 relu0 [k=v ...] [net]`; with some layer counts only, `conv=1`
    for each one."""
    parts = [str(cell.pop("dataset"))]
    net = cell.pop("net")
    layers = {k: cell.pop(k) for k in ("linear", "conv", "relu")}
    if not any(pd.isna(v) for v in layers.values()):
        parts.append(config_label(*layers.values()))
    else:  # some counts only (factors=[conv], say): each one named, so their cells stay apart
        parts += [f"{k}={level_label(v)}" for k, v in layers.items() if not pd.isna(v)]
    parts += [f"{k}={level_label(v)}" for k, v in cell.items()]
    return " ".join(parts + ([net] if isinstance(net, str) else []))


def _search(table: _Table, rows: pd.Index) -> _Parts:
    """One study per distinct (dataset, net, search, hparams and the optional keys)."""
    if rows.empty:
        return empty(STUDY_COLUMNS), empty(ROUND_COLUMNS), empty(REP_COLUMNS)
    table.require(SEARCH_REQUIRED, rows, "search")
    cols = table.frame.columns
    s = pd.DataFrame({k: table.text(k, rows) for k in ("dataset", "net", "search", "hparams")})
    for k in ("conv", "linear", "relu"):
        s[k] = table.count(k, rows, allow_empty=True) if k in cols else np.nan
    s["pruner"] = table.text_column("pruner")[rows].replace("", "none")
    s["seed"] = table.text_column("seed")[rows].replace("", np.nan)
    s["state"] = table.choice("state", rows, STATES, default="COMPLETE")
    s["round"] = table.count("round", rows)
    # A failed or pruned round may lack an accuracy; a completed one may not.
    s["accuracy"] = table.number("accuracy", rows, allow_empty=True)
    lacking = s["accuracy"].isna() & (s["state"] == "COMPLETE")
    if lacking.any():
        i = lacking.idxmax()
        raise UserError(f"{table.name} row {table.row(i)}: accuracy is empty in a COMPLETE round")
    s["energy_net_j"] = (
        table.number("energy_j", rows, allow_empty=True) if "energy_j" in cols else np.nan
    )
    key = ["dataset", "net", "search", "hparams", "conv", "linear", "relu", "pruner", "seed"]
    shown = [k for k in key if s[k].notna().any()]
    s["study_name"] = [
        "/".join(level_label(v) for v in values if not pd.isna(v))
        for values in s[shown].itertuples(index=False)
    ]
    table.unique(s, ["study_name", "round"], "round")
    s["run_id"] = s["study_name"] + "#" + s["round"].astype(int).astype(str)
    studies = s.drop_duplicates("study_name").reindex(columns=STUDY_COLUMNS)
    rounds = s.reindex(columns=ROUND_COLUMNS)
    rounds["round"] = rounds["round"].astype(int)
    return studies, rounds, empty(REP_COLUMNS)
