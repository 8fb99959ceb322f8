"""The frames a report is computed from, the same whether they come from MLflow (`load.py`) or
from a tidy CSV of observations (`tidy.py`), so both get the same analysis.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

# Round runs carry the tag `state`. Only finished trials are rounds (what Optuna calls COMPLETE
# or PRUNED); FAIL, and RUNNING/KILLED leftovers of a worker that died, are not: a 6-round
# study must not count 7 because a worker was killed mid-round.
COUNTED_STATES = ("COMPLETE", "PRUNED")

# A study's command-line overrides as its run's tag `hydra_overrides` has them (text).
OVERRIDES = "overrides"
# A studies frame has these columns, then one (text) per other param of the study runs: a
# user's own keys (`net.width`, `optimizer`) are factors the report may analyse.
STUDY_COLUMNS = [
    "study_name",
    "net",
    "conv",
    "linear",
    "relu",
    "dataset",
    "search",
    "hparams",
    "pruner",
    "epochs",
    "rounds",
    "repetitions",
    "batch_size",
    "seed",
    "energy_kind",
    OVERRIDES,
]
ROUND_METRICS = ("accuracy", "accuracy_std", "energy_j", "energy_net_j", "duration_s")
# Where and in what state a round ran (an ordered sweep's position, the device's temperature
# at its start): the report's drift tests (section_design.py); absent in older runs.
DESIGN_METRICS = ("sweep_position", "temp_c_start")
# The order tracked rounds started in across their experiment (0-based, from each round run's
# start time): where no sweep_position was logged (a sequential sweep), the drift over time.
START_ORDER = "start_order"
ROUND_COLUMNS = [
    "study_name",
    "round",
    "run_id",
    "state",
    *ROUND_METRICS,
    *DESIGN_METRICS,
    START_ORDER,
    "pruned_epoch",
    "idle_power_w",  # of the parent run that ran the round: idle power subtracted from it
]
# Per-repetition metric histories of a round run (step = repetition, 0-based).
REP_KEYS = ("rep_energy_net_j", "rep_energy_j", "rep_duration_s", "rep_accuracy")
REP_COLUMNS = ["run_id", "step", *REP_KEYS]
INFERENCE_PARAMS = (
    "model",
    "frequency",
    "arrivals",
    "batching",
    "batch_size",
    "max_batch",
    "max_delay_s",
)
INFERENCE_METRICS = (
    "energy_per_image_j",
    "energy_j",
    "response_max_s",
    "batch_size_mean",
    "power_peak_w_mean",
)
INFERENCE_COLUMNS = ["run_id", *INFERENCE_PARAMS, *INFERENCE_METRICS]


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class Runs:
    """Training studies, their rounds and inference runs, with bare, typed columns.

    `rep_metrics(run_ids)` gives the per-repetition rows (REP_COLUMNS) of those round runs;
    it is a function because MLflow serves them one run at a time, so only the factorial's
    rounds are read.
    """

    source: str  # how report.md names where the runs came from
    studies: pd.DataFrame  # STUDY_COLUMNS (then any other params), one row per study
    # ROUND_COLUMNS, then one per other metric a study optimised (`val_loss`); a row per
    # (study, round) run
    rounds: pd.DataFrame
    inference: pd.DataFrame  # INFERENCE_COLUMNS
    rep_metrics: Callable[[list[str]], pd.DataFrame]
    untagged: int = 0  # runs without a known kind, left out
    energy_kinds: Mapping[str, int] = field(default_factory=dict)  # runs per meter kind
    notes: tuple[str, ...] = ()  # what report.md must say about the source

    @property
    def is_empty(self) -> bool:
        return self.studies.empty and self.inference.empty and not self.untagged


def level_label(x: object) -> str:
    """A factor level or count as people write it: 4.0 → "4"; text and NaN unchanged."""
    try:
        f = float(str(x))
    except ValueError:
        return str(x)
    return str(int(f)) if not math.isnan(f) and f.is_integer() else str(x)


def level_cell(x: object) -> object:
    """A level for a table cell: as `level_label` writes it, missing where the study has none
    (a `_target_` net has no layer counts)."""
    return level_label(x) if pd.notna(x) else float("nan")


def config_label(linear: object, conv: object, relu: object) -> str:
    """Short name of one architecture (a row of Table 3.2)."""
    return f"lin{level_label(linear)} conv{level_label(conv)} relu{level_label(relu)}"


def slug(text: str) -> str:
    """A file-name-safe form of a name (a dataset, a search space) for figures and tables."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "x"
