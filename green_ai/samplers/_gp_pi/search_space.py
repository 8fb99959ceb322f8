"""The GP's view of an Optuna search space: every parameter as one coordinate of a box.

The thesis's testbed fed raw, unscaled inputs to its GP (SPEC, "Known defects"). Here every
numeric parameter maps to [0, 1], log-scaled ones in log space. Integer and stepped parameters
are padded half a step at each end before that map, as Optuna's GP does
(``optuna/_gp/search_space.py``): each of their values then owns an equal share of [0, 1], so a
uniform draw, or a continuous optimum rounded to the nearest value, makes the end values as
likely as the inner ones. Rounding an unpadded map made them half as likely (0/1/2 drawn at
25/50/25 %, issue 12). A categorical parameter with k choices is held as its choice's index
divided by k − 1, which the GP's categorical kernel compares for equality only. So every
coordinate lies in [0, 1], which is what BoTorch's models check their inputs for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["MAX_EXHAUSTIVE", "SearchSpace", "is_modelled"]

# Discrete parameters with at most this many values are optimised by trying every value (as
# Optuna's GP does for up to 16); larger ones move continuously and are rounded afterwards.
MAX_EXHAUSTIVE = 16


def is_modelled(dist: BaseDistribution) -> bool:
    """The GP models every parameter that can take more than one value."""
    return (
        isinstance(dist, (FloatDistribution, IntDistribution, CategoricalDistribution))
        and not dist.single()
    )


class SearchSpace:
    """Encodes parameters as points of the unit cube and decodes points back to parameters.

    ``exhaustive`` maps each coordinate whose values are few enough to try one by one (every
    categorical, integer and stepped parameters with at most `MAX_EXHAUSTIVE` values) to its
    encoded values; the other coordinates are optimised continuously.
    """

    def __init__(self, distributions: Mapping[str, BaseDistribution]) -> None:
        self.distributions = dict(distributions)
        self.names = list(distributions)
        self.dim = len(self.names)
        self.cat_dims = [
            i
            for i, d in enumerate(distributions.values())
            if isinstance(d, CategoricalDistribution)
        ]
        # Per coordinate: the padded ends in (log) space and the step (0 for a continuum).
        self._lo = np.zeros(self.dim)
        self._hi = np.ones(self.dim)
        self._step = np.zeros(self.dim)
        self._log = np.zeros(self.dim, dtype=bool)
        self.exhaustive: dict[int, np.ndarray] = {}
        for i, dist in enumerate(distributions.values()):
            if isinstance(dist, CategoricalDistribution):
                self.exhaustive[i] = np.linspace(0.0, 1.0, len(dist.choices))
                continue
            assert isinstance(dist, (FloatDistribution, IntDistribution))
            step = float(dist.step or 0.0)
            lo, hi = dist.low - 0.5 * step, dist.high + 0.5 * step
            self._log[i] = dist.log
            self._lo[i], self._hi[i] = (math.log(lo), math.log(hi)) if dist.log else (lo, hi)
            self._step[i] = step
            if step > 0 and round((dist.high - dist.low) / step) + 1 <= MAX_EXHAUSTIVE:
                values = dist.low + np.arange(round((dist.high - dist.low) / step) + 1) * step
                # The same arithmetic as `snap`, so a snapped point equals one of these exactly.
                self.exhaustive[i] = self._encode_column(i, np.clip(values, dist.low, dist.high))

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """The point of ``params`` (one value per name)."""
        x = np.empty(self.dim)
        for i, (name, dist) in enumerate(self.distributions.items()):
            if isinstance(dist, CategoricalDistribution):
                x[i] = dist.to_internal_repr(params[name]) / (len(dist.choices) - 1)
            else:
                x[i] = self._encode_column(i, np.array([float(params[name])]))[0]
        return np.clip(x, 0.0, 1.0)

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """The parameters at point ``x``, each snapped to its step and clipped to its range."""
        params: dict[str, Any] = {}
        for i, (name, dist) in enumerate(self.distributions.items()):
            if isinstance(dist, CategoricalDistribution):
                last = len(dist.choices) - 1
                params[name] = dist.to_external_repr(int(round(float(np.clip(x[i], 0, 1)) * last)))
                continue
            assert isinstance(dist, (FloatDistribution, IntDistribution))
            value = float(self._decode_column(i, np.array([float(x[i])]))[0])
            params[name] = int(round(value)) if isinstance(dist, IntDistribution) else value
        return params

    def snap(self, X: np.ndarray) -> np.ndarray:
        """``X`` (n × dim) with every discrete coordinate moved to its nearest allowed value."""
        X = np.clip(X, 0.0, 1.0)
        for i in self.cat_dims:
            last = len(self.exhaustive[i]) - 1
            X[:, i] = np.round(X[:, i] * last) / last
        for i in np.flatnonzero(self._step > 0).tolist():
            X[:, i] = self._encode_column(i, self._decode_column(i, X[:, i]))
        return X

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points drawn uniformly from the box (so every discrete value equally often)."""
        U = rng.uniform(size=(n, self.dim))
        for i in self.cat_dims:
            # floor(u·k) gives each of the k choices the same share (u == 1 aside).
            k = len(self.exhaustive[i])
            U[:, i] = np.minimum(np.floor(U[:, i] * k), k - 1) / (k - 1)
        return self.snap(U)

    def _encode_column(self, i: int, values: np.ndarray) -> np.ndarray:
        t = np.log(values) if self._log[i] else values
        return (t - self._lo[i]) / (self._hi[i] - self._lo[i])

    def _decode_column(self, i: int, u: np.ndarray) -> np.ndarray:
        dist = self.distributions[self.names[i]]
        assert isinstance(dist, (FloatDistribution, IntDistribution))
        t = self._lo[i] + np.clip(u, 0.0, 1.0) * (self._hi[i] - self._lo[i])
        values = np.exp(t) if self._log[i] else t
        if self._step[i] > 0:
            values = dist.low + np.round((values - dist.low) / self._step[i]) * self._step[i]
        return np.clip(values, dist.low, dist.high)
