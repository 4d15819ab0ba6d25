"""Calling the user's function safely: backends, a per-call timeout, output reading.

The function runs in a daemon worker thread.  ``queue.get(timeout=...)`` gives
a per-call timeout; on a timeout the worker is abandoned and the validator
reports the hang.  A hung thread cannot be killed from inside Python: it keeps
running in the background (daemon threads do not keep the interpreter alive,
so the CLI still exits).  A subprocess could kill it, but would need the
function to be picklable and would re-import torch for every target; the
thread keeps one process, zero copies and works for lambdas and closures.

Inside the worker, numpy floating-point warnings are silenced and Python
warnings are recorded (never raised), so a user function that warns under
``-W error`` is judged on its values.  Printing is captured by the caller.

>>> import numpy as np
>>> from elbo_check.validate._runner import Worker
>>> w = Worker()
>>> w.call(lambda x: x + 1, (np.ones(2),), timeout=5.0).status
'ok'
"""

from __future__ import annotations

import dataclasses
import math
import queue
import threading
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from elbo_check.errors import ValidationError

__all__ = ["Backend", "CallOutcome", "Worker", "get_backend", "read_output"]


@dataclasses.dataclass
class CallOutcome:
    """What one call did: ``status`` is ok, raised or timeout."""

    status: str
    value: Any = None
    error: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)


class Worker:
    """A daemon thread that runs calls one at a time, with a timeout per call."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._results: queue.SimpleQueue[CallOutcome] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="elbo-check-validate", daemon=True)
        self._thread.start()
        self.dead = False

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args = job
            with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
                warnings.simplefilter("always")
                try:
                    value = fn(*args)
                except BaseException as exc:  # the user's code may raise anything
                    tb = traceback.extract_tb(exc.__traceback__)
                    where = f" ({tb[-1].filename}:{tb[-1].lineno})" if tb else ""
                    outcome = CallOutcome("raised", error=f"{type(exc).__name__}: {exc}{where}")
                else:
                    outcome = CallOutcome("ok", value=value)
            outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
            self._results.put(outcome)

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float) -> CallOutcome:
        """Run ``fn(*args)`` in the worker; a timeout abandons the worker."""
        if self.dead:
            raise RuntimeError("worker abandoned after a timeout")
        self._jobs.put((fn, args))
        try:
            return self._results.get(timeout=timeout)
        except queue.Empty:
            self.dead = True
            return CallOutcome("timeout", error=f"did not return within {timeout:g} s")

    def close(self) -> None:
        """Stop the worker (a no-op for an abandoned one)."""
        if not self.dead:
            self._jobs.put(None)


class Backend:
    """Converts numpy inputs to the backend's arrays and reads them back."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._mod: Any = None
        if name == "torch":
            try:
                import torch
            except ImportError:
                raise ValidationError(
                    "--backend torch needs torch, which is not installed"
                ) from None
            self._mod = torch
        elif name == "jax":
            try:
                import jax
                import jax.numpy as jnp
            except ImportError:
                raise ValidationError("--backend jax needs jax, which is not installed") from None
            jax.config.update("jax_enable_x64", True)
            self._mod = jnp
        elif name != "numpy":
            raise ValidationError(f"unknown backend {name!r}; expected numpy, torch or jax")

    def to_backend(self, arr: np.ndarray) -> Any:
        """A fresh backend array holding a copy of ``arr``."""
        if self.name == "numpy":
            return arr.copy()
        if self.name == "torch":
            return self._mod.from_numpy(arr.copy())
        return self._mod.asarray(arr.copy())

    def to_numpy(self, x: Any) -> np.ndarray:
        """The backend array ``x`` as a numpy array (for the mutation check)."""
        if self.name == "torch":
            return np.asarray(x.detach().cpu().numpy())
        return np.asarray(x)


def get_backend(name: str) -> Backend:
    """The :class:`Backend` named ``name`` (raises ValidationError when unavailable)."""
    return Backend(name)


def _plain(x: Any) -> Any:
    """A list element as numpy can read it: torch tensors are detached first."""
    if type(x).__module__.split(".")[0] == "torch":
        return x.detach().cpu().double().numpy()
    return x


def read_output(value: Any) -> tuple[np.ndarray | None, str, str | None]:
    """Read the function's result: (float64 array or None, dtype name, problem or note).

    A python float, a 0-d array or a tensor are fine.  A list is accepted and
    converted with ``numpy.asarray`` (with a note); ``None``, a tuple, a
    string or a non-numeric array is a problem.

    >>> read_output(1.5)[:2]
    (array(1.5), 'float64')
    >>> read_output((1.0, 2.0))[2]
    'returned a tuple of length 2, expected an array or a number'
    """
    if value is None:
        return None, "none", "returned None (a missing return statement?)"
    if isinstance(value, bool):
        return None, "bool", "returned a bool, expected an array or a number"
    if isinstance(value, (int, float)):
        try:
            return np.asarray(float(value)), "float64", None
        except OverflowError:  # a python int beyond the float range
            return np.asarray(math.inf if value > 0 else -math.inf), "float64", None
    if isinstance(value, complex):
        return None, "complex", "returned a complex number"
    if isinstance(value, tuple):
        return (
            None,
            "tuple",
            f"returned a tuple of length {len(value)}, expected an array or a number",
        )
    note = None
    if isinstance(value, list):
        try:
            arr = np.asarray([_plain(x) for x in value], dtype=np.float64)
        except Exception:  # any element numpy cannot read
            return None, "list", "returned a list that is not numeric"
        return arr, "list", "returned a python list; it was converted with numpy.asarray"
    module = type(value).__module__.split(".")[0]
    try:
        if module == "torch":
            dtype = str(value.dtype).replace("torch.", "")
            tensor = value.detach().cpu()
            if dtype == "bfloat16":
                tensor = tensor.float()
            arr = np.asarray(tensor.numpy())
        else:
            arr = np.asarray(value)
            dtype = str(arr.dtype)
    except Exception as exc:  # an exotic object that cannot become an array
        return (
            None,
            type(value).__name__,
            f"returned a {type(value).__name__} that cannot be read as an array ({exc})",
        )
    if arr.dtype.kind not in "fiu":
        return (
            None,
            str(arr.dtype),
            f"returned an array of dtype {arr.dtype}, expected a real number",
        )
    return arr.astype(np.float64), dtype, note
