"""One torch thread and one BLAS thread while the GP works, as Optuna's GPSampler does.

The GP works on matrices of a few hundred rows at most and makes many small calls (a kernel, a
Cholesky solve, an L-BFGS-B step). There, torch's OpenMP threads and OpenBLAS's threads cost
more in wake-ups and in competing for the same cores than they save: one suggestion took 7.3 s
with two torch threads against 1.1 s with one (issue 12), and scipy's L-BFGS-B (from scipy 1.15)
calls OpenBLAS on every step. Optuna limits the same two pools around its GP work
(``optuna/_gp/thread_limiting.py``); here threadpoolctl, which BoTorch already depends on,
limits BLAS through its library handle, which also works once BLAS is loaded (an environment
variable only counts before it is).

The limits are process state (OpenBLAS's pool is shared; threadpoolctl hands control of it to
one thread at a time), so concurrent callers, such as Optuna's ``n_jobs`` threads, take turns:
each would use one core anyway, and a thread that entered while another held the limit would
otherwise take the limited count for the original and restore it on leaving.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["limit_threads"]

_turn = threading.RLock()


@contextmanager
def limit_threads() -> Iterator[None]:
    """Run the body with one torch intra-op thread and one BLAS thread, one caller at a time."""
    import torch
    from threadpoolctl import threadpool_limits

    with _turn:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with threadpool_limits(limits=1, user_api="blas"):
                yield
        finally:
            torch.set_num_threads(threads)
