"""Optuna samplers of green_ai and the factories that `conf/search/*.yaml` name."""

from __future__ import annotations

from green_ai.samplers._gp_pi import GPPISampler, probability_of_improvement
from green_ai.samplers._grid import GridSearchSampler, grid_size, grid_values

__all__ = [
    "GPPISampler",
    "GridSearchSampler",
    "grid_size",
    "grid_values",
    "probability_of_improvement",
]
