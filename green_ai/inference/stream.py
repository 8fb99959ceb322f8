"""The request stream: when each request arrives, as offsets from the start of a run.

The schedule is computed up front and is absolute: request i arrives at `offsets[i]` seconds
after the run's start on a monotonic clock, however late the server ran before it. A stream
paced by sleeping between requests accumulates every sleep's overshoot; this one cannot drift.

- `constant`: request i at i / frequency — the regular stream of the thesis (§4.2.1).
- `poisson`: exponential gaps with mean 1 / frequency — the erratic stream with bursts and
  silences that thesis §4.6.3 says a real service sees. Seeded, so a run can be repeated and
  simulated on the very same sample path.
"""

from __future__ import annotations

import numpy as np

from green_ai.config.checks import require_int, require_number
from green_ai.errors import UserError

__all__ = ["ARRIVALS", "arrival_offsets"]

ARRIVALS = ("constant", "poisson")


def arrival_offsets(
    *, frequency: float, requests: int, arrivals: str = "constant", seed: int = 0
) -> np.ndarray:
    """Arrival time of every request in seconds from the start, non-decreasing, first at 0."""
    require_number("frequency", frequency, low=0, strict=True, unit=" requests per second")
    require_int("requests", requests, minimum=1)
    if arrivals == "constant":
        return np.arange(requests, dtype=np.float64) / float(frequency)
    if arrivals == "poisson":
        rng = np.random.default_rng(seed)
        gaps = rng.exponential(1.0 / float(frequency), size=requests)
        gaps[0] = 0.0  # the run starts with its first request, as the constant stream does
        return np.cumsum(gaps)
    raise UserError(f"arrivals={arrivals!r} is unknown; choose one of {ARRIVALS}")
