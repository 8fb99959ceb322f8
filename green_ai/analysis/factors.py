"""Which training studies form a factorial, and over which factors (thesis §3.4.2 generalised).

A factorial is a set of studies alike in everything but its factors: the thesis's
architecture design varies linear, conv and relu; a user's sweep may vary any key
(`-m net.width=4,16 optimizer=adam,sgd`). The factors are named (`report factors=[...]`) or
found: keys that the studies' command-line overrides set (tag `hydra_overrides`, one param per
key) and whose values differ between otherwise-alike studies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from green_ai.analysis.runs import OVERRIDES, REP_COLUMNS, ROUND_COLUMNS, config_label, level_label
from green_ai.errors import UserError

# The thesis's architecture factors (Table 3.2), in its order; its tables are named by them.
FACTORS = ("linear", "conv", "relu")
# What every study of one factorial shares, unless it is a factor itself: one design run at
# different levels. The thesis's layer counts count too where they are not the factors.
FACTORIAL_KEY = ("net", "dataset", "search", "hparams", "pruner", "epochs", "batch_size")
SETUP_KEYS = ("optimizer", "task")
# Override keys that are never found as factors: a factorial's tables are per dataset; the
# search section compares networks, searches, search spaces and pruners; seeds, rounds and
# repetitions replicate a configuration; the rest is where and how runs are kept.
NEVER_FOUND = frozenset({"dataset", "net", "search", "hparams", "pruner", "experiment"})
REPLICATES = frozenset({"seed", "rounds", "repetitions"})
# design.*: how the rounds were ordered and measured, not what a study computes.
SETUP_PREFIXES = ("search.", "hparams.", "tracking.", "study.", "hydra.", "design.")
# Columns of the observations and of the studies frame that no factor may be named after.
RESERVED = frozenset(
    {"group", "study_name", "config", "repetition", "energy_kind", "energy_metric", OVERRIDES}
    | {*ROUND_COLUMNS, *REP_COLUMNS, "start_time"}
)

_OVERRIDE_START = re.compile(r"\s+(?=~|[+]*[A-Za-z_][\w.@/-]*=)")


@dataclass(frozen=True)
class Factorial:
    """One factorial: its studies, its dataset, a label that tells it apart, and its factors
    (columns of `studies`, in the order the tables list them)."""

    label: str
    dataset: str
    studies: pd.DataFrame
    factors: tuple[str, ...] = FACTORS

    @property
    def is_thesis(self) -> bool:
        """The thesis's architecture factorial: its tables keep the thesis's names."""
        return self.factors == FACTORS


def parse_overrides(text: object) -> dict[str, str]:
    """`key=value` pairs of a job's overrides joined by spaces (`+key=v` and `++key=v` too);
    a value may hold spaces. Deletions (`~key`) set nothing."""
    if not isinstance(text, str) or not text.strip():
        return {}
    pairs = {}
    for part in _OVERRIDE_START.split(text.strip()):
        key, sep, value = part.partition("=")
        if sep and not key.startswith("~"):
            pairs[key.lstrip("+")] = value.strip()
    return pairs


def find_factorials(
    studies: pd.DataFrame, factors: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[Factorial]]:
    """(the other studies, factorials): studies alike but for the factors that take at least
    two combinations of them form a factorial.

    `factors` names them (each must be a param of some study); empty, they are found: the
    thesis's layer counts and every key the studies' overrides set, of which a factorial
    keeps those its studies differ in.
    """
    if studies.empty and not factors:
        return studies, []
    overrides = [parse_overrides(t) for t in _column(studies, OVERRIDES)]
    keys = list(dict.fromkeys(k for o in overrides for k in o))
    frame = _with_override_columns(studies.reset_index(drop=True), overrides, keys)
    if factors:
        _check_named(frame, factors, keys)
        candidates = list(factors)
    else:
        found = [k for k in keys if not _never_found(k) and k not in RESERVED]
        candidates = list(dict.fromkeys([*FACTORS, *found]))
    frame = frame.assign(**{c: _typed(_column(frame, c)) for c in candidates})
    alike = [*FACTORIAL_KEY, *FACTORS, *SETUP_KEYS]
    alike += [k for k in keys if k not in REPLICATES and not k.startswith(SETUP_PREFIXES)]
    alike = [k for k in dict.fromkeys(alike) if k not in candidates and k in frame.columns]
    keyed = frame.assign(**{k: frame[k].astype(str) for k in alike})
    groups = []
    in_factorial = pd.Series(False, index=frame.index)
    groupby = keyed.groupby(alike, sort=True, dropna=False) if alike else [((), keyed)]
    for values, g in groupby:
        # A study without the key (its default) differs from one that set it.
        differ = [c for c in candidates if g[c].nunique(dropna=False) >= 2]
        if not differ:
            continue
        if factors:
            chosen = tuple(factors)
        else:
            chosen = FACTORS if set(differ) <= set(FACTORS) else tuple(differ)
        named = dict(zip(alike, values if isinstance(values, tuple) else (values,), strict=True))
        groups.append((named, frame.loc[g.index], chosen))
        in_factorial[g.index] = True
    # Named by the dataset, and by whatever else tells two factorials apart.
    shown = [k for k in alike if k != "dataset" and len({str(v[k]) for v, _, _ in groups}) > 1]
    factorials = []
    for v, g, chosen in groups:
        dataset = str(g["dataset"].iloc[0]) if "dataset" in g else "nan"
        label = ", ".join([f"dataset={dataset}", *(f"{k}={v[k]}" for k in shown)])
        factorials.append(Factorial(label, dataset, g.reset_index(drop=True), chosen))
    return studies[~in_factorial.to_numpy()], factorials


def config_name(factors: Sequence[str], values: Sequence[object]) -> str:
    """Short name of one configuration: the thesis's `lin3 conv1 relu0` (a row of Table 3.2)
    for its factors, else `key=level` pairs."""
    if tuple(factors) == FACTORS:
        return config_label(*values)
    return " ".join(f"{k}={level_label(v)}" for k, v in zip(factors, values, strict=True))


def describe(factorials: Sequence[Factorial]) -> str:
    """The factors of these factorials, for headings and captions."""
    names = dict.fromkeys(f for fac in factorials for f in fac.factors)
    return ", ".join(names)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([float("nan")] * len(frame), index=frame.index, dtype=object)


def _never_found(key: str) -> bool:
    return key in NEVER_FOUND or key in REPLICATES or key.startswith(SETUP_PREFIXES)


def _with_override_columns(
    frame: pd.DataFrame, overrides: list[dict[str, str]], keys: list[str]
) -> pd.DataFrame:
    """A column per override key: the study's param of that name, else (runs that logged only
    the tag) the value the override gave; absent where a study set neither."""
    added = {}
    for key in keys:
        from_tag = pd.Series([o.get(key) for o in overrides], index=frame.index, dtype=object)
        if key not in frame.columns:
            added[key] = from_tag
        elif not pd.api.types.is_numeric_dtype(frame[key]):
            added[key] = frame[key].where(frame[key].notna() & (frame[key] != ""), from_tag)
    return frame.assign(**added) if added else frame


def _typed(values: pd.Series) -> pd.Series:
    """Levels written as numbers become numbers, so 4 sorts before 16; other text stays."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    text = values.where(values.notna() & (values.astype(str) != ""))
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers[text.notna()].notna().all() and text.notna().any():
        return numbers
    return text


def check_names(factors: Sequence[str]) -> None:
    """A named factor may be any param but the dataset and the report's own columns."""
    for name in factors:
        if name == "dataset":
            raise UserError(
                "factors=[dataset]: the dataset cannot be a factor, each dataset gets its own "
                "factorial tables; name the keys the sweep varied within a dataset"
            )
        if name in RESERVED:
            raise UserError(
                f"factors=[{name}]: `{name}` is a column of the report's own, not a study's "
                "param; name the keys the sweep varied (e.g. net.width, optimizer)"
            )


def _check_named(frame: pd.DataFrame, factors: Sequence[str], keys: list[str]) -> None:
    check_names(factors)
    available = [
        c
        for c in dict.fromkeys([*frame.columns, *keys])
        if c not in RESERVED and _column(frame, c).notna().any()
    ]
    for name in factors:
        if name not in available:
            listed = ", ".join(sorted(available)) if available else "none"
            raise UserError(
                f"factors: no study has a param `{name}`; the studies' params: {listed} "
                "(name factors=[...] from these)"
            )
