"""The thread limit around the GP work: one torch and one BLAS thread inside, restored after."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from green_ai.samplers._gp_pi.thread_limiting import limit_threads


@pytest.fixture
def two_torch_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def _blas_threads() -> list[int]:
    np.ones(2) @ np.ones(2)  # make sure numpy's BLAS is loaded
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_one_thread_inside_the_callers_count_after(two_torch_threads: None) -> None:
    blas_before = _blas_threads()
    with limit_threads():
        assert torch.get_num_threads() == 1
        assert set(_blas_threads()) <= {1}
    assert torch.get_num_threads() == 2
    assert _blas_threads() == blas_before


def test_nested_and_concurrent_users_leave_nothing_limited(two_torch_threads: None) -> None:
    blas_before = _blas_threads()
    started = threading.Event()
    seen: list[int] = []

    def other() -> None:
        started.set()
        with limit_threads():
            seen.append(torch.get_num_threads())

    worker = threading.Thread(target=other)
    with limit_threads():
        worker.start()
        started.wait(10)
        with limit_threads():
            pass
        # The inner exit restores nothing while the outer body still runs.
        assert torch.get_num_threads() == 1
        assert set(_blas_threads()) <= {1}
        assert seen == []  # the other thread waits its turn
    worker.join(10)
    assert seen == [1]
    assert torch.get_num_threads() == 2
    assert _blas_threads() == blas_before


def test_threads_come_back_after_an_error(two_torch_threads: None) -> None:
    with pytest.raises(RuntimeError), limit_threads():
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
