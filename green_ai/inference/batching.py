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

The policies are the files of the `batching` config group (conf/batching/*.yaml, and those of
the search path): `_target_` names the class, the other keys are its arguments. A policy of
one's own is a class like these (its `name` the name of its file) and such a file; see
docs/extending.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Protocol

from green_ai.config.checks import require_int, require_number
from green_ai.config.groups import option, options
from green_ai.errors import UserError

__all__ = [
    "BatchingPolicy",
    "Decision",
    "FixedBatching",
    "GreedyBatching",
    "TimeoutBatching",
    "make_policy",
    "policy_from",
    "policy_overrides",
]


@dataclass(frozen=True)
class Decision:
    """`take` requests now (> 0), or wait (`take == 0`) until the next arrival or `deadline`."""

    take: int
    deadline: float | None = None


class BatchingPolicy(Protocol):
    """What the server and the simulator ask; `name` is the name of the policy's file in the
    `batching` group, so that its arguments select it again (`policy_overrides`)."""

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

    def __post_init__(self) -> None:
        require_int("batch_size", self.batch_size, minimum=1)

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

    def __post_init__(self) -> None:
        require_int("batching.max_batch", self.max_batch, minimum=1)

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

    def __post_init__(self) -> None:
        require_int("batch_size", self.batch_size, minimum=1)
        require_number("batching.max_delay_s", self.max_delay_s, low=0, unit=" seconds")
        object.__setattr__(self, "max_delay_s", float(self.max_delay_s))

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


def make_policy(policy: str, **values: Any) -> BatchingPolicy:
    """The policy of `conf/batching/<policy>.yaml`, with `values` in place of its keys (keys
    it does not have are ignored); bad sizes or delays are a `UserError`."""
    node = option("batching", policy)
    if node is None:
        raise UserError(
            f"batching.policy={policy!r} is unknown; choose one of "
            f"{', '.join(options('batching'))}"
        )
    node.update({k: v for k, v in values.items() if k in node})
    for key, value in node.items():
        if _interpolated(value):  # such as `batch_size: ${batch_size}`
            raise UserError(f"batching={policy} needs a {key} (see conf/batching/{policy}.yaml)")
    return policy_from(node)


def policy_from(batching: Mapping[str, Any]) -> BatchingPolicy:
    """The policy a composed `batching` node describes: `_target_` called with its other keys."""
    from hydra.utils import get_object

    values = {str(k): v for k, v in batching.items() if k != "_target_"}
    target = batching.get("_target_")
    try:
        make = get_object(str(target))
    except Exception as exc:  # Hydra's error for a path that does not import
        raise UserError(
            f"batching._target_={target} cannot be loaded ({str(exc).splitlines()[0]}); name "
            "an importable policy class"
        ) from None
    try:
        made = make(**values)
    except TypeError as exc:
        raise UserError(f"batching: {target} does not take {sorted(values)} ({exc})") from None
    if not callable(getattr(made, "decide", None)):
        raise UserError(f"batching._target_={target} made {made!r}, which has no decide()")
    return made  # type: ignore[no-any-return]


def policy_overrides(policy: BatchingPolicy) -> list[str]:
    """The command-line overrides of `python -m green_ai.infer` that select `policy`: its file
    (`batching=<name>`) and each argument, written as the key that file reads it from (a
    `${batch_size}` in the file: `batch_size=`; else `batching.<key>=`)."""
    if not is_dataclass(policy):
        raise TypeError(f"no overrides for {policy!r}: its arguments are not dataclass fields")
    node = option("batching", policy.name) or {}
    out = [f"batching={policy.name}"]
    for f in fields(policy):
        value = getattr(policy, f.name)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        source = _interpolated(node.get(f.name))
        out.append(f"{source or 'batching.' + f.name}={shown}")
    return out


def _interpolated(value: object) -> str | None:
    """The key that a value such as `${batch_size}` reads, else None."""
    found = re.fullmatch(r"\$\{([\w.]+)\}", value) if isinstance(value, str) else None
    return found.group(1) if found else None
