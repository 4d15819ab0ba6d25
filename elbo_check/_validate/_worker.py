"""The worker process that runs the user's function (``python -m elbo_check._validate._worker``).

The parent (:class:`elbo_check._validate._runner.ProcessRunner`) writes
length-prefixed pickled requests to the worker's stdin and reads replies from
its stdout.  First thing, the worker moves those two pipes to private file
descriptors and points fd 0 at ``/dev/null`` and fds 1 and 2 at the capture
file the parent passed (``--capture FD``).  So whatever the function prints,
from Python, from C, through ``sys.__stdout__`` or by ``os.write(1, ...)``,
lands in that file and never in the parent's output, and a child the function
forks holds the capture file rather than any pipe of the caller.  After each
call the worker flushes, measures and empties the capture file and reports a
bounded excerpt.

Requests: ``("init", InitRequest)`` loads the target and the backend;
``("call", (raw arrays, roles, limit))`` runs one call; ``("close", None)``
ends the worker with ``os._exit(0)``, skipping interpreter teardown (where a
library's threads can abort the process).

This module imports only numpy (and the backend the target needs).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import pickle
import struct
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["HEAD_CHARS", "InitRequest", "arity", "main", "read_frame", "write_frame"]

#: how many characters of captured output one reply carries
HEAD_CHARS = 2000
#: the largest frame accepted (a call's arrays are small; a reply is bounded)
MAX_FRAME = 1 << 30
_HEADER = struct.Struct("!Q")


@dataclasses.dataclass
class InitRequest:
    """What the worker needs to load the target."""

    path: list[str]
    kind: str  # "pickle" (payload: the pickled callable) or "target" (payload: module or file)
    payload: bytes | str
    attr: str
    backend: str


def write_frame(fd: int, obj: Any) -> None:
    """Write one length-prefixed pickle to ``fd``."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """Read one frame from ``fd`` (blocking); None at end of file."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes")
    body = _read_exact(fd, size)
    return None if body is None else pickle.loads(body)


def _load(req: InitRequest) -> Callable[..., Any]:
    sys.path[:] = req.path
    if req.kind == "pickle":
        assert isinstance(req.payload, bytes)
        fn = pickle.loads(req.payload)
    else:
        from elbo_check._validate._target import load_target

        assert isinstance(req.payload, str)
        fn = load_target(f"{req.payload}:{req.attr}")
    if not callable(fn):
        raise TypeError(f"not callable: {type(fn).__name__}")
    if req.backend != "numpy":
        import numpy as np

        from elbo_check._validate._call import to_backend

        to_backend(req.backend, np.zeros(1))  # import the backend now, not in the first call
    return fn


def arity(fn: Callable[..., Any]) -> tuple[int, int] | None:
    """(required, accepted) positional arguments of ``fn``; None when unknown.

    >>> arity(lambda a, b, c=1: 0)
    (2, 3)
    """
    import inspect

    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    lo = hi = 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            hi += 1
            if p.default is p.empty:
                lo += 1
        elif p.kind == p.VAR_POSITIONAL:
            hi = 99
    return lo, hi


def _flush_c_stdio() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).fflush(None)


def _drain(capture: int) -> tuple[int, str]:
    """Flush every writer, then measure, excerpt and empty the capture file."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    _flush_c_stdio()
    size = os.fstat(capture).st_size
    head = (
        os.pread(capture, HEAD_CHARS * 4, 0).decode("utf-8", "replace")[:HEAD_CHARS] if size else ""
    )
    if size:
        os.ftruncate(capture, 0)
    return size, head


def _serve(requests: int, replies: int, capture: int) -> None:
    from elbo_check._validate._call import execute

    fn: Callable[..., Any] | None = None
    backend = "numpy"
    while True:
        msg = read_frame(requests)
        if msg is None or msg[0] == "close":
            return
        op, body = msg
        if op == "init":
            try:
                fn = _load(body)
                backend = body.backend
                write_frame(replies, ("ready", arity(fn)))
            except BaseException as exc:  # the target's import may raise anything
                from elbo_check.errors import ValidationError

                text = (
                    str(exc) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
                )
                write_frame(replies, ("error", text))
            continue
        assert fn is not None
        raw, roles, limit = body
        outcome = execute(fn, backend, raw, roles, limit)
        del raw, body, msg
        outcome.printed, outcome.printed_head = _drain(capture)
        write_frame(replies, ("done", outcome))
        del outcome


def main() -> None:
    """Set up the file descriptors, serve requests, and leave with ``os._exit``."""
    capture = int(sys.argv[sys.argv.index("--capture") + 1])
    requests = os.dup(0)
    replies = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    os.close(devnull)
    code = 0
    try:
        _serve(requests, replies, capture)
    except BaseException:  # a broken pipe: the parent is gone
        code = 3
    _drain(capture)
    os._exit(code)


if __name__ == "__main__":
    main()
