"""Where the user's function runs: a persistent worker process, or (fallback) a worker thread.

:class:`ProcessRunner` starts one worker process per validation
(:mod:`elbo_check._validate._worker`) and reuses it for every call.  The
worker is the leader of its own process group; a call that does not return
within the timeout gets the whole group killed (``SIGKILL``), and the next call
starts a fresh worker.  A call that kills the worker (``os._exit``, a
segfault, ``abort()``) becomes a ``crashed`` outcome that names the signal or
exit code.  Converting the inputs, the call, and reading and size-checking the
result all happen in the worker, under the timeout.  What the function prints
goes to a capture file, is counted, and is reported truncated.

:class:`ThreadRunner` runs calls in a thread of this process.  It is used for
functions that cannot be sent to another process (lambdas, closures, objects
pickle cannot find by name) and when ``isolation="thread"`` is asked for.
It joins its thread after the last call and keeps no reference to a call's
arguments or result, so no tensor is freed during interpreter shutdown.  It
cannot stop a call stuck in C code that holds the GIL, nor survive a crash.

>>> import numpy as np
>>> r = ThreadRunner(lambda x: x + 1, "numpy")
>>> r.call((np.ones(2),), ("mu",), 10, timeout=5.0).status
'ok'
>>> r.close()
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from elbo_check._validate._call import CallOutcome, execute
from elbo_check._validate._types import CallStatus
from elbo_check._validate._worker import HEAD_CHARS, MAX_FRAME, InitRequest, write_frame
from elbo_check.errors import ValidationError

__all__ = ["ProcessRunner", "Runner", "ThreadRunner", "open_runner"]

#: seconds the worker may take to import the target and its backend
INIT_TIMEOUT = 120.0
_HEADER_SIZE = 8


class Runner(Protocol):
    """Runs calls of one function, one at a time."""

    @property
    def kind(self) -> str:
        """``process`` or ``thread``."""
        ...

    @property
    def fallback_reason(self) -> str | None:
        """Why a callable runs in a thread rather than a worker process (None otherwise)."""
        ...

    def call(
        self, raw: Sequence[np.ndarray], roles: Sequence[str], limit: int, timeout: float
    ) -> CallOutcome:
        """Run one call on copies of ``raw``; never raises for the function's behaviour."""
        ...

    def close(self) -> None:
        """Release the process or thread."""
        ...


class ThreadRunner:
    """Calls in a worker thread of this process, with a per-call timeout."""

    kind = "thread"

    def __init__(self, fn: Callable[..., Any], backend: str, reason: str | None = None) -> None:
        self.fallback_reason = reason
        self._fn = fn
        self._backend = backend
        self._jobs: queue.SimpleQueue[tuple[Sequence[np.ndarray], Sequence[str], int] | None] = (
            queue.SimpleQueue()
        )
        self._results: queue.SimpleQueue[CallOutcome] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.abandoned = False

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            outcome = execute(self._fn, self._backend, job[0], job[1], job[2])
            del job  # no reference to this call's arrays outlives it
            self._results.put(outcome)
            del outcome

    def call(
        self, raw: Sequence[np.ndarray], roles: Sequence[str], limit: int, timeout: float
    ) -> CallOutcome:
        """Run one call; a timeout abandons the thread (it cannot be killed)."""
        if self.abandoned:
            return CallOutcome(CallStatus.TIMEOUT, message="did not return (an earlier call hung)")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="elbo-check-validate", daemon=True
            )
            self._thread.start()
        self._jobs.put((raw, roles, limit))
        try:
            return self._results.get(timeout=timeout)
        except queue.Empty:
            self.abandoned = True
            return CallOutcome(CallStatus.TIMEOUT, message=f"did not return within {timeout:g} s")

    def close(self) -> None:
        """Stop and join the thread (an abandoned one is left to finish on its own)."""
        if self._thread is not None and not self.abandoned:
            self._jobs.put(None)
            self._thread.join()
        self._thread = None


def _package_root() -> str:
    return str(Path(__file__).resolve().parent.parent.parent)


def _read_until(fd: int, n: int, deadline: float) -> bytes | None:
    """Read exactly ``n`` bytes before ``deadline``; None at end of file, TimeoutError after it."""
    chunks: list[bytes] = []
    while n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class ProcessRunner:
    """Calls in a persistent worker process, killed on a timeout and restarted on demand."""

    kind = "process"
    fallback_reason: str | None = None

    def __init__(self, init: InitRequest) -> None:
        self._init = init
        self._proc: subprocess.Popen[bytes] | None = None
        self._capture = -1
        self.signature: tuple[int, int] | None = None
        self._start()

    def _start(self) -> None:
        fd, path = tempfile.mkstemp(prefix="elbo-check-capture-")
        os.close(fd)
        self._capture = os.open(path, os.O_RDWR | os.O_APPEND)
        os.unlink(path)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_package_root(), env.get("PYTHONPATH", "")) if p
        )
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "elbo_check._validate._worker", "--capture", str(self._capture)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(self._capture,),
            start_new_session=True,
            env=env,
        )
        self._send(("init", self._init))
        self._ready = False

    def _send(self, msg: object) -> bool:
        assert self._proc is not None
        assert self._proc.stdin is not None
        try:
            write_frame(self._proc.stdin.fileno(), msg)
        except OSError:  # the worker is gone
            return False
        return True

    def _recv(self, timeout: float) -> Any:
        """One reply; None when the worker died; raises TimeoutError."""
        assert self._proc is not None
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        head = _read_until(fd, _HEADER_SIZE, deadline)
        if head is None:
            return None
        size = int.from_bytes(head, "big")
        if size > MAX_FRAME:
            return None
        body = _read_until(fd, size, deadline)
        if body is None:
            return None
        try:
            return pickle.loads(body)
        except Exception:  # a corrupt reply: treat the worker as crashed
            return None

    def wait_ready(self) -> str | None:
        """Wait for the target to load; returns the worker's error message, if any."""
        if self._ready:
            return None
        try:
            reply = self._recv(INIT_TIMEOUT)
        except TimeoutError:
            self._kill()
            return f"loading the target took more than {INIT_TIMEOUT:g} s"
        if reply is None:
            return self._crash_message().replace(
                "crashed", "the worker crashed while loading the target", 1
            )
        if reply[0] == "error":
            return str(reply[1])
        self._ready = True
        self.signature = reply[1]
        return None

    def call(
        self, raw: Sequence[np.ndarray], roles: Sequence[str], limit: int, timeout: float
    ) -> CallOutcome:
        """Run one call in the worker; kill it on a timeout, report a crash."""
        if self._proc is None:
            self._start()
        error = self.wait_ready()
        if error is not None:
            return CallOutcome(CallStatus.CRASHED, message=error)
        if not self._send(("call", (tuple(raw), tuple(roles), limit))):
            return self._crashed()
        try:
            reply = self._recv(timeout)
        except TimeoutError:
            self._kill()
            return CallOutcome(
                CallStatus.TIMEOUT,
                message=f"did not return within {timeout:g} s (its worker process was killed)",
            )
        if reply is None:
            return self._crashed()
        outcome: CallOutcome = reply[1]
        return outcome

    def _crash_message(self) -> str:
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            code = None
        head = ""
        with contextlib.suppress(OSError):
            head = os.pread(self._capture, HEAD_CHARS * 4, 0).decode("utf-8", "replace")[
                :HEAD_CHARS
            ]
        self._kill()
        if code is None:
            what = "crashed (it closed its reply pipe)"
        elif code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else "?"
            what = f"crashed (signal {-code}): the worker process running it was killed by {name}"
        else:
            what = f"crashed (exit code {code}): the worker process running it exited"
        tail = " ".join(head.split())[-200:]
        return what + (f"; its last output: {tail!r}" if tail else "")

    def _crashed(self) -> CallOutcome:
        return CallOutcome(CallStatus.CRASHED, message=self._crash_message())

    def _kill(self) -> None:
        """Kill the worker's whole process group (children it forked included)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10.0)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(OSError):
            os.close(self._capture)
        self._ready = False

    def close(self) -> None:
        """Ask the worker to leave, then sweep its process group."""
        if self._proc is None:
            return
        if self._send(("close", None)):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5.0)
        self._kill()


def open_runner(
    fn: Callable[..., Any] | None,
    backend: str,
    isolation: str,
    target: tuple[str, str] | None = None,
) -> Runner:
    """The runner for a callable (API) or a ``(where, attr)`` target (CLI).

    A callable goes to a worker process when ``pickle`` can send it there by
    name and the worker can import it; otherwise it runs in a thread.  A CLI
    target is always loaded by the worker itself; a target that does not load
    raises :class:`ValidationError` (exit 2).
    """
    path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    if os.name != "posix":  # the worker needs POSIX process groups and select() on pipes
        if fn is None:
            from elbo_check._validate._target import load_target

            assert target is not None
            fn = load_target(f"{target[0]}:{target[1]}")
        return ThreadRunner(fn, backend, "run in a thread: worker processes need POSIX")
    if target is not None:
        runner = ProcessRunner(InitRequest(path, "target", target[0], target[1], backend))
        error = runner.wait_ready()
        if error is not None:
            runner.close()
            raise ValidationError(error)
        return runner
    assert fn is not None
    if isolation == "thread":
        return ThreadRunner(fn, backend)
    try:
        payload = pickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # lambdas, closures, local classes
        return ThreadRunner(fn, backend, f"not picklable ({type(exc).__name__})")
    return _LazyFallback(
        ProcessRunner(InitRequest(path, "pickle", payload, "", backend)), fn, backend
    )


class _LazyFallback:
    """A process runner that falls back to a thread when the worker cannot import the function."""

    def __init__(self, runner: ProcessRunner, fn: Callable[..., Any], backend: str) -> None:
        self._runner: Runner = runner
        self._process: ProcessRunner | None = runner
        self._fn = fn
        self._backend = backend

    @property
    def kind(self) -> str:
        """``process`` or ``thread``."""
        return self._runner.kind

    @property
    def fallback_reason(self) -> str | None:
        """Why the function runs in a thread, if it does."""
        return self._runner.fallback_reason

    def call(
        self, raw: Sequence[np.ndarray], roles: Sequence[str], limit: int, timeout: float
    ) -> CallOutcome:
        """Run one call, deciding process or thread on the first."""
        if self._process is not None:
            error = self._process.wait_ready()
            if error is not None:
                self._process.close()
                self._runner = ThreadRunner(
                    self._fn, self._backend, f"the worker cannot load it: {error}"
                )
            self._process = None
        return self._runner.call(raw, roles, limit, timeout)

    def close(self) -> None:
        """Close whichever runner is in use."""
        if self._process is not None:
            self._process.close()
        self._runner.close()
