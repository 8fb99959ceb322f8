"""Batching policies: when the model is free, how many waiting requests go in the next batch.

A policy sees only the queue (how many wait, when the oldest arrived), the clock and whether
more requests will come; it answers "take n now" or "wait, and ask me again at `deadline` even
if nothing arrives". The real server (`server.serve`) and the simulator use the same policy
objects, so a prediction follows exactly the decisions a real run makes.

- `FixedBatching`: wait until `batch_size` requests are waiting (thesis §4.3.1); the final
  partial batch is flushed once no more requests will arrive.
- `GreedyBatching`: everything waiting, up to `max_batch` (128 in the thesis, footnote 5).
- `TimeoutBatching`: like fixed, but a partial batch goes once its oldest request has waited
  `max_delay_s` — the maximum queue delay that thesis §4.6.3 asks for (a dynamic batcher).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from green_ai.config.checks import require_int, require_number
from green_ai.errors import UserError

__all__ = [
    "POLICIES",
    "BatchingPolicy",
    "Decision",
    "FixedBatching",
    "GreedyBatching",
    "TimeoutBatching",
    "make_policy",
    "policy_overrides",
]

POLICIES = ("fixed", "greedy", "timeout")


@dataclass(frozen=True)
class Decision:
    """`take` requests now (> 0), or wait (`take == 0`) until the next arrival or `deadline`."""

    take: int
    deadline: float | None = None


class BatchingPolicy(Protocol):
    name: ClassVar[str]

    @property
    def max_batch_size(self) -> int:
        """The largest batch this policy can form (sizes the input buffer)."""
        ...

    def decide(
        self, *, waiting: int, oldest_arrival: float, now: float, more_coming: bool
    ) -> Decision:
        """Called whenever the model is free; `oldest_arrival` is meaningless when nothing
        waits."""
        ...

    def describe(self) -> str:
        """A short label such as `fixed-32`."""
        ...


@dataclass(frozen=True)
class FixedBatching:
    """Fixed-size batches: hold requests until `batch_size` wait."""

    batch_size: int
    name: ClassVar[str] = "fixed"

    @property
    def max_batch_size(self) -> int:
        return self.batch_size

    def decide(
        self, *, waiting: int, oldest_arrival: float, now: float, more_coming: bool
    ) -> Decision:
        if waiting >= self.batch_size:
            return Decision(self.batch_size)
        if waiting > 0 and not more_coming:
            return Decision(waiting)
        return Decision(0)

    def describe(self) -> str:
        return f"fixed-{self.batch_size}"


@dataclass(frozen=True)
class GreedyBatching:
    """Everything that waits when the model is free, at most `max_batch`."""

    max_batch: int = 128
    name: ClassVar[str] = "greedy"

    @property
    def max_batch_size(self) -> int:
        return self.max_batch

    def decide(
        self, *, waiting: int, oldest_arrival: float, now: float, more_coming: bool
    ) -> Decision:
        return Decision(min(waiting, self.max_batch))

    def describe(self) -> str:
        return f"greedy-{self.max_batch}"


@dataclass(frozen=True)
class TimeoutBatching:
    """Batches of `batch_size`, or fewer once the oldest waiting request is `max_delay_s` old."""

    batch_size: int
    max_delay_s: float
    name: ClassVar[str] = "timeout"

    @property
    def max_batch_size(self) -> int:
        return self.batch_size

    def decide(
        self, *, waiting: int, oldest_arrival: float, now: float, more_coming: bool
    ) -> Decision:
        if waiting >= self.batch_size:
            return Decision(self.batch_size)
        if waiting == 0:
            return Decision(0)
        # The deadline is computed once, the same way for the test and for the wake-up, so a
        # virtual clock that lands exactly on it always fires.
        deadline = oldest_arrival + self.max_delay_s
        if now >= deadline or not more_coming:
            return Decision(waiting)
        return Decision(0, deadline)

    def describe(self) -> str:
        return f"timeout-{self.batch_size}-{self.max_delay_s:g}s"


def make_policy(
    policy: str,
    *,
    batch_size: int | None = None,
    max_batch: int = 128,
    max_delay_s: float = 0.1,
) -> BatchingPolicy:
    """The policy named `policy`; bad sizes or delays are a `UserError`."""
    if policy not in POLICIES:
        raise UserError(f"batching.policy={policy!r} is unknown; choose one of {POLICIES}")
    if policy == "greedy":
        require_int("batching.max_batch", max_batch, minimum=1)
        return GreedyBatching(max_batch)
    if batch_size is None:
        raise UserError(f"batching={policy} needs a batch_size (an integer >= 1)")
    require_int("batch_size", batch_size, minimum=1)
    if policy == "fixed":
        return FixedBatching(batch_size)
    require_number("batching.max_delay_s", max_delay_s, low=0, unit=" seconds")
    return TimeoutBatching(batch_size, float(max_delay_s))


def policy_overrides(policy: BatchingPolicy) -> list[str]:
    """The command-line overrides of `python -m green_ai.infer` that select `policy`."""
    if isinstance(policy, GreedyBatching):
        return ["batching=greedy", f"batching.max_batch={policy.max_batch}"]
    if isinstance(policy, TimeoutBatching):
        return [
            "batching=timeout",
            f"batch_size={policy.batch_size}",
            f"batching.max_delay_s={policy.max_delay_s:g}",
        ]
    if isinstance(policy, FixedBatching):
        return ["batching=fixed", f"batch_size={policy.batch_size}"]
    raise TypeError(f"no overrides for {policy!r}")
