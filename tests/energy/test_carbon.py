"""Grams of CO2-equivalent, and the shipped grid-intensity table with its source."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from green_ai.energy import co2_g, grid_intensity, grid_regions
from green_ai.errors import UserError


def table_lines() -> list[str]:
    path = resources.files("green_ai.energy") / "data" / "grid_intensity.csv"
    return path.read_text(encoding="utf-8").splitlines()


def test_table_header_names_its_source_and_year() -> None:
    header = [line for line in table_lines() if line.startswith("#")]
    assert "# source: Ember, Yearly Electricity Data, 2024" in header
    assert "# year: 2024" in header


def test_table_rows_are_iso_codes_with_plausible_values() -> None:
    rows = list(csv.DictReader(line for line in table_lines() if not line.startswith("#")))
    codes = [row["region"] for row in rows]
    assert codes == sorted(set(codes))  # one row per country
    assert all(len(c) == 2 and c.isalpha() and c.isupper() for c in codes)
    assert all(0 <= float(row["g_per_kwh"]) < 1200 for row in rows)
    assert grid_regions() == codes


def test_region_picks_the_tables_value_and_names_the_source() -> None:
    # Ember's 2024 figures as shipped (France: mostly nuclear; the Netherlands: gas).
    assert grid_intensity("NL", 475.0) == (252.7, "Ember, Yearly Electricity Data, 2024 (NL)")
    assert grid_intensity("fr", 475.0)[0] == 44.18
    assert grid_intensity("DE", 475.0)[0] > grid_intensity("FR", 475.0)[0]


def test_without_region_the_configured_value_applies() -> None:
    assert grid_intensity(None, 300.0) == (300.0, "energy.grid_intensity_g_per_kwh")


def test_unknown_region_lists_the_known_codes() -> None:
    with pytest.raises(UserError, match="energy.region='ZZ' .* NL .*grid_intensity_g_per_kwh"):
        grid_intensity("ZZ", 475.0)


def test_co2_from_grid_intensity() -> None:
    # 3.6 MJ is one kWh: at 400 g/kWh, 400 g.
    assert co2_g(3.6e6, 400.0) == pytest.approx(400.0)
    assert co2_g(1800.0, 475.0) == pytest.approx(475.0 / 2000)
    with pytest.raises(ValueError):
        co2_g(1.0, -1.0)
