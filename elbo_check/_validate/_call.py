"""One call of the user's function, and reading its result, with a bound on the result's size.

:func:`execute` is what runs *where the function runs* (in the worker process,
or in the fallback thread): it converts the numpy inputs to the backend's
arrays, calls the function with numpy floating-point warnings silenced and
Python warnings recorded, checks that the inputs were not modified, and reads
the result into a float64 numpy array.  The size of the result is checked
before anything is converted or broadcast: a result with more than
``limit`` elements is refused unread (:attr:`CallStatus.TOO_LARGE`).  The
:class:`CallOutcome` holds only numpy arrays and strings, so no tensor outlives
the call, and it pickles.

Only numpy is imported here; torch and jax are imported by the backend that
needs them, in the process that calls the function.

>>> import numpy as np
>>> out = execute(lambda x: x.sum(-1), "numpy", (np.ones((2, 3)),), ("mu",), limit=100)
>>> out.status, out.value.tolist()
('ok', [3.0, 3.0])
>>> execute(lambda x: np.zeros(10**6), "numpy", (np.ones((2, 3)),), ("mu",), limit=100).status
'too_large'
"""

from __future__ import annotations

import dataclasses
import math
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from elbo_check._validate._types import CallStatus

__all__ = ["CallOutcome", "execute", "read_output", "to_backend"]


@dataclasses.dataclass
class CallOutcome:
    """What one call did, as plain data (picklable, no backend arrays)."""

    status: CallStatus
    value: np.ndarray | None = None
    dtype: str = ""
    message: str | None = None
    note: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    printed: int = 0
    printed_head: str = ""


def _import_backend(name: str) -> Any:
    if name == "torch":
        import torch

        return torch
    if name == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        return jnp
    return np


def to_backend(name: str, arr: np.ndarray) -> Any:
    """A fresh array of backend ``name`` holding a copy of ``arr``."""
    mod = _import_backend(name)
    if name == "torch":
        return mod.from_numpy(arr.copy())
    if name == "jax":
        return mod.asarray(arr.copy())
    return arr.copy()


def _to_numpy(name: str, x: Any) -> np.ndarray:
    if name == "torch":
        return np.asarray(x.detach().cpu().numpy())
    return np.asarray(x)


def _elements(value: Any, limit: int) -> int:
    """Number of elements of a (nested) list, counting no further than ``limit + 1``."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            if len(item) > limit:
                return limit + 1
            stack.extend(item)
        else:
            total += _size(item, limit) or 1
        if total > limit:
            return total
    return total


def _size(value: Any, limit: int) -> int:
    numel = getattr(value, "numel", None)
    if callable(numel) and type(value).__module__.split(".")[0] == "torch":
        return int(numel())
    if isinstance(value, list):
        return _elements(value, limit)
    size = getattr(value, "size", None)
    return size if isinstance(size, int) else 0


def _plain(x: Any) -> Any:
    """A list element as numpy can read it: torch tensors are detached first."""
    if type(x).__module__.split(".")[0] == "torch":
        return x.detach().cpu().double().numpy()
    return x


def read_output(value: Any, limit: int = 2**62) -> tuple[np.ndarray | None, str, str | None]:
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
    if arr.size > limit:
        return None, str(arr.dtype), f"returned {arr.size} elements"
    return arr.astype(np.float64), dtype, None


def _raised(exc: BaseException) -> CallOutcome:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({tb[-1].filename}:{tb[-1].lineno})" if tb else ""
    return CallOutcome(CallStatus.RAISED, message=f"{type(exc).__name__}: {exc}{where}")


def _mutated(
    backend: str, args: Sequence[Any], raw: Sequence[np.ndarray], roles: Sequence[str]
) -> str | None:
    for role, arg, before in zip(roles, args, raw, strict=True):
        try:
            after: np.ndarray | None = _to_numpy(backend, arg)
        except Exception:  # the function replaced the storage; treat as mutated
            after = None
        if (
            after is None
            or after.shape != before.shape
            or not np.array_equal(after, before, equal_nan=True)
        ):
            return role
    return None


def _read(value: Any, limit: int) -> CallOutcome:
    size = _size(value, limit)
    if size > limit:
        return CallOutcome(
            CallStatus.TOO_LARGE,
            message=f"returned {size if size <= 2 * limit else f'more than {limit}'} elements, "
            f"more than the {limit} allowed for these inputs; refused unread",
        )
    arr, dtype, note = read_output(value, limit)
    if arr is None:
        return CallOutcome(CallStatus.BAD_RETURN, dtype=dtype, message=f"the function {note}")
    return CallOutcome(CallStatus.OK, arr, dtype, note=note)


def execute(
    fn: Callable[..., Any],
    backend: str,
    raw: Sequence[np.ndarray],
    roles: Sequence[str],
    limit: int,
) -> CallOutcome:
    """Call ``fn`` on backend copies of ``raw`` and read its result (at most ``limit`` elements)."""
    args = tuple(to_backend(backend, a) for a in raw)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            value = fn(*args)
        except BaseException as exc:  # the user's code may raise anything
            outcome = _raised(exc)
        else:
            role = _mutated(backend, args, raw, roles)
            if role is not None:
                outcome = CallOutcome(
                    CallStatus.MUTATION,
                    message=f"the function modifies its input {role!r} in place, which corrupts the caller's tensors",
                )
            else:
                try:
                    outcome = _read(value, limit)
                except BaseException as exc:  # a hostile __len__, __array__, numel ...
                    outcome = _raised(exc)
                    outcome.status = CallStatus.BAD_RETURN
                    outcome.message = (
                        f"the function returned a value that cannot be read ({outcome.message})"
                    )
            del value
    outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    del args, caught
    return outcome
