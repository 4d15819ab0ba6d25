"""Private array-namespace helpers shared by the loss kernel and the validator.

Everything here is written against the `array API standard
<https://data-apis.org/array-api/>`_: the namespace comes from the inputs
(through ``array_api_compat.array_namespace``, which also gives torch, dask and
CuPy a standard namespace) unless the caller passes ``xp=``.  No array library
other than ``array_api_compat`` is imported here.

>>> import numpy as np
>>> from elbo_check._xp import broadcast_shapes, check_reduction, get_namespace
>>> xp = get_namespace(np.zeros(3), 1.0)
>>> broadcast_shapes({"mu": (4, 3), "logvar": (3,)})
(4, 3)
>>> check_reduction("batchmean")
'batchmean'
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from elbo_check.errors import UsageError

__all__ = [
    "REDUCTIONS",
    "ArrayTypeError",
    "as_float",
    "broadcast_shapes",
    "check_reduction",
    "default_float_dtype",
    "device_of",
    "get_namespace",
    "is_array",
    "is_numpy_namespace",
    "library_name",
    "numpy_errstate",
    "reduce",
    "result_float_dtype",
]

#: The five reduction names, shared with the validator.
REDUCTIONS: tuple[str, ...] = ("none", "batch", "sum", "batchmean", "mean")


class ArrayTypeError(UsageError, TypeError):
    """An argument is not a usable array: wrong library mix or wrong dtype kind.

    It is both a :class:`TypeError` (as the array API convention asks) and a
    :class:`~elbo_check.errors.UsageError`, so ``except ElboCheckError`` catches
    it too.
    """


def check_reduction(reduction: object, allowed: Sequence[str] = REDUCTIONS) -> str:
    """Return ``reduction`` if it is one of ``allowed``; raise UsageError otherwise.

    >>> check_reduction("median")
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: unknown reduction='median'; expected one of 'none', 'batch', 'sum', 'batchmean', 'mean'
    """
    if not isinstance(reduction, str) or reduction not in allowed:
        names = ", ".join(repr(name) for name in allowed)
        raise UsageError(f"unknown reduction={reduction!r}; expected one of {names}")
    return reduction


def is_array(x: object) -> bool:
    """True for an array of any supported library (not for Python scalars)."""
    if x is None or isinstance(x, (bool, int, float)):
        return False
    import array_api_compat

    return bool(array_api_compat.is_array_api_obj(x))


def library_name(x: object) -> str:
    """The top-level module an array comes from (``'numpy'``, ``'torch'``...).

    JAX arrays (``jaxlib``) and JAX tracers (``jax``) are both ``'jax'``.
    """
    name = type(x).__module__.split(".")[0]
    return "jax" if name == "jaxlib" else name


def get_namespace(*values: Any, xp: Any = None, names: Sequence[str] | None = None) -> Any:
    """The array namespace of ``values`` (arrays, Python scalars or ``None``).

    ``xp`` overrides inference.  Arrays from two libraries raise
    :class:`ArrayTypeError` naming the arguments; with no array at all the
    numpy namespace of ``array_api_compat`` is used.  ``names`` labels the
    values in error messages.

    >>> import numpy as np
    >>> get_namespace(np.ones(2), np.ones(2)).__name__
    'array_api_compat.numpy'
    """
    labels = list(names) if names is not None else [f"argument {i}" for i in range(len(values))]
    for label, value in zip(labels, values, strict=True):
        if value is None or isinstance(value, (int, float)) or is_array(value):
            continue
        raise ArrayTypeError(
            f"expected an array or a real number for {label}, got {type(value).__name__}"
        )
    if xp is not None:
        return xp
    import array_api_compat

    arrays = [(label, v) for label, v in zip(labels, values, strict=True) if is_array(v)]
    if not arrays:
        return array_api_compat.array_namespace(_numpy_module().zeros(0))
    by_library: dict[str, str] = {}
    for label, value in arrays:
        by_library.setdefault(library_name(value), label)
    if len(by_library) > 1:
        parts = " but ".join(f"{label} is a {lib} array" for lib, label in by_library.items())
        raise ArrayTypeError(f"mixed array libraries: {parts}; pass arrays from one library")
    return array_api_compat.array_namespace(*(v for _, v in arrays))


def _numpy_module() -> Any:
    import numpy

    return numpy


def is_numpy_namespace(xp: Any) -> bool:
    """True when ``xp`` is numpy itself or array-api-compat's numpy wrapper."""
    name = getattr(xp, "__name__", "")
    return name in ("numpy", "array_api_compat.numpy")


def device_of(*values: Any) -> Any:
    """The device of the first array among ``values`` (``None`` if none)."""
    import array_api_compat

    for value in values:
        if is_array(value):
            return array_api_compat.device(value)
    return None


def default_float_dtype(xp: Any, device: Any = None) -> Any:
    """The namespace's default real floating dtype (torch's default dtype, say)."""
    info = getattr(xp, "__array_namespace_info__", None)
    if info is not None:
        with contextlib.suppress(Exception):  # an old or partial info object
            return info().default_dtypes(device=device)["real floating"]
    return xp.float64


def result_float_dtype(xp: Any, values: Sequence[Any], names: Sequence[str]) -> Any:
    """The floating dtype the kernel computes in, following numpy-like rules.

    Floating arrays promote among themselves (``xp.result_type``); integer
    arrays take that dtype, or the default float when no input is floating;
    Python scalars never widen an array.  Boolean and complex arrays raise
    :class:`ArrayTypeError`.
    """
    floats = []
    for label, value in zip(names, values, strict=True):
        if not is_array(value):
            continue
        dtype = value.dtype
        if xp.isdtype(dtype, "real floating"):
            floats.append(dtype)
        elif not xp.isdtype(dtype, "integral"):
            raise ArrayTypeError(
                f"expected a real floating or integer array for {label}, got dtype {dtype}"
            )
    if floats:
        return xp.result_type(*floats)
    return default_float_dtype(xp, device_of(*values))


def as_float(xp: Any, value: Any, dtype: Any, device: Any) -> Any:
    """``value`` (an array or a Python number) as an array of ``dtype``."""
    if is_array(value):
        return value if value.dtype == dtype else xp.astype(value, dtype)
    if device is None:
        return xp.asarray(value, dtype=dtype)
    return xp.asarray(value, dtype=dtype, device=device)


def _shape_of(value: Any) -> tuple[Any, ...]:
    return tuple(value.shape) if is_array(value) else ()


def broadcast_shapes(named: Mapping[str, Sequence[Any]]) -> tuple[Any, ...]:
    """The broadcast shape of the named shapes (unknown ``None``/NaN sizes allowed).

    Raises UsageError (a ValueError) naming both offending arguments and shapes.

    >>> broadcast_shapes({"mu": (2, 3), "logvar": (4, 3)})
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: shapes do not broadcast: mu has shape (2, 3) and logvar has shape (4, 3)
    """
    result: list[Any] = []
    owner: list[str] = []
    seen: dict[str, tuple[Any, ...]] = {}
    for label, shape in named.items():
        shape = tuple(shape)
        seen[label] = shape
        if len(shape) > len(result):
            pad = len(shape) - len(result)
            result = [1] * pad + result
            owner = [label] * pad + owner
        offset = len(result) - len(shape)
        for i, size in enumerate(shape):
            j = offset + i
            current = result[j]
            if _unknown(size) or size == 1:
                continue
            if _unknown(current) or current == 1:
                result[j] = size
                owner[j] = label
            elif current != size:
                other = owner[j]
                raise UsageError(
                    f"shapes do not broadcast: {other} has shape {seen[other]} "
                    f"and {label} has shape {shape}"
                )
    return tuple(result)


def _unknown(size: Any) -> bool:
    return size is None or (isinstance(size, float) and math.isnan(size))


def reduce(xp: Any, elementwise: Any, reduction: str) -> Any:
    """Apply one of the five :data:`REDUCTIONS` to an elementwise result.

    ``"batch"`` sums the last axis, ``"sum"`` everything, ``"batchmean"`` is the
    total over the number of rows (all axes but the last), ``"mean"`` the total
    over the number of elements.

    >>> import numpy as np
    >>> xp = get_namespace(np.ones((2, 3)))
    >>> float(reduce(xp, xp.ones((2, 3)), "batchmean"))
    3.0
    """
    check_reduction(reduction)
    if reduction == "none":
        return elementwise
    if reduction == "batch":
        if elementwise.ndim == 0:
            raise UsageError("reduction='batch' needs arrays with at least one axis, got 0-d")
        return xp.sum(elementwise, axis=-1)
    total = xp.sum(elementwise)
    if reduction == "sum":
        return total
    shape = tuple(elementwise.shape)
    count = _count(shape[:-1]) if reduction == "batchmean" else _count(shape)
    return total / count


def _count(shape: Sequence[Any]) -> Any:
    count: Any = 1
    for size in shape:
        count = count * size
    return count


@contextlib.contextmanager
def numpy_errstate() -> Iterator[None]:
    """Silence numpy's floating-point warnings when numpy is already imported.

    The kernel overflows to ``inf`` and propagates ``nan`` on purpose; numpy
    would otherwise warn (and pytest's ``filterwarnings=error`` would fail).
    """
    numpy = sys.modules.get("numpy")
    if numpy is None:
        yield
        return
    with numpy.errstate(all="ignore"):
        yield
