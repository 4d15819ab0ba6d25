r"""The loss kernel: an exact, fast, array-API VAE loss.

:func:`gaussian_kl` computes :math:`\mathrm{KL}(\mathcal N(\mu, e^{\ell}) \,\|\,
\mathcal N(\mu_p, e^{\ell_p}))` elementwise over diagonal Gaussians, in the
stable form

.. math::

    \mathrm{KL} = \tfrac12\left[f(d) + (\mu - \mu_p)^2 e^{-\ell_p}\right],
    \qquad d = \ell - \ell_p,\quad f(d) = e^{d} - 1 - d \ \ge 0 .

The textbook line ``-0.5*(1 + lv - mu**2 - exp(lv))`` cancels catastrophically
when :math:`q \approx p`.  Here :math:`f` is evaluated without cancellation: a
near-minimax polynomial for :math:`f(d)/d^2` where :math:`|d|` is small, and
``(exp(d) - 1) - d`` elsewhere, where both subtractions are exact or harmless.
Overflow is avoided where the true value fits the dtype, the rounding error of
``d`` itself is compensated when a prior is given, and the result is never
negative.  :func:`elbo_loss` builds the negative ELBO on top of it, and
:func:`gaussian_kl_grad` / :func:`elbo_loss_grad` give analytic gradients.

All functions take the namespace from their inputs (numpy, CuPy, torch, JAX,
dask, ``array_api_strict``...) or from ``xp=``; the result is in the input's
library, on its device, in its dtype.  Large numpy inputs take a cache-blocked,
multi-threaded fast path; every other case takes the portable path.

>>> import numpy as np
>>> from elbo_check.kernel import gaussian_kl
>>> mu = np.array([[0.0, 1e-9], [1.0, 0.0]])
>>> logvar = np.array([[0.0, 1e-9], [0.0, -1.0]])
>>> gaussian_kl(mu, logvar)
array([7.50000000e-19, 6.83939721e-01])
>>> -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)  # the textbook line
array([-0.        ,  0.68393972])
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

from elbo_check import _xp
from elbo_check.errors import UsageError

__all__ = [
    "ELBOGrad",
    "ELBOTerms",
    "KLGrad",
    "elbo_loss",
    "elbo_loss_grad",
    "gaussian_kl",
    "gaussian_kl_grad",
]

_LOG_2PI = math.log(2.0 * math.pi)
_LIKELIHOODS = ("bernoulli", "gaussian")
_ELBO_REDUCTIONS = ("batch", "sum", "batchmean")


# --------------------------------------------------------------------------
# Numerical constants
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Params:
    """Per-dtype constants of the f(d) = exp(d) - 1 - d evaluation."""

    threshold: float  # |d| < threshold: polynomial; otherwise expm1(d) - d
    coeffs: tuple[float, ...]  # G(c) = (e^c − 1 − c)/c² as a polynomial in c
    half_coeffs: tuple[float, ...]  # ½·G(c) = ½(e^c − 1 − c)/c² as a polynomial in c
    split: float  # above it ½e^d is formed as e^(d−split)·½e^split (no spurious overflow)
    half_exp_split: float
    upper: float  # d is clipped here (beyond overflow) so that d = +inf gives +inf
    use_expm1: bool = False  # large branch from expm1(d) (else exp(d) - 1, exact by Sterbenz)


# G(c) = (exp(c) - 1 - c) / c**2 on |c| <= 0.4: Chebyshev interpolation at 10 nodes
# (near-minimax), fitted in 60-digit mpmath.  Max relative error 9.7e-16 (4.4 ulp)
# after rounding to float64; tests/test_kernel.py re-checks it against mpmath.
_G64 = (
    0.5000000000000004,
    0.1666666666666667,
    0.041666666666532765,
    0.008333333333323036,
    0.0013888888955834143,
    0.0001984126989275186,
    2.4801470171289467e-05,
    2.755722914638523e-06,
    2.764094565481988e-07,
    2.511642415430425e-08,
)
# float32: the large branch is expm1(d) - d (numpy's float32 expm1 is faster than
# its exp here, and within 2.3 ulp, measured over [-30, 30]), which keeps a 1.3e-6
# relative error down to |d| = 0.1; below, G on |c| <= 0.1 by Chebyshev
# interpolation at 4 nodes: max relative error 1.1e-7 after rounding to float32.
_G32 = (
    0.4999999826357884,
    0.16666666418616344,
    0.04168055772590114,
    0.008335317701462794,
)

# ½·coefficients are exact (a power-of-two scaling)
_PARAMS64 = _Params(
    0.4, _G64, tuple(0.5 * c for c in _G64), 512.0, 0.5 * math.exp(512.0), 1024.0, False
)
_PARAMS32 = _Params(
    0.1, _G32, tuple(0.5 * c for c in _G32), 64.0, 0.5 * math.exp(64.0), 128.0, True
)


def _params(xp: Any, dtype: Any) -> _Params:
    return _PARAMS64 if dtype == xp.float64 else _PARAMS32


def _compute_dtype(xp: Any, dtype: Any) -> Any:
    """float64 and float32 compute natively; narrower floats compute in float32."""
    if dtype == xp.float64 or dtype == xp.float32:
        return dtype
    if xp.finfo(dtype).bits < 32:
        return xp.float32
    return dtype


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


class _Prepared(NamedTuple):
    xp: Any
    arrays: list[Any]  # in the compute dtype, unbroadcast (None stays None)
    shape: tuple[Any, ...]
    dtype: Any  # the output dtype
    numpy_fast: bool  # all inputs are plain numpy arrays


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
    numpy_fast = _xp.is_numpy_namespace(xp) and all(
        a is None or (type(a).__name__ == "ndarray" and type(a).__module__ == "numpy")
        for a in arrays
    )
    return _Prepared(xp, arrays, shape, dtype, numpy_fast)


def _output(xp: Any, result: Any, dtype: Any) -> Any:
    return result if result.dtype == dtype else xp.astype(result, dtype)


# --------------------------------------------------------------------------
# The portable (array API) path
# --------------------------------------------------------------------------


def _const(xp: Any, like: Any, value: float) -> Any:
    import array_api_compat

    return xp.asarray(value, dtype=like.dtype, device=array_api_compat.device(like))


def _horner(c: Any, coeffs: tuple[float, ...]) -> Any:
    acc = c * coeffs[-1] + coeffs[-2]
    for coeff in coeffs[-3::-1]:
        acc = acc * c + coeff
    return acc


def _two_diff_error(xp: Any, a: Any, b: Any, d: Any) -> Any:
    """The rounding error of ``d = fl(a - b)`` (Knuth's TwoSum), 0 where not finite."""
    bb = d - a
    err = (a - (d - bb)) - (b + bb)
    return xp.where(xp.isfinite(err), err, _const(xp, err, 0.0))


def _half_kl_portable(xp: Any, mu: Any, lv: Any, mu_p: Any, lv_p: Any) -> Any:
    """½·KL elementwise, written against the array API standard only."""
    p = _params(xp, lv.dtype)
    zero = _const(xp, lv, 0.0)
    if lv_p is None:
        d = lv
        d_lo = None
    else:
        d = lv - lv_p
        d_lo = _two_diff_error(xp, lv, lv_p, d)
    u = xp.where(d > p.upper, _const(xp, d, p.upper), d)  # NaN stays NaN
    small = xp.abs(u) < p.threshold
    c = xp.where(small, u, zero)
    b = xp.where(small, zero, u)
    poly = (c * c) * _horner(c, p.half_coeffs)
    over = b > p.split
    half_exp = xp.exp(b - xp.where(over, _const(xp, b, p.split), zero)) * xp.where(
        over, _const(xp, b, p.half_exp_split), _const(xp, b, 0.5)
    )
    if p.use_expm1:  # the same evaluation as the numpy fast path
        half_expm1 = xp.where(over, half_exp - 0.5, 0.5 * xp.expm1(xp.where(over, zero, b)))
    else:
        half_expm1 = half_exp - 0.5
    big = half_expm1 - 0.5 * b
    if d_lo is not None:
        big = big + half_expm1 * d_lo  # f(d_hi + d_lo) ≈ f(d_hi) + expm1(d_hi)·d_lo
    m = mu if mu_p is None else mu - mu_p
    if lv_p is not None:
        m = m * xp.exp(-0.5 * lv_p)
    return (poly + big) + m * (0.5 * m)


def _half_expm1(xp: Any, d: Any) -> Any:
    """½·expm1(d) without spurious overflow where the value fits the dtype."""
    p = _params(xp, d.dtype)
    if _xp.is_numpy_namespace(xp) and type(d).__name__ == "ndarray" and d.ndim:
        import numpy as np

        out = np.expm1(d)
        np.multiply(out, 0.5, out=out)
        over = d > p.split
        if over.any():  # rare: the far tail, where expm1 overflows before ½·expm1
            out[over] = np.exp(d[over] - p.split) * p.half_exp_split - 0.5
        return out
    over = d > p.split
    zero = _const(xp, d, 0.0)
    large = xp.exp(d - xp.where(over, _const(xp, d, p.split), zero)) * p.half_exp_split - 0.5
    return xp.where(over, large, 0.5 * xp.expm1(xp.where(over, zero, d)))


# --------------------------------------------------------------------------
# The numpy fast path: cache-blocked, in-place, multi-threaded
# --------------------------------------------------------------------------

_FAST_MIN_SIZE = 4096  # below it numpy takes the portable path
# Up to this fraction of small-|d| elements in a tile, the polynomial runs on
# those elements alone (gather, evaluate, scatter); above it, on the whole tile
# with an exact 0/1 blend.  Measured crossover on this machine: about one half.
_GATHER_MAX = 0.5
_THREAD_MIN_SIZE = 1 << 18  # below it the fast path runs on the calling thread
_TILE_BYTES = 1 << 17  # 128 KiB per buffer: the buffers stay inside a 1 MiB L2
# With threads, bigger tiles: each ufunc call re-takes the GIL, and with 128 KiB
# calls the handoffs between two threads cost more than the second core brings
# (measured: 1.1x at 128 KiB, 1.7-2x at 512 KiB, which the L3 still holds).
_THREAD_TILE_BYTES = 1 << 19
_CHUNKS_PER_WORKER = 2
_MAX_WORKERS = min(
    4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's threads: start a fresh pool there."""
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix="elbo-check-kernel")
        return _POOL


def _half_kl_tile(np: Any, parts: list[Any], buf: dict[str, Any]) -> Any:
    """Unhalved f(d) + m² for one tile, into the tile buffers; returns the result view.

    Per tile: the large branch (exp/expm1) runs on the whole tile if any |d| is
    large; the polynomial runs on the whole tile if every |d| is small.  With a
    mix, when at most ``_GATHER_MAX`` of the tile is small, the polynomial runs on
    the small elements alone (gather, evaluate, scatter over the large branch's
    values); otherwise both branches run on the whole tile and are blended with
    exact 0/1 weights.  A branch's values on elements it does not own are finite
    garbage, or inf/nan that the caller's row fixup redoes exactly.  Every other
    step is one in-place ufunc pass over data in L2.
    """
    mu, lv, mu_p, lv_p = parts
    p = _PARAMS64 if lv.dtype == np.float64 else _PARAMS32
    a, mk, e, sq = buf["a"], buf["mask"], buf["e"], buf["sq"]
    if lv_p is None:
        d, d_lo = lv, None
    else:
        d, d_lo = buf["d"], buf["d_lo"]
        np.subtract(lv, lv_p, out=d)
        np.subtract(d, lv, out=d_lo)  # TwoSum error of lv + (−lv_p), five passes
        np.subtract(d, d_lo, out=a)
        np.subtract(lv, a, out=a)
        np.add(lv_p, d_lo, out=d_lo)
        np.subtract(a, d_lo, out=d_lo)
    np.abs(d, out=a)
    mb = buf["mb"]
    np.less(a, p.threshold, out=mb)
    n_small = int(np.count_nonzero(mb))
    # few small elements: evaluate the polynomial on those alone (gather/scatter)
    gather = 0 < n_small <= _GATHER_MAX * mb.size and d.flags.c_contiguous
    if n_small < mb.size:
        # large branch: expm1(d) - d (float32: numpy's expm1 is fast; float64: exp - 1)
        if p.use_expm1:
            np.expm1(d, out=e)
        else:
            np.exp(d, out=e)
            np.subtract(e, 1.0, out=e)  # exact (Sterbenz) where it matters
        if d_lo is not None:  # f(d_hi + d_lo) ≈ f(d_hi) + expm1(d_hi)·d_lo
            np.multiply(d_lo, e, out=d_lo)
        np.subtract(e, d, out=e)
    if gather:
        idx = np.flatnonzero(mb)
        c = d.ravel().take(idx)
        g = c * p.coeffs[-1]
        for coeff in p.coeffs[-2:0:-1]:
            g += coeff
            g *= c
        g += p.coeffs[0]
        g *= c * c
        e.ravel()[idx] = g
    elif n_small:
        np.copyto(mk, mb)  # 1.0 where |d| is small, else 0.0
        # small branch: d²·G(d), G a polynomial (Horner)
        coeffs = p.coeffs
        np.multiply(d, coeffs[-1], out=a)
        for coeff in coeffs[-2:0:-1]:
            np.add(a, coeff, out=a)
            np.multiply(a, d, out=a)
        np.add(a, coeffs[0], out=a)
        np.square(d, out=sq)
        if n_small == mk.size:
            np.multiply(a, sq, out=e)
            if d_lo is not None:  # expm1(d)·d_lo with expm1(d) ≈ d here
                np.multiply(d_lo, d, out=d_lo)
        else:
            np.multiply(a, sq, out=a)
            # blend with exact weights: small·poly + (1 - small)·large
            np.multiply(a, mk, out=a)
            np.subtract(1.0, mk, out=mk)
            np.multiply(e, mk, out=e)
            np.add(e, a, out=e)
    if d_lo is not None:
        np.add(e, d_lo, out=e)
    m = mu
    if mu_p is not None:
        m = np.subtract(mu, mu_p, out=buf["m"])
    if lv_p is not None:
        w = np.multiply(lv_p, -0.5, out=buf["w"])
        np.exp(w, out=w)
        m = np.multiply(m, w, out=buf["m"])
    np.square(m, out=sq)
    return np.add(e, sq, out=e)


def _kl_numpy_fast(prep: _Prepared, reduction: str) -> Any:
    """The blocked numpy path; semantics identical to :func:`_half_kl_portable`."""
    import numpy as np

    shape = prep.shape
    dtype = prep.arrays[1].dtype
    width = shape[-1]
    rows = math.prod(shape[:-1])
    views = [
        None if x is None else np.broadcast_to(x, shape).reshape(rows, width) for x in prep.arrays
    ]
    size = rows * width
    workers = _MAX_WORKERS if size >= _THREAD_MIN_SIZE and rows >= _MAX_WORKERS else 1
    tile = max(1, (_THREAD_TILE_BYTES if workers > 1 else _TILE_BYTES) // dtype.itemsize)
    if width <= tile:
        tile_rows, tile_cols = max(1, tile // width), width
    else:
        tile_rows, tile_cols = 1, tile
    half_rows = np.zeros(rows, dtype=dtype)
    elementwise = np.empty((rows, width), dtype=dtype) if reduction == "none" else None
    names = ["a", "mask", "e", "sq", "m", "w", "d", "d_lo"]

    used = [n for n in names if n not in ("m", "w", "d", "d_lo")]
    if prep.arrays[2] is not None or prep.arrays[3] is not None:
        used += ["m", "w"]
    if prep.arrays[3] is not None:
        used += ["d", "d_lo"]

    def work(start: int, stop: int) -> None:
        flat = {name: np.empty(tile_rows * tile_cols, dtype=dtype) for name in used}
        flat["mb"] = np.empty(tile_rows * tile_cols, dtype=bool)
        full_tile = {k: v.reshape(tile_rows, tile_cols) for k, v in flat.items()}
        sums = np.empty(tile_rows, dtype=dtype)
        with np.errstate(all="ignore"):
            for r0 in range(start, stop, tile_rows):
                r1 = min(r0 + tile_rows, stop)
                for c0 in range(0, width, tile_cols):
                    c1 = min(c0 + tile_cols, width)
                    if r1 - r0 == tile_rows and c1 - c0 == tile_cols:
                        buf = full_tile  # the common case: no per-tile reshaping
                    else:
                        size = (r1 - r0) * (c1 - c0)
                        buf = {k: v[:size].reshape(r1 - r0, c1 - c0) for k, v in flat.items()}
                    parts = [None if v is None else v[r0:r1, c0:c1] for v in views]
                    full = _half_kl_tile(np, parts, buf)
                    rows_sum = np.sum(full, axis=1, out=sums[: r1 - r0])
                    np.multiply(rows_sum, 0.5, out=rows_sum)
                    np.add(half_rows[r0:r1], rows_sum, out=half_rows[r0:r1])
                    if elementwise is not None:
                        np.multiply(full, 0.5, out=elementwise[r0:r1, c0:c1])

    if workers > 1:
        # a few chunks per worker, so that a worker slowed by other processes takes fewer
        step = max(tile_rows, -(-rows // (_CHUNKS_PER_WORKER * workers)))
        futures = [_pool().submit(work, s, min(s + step, rows)) for s in range(0, rows, step)]
        for future in futures:
            future.result()
    else:
        work(0, rows)

    with np.errstate(all="ignore"):
        bad = np.flatnonzero(~np.isfinite(half_rows))
        if bad.size:  # overflow of an intermediate, or inf/nan inputs: redo exactly
            xp = prep.xp
            parts = [None if v is None else v[bad] for v in views]
            fixed = _half_kl_portable(xp, *parts)
            half_rows[bad] = np.sum(fixed, axis=1)
            if elementwise is not None:
                elementwise[bad] = fixed
    if reduction == "none":
        assert elementwise is not None
        return elementwise.reshape(shape)
    if reduction == "batch":
        return half_rows.reshape(shape[:-1])
    total = half_rows.sum()
    if reduction == "sum":
        return total
    return total / (rows if reduction == "batchmean" else size)


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
    normal number carry an absolute error below ``rtol * tiny``.
    """
    reduction = _xp.check_reduction(reduction)
    prep = _prepare({"mu": mu, "logvar": logvar, "mu_p": mu_p, "logvar_p": logvar_p}, xp)
    xp = prep.xp
    if reduction == "batch" and len(prep.shape) == 0:
        raise UsageError("reduction='batch' needs arrays with at least one axis, got 0-d inputs")
    size = math.prod(prep.shape) if all(isinstance(s, int) for s in prep.shape) else 0
    with _xp.numpy_errstate():
        if prep.numpy_fast and len(prep.shape) >= 1 and size >= _FAST_MIN_SIZE:
            result = _kl_numpy_fast(prep, reduction)
        else:
            half = _half_kl_portable(xp, *prep.arrays)
            if tuple(half.shape) != tuple(prep.shape):
                half = xp.broadcast_to(half, prep.shape)
            result = _xp.reduce(xp, half, reduction)
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
    reduction = _xp.check_reduction(reduction)
    prep = _prepare({"mu": mu, "logvar": logvar, "mu_p": mu_p, "logvar_p": logvar_p}, xp)
    xp = prep.xp
    m_in, lv_in, mp_in, lvp_in = prep.arrays
    scale = _grad_scale(prep.shape, reduction)
    with _xp.numpy_errstate():
        d = lv_in if lvp_in is None else lv_in - lvp_in
        d_grad = _half_expm1(xp, d)
        m = m_in if mp_in is None else m_in - mp_in
        if lvp_in is None:
            mu_grad = m
        else:
            w = xp.exp(-0.5 * lvp_in)
            mw = m * w
            mu_grad = mw * w
        mu_grad = xp.broadcast_to(mu_grad * scale, prep.shape)
        lv_grad = xp.broadcast_to(d_grad * scale, prep.shape)
        grads = [_sum_to(xp, mu_grad, mu), _sum_to(xp, lv_grad, logvar), None, None]
        if mp_in is not None:
            grads[2] = _sum_to(xp, -mu_grad, mu_p)
        if lvp_in is not None:
            lvp_grad = -(d_grad + mw * (0.5 * mw)) * scale
            grads[3] = _sum_to(xp, xp.broadcast_to(lvp_grad, prep.shape), logvar_p)
    return KLGrad(*(None if g is None else _output(xp, g, prep.dtype) for g in grads))


# --------------------------------------------------------------------------
# Public API: the negative ELBO
# --------------------------------------------------------------------------


class ELBOTerms(NamedTuple):
    """The negative ELBO and its parts, reduced alike.

    ``loss = reconstruction + beta * kl``; ``kl`` is the unweighted KL.
    """

    loss: Any
    reconstruction: Any
    kl: Any


class ELBOGrad(NamedTuple):
    """Gradient of the reduced negative ELBO (``loss``) w.r.t. its inputs.

    ``obs_logvar`` is ``None`` for the Bernoulli likelihood.
    """

    decoder_out: Any
    mu: Any
    logvar: Any
    obs_logvar: Any = None


class _ELBOPrepared(NamedTuple):
    xp: Any
    x: Any
    out: Any
    obs: Any
    mu: Any
    logvar: Any
    dtype: Any
    data_shape: tuple[Any, ...]
    latent_shape: tuple[Any, ...]
    event_axes: tuple[int, ...]


def _prepare_elbo(
    x: Any,
    decoder_out: Any,
    mu: Any,
    logvar: Any,
    likelihood: str,
    obs_logvar: Any,
    beta: Any,
    reduction: str,
    xp: Any,
) -> _ELBOPrepared:
    if likelihood not in _LIKELIHOODS:
        valid = ", ".join(repr(n) for n in _LIKELIHOODS)
        raise UsageError(f"unknown likelihood={likelihood!r}; expected one of {valid}")
    if reduction in ("none", "mean"):
        raise UsageError(
            f"reduction={reduction!r} is not defined for the negative ELBO (reconstruction "
            "and KL live on different axes); use 'batch', 'sum' or 'batchmean'"
        )
    _xp.check_reduction(reduction, _ELBO_REDUCTIONS)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf:
        raise UsageError(f"expected a finite number >= 0 for beta, got beta={beta!r}")
    obs = obs_logvar if likelihood == "gaussian" else None
    values = {"x": x, "decoder_out": decoder_out, "obs_logvar": obs, "mu": mu, "logvar": logvar}
    names = list(values)
    raw = list(values.values())
    xp = _xp.get_namespace(*raw, xp=xp, names=names)
    dtype = _xp.result_float_dtype(xp, raw, names)
    device = _xp.device_of(*raw)
    compute = _compute_dtype(xp, dtype)
    shape = {n: tuple(v.shape) for n, v in values.items() if _xp.is_array(v)}
    data_shape = _xp.broadcast_shapes({n: s for n, s in shape.items() if n in names[:3]})
    latent_shape = _xp.broadcast_shapes({n: s for n, s in shape.items() if n in names[3:]})
    if len(latent_shape) == 0:
        raise UsageError("mu and logvar need a latent axis (shape (..., D)), got 0-d")
    batch = latent_shape[:-1]
    if tuple(data_shape[: len(batch)]) != tuple(batch) or len(data_shape) < len(batch):
        raise UsageError(
            f"batch shapes differ: x/decoder_out have shape {data_shape} but mu/logvar "
            f"have shape {latent_shape}; the leading {len(batch)} axes must match"
        )
    x_a, out_a, obs_a, mu_a, lv_a = (
        None if v is None else _xp.as_float(xp, v, compute, device) for v in raw
    )
    event_axes = tuple(range(len(batch), len(data_shape)))
    return _ELBOPrepared(
        xp, x_a, out_a, obs_a, mu_a, lv_a, dtype, data_shape, latent_shape, event_axes
    )


def _recon_elementwise(xp: Any, prep: _ELBOPrepared, likelihood: str) -> Any:
    x, out = prep.x, prep.out
    if likelihood == "bernoulli":
        # softplus(l) − x·l = (1−x)·max(l,0) + x·max(−l,0) + log1p(exp(−|l|)): all
        # terms ≥ 0 for x in [0, 1]; the zero weights are masked so ±inf logits work.
        zero = _const(xp, out, 0.0)
        pos = xp.where(x == 1, zero, (1 - x) * xp.maximum(out, zero))
        neg = xp.where(x == 0, zero, x * xp.maximum(-out, zero))
        return (pos + neg) + xp.log1p(xp.exp(-xp.abs(out)))
    obs = prep.obs if prep.obs is not None else _const(xp, out, 0.0)
    r = (x - out) * xp.exp(-0.5 * obs)
    return 0.5 * (_LOG_2PI + obs) + r * (0.5 * r)


def _per_sample(xp: Any, elementwise: Any, shape: tuple[Any, ...], axes: tuple[int, ...]) -> Any:
    if tuple(elementwise.shape) != tuple(shape):
        elementwise = xp.broadcast_to(elementwise, shape)
    return xp.sum(elementwise, axis=axes) if axes else elementwise


def _reduce_samples(xp: Any, per_sample: Any, reduction: str) -> Any:
    if reduction == "batch":
        return per_sample
    total = xp.sum(per_sample)
    if reduction == "sum":
        return total
    return total / math.prod(per_sample.shape)


def elbo_loss(
    x: Any,
    decoder_out: Any,
    mu: Any,
    logvar: Any,
    *,
    likelihood: str = "bernoulli",
    obs_logvar: Any = 0.0,
    beta: float = 1.0,
    reduction: str = "batchmean",
    xp: Any = None,
) -> ELBOTerms:
    r"""The negative ELBO of a VAE: reconstruction NLL + beta·KL(q || N(0, I)).

    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0]])
    >>> logits = np.array([[800.0, -800.0]])     # a confident, correct decoder
    >>> [float(t) for t in elbo_loss(x, logits, np.zeros((1, 2)), np.zeros((1, 2)))]
    [0.0, 0.0, 0.0]
    >>> terms = elbo_loss(x, np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)),
    ...                   likelihood="gaussian", reduction="batch")
    >>> terms.reconstruction                      # 2 · ½(log 2π + 0 + ½)
    array([2.33787707])

    Parameters
    ----------
    x : array
        Data, shape ``(*batch, *event)``; its leading axes match ``mu``'s batch
        axes ``mu.shape[:-1]`` and the remaining axes are summed.
    decoder_out : array
        Bernoulli: logits (any real value, ±inf included).  Gaussian: the mean.
    mu, logvar : array
        Encoder outputs, shape ``(*batch, D)``.
    likelihood : {"bernoulli", "gaussian"}
        The Gaussian NLL includes its normalising constant
        :math:`\tfrac12\log 2\pi + \tfrac12\,\mathrm{obs\_logvar}`.
    obs_logvar : array or float
        Gaussian observation log-variance, broadcastable to ``x``.
    beta : float
        Weight of the KL term (β-VAE), finite and ``>= 0``.
    reduction : {"batch", "sum", "batchmean"}
        Per-sample values, their total, or their mean.  ``"none"`` and
        ``"mean"`` are rejected: they mix the pixel and latent scales.
    xp : namespace, optional
        Array namespace override.

    Returns
    -------
    ELBOTerms
        ``(loss, reconstruction, kl)``, reduced alike, ``loss = reconstruction + beta*kl``.
    """
    prep = _prepare_elbo(x, decoder_out, mu, logvar, likelihood, obs_logvar, beta, reduction, xp)
    xp = prep.xp
    with _xp.numpy_errstate():
        recon = _per_sample(
            xp, _recon_elementwise(xp, prep, likelihood), prep.data_shape, prep.event_axes
        )
    kl = gaussian_kl(prep.mu, prep.logvar, reduction="batch", xp=xp)
    recon = _reduce_samples(xp, recon, reduction)
    kl = _reduce_samples(xp, kl, reduction)
    loss = recon + beta * kl
    return ELBOTerms(*(_output(xp, t, prep.dtype) for t in (loss, recon, kl)))


def _sigmoid_pair(xp: Any, z: Any) -> tuple[Any, Any]:
    """(sigmoid(z), sigmoid(-z)), each accurate to a few ulp for any z."""
    e = xp.exp(-xp.abs(z))
    big = 1 / (1 + e)
    small = e / (1 + e)
    positive = z >= 0
    return xp.where(positive, big, small), xp.where(positive, small, big)


def elbo_loss_grad(
    x: Any,
    decoder_out: Any,
    mu: Any,
    logvar: Any,
    *,
    likelihood: str = "bernoulli",
    obs_logvar: Any = 0.0,
    beta: float = 1.0,
    reduction: str = "batchmean",
    xp: Any = None,
) -> ELBOGrad:
    r"""Analytic gradient of ``elbo_loss(...).loss`` (for ``"batch"``: per sample).

    Bernoulli: :math:`\partial/\partial\,\mathrm{logit} = \sigma(l) - x`,
    formed as :math:`(1-x)\sigma(l) - x\sigma(-l)` (no cancellation for 0/1 data).
    Gaussian: :math:`\partial/\partial\hat x = -(x-\hat x)e^{-v}` and
    :math:`\partial/\partial v = \tfrac12 - \tfrac12(x-\hat x)^2 e^{-v}`.
    Latents: ``beta`` times :func:`gaussian_kl_grad`.  ``"batchmean"`` divides
    everything by the number of samples.  Gradients take their input's shape.

    >>> import numpy as np
    >>> g = elbo_loss_grad(np.array([[1.0]]), np.array([[40.0]]),
    ...                    np.array([[0.5]]), np.array([[0.0]]), reduction="sum")
    >>> g.decoder_out, g.mu, g.logvar
    (array([[-4.24835426e-18]]), array([[0.5]]), array([[0.]]))
    """
    prep = _prepare_elbo(x, decoder_out, mu, logvar, likelihood, obs_logvar, beta, reduction, xp)
    xp = prep.xp
    samples = math.prod(prep.latent_shape[:-1])
    scale = 1 / samples if reduction == "batchmean" else 1
    with _xp.numpy_errstate():
        if likelihood == "bernoulli":
            sig_pos, sig_neg = _sigmoid_pair(xp, prep.out)
            out_grad = (1 - prep.x) * sig_pos - prep.x * sig_neg
            obs_grad = None
        else:
            obs = prep.obs if prep.obs is not None else _const(xp, prep.out, 0.0)
            w = xp.exp(-0.5 * obs)
            rw = (prep.x - prep.out) * w
            out_grad = -(rw * w)
            obs_grad = 0.5 - rw * (0.5 * rw)
        out_grad = xp.broadcast_to(out_grad * scale, prep.data_shape)
        kl = gaussian_kl_grad(prep.mu, prep.logvar, reduction="sum", xp=xp)
        grads = [
            _sum_to(xp, out_grad, decoder_out),
            _sum_to(xp, xp.broadcast_to(kl.mu * (beta * scale), prep.latent_shape), mu),
            _sum_to(xp, xp.broadcast_to(kl.logvar * (beta * scale), prep.latent_shape), logvar),
            None,
        ]
        if obs_grad is not None:
            obs_grad = xp.broadcast_to(obs_grad * scale, prep.data_shape)
            grads[3] = _sum_to(xp, obs_grad, obs_logvar)
    return ELBOGrad(*(None if g is None else _output(xp, g, prep.dtype) for g in grads))
