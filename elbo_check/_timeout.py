"""A wall-clock budget for symbolic work that sympy cannot interrupt itself.

``simplify`` and ``integrate`` have no timeout.  On POSIX, in the main thread,
:func:`time_limit` arms ``SIGALRM`` (``setitimer``) and raises
:class:`StepTimeout` inside the running sympy call.  Elsewhere (a worker
thread, Windows) no signal can be delivered, so the budget is only checked
between stages with :meth:`Deadline.check`.

>>> from elbo_check._timeout import Deadline
>>> Deadline(5.0).expired()
False
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
import time
from collections.abc import Iterator
from types import CodeType, FrameType

__all__ = ["Deadline", "StepTimeout", "time_limit"]


class StepTimeout(Exception):
    """The step's time budget ran out."""


class Deadline:
    """A point in monotonic time after which work should stop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.at = time.monotonic() + self.seconds

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() >= self.at

    def check(self) -> None:
        """Raise :class:`StepTimeout` if the deadline has passed."""
        if self.expired():
            raise StepTimeout(f"time limit of {self.seconds:g} s exceeded")


def _in_unraisable_context(frame: FrameType | None, depth: int = 64) -> bool:
    """Is the interrupted code a garbage-collector callback, a weakref callback or a ``__del__``?"""
    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None and depth > 0:
        code = frame.f_code
        if code in callbacks or code.co_name == "__del__" or _is_weakref_code(code):
            return True
        frame = frame.f_back
        depth -= 1
    return False


def _is_weakref_code(code: CodeType) -> bool:
    """Weakref callbacks (``WeakSet``'s ``_remove``, ``finalize``) run during deallocation."""
    return code.co_filename.endswith(("weakref.py", "_weakrefset.py"))


def _can_signal() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`StepTimeout` in the block once ``seconds`` have passed.

    Nested uses keep the tighter of the two limits.
    """
    if seconds <= 0:
        raise StepTimeout("time limit exhausted")
    if not _can_signal():
        yield
        return

    def _on_alarm(signum: int, frame: FrameType | None) -> None:
        if _in_unraisable_context(frame):
            # an exception raised in a gc callback or a __del__ would be swallowed
            # ("Exception ignored in ..."): try again a moment later instead
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            return
        raise StepTimeout(f"time limit of {seconds:g} s exceeded")

    previous_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    start = time.monotonic()
    if previous_remaining and previous_remaining < seconds:
        # an outer limit is tighter: leave it in charge
        yield
        return
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if previous_remaining:
            left = previous_remaining - (time.monotonic() - start)
            # re-arm the outer limit; fire almost at once if it has passed
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
