"""Joules to grams of CO2-equivalent, with the grid intensity's source named.

`energy.region` picks a country's yearly average from `data/grid_intensity.csv`, a table shipped
with the package whose header names its source and year; without a region the configured
`energy.grid_intensity_g_per_kwh` applies. Either way the value and its source are returned
together, so every run can log what its `co2_g` was computed with.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

from green_ai.errors import UserError

_J_PER_KWH = 3.6e6
_TABLE = "grid_intensity.csv"


@dataclass(frozen=True)
class _Table:
    source: str  # e.g. "Ember, Yearly Electricity Data, 2024"
    g_per_kwh: dict[str, float]  # ISO 3166-1 alpha-2 code -> g CO2e per kWh


@cache
def _table() -> _Table:
    text = (resources.files(__package__) / "data" / _TABLE).read_text(encoding="utf-8")
    lines = text.splitlines()
    header: dict[str, str] = {}
    for line in lines:
        if line.startswith("#") and ":" in line:
            key, _, value = line[1:].partition(":")
            header.setdefault(key.strip(), value.strip())
    rows = csv.DictReader(line for line in lines if not line.startswith("#"))
    values = {row["region"]: float(row["g_per_kwh"]) for row in rows}
    return _Table(source=header["source"], g_per_kwh=values)


def grid_regions() -> list[str]:
    """The country codes the shipped table has, sorted."""
    return sorted(_table().g_per_kwh)


def grid_intensity(region: str | None, g_per_kwh: float) -> tuple[float, str]:
    """The grid intensity in g CO2e/kWh to use and where it comes from.

    `region` (ISO 3166-1 alpha-2, any case) takes the shipped table's yearly average, with the
    table's source and the code as the source string; `None` takes `g_per_kwh` as configured.
    """
    if region is None:
        return float(g_per_kwh), "energy.grid_intensity_g_per_kwh"
    table = _table()
    code = region.strip().upper()
    if code not in table.g_per_kwh:
        raise UserError(
            f"energy.region={region!r} is not in the shipped table; use one of "
            f"{' '.join(sorted(table.g_per_kwh))}, or set energy.grid_intensity_g_per_kwh"
        )
    return table.g_per_kwh[code], f"{table.source} ({code})"


def co2_g(energy_j: float, grid_intensity_g_per_kwh: float) -> float:
    """Grams of CO2-equivalent for `energy_j` joules on a grid of the given intensity."""
    if grid_intensity_g_per_kwh < 0:
        raise ValueError(f"grid intensity must be >= 0 g/kWh, got {grid_intensity_g_per_kwh}")
    return energy_j / _J_PER_KWH * grid_intensity_g_per_kwh
