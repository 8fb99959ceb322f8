"""Statistics shared by the study loop and the report: confidence intervals of mean energies."""

from green_ai.stats.intervals import Interval, mean_interval, net_interval

__all__ = ["Interval", "mean_interval", "net_interval"]
