"""The step time limit: it fires, it nests, and it never fires inside a gc callback."""

from __future__ import annotations

import gc
import time

import pytest

from elbo_check._timeout import Deadline, StepTimeout, time_limit


def _spin(seconds: float) -> None:
    with time_limit(seconds):
        while True:
            pass


def _allocate(seconds: float) -> None:
    with time_limit(seconds):
        while True:
            _ = [[] for _ in range(1000)]


def test_the_time_limit_interrupts_a_busy_loop() -> None:
    with pytest.raises(StepTimeout):
        _spin(0.01)


def test_a_fast_block_is_not_interrupted_and_leaves_no_alarm_behind() -> None:
    with time_limit(5.0):
        total = sum(range(1000))
    time.sleep(0.02)
    assert total == 499500


def test_the_timeout_is_not_raised_inside_a_garbage_collector_callback() -> None:
    # An exception raised in a gc callback is swallowed ("Exception ignored in"),
    # which pytest turns into an error under filterwarnings=error; the handler
    # must defer instead, and still interrupt the block right after.
    def slow_callback(phase: str, info: dict[str, int]) -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < 0.001:
            pass

    gc.callbacks.append(slow_callback)
    try:
        for _ in range(5):
            with pytest.raises(StepTimeout):
                _allocate(0.003)
    finally:
        gc.callbacks.remove(slow_callback)


def test_a_deadline_reports_its_remaining_time() -> None:
    deadline = Deadline(10.0)
    assert 0 < deadline.remaining() <= 10.0
    assert not deadline.expired()
    with pytest.raises(StepTimeout):
        Deadline(0.0).check()
