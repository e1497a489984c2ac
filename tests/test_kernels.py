"""kernels.Parallel: a kernel over ranges of localities on several threads, in locality order."""

from __future__ import annotations

import threading
import time

import pytest

from socialcreditsim.kernels import Parallel


def test_every_range_runs_once_and_comes_back_in_locality_order() -> None:
    """Twelve ranges of 0 to 40 on three threads (this one and two helpers, each taking the next
    range left): each range once, the results in locality order, work on more than one thread."""
    seen = []

    def kernel(lo: int, hi: int, tag: str) -> tuple[int, int, str]:
        time.sleep(0.002)  # (as a nogil kernel, lets the other threads run)
        seen.append((lo, hi, threading.get_ident()))
        return lo, hi, tag

    par = Parallel(0, 40, 3)
    try:
        out = par(kernel, "x")
    finally:
        par.close()
    assert len(par.ranges) == 12 and par.ranges[0][0] == 0 and par.ranges[-1][1] == 40
    assert all(a[1] == b[0] for a, b in zip(par.ranges[:-1], par.ranges[1:], strict=True))
    assert out == [(lo, hi, "x") for lo, hi in par.ranges]
    assert sorted((lo, hi) for lo, hi, _ in seen) == par.ranges
    assert len({who for *_, who in seen}) > 1


@pytest.mark.parametrize("failing", range(8))
def test_a_kernel_error_comes_back_once_every_thread_has_stopped(failing: int) -> None:
    """An error in any one of eight ranges on two threads, whichever thread took it, is raised
    by the call once no range is running any more; after it no range starts, but the one the
    other thread may have taken in the meantime."""
    running, started = [], []

    def kernel(lo: int, hi: int) -> None:
        if lo == par.ranges[failing][0]:
            raise ValueError("boom")
        running.append(lo)
        started.append(lo)
        time.sleep(0.01)
        running.remove(lo)

    par = Parallel(0, 16, 2)
    try:
        with pytest.raises(ValueError, match="boom"):
            par(kernel)
        assert running == []
        assert len(started) <= failing + 1  # (the ranges before it, and perhaps the next)
    finally:
        par.close()
