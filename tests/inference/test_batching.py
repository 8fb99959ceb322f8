"""Invariants of the batching policies, served by the real loop in virtual time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from green_ai.errors import UserError
from green_ai.inference import (
    BatchRecord,
    FixedBatching,
    GreedyBatching,
    Profile,
    TimeoutBatching,
    Trace,
    VirtualExecutor,
    arrival_offsets,
    make_policy,
    serve,
    verify,
)
from green_ai.inference.batching import BatchingPolicy

# Service time grows with the batch: 20 ms + 2 ms per image.
PROFILE = Profile(batch_sizes=[1, 128], service_s=[0.022, 0.276])

STREAMS = [
    (frequency, arrivals, seed)
    for frequency in (5, 40, 400)
    for arrivals in ("constant", "poisson")
    for seed in (0, 1)
]


def _serve(policy: BatchingPolicy, frequency: float, arrivals: str, seed: int) -> Trace:
    t = arrival_offsets(frequency=frequency, requests=301, arrivals=arrivals, seed=seed)
    return serve(t, policy, VirtualExecutor(PROFILE))


def _served_in_order(trace: Trace) -> list[int]:
    return [i for b in trace.batches for i in range(b.first, b.first + b.size)]


@pytest.mark.parametrize(("frequency", "arrivals", "seed"), STREAMS)
@pytest.mark.parametrize(
    "policy", [FixedBatching(16), GreedyBatching(32), TimeoutBatching(16, 0.2)], ids=str
)
def test_every_request_is_answered_once_in_order(
    policy: BatchingPolicy, frequency: float, arrivals: str, seed: int
) -> None:
    trace = _serve(policy, frequency, arrivals, seed)
    assert _served_in_order(trace) == list(range(301))
    assert np.all(trace.response_s > 0)
    for b in trace.batches:  # never served before it arrived
        assert b.start_s >= trace.arrivals[b.first + b.size - 1]


@pytest.mark.parametrize(("frequency", "arrivals", "seed"), STREAMS)
def test_fixed_batches_are_full_except_the_last(
    frequency: float, arrivals: str, seed: int
) -> None:
    trace = _serve(FixedBatching(16), frequency, arrivals, seed)
    sizes = [b.size for b in trace.batches]
    assert sizes[:-1] == [16] * (len(sizes) - 1)
    assert sizes[-1] == 301 - 16 * 18


@pytest.mark.parametrize(("frequency", "arrivals", "seed"), STREAMS)
def test_greedy_never_exceeds_its_cap_and_takes_all_it_can(
    frequency: float, arrivals: str, seed: int
) -> None:
    trace = _serve(GreedyBatching(32), frequency, arrivals, seed)
    assert max(b.size for b in trace.batches) <= 32
    for b in trace.batches:
        waiting = int(np.searchsorted(trace.arrivals, b.start_s, side="right")) - b.first
        assert b.size == min(waiting, 32)
    if frequency == 400:  # requests pile up while a batch runs: greedy batches grow
        assert max(b.size for b in trace.batches) >= 16
    if frequency == 5 and arrivals == "constant":  # the model is always free: batches of one
        assert max(b.size for b in trace.batches) == 1


@pytest.mark.parametrize(("frequency", "arrivals", "seed"), STREAMS)
def test_timeout_never_holds_a_request_past_the_delay_plus_one_service(
    frequency: float, arrivals: str, seed: int
) -> None:
    delay = 0.2
    trace = _serve(TimeoutBatching(16, delay), frequency, arrivals, seed)
    longest_service = PROFILE.service_time(16)
    previous_end = 0.0
    for b in trace.batches:
        # The policy never keeps the model idle past the oldest request's deadline: a batch
        # starts by then, or as soon as the batch before it ends.
        assert b.start_s <= max(trace.arrivals[b.first] + delay, previous_end) + 1e-9
        assert b.size <= 16
        previous_end = b.end_s
    if frequency < 400:  # where the model keeps up, that bounds every wait
        held = [b.start_s - trace.arrivals[b.first] for b in trace.batches]
        assert max(held) <= delay + longest_service + 1e-9
    if frequency == 5:  # slow stream: the delay, not the size, closes batches
        assert max(b.size for b in trace.batches) < 16


def test_fixed_without_timeout_holds_requests_far_longer() -> None:
    # The contrast the timeout policy exists for (thesis §4.6.3): at 5 requests/s a batch of
    # 16 keeps its first request waiting about 3 s.
    fixed = _serve(FixedBatching(16), 5, "constant", 0)
    timeout = _serve(TimeoutBatching(16, 0.2), 5, "constant", 0)
    assert (
        fixed.response_s.max() > 3.0 > 0.2 + PROFILE.service_time(16) >= timeout.response_s.max()
    )


def test_verify_rejects_broken_traces() -> None:
    arrivals = np.array([0.0, 0.1, 0.2])
    done = np.array([0.3, 0.3, 0.5])
    good = [BatchRecord(0, 2, 0.1, 0.3), BatchRecord(2, 1, 0.4, 0.5)]
    verify(Trace(arrivals, done, good))
    skipped = [BatchRecord(0, 2, 0.1, 0.3), BatchRecord(3, 1, 0.4, 0.5)]
    with pytest.raises(RuntimeError, match="FIFO"):
        verify(Trace(arrivals, done, skipped))
    early = [BatchRecord(0, 2, 0.05, 0.3), BatchRecord(2, 1, 0.4, 0.5)]
    with pytest.raises(RuntimeError, match="before its requests arrived"):
        verify(Trace(arrivals, done, early))
    missing = [BatchRecord(0, 2, 0.1, 0.3)]
    with pytest.raises(RuntimeError, match="2 of 3"):
        verify(Trace(arrivals, done, missing))


@pytest.mark.parametrize(
    ("policy", "kwargs", "message"),
    [
        ("fixed", {"batch_size": 0}, "batch_size=0"),
        ("timeout", {"batch_size": 8, "max_delay_s": -1}, "max_delay_s=-1"),
        ("greedy", {"batch_size": 8, "max_batch": 0}, "max_batch=0"),
        ("lifo", {"batch_size": 8}, "'lifo' is unknown"),
    ],
)
def test_bad_policies_are_user_errors(policy: str, kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        make_policy(policy, **kwargs)


def test_the_policies_are_the_group_files_each_naming_its_class() -> None:
    from green_ai.config.groups import CONF

    files = sorted(p.stem for p in (CONF / "batching").glob("*.yaml"))
    made = {name: make_policy(name, batch_size=8) for name in files}
    classes = {FixedBatching: "fixed", GreedyBatching: "greedy", TimeoutBatching: "timeout"}
    assert {type(p) for p in made.values()} == set(classes)
    for name, policy in made.items():
        assert name.startswith(classes[type(policy)]) and policy.name == classes[type(policy)]
    assert make_policy("fixed_16") == FixedBatching(16)  # extends fixed, with its own size


def test_a_policy_of_ones_own_is_a_class_and_a_file_in_the_search_path(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from green_ai.config.groups import CONF, searching
    from green_ai.inference.batching import policy_overrides

    (tmp_path / "lab_policy.py").write_text(
        "from dataclasses import dataclass\n"
        "from typing import ClassVar\n"
        "from green_ai.inference.batching import Decision\n"
        "@dataclass(frozen=True)\n"
        "class Pairs:\n"
        "    size: int = 2\n"
        "    name: ClassVar[str] = 'pairs'\n"
        "    max_batch_size = property(lambda self: self.size)\n"
        "    def decide(self, *, waiting, oldest_arrival, now, more_coming):\n"
        "        return Decision(self.size if waiting >= self.size else 0)\n"
        "    def describe(self):\n"
        "        return f'pairs-{self.size}'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "batching").mkdir()
    (tmp_path / "batching" / "pairs.yaml").write_text("_target_: lab_policy.Pairs\nsize: 2\n")
    with searching((f"file://{CONF}", f"file://{tmp_path}")):
        policy = make_policy("pairs", size=4)
        assert policy.describe() == "pairs-4"
        assert policy_overrides(policy) == ["batching=pairs", "batching.size=4"]
        trace = serve(np.zeros(8), policy, VirtualExecutor(PROFILE))
        assert [b.size for b in trace.batches] == [4, 4]
    with pytest.raises(UserError, match="'pairs' is unknown; choose one of fixed, fixed_128"):
        make_policy("pairs")
