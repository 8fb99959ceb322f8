"""`python -m green_ai.plan`: how many repetitions per cell a factorial needs, simulated from a
pilot (a tidy CSV, `input=FILE.csv`, or the runs of `tracking.experiment=NAME`); prints a
table and writes `out` (green_ai/analysis/power.py)."""

from __future__ import annotations

from pathlib import Path

import hydra
import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from green_ai.columns import aligned
from green_ai.config.hydra_app import fail, run_app
from green_ai.config.plan import PlanConfig
from green_ai.config.store import register_configs, to_settings
from green_ai.errors import UserError
from green_ai.paths import launch_dir

register_configs()
ConfigStore.instance().store(name="plan_schema", node=PlanConfig)


def pilot_points(settings: PlanConfig) -> pd.DataFrame:
    """The pilot's factorial observations, one per training iteration (as the report's
    factorial tables read them); a UserError when there is no factorial to plan."""
    from green_ai.analysis import factorial_tables as tables
    from green_ai.analysis import search_tables

    if settings.input is not None:
        from green_ai.analysis.tidy import read_tidy

        runs = read_tidy(Path(launch_dir(), settings.input), settings.factors)
        where = f"input={settings.input}"
    else:
        from green_ai.analysis.load import load_experiment

        runs = load_experiment(settings.tracking.uri, settings.tracking.experiment)
        where = f"tracking.experiment={settings.tracking.experiment}"
    rounds, _ = search_tables.with_round_energy(runs.rounds, settings.energy_metric)
    _, factorials = tables.find_factorials(runs.studies, settings.factors)
    parts = []
    for f in factorials:
        ids = rounds[rounds["study_name"].isin(f.studies["study_name"])]["run_id"].tolist()
        points = tables.repetition_points(rounds, runs.rep_metrics(ids), f, settings.energy_metric)
        parts.append(points.frame)
    points = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if points.empty or not tables.varying_factors(points):
        raise UserError(
            f"{where}: no factor with two or more levels and energy figures; a pilot needs "
            "observations of at least two levels of a factor (e.g. conv=1,4)"
        )
    return points


def run_plan(cfg: DictConfig) -> pd.DataFrame:
    """Validate, read the pilot, simulate; write `out` and return the plan."""
    from green_ai.analysis.power import PowerSettings, plan_table

    settings = to_settings(cfg, PlanConfig)
    out = Path(launch_dir(), settings.out)
    if out.suffix.lower() != ".csv":
        raise UserError(f"out={settings.out}: the plan is a CSV file; name one ending in .csv")
    points = pilot_points(settings)
    power = PowerSettings(
        power=settings.power,
        alpha=settings.alpha,
        simulations=settings.simulations,
        max_repetitions=settings.max_repetitions,
        seed=settings.seed,
    )
    plan = plan_table(points, settings.relative_effect, power)
    out.parent.mkdir(parents=True, exist_ok=True)
    plan.to_csv(out, index=False)
    print(format_plan(plan, settings))
    print(f"plan written to {out}")
    return plan


def format_plan(plan: pd.DataFrame, settings: PlanConfig) -> str:
    """The plan as a person reads it: one line per dataset and factor."""
    columns = ["dataset", "factor", "effect", "now", "power now", "needed", "power"]
    cells = []
    for r in plan.itertuples(index=False):
        needed = r.repetitions_needed
        cells.append(
            [
                str(r.dataset),
                str(r.factor),
                str(r.effect),
                str(r.current_repetitions),
                f"{r.power_at_current:.2f}",
                f"> {settings.max_repetitions}" if pd.isna(needed) else str(int(needed)),
                f"{r.power_at_needed:.2f}",
            ]
        )
    head = (
        f"repetitions per cell for power {settings.power:g} at alpha {settings.alpha:g} "
        f"(Kruskal–Wallis, {settings.simulations} bootstrap factorials each, seed "
        f"{settings.seed}):"
    )
    return head + "\n" + aligned(columns, cells, right=columns[3:], rule=True)


@hydra.main(config_path="../conf", config_name="plan", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    try:
        run_plan(cfg)
    except UserError as err:
        fail(str(err))


def main() -> None:
    run_app(_main)


if __name__ == "__main__":
    main()
