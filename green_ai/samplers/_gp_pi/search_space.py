"""The GP's view of a search space: numeric parameters mapped to the unit cube and back.

Log-scaled parameters are mapped in log space: the thesis's testbed fed raw, unscaled inputs to
its GP (SPEC, "Known defects").
"""

from __future__ import annotations

import math

from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

__all__ = ["from_unit", "is_modelled", "to_unit"]


def is_modelled(dist: BaseDistribution) -> bool:
    """The GP models numeric parameters with a range; categoricals and fixed values do not."""
    return isinstance(dist, (FloatDistribution, IntDistribution)) and not dist.single()


def to_unit(value: float, dist: BaseDistribution) -> float:
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    if dist.log:
        return (math.log(value) - math.log(dist.low)) / (math.log(dist.high) - math.log(dist.low))
    return (value - dist.low) / (dist.high - dist.low)


def from_unit(u: float, dist: BaseDistribution) -> float | int:
    """Map u ∈ [0, 1] back to the distribution, snapped to its step and clipped to its bounds."""
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    u = min(max(u, 0.0), 1.0)
    if dist.log:
        value = math.exp(math.log(dist.low) + u * (math.log(dist.high) - math.log(dist.low)))
    else:
        value = dist.low + u * (dist.high - dist.low)
    if isinstance(dist, IntDistribution):
        value = dist.low + round((value - dist.low) / dist.step) * dist.step
        return int(min(max(value, dist.low), dist.high))
    if dist.step is not None:
        value = dist.low + round((value - dist.low) / dist.step) * dist.step
    return float(min(max(value, dist.low), dist.high))
