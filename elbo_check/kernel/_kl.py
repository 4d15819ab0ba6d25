"""The Gaussian KL and its analytic gradient: input handling and backend dispatch.

Each call first tries a cheap exact-type test: plain numpy arrays of one float
dtype and one shape go straight to the numerics (small) or the tiles (large);
float32/float64 torch tensors on one device go straight to the
:class:`torch.autograd.Function` of ``_torch.py``.  Everything else takes the
generic path (namespace inference, dtype promotion, broadcasting checks), then
the same numerics: torch tensors the same Function, JAX arrays and tracers the
``custom_jvp`` of ``_jax.py`` (dispatch cost is paid once, at trace time, under
``jit``), other libraries the portable ``where`` form.

>>> import numpy as np
>>> from elbo_check.kernel import gaussian_kl
>>> gaussian_kl(np.zeros((1, 2)), np.array([[1e-9, 0.0]]))
array([2.5e-19])
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from elbo_check import _xp
from elbo_check.errors import UsageError
from elbo_check.kernel import _tiles
from elbo_check.kernel._numerics import kl_pieces, slopes

__all__ = [
    "KLGrad",
    "forced_engine",
    "gaussian_kl",
    "gaussian_kl_grad",
    "jit_call",
    "jit_module",
    "numpy_engine",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_REDUCTIONS = frozenset(_xp.REDUCTIONS)
# numpy may look at the data (gather the small-|d| elements, skip the overflow
# guard when nothing overflows); False takes the where-blend that JAX and CUDA take
_EAGER_NUMPY = True


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def _compute_dtype(xp: Any, dtype: Any) -> Any:
    """float64 and float32 compute natively; narrower floats compute in float32."""
    if dtype == xp.float64 or dtype == xp.float32:
        return dtype
    if xp.finfo(dtype).bits < 32:
        return xp.float32
    return dtype


class _Prepared(NamedTuple):
    xp: Any
    arrays: list[Any]  # in the compute dtype, unbroadcast (None stays None)
    shape: tuple[Any, ...]
    dtype: Any  # the output dtype
    library: str  # "numpy" (plain ndarrays), "torch", "jax" or "" (any other)


def _prepare(values: dict[str, Any], xp: Any) -> _Prepared:
    names = list(values)
    raw = list(values.values())
    xp = _xp.get_namespace(*raw, xp=xp, names=names)
    dtype = _xp.result_float_dtype(xp, raw, names)
    device = _xp.device_of(*raw)
    shape = _xp.broadcast_shapes(
        {name: tuple(v.shape) for name, v in values.items() if _xp.is_array(v)}
    )
    compute = _compute_dtype(xp, dtype)
    arrays = [None if v is None else _xp.as_float(xp, v, compute, device) for v in raw]
    return _Prepared(xp, arrays, shape, dtype, _library_of(xp, arrays))


def _library_of(xp: Any, arrays: list[Any]) -> str:
    present = [a for a in arrays if a is not None]
    if _xp.is_numpy_namespace(xp) and all(type(a) is np.ndarray for a in present):
        return "numpy"
    name = _xp.library_name(present[1]) if len(present) > 1 else ""
    return name if name in ("torch", "jax") else ""


def _output(xp: Any, result: Any, dtype: Any) -> Any:
    return result if result.dtype == dtype else xp.astype(result, dtype)


def _plain_numpy(arrays: tuple[Any, ...]) -> bool:
    """mu and logvar (and a given prior) are plain ndarrays of one float dtype and shape."""
    lv = arrays[1]
    if type(lv) is not np.ndarray or lv.dtype not in _FLOATS or not lv.ndim:
        return False
    return all(
        a is None or (type(a) is np.ndarray and a.dtype == lv.dtype and a.shape == lv.shape)
        for a in arrays[::2] + arrays[3:]
    )


def _is_torch(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _reduce(xp: Any, elementwise: Any, reduction: str) -> Any:
    if reduction == "none":
        return elementwise
    if reduction == "batch":
        return xp.sum(elementwise, axis=-1)
    total = xp.sum(elementwise)
    if reduction == "sum":
        return total
    shape = tuple(elementwise.shape)
    return total / math.prod(shape[:-1] if reduction == "batchmean" else shape)


# The numba loop (``_jit.py``, the optional ``fast`` extra) serves plain ndarrays
# from the _JIT_AFTER-th call of a process on: importing numba and loading (or
# compiling) the loop costs 0.3 to 2 s once, which a training loop repays within
# a few steps and a one-off call (the CLI, the validator's reference) never
# should.  ELBO_CHECK_JIT=off never imports numba; =on takes it from the first call.
_JIT_AFTER = 16
_JIT_MODES = ("auto", "on", "off")


class _JitState:
    calls = 0
    module: Any = None  # the loaded _jit module, or False once it cannot be used


def jit_module() -> Any:
    """The ``_jit`` module when numba serves this call on plain ndarrays, else ``None``."""
    state = _JitState
    if state.module is None:
        state.calls += 1
        mode = os.environ.get("ELBO_CHECK_JIT", "auto").strip().lower() or "auto"
        if mode not in _JIT_MODES:
            raise UsageError(f"ELBO_CHECK_JIT={mode!r}: expected one of {', '.join(_JIT_MODES)}")
        if mode == "off" or (mode == "auto" and state.calls < _JIT_AFTER):
            return None
        try:
            from elbo_check.kernel import _jit
        except ImportError:  # numba is not installed: numpy it is, silently
            state.module = False
        except Exception as error:  # installed but unusable (no cache dir, LLVM...)
            _give_up_jit(error)
        else:
            state.module = _jit
    return state.module if state.module else None


def _give_up_jit(error: BaseException) -> None:
    """Stop using numba's loop in this process, and say why once."""
    _JitState.module = False
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    warnings.warn(
        f"elbo-check: numba's loop is unavailable ({message}); plain ndarrays take "
        "the numpy engine (set ELBO_CHECK_JIT=off to silence this)",
        RuntimeWarning,
        stacklevel=4,
    )


def jit_call(name: str, *args: Any) -> Any:
    """``_jit.<name>(*args)`` when numba serves this call, else ``None`` (numpy's turn).

    A loop that fails to compile or run (not a MemoryError) switches this
    process to the numpy engine, with one warning, and returns ``None``.
    """
    jit = jit_module()
    if jit is None:
        return None
    try:
        return getattr(jit, name)(*args)
    except MemoryError:
        raise
    except Exception as error:  # numba failed to compile or run: numpy from now on
        _give_up_jit(error)
        return None


def numpy_engine() -> str:
    """What computes :func:`gaussian_kl` of plain ndarrays: ``"numba"`` or ``"numpy"``.

    ``"numba"`` once the compiled loop has been loaded in this process (see
    the ``ELBO_CHECK_JIT`` variable in the README); before that, and without
    numba, ``"numpy"``.

    >>> numpy_engine() in ("numba", "numpy")
    True
    """
    return "numba" if _JitState.module else "numpy"


@contextlib.contextmanager
def forced_engine(name: str) -> Iterator[None]:
    """Within the block, plain ndarrays take ``name`` (``"numba"`` or ``"numpy"``).

    For the tests and the benchmark: the setting is process-wide, so enter it
    once, not from several threads at a time.  ``"numba"`` raises ImportError
    without numba.

    >>> import numpy as np
    >>> with forced_engine("numpy"):
    ...     numpy_engine()
    'numpy'
    """
    saved = _JitState.module
    if name == "numba":
        from elbo_check.kernel import _jit

        _JitState.module = _jit
    elif name == "numpy":
        _JitState.module = False
    else:
        raise UsageError(f"engine {name!r}: expected 'numba' or 'numpy'")
    try:
        yield
    finally:
        _JitState.module = saved


def _kl_numpy(arrays: tuple[Any, ...], reduction: str) -> Any:
    """Plain ndarrays (see :func:`_plain_numpy`): numba's loop, the small-batch path or the tiles."""
    lv = arrays[1]
    if lv.size:
        result = jit_call("kl_rows", list(arrays), lv.shape, reduction)
        if result is not None:
            return result
    if lv.size >= _tiles.FAST_MIN_SIZE:
        with np.errstate(all="ignore"):
            return _tiles.kl_tiled(list(arrays), lv.shape, reduction)
    if _EAGER_NUMPY and lv.size:
        # the tiles' in-place kernel as one tile: no overflow guard, the rows that
        # are not finite are redone by the guarded kl_pieces
        return _tiles.kl_single(list(arrays), reduction)
    with np.errstate(all="ignore"):
        return _reduce(np, kl_pieces(np, *arrays, eager=_EAGER_NUMPY)[0], reduction)


# --------------------------------------------------------------------------
# Public API: KL
# --------------------------------------------------------------------------


def gaussian_kl(
    mu: Any,
    logvar: Any,
    mu_p: Any = None,
    logvar_p: Any = None,
    *,
    reduction: str = "batch",
    xp: Any = None,
) -> Any:
    r"""KL(N(mu, exp(logvar)) || N(mu_p, exp(logvar_p))) for diagonal Gaussians.

    >>> import numpy as np
    >>> gaussian_kl(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
    array([0.5])
    >>> gaussian_kl(np.zeros(3), np.full(3, 1e-8), reduction="none")  # textbook: 0.0
    array([2.50000001e-17, 2.50000001e-17, 2.50000001e-17])
    >>> float(gaussian_kl(0.0, 0.0, 1.0, 0.0, reduction="sum"))  # general prior
    0.5

    Parameters
    ----------
    mu, logvar : array
        Mean and log-variance of q, shape ``(..., D)`` (broadcastable).
        Integer arrays promote to the default float; Python numbers are allowed.
    mu_p, logvar_p : array or float, optional
        Mean and log-variance of the prior p; ``None`` means 0 (the standard
        normal).
    reduction : {"none", "batch", "sum", "batchmean", "mean"}
        ``"none"``: elementwise, shape ``(..., D)``; ``"batch"``: sum over the
        last axis, shape ``(...)``; ``"sum"``: the total; ``"batchmean"``: the
        total over the number of rows; ``"mean"``: over the number of elements.
    xp : namespace, optional
        Array namespace to use instead of inferring it from the inputs.

    Returns
    -------
    array
        In the input's library, device and floating dtype.  Never negative;
        ``nan`` inputs give ``nan``; values beyond the dtype's range give ``inf``.

    Raises
    ------
    UsageError
        For an unknown reduction or shapes that do not broadcast (a ValueError).
    ArrayTypeError
        For arrays from two libraries, or boolean/complex arrays (a TypeError).

    Notes
    -----
    Maximum relative error against a 60-digit mpmath reference, over
    ``|mu| <= 1e3`` and ``|logvar| <= 30`` (including tiny and zero values):
    below 1e-14 in float64 and 1e-5 in float32; results below the smallest
    normal number carry an absolute error below ``rtol * tiny``.  The same holds
    for the torch backward and the JAX derivative, which are analytic.
    """
    arrays = (mu, logvar, mu_p, logvar_p)
    if xp is None and reduction in _REDUCTIONS:
        if _plain_numpy(arrays):
            return _kl_numpy(arrays, reduction)
        if _is_torch(logvar):
            from elbo_check.kernel import _torch

            fast = _torch.try_gaussian_kl(arrays, reduction)
            if fast is not None:
                return fast
    reduction = _xp.check_reduction(reduction)
    prep = _prepare({"mu": mu, "logvar": logvar, "mu_p": mu_p, "logvar_p": logvar_p}, xp)
    xp = prep.xp
    if reduction == "batch" and len(prep.shape) == 0:
        raise UsageError("reduction='batch' needs arrays with at least one axis, got 0-d inputs")
    size = math.prod(prep.shape) if all(isinstance(s, int) for s in prep.shape) else 0
    with _xp.numpy_errstate():
        if prep.library == "torch":
            from elbo_check.kernel import _torch

            result = _torch.gaussian_kl_tensors(prep.arrays, reduction)
        elif prep.library == "jax":
            from elbo_check.kernel import _jax

            result = _jax.gaussian_kl_arrays(prep.arrays, reduction)
        elif prep.library == "numpy" and len(prep.shape) >= 1 and size >= _tiles.FAST_MIN_SIZE:
            result = _tiles.kl_tiled(prep.arrays, prep.shape, reduction)
        else:
            numpy = prep.library == "numpy"
            kl = kl_pieces(np if numpy else xp, *prep.arrays, eager=numpy and _EAGER_NUMPY)[0]
            if tuple(kl.shape) != tuple(prep.shape):
                kl = xp.broadcast_to(kl, prep.shape)
            result = _xp.reduce(xp, kl, reduction)
    return _output(xp, result, prep.dtype)


class KLGrad(NamedTuple):
    """Partial derivatives of the (reduced) Gaussian KL, one per input.

    ``mu_p`` and ``logvar_p`` are ``None`` when no prior was given.  Each
    gradient has the shape of its input (summed over broadcast axes).
    """

    mu: Any
    logvar: Any
    mu_p: Any = None
    logvar_p: Any = None


def _grad_scale(shape: tuple[Any, ...], reduction: str) -> Any:
    if reduction == "batchmean":
        return 1 / math.prod(shape[:-1])
    if reduction == "mean":
        return 1 / math.prod(shape)
    return 1


def _sum_to(xp: Any, grad: Any, value: Any) -> Any:
    """Sum ``grad`` over the axes along which ``value`` was broadcast."""
    target = tuple(value.shape) if _xp.is_array(value) else ()
    shape = tuple(grad.shape)
    lead = len(shape) - len(target)
    axes = list(range(lead)) + [
        lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1
    ]
    if axes:
        grad = xp.reshape(xp.sum(grad, axis=tuple(axes), keepdims=True), target)
    return grad


def _grad_numpy(mu: Any, logvar: Any, reduction: str) -> KLGrad | None:
    """The standard-prior gradient of plain ndarrays of one float dtype and shape.

    ``(mu, ½expm1(logvar))`` scaled, as the generic path gives it; ``None``
    for anything else, and where ``expm1`` overflows (the generic path's guard
    then forms ½expm1 without the spurious overflow).
    """
    if not _plain_numpy((mu, logvar, None, None)):
        return None
    scale = _grad_scale(logvar.shape, reduction)
    # float64 only: numpy's float32 expm1 is vectorised 16 wide and beats the loop
    # (1024x64: numba 2.6x the textbook line, numpy 1.6x; float64: numba 1.1x, numpy 1.4x)
    if logvar.dtype == np.float64:
        pair = jit_call("kl_grad_standard", mu, logvar, scale)
        if pair is not None:
            return KLGrad(*pair)
    try:
        with np.errstate(over="raise", invalid="ignore", divide="ignore", under="ignore"):
            h = np.expm1(logvar)
    except FloatingPointError:
        return None
    h *= 0.5 * scale
    return KLGrad(mu * scale, h)


def gaussian_kl_grad(
    mu: Any,
    logvar: Any,
    mu_p: Any = None,
    logvar_p: Any = None,
    *,
    reduction: str = "batch",
    xp: Any = None,
) -> KLGrad:
    r"""Analytic gradient of :func:`gaussian_kl` with respect to its inputs.

    With :math:`d = \ell - \ell_p` and :math:`m = \mu - \mu_p`:
    :math:`\partial/\partial\mu = m e^{-\ell_p}`,
    :math:`\partial/\partial\ell = \tfrac12\operatorname{expm1}(d)` (accurate
    near 0, unlike the textbook :math:`\tfrac12(e^\ell - 1)`),
    :math:`\partial/\partial\mu_p = -m e^{-\ell_p}` and
    :math:`\partial/\partial\ell_p = -\tfrac12\operatorname{expm1}(d) - \tfrac12 m^2 e^{-\ell_p}`.

    For ``reduction`` in ``"none"``, ``"batch"`` and ``"sum"`` these are the
    elementwise partials (each element enters one sum); ``"batchmean"`` divides
    them by the number of rows and ``"mean"`` by the number of elements.

    >>> import numpy as np
    >>> g = gaussian_kl_grad(np.array([2.0]), np.array([1e-10]))
    >>> g.mu, g.logvar
    (array([2.]), array([5.e-11]))
    """
    if xp is None and reduction in _REDUCTIONS and mu_p is None and logvar_p is None:
        fast = _grad_numpy(mu, logvar, reduction)
        if fast is not None:
            return fast
    reduction = _xp.check_reduction(reduction)
    prep = _prepare({"mu": mu, "logvar": logvar, "mu_p": mu_p, "logvar_p": logvar_p}, xp)
    xp = prep.xp
    scale = _grad_scale(prep.shape, reduction)
    with _xp.numpy_errstate():
        numpy = prep.library == "numpy"
        h, mw, w = slopes(np if numpy else xp, *prep.arrays, eager=numpy)
        mu_grad = xp.broadcast_to((mw if w is None else mw * w) * scale, prep.shape)
        lv_grad = xp.broadcast_to(h * scale, prep.shape)
        grads = [_sum_to(xp, mu_grad, mu), _sum_to(xp, lv_grad, logvar), None, None]
        if prep.arrays[2] is not None:
            grads[2] = _sum_to(xp, -mu_grad, mu_p)
        if w is not None:
            lvp_grad = -(h + mw * (0.5 * mw)) * scale
            grads[3] = _sum_to(xp, xp.broadcast_to(lvp_grad, prep.shape), logvar_p)
    return KLGrad(*(None if g is None else _output(xp, g, prep.dtype) for g in grads))
