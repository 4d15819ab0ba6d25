r"""numba: the Gaussian KL of plain numpy arrays as one compiled, vectorised loop.

This module imports numba (the optional ``fast`` extra); ``_kl.py`` imports it
only when a program calls :func:`~elbo_check.kernel.gaussian_kl` on plain
ndarrays repeatedly (see ``_kl.py``), never for a one-off call.

It computes the function of :func:`~elbo_check.kernel._numerics.kl_pieces`
from the same :data:`~elbo_check.kernel._numerics.PARAMS64` (read at call time,
see :func:`constants`), element by element in the inputs' dtype (float32
arithmetic with the float64 polynomial rounded to float32; the row sums
accumulate in float64):

* ``|d| <= threshold``: :math:`\tfrac12 f(d) = \tfrac12 d^2 G(d)`, the same
  polynomial ``G`` on the same interval as every other path;
* elsewhere :math:`\tfrac12 f(d) = \tfrac12(e^d - 1 - d)`, with :math:`e^d`
  itself built from that polynomial: :math:`d = k\ln 2 + r`,
  :math:`|r| \le \tfrac12\ln 2 < \text{threshold}` (Cody and Waite's reduction),
  :math:`e^r = 1 + r + r^2 G(r)`, and
  :math:`\tfrac12 e^d = 2^{k-1} e^r` with :math:`2^{k-1}` formed from its bits.
  No libm call is left in the loop, so the compiler vectorises it.  The
  constant and linear terms are subtracted before the scaled part is added,
  ``((2^{k-1} − ½) − ½d) + 2^{k-1}(r + r²G(r))``, which keeps the relative
  error near 2e-15 next to the threshold (float64, against mpmath); the power
  is formed as two factors, so that :math:`\tfrac12 e^d` overflows only where
  it must, and above :math:`k = 60` (float32: 40) the result is
  :math:`\tfrac12 e^d - \tfrac12 d`.

With a prior, :math:`d = \ell - \ell_p` is split exactly by TwoSum and the
error term :math:`\tfrac12\operatorname{expm1}(d)\,d_{lo}` added, as in
``kl_pieces``; :math:`e^{-\ell_p/2}` comes from the same reduction.  Rows whose
sum is not finite (inf or nan inputs, overflow) are redone by ``kl_pieces``
with its guard, so the edge semantics are those of every other path.

>>> import numpy as np
>>> from elbo_check.kernel._jit import kl_rows
>>> kl_rows([np.zeros((1, 2)), np.array([[1e-9, 0.0]]), None, None], (1, 2), "batch")
array([2.5e-19])
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from elbo_check.kernel import _numerics
from elbo_check.kernel._tiles import finish_rows

__all__ = ["Constants", "bernoulli_logit_grad", "constants", "kl_grad_standard", "kl_rows"]


class Constants(NamedTuple):
    """The loop's constants for one dtype, each in that dtype (no mixed arithmetic)."""

    threshold: Any  # |d| <= threshold: ½d²G(d); PARAMS64's, for both dtypes
    g: tuple[Any, ...]  # G(c) = (e^c − 1 − c)/c²: PARAMS64's polynomial, rounded to the dtype
    inv_ln2: Any
    ln2_hi: Any  # ln 2 = ln2_hi + ln2_lo; k·ln2_hi is exact for every k that occurs
    ln2_lo: Any
    round_: Any  # 1.5·2^(p−1): (x + round_) − round_ rounds x to an integer
    low: Any  # e^x underflows to 0 below, and
    high: Any  # overflows above (x is clipped to [low, high] before the reduction)
    two_factors: Any  # above this k, ½(1 + d) is below an ulp of ½e^d
    huge: Any  # the largest finite value
    half: Any
    one: Any


# fdlibm's splits of ln 2 (float64: _numerics' one; 32 and 9 trailing zero bits in ln2_hi), the clipping
# range of e^x and the two-factor k, per dtype
_RANGES = {
    np.dtype(np.float64): (_numerics.LN2_HI, _numerics.LN2_LO, -760, 720, 60),
    np.dtype(np.float32): (6.93145751953125e-01, 1.428606765330187045e-06, -110, 95, 40),
}
_CACHE: dict[tuple[Any, int], Constants] = {}


def constants(dtype: Any) -> Constants:
    """The loop's :class:`Constants` for ``dtype``, from the current ``PARAMS64``.

    >>> constants(np.float32).threshold
    np.float32(0.4)
    """
    params = _numerics.PARAMS64  # read at call time: one definition, also when patched
    key = (np.dtype(dtype), id(params))
    found = _CACHE.get(key)
    if found is None:
        if not 0.5 * math.log(2.0) < params.threshold:  # r must stay where G is accurate
            raise ValueError("PARAMS64.threshold must exceed ½ln 2 for the range reduction")
        t = key[0].type
        ln2_hi, ln2_lo, low, high, two = _RANGES[key[0]]
        bits = np.finfo(t).nmant + 1
        found = _CACHE[key] = Constants(
            t(params.threshold), tuple(t(c) for c in params.coeffs), t(1 / math.log(2.0)),
            t(ln2_hi), t(ln2_lo), t(1.5 * 2.0 ** (bits - 1)), t(low), t(high), t(two),
            np.finfo(t).max, t(0.5), t(1.0),
        )  # fmt: skip
    return found


_inline = numba.njit(inline="always", error_model="numpy", cache=True, nogil=True)
_compiled = numba.njit(error_model="numpy", cache=True, nogil=True)


def _pow2_half(minus: int, high: bool) -> Any:
    """An intrinsic: one of the two factors 2^a · 2^(e − a) of 2^e, e = kf − ``minus``.

    ``kf`` is an integer-valued float (the reduction's k); ``a = e >> 1``; the
    factor is ``2^(e − a)`` if ``high`` else ``2^a``, in ``kf``'s float type,
    formed from its bits in the integer type of that width (float32: int32,
    so the loop keeps 16 lanes).  Both factors are normal numbers for every k
    that occurs, so their product overflows or underflows only with 2^e.
    """

    def typing(typingctx: Any, kf: Any) -> Any:
        wide = kf == types.float64

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            width, bias, shift = (64, 1023, 52) if wide else (32, 127, 23)
            ity = ir.IntType(width)
            e = builder.sub(builder.fptosi(args[0], ity), ir.Constant(ity, minus))
            a = builder.ashr(e, ir.Constant(ity, 1))
            part = builder.sub(e, a) if high else a
            bits = builder.shl(builder.add(part, ir.Constant(ity, bias)), ir.Constant(ity, shift))
            return builder.bitcast(bits, ir.DoubleType() if wide else ir.FloatType())

        return kf(kf), codegen

    return intrinsic(typing)


_pow2_lo: Any = _pow2_half(0, False)  # 2^e = _pow2_lo(kf) · _pow2_hi(kf), e = kf
_pow2_hi: Any = _pow2_half(0, True)
_half_pow2_lo: Any = _pow2_half(1, False)  # 2^(e − 1) = _half_pow2_lo(kf) · _half_pow2_hi(kf)
_half_pow2_hi: Any = _pow2_half(1, True)


@_inline
def _g(c: Any, g: Any) -> Any:
    """G(c) by Horner's rule (constant trip count: it unrolls)."""
    acc = g[-1]
    for i in range(len(g) - 2, -1, -1):
        acc = acc * c + g[i]
    return acc


@_inline
def _reduce(x: Any, k: Any) -> Any:
    """(xc, kf, r): xc = x clipped to [low, high], xc = kf·ln 2 + r, |r| <= ½ln 2."""
    xc = min(max(x, k.low), k.high)
    kf = (xc * k.inv_ln2 + k.round_) - k.round_
    return xc, kf, (xc - kf * k.ln2_hi) - kf * k.ln2_lo


@_inline
def _half_f(d: Any, k: Any) -> Any:
    """(½f(d), ½expm1(d)) for one ``d``; nan for nan."""
    x, kf, r = _reduce(d, k)
    small = abs(d) <= k.threshold
    c = d if small else r
    q = c * c * _g(c, k.g)  # e^c − 1 − c
    sa = _half_pow2_lo(kf)
    sb = _half_pow2_hi(kf)
    s = sa * sb  # 2^(k−1), finite where it is used
    half_exp = (sa * (k.one + (r + q))) * sb  # ½e^d, overflowing only with it
    if kf > k.two_factors:
        value = half_exp - k.half * x
    else:
        value = ((s - k.half) - k.half * d) + s * (r + q)
    slope = (half_exp - k.half) if not small else k.half * d + k.half * q
    if small:
        value = k.half * q
    if d != d:
        value = d
    return value, slope


@_inline
def _exp(x: Any, k: Any) -> Any:
    """e^x from the same reduction and polynomial."""
    _, kf, r = _reduce(x, k)
    value = (_pow2_lo(kf) * (k.one + (r + r * r * _g(r, k.g)))) * _pow2_hi(kf)
    return x if x != x else value


@numba.njit(fastmath={"reassoc"}, error_model="numpy", cache=True, nogil=True)
def _sum(row: Any) -> float:
    """Σ row in float64, reassociated so that it vectorises (all terms are >= 0)."""
    total = 0.0
    for j in range(row.shape[0]):
        total += np.float64(row[j])
    return total


@_compiled
def _rows_standard(mu: Any, lv: Any, k: Any, rows: Any, elementwise: Any, keep: bool) -> int:
    n, width = lv.shape
    buf = np.empty(width, dtype=lv.dtype)
    bad = 0  # rows whose sum is not finite
    for i in range(n):
        for j in range(width):
            m = mu[i, j]
            buf[j] = _half_f(lv[i, j], k)[0] + k.half * (m * m)
        rows[i] = _sum(buf)
        bad += not np.isfinite(rows[i])
        if keep:
            elementwise[i, :] = buf
    return bad


@_compiled
def _rows_prior(
    mu: Any, lv: Any, mu_p: Any, lv_p: Any, k: Any, rows: Any, elementwise: Any, keep: bool
) -> int:
    n, width = lv.shape
    buf = np.empty(width, dtype=lv.dtype)
    bad = 0  # rows whose sum is not finite
    for i in range(n):
        for j in range(width):
            a = lv[i, j]
            b = lv_p[i, j]
            d = a - b  # TwoSum: a − b = d + lo exactly
            bb = d - a
            lo = (a - (d - bb)) - (b + bb)
            value, slope = _half_f(d, k)
            if lo == lo and abs(lo) != np.inf:  # f(d + lo) ≈ f(d) + expm1(d)·lo
                value += min(slope, k.huge) * lo
            mw = (mu[i, j] - mu_p[i, j]) * _exp(-k.half * b, k)
            buf[j] = value + k.half * (mw * mw)
        rows[i] = _sum(buf)
        bad += not np.isfinite(rows[i])
        if keep:
            elementwise[i, :] = buf
    return bad


def kl_rows(arrays: list[Any], shape: tuple[int, ...], reduction: str) -> Any:
    """The KL of plain numpy ``arrays`` (mu, logvar, mu_p, logvar_p; ``None`` for none), reduced.

    All given arrays share ``shape`` (non-empty, at least one axis) and one
    float dtype; the result has that dtype.
    """
    dtype = arrays[1].dtype
    width = shape[-1]
    n = arrays[1].size // width
    views = [None if x is None else _rows_view(x, n, width) for x in arrays]
    k = constants(dtype)
    rows = np.empty(n)
    keep = reduction == "none"
    elementwise = np.empty((n, width), dtype=dtype) if keep else _NO_ELEMENTS[dtype]
    mu, lv, mu_p, lv_p = views
    if mu_p is None and lv_p is None:
        bad = _rows_standard(mu, lv, k, rows, elementwise, keep)
    else:
        zeros = np.broadcast_to(np.zeros(1, dtype=dtype), (n, width))  # no memory
        bad = _rows_prior(
            mu, lv, zeros if mu_p is None else mu_p, zeros if lv_p is None else lv_p, k,
            rows, elementwise, keep,
        )  # fmt: skip
    if bad:  # inf or nan inputs, or an overflow: kl_pieces redoes those rows
        out = finish_rows(views, rows, elementwise if keep else None, shape, reduction)
    elif keep:
        return elementwise.reshape(shape)
    elif reduction == "batch":
        out = rows.reshape(shape[:-1])[()]  # 1-D input: a scalar, as np.sum gives
    else:
        total = rows.sum()
        out = (
            total if reduction == "sum" else total / (n if reduction == "batchmean" else n * width)
        )
    with np.errstate(over="ignore"):  # a float64 sum beyond float32's range is inf there
        return out.astype(dtype, copy=False) if isinstance(out, np.ndarray) else dtype.type(out)


_NO_ELEMENTS = {np.dtype(t): np.empty((1, 1), dtype=t) for t in (np.float64, np.float32)}


def _rows_view(x: Any, n: int, width: int) -> Any:
    """``x`` as C-contiguous ``(n, width)`` rows (a copy only where it is not contiguous)."""
    if x.ndim == 2 and x.flags.c_contiguous:
        return x
    return np.ascontiguousarray(x).reshape(n, width)


@_compiled
def _kl_grad_flat(mu: Any, lv: Any, k: Any, scale: Any, g_mu: Any, g_lv: Any) -> None:
    for i in range(lv.shape[0]):
        g_mu[i] = mu[i] * scale
        g_lv[i] = _half_f(lv[i], k)[1] * scale  # ½expm1(ℓ), overflowing only with it


def kl_grad_standard(mu: Any, logvar: Any, scale: float) -> tuple[Any, Any]:
    """``(scale·mu, scale·½expm1(logvar))``: the standard-prior KL gradient, one pass.

    ``mu`` and ``logvar`` are plain ndarrays of one float dtype and shape.

    >>> g_mu, g_lv = kl_grad_standard(np.array([2.0]), np.array([1e-10]), 1.0)
    >>> g_mu, g_lv
    (array([2.]), array([5.e-11]))
    """
    dtype = logvar.dtype
    flat = [np.ascontiguousarray(a).reshape(-1) for a in (mu, logvar)]
    g_mu, g_lv = np.empty_like(flat[0]), np.empty_like(flat[1])
    _kl_grad_flat(flat[0], flat[1], constants(dtype), dtype.type(scale), g_mu, g_lv)
    return g_mu.reshape(logvar.shape), g_lv.reshape(logvar.shape)


@_compiled
def _bernoulli_flat(x: Any, logits: Any, k: Any, scale: Any, out: Any) -> None:
    for i in range(x.shape[0]):
        z = logits[i]
        e = _exp(-abs(z), k)  # e^(−|z|): one numerator of σ(z), σ(−z) is e, the other 1
        inv = k.one / (k.one + e)
        pos = inv if z >= 0 else e * inv
        neg = e * inv if z >= 0 else inv
        out[i] = ((k.one - x[i]) * pos - x[i] * neg) * scale


def bernoulli_logit_grad(x: Any, logits: Any, scale: float) -> Any:
    """``scale·(σ(l) − x)`` formed as ``scale·((1 − x)σ(l) − xσ(−l))``, one pass.

    ``x`` and ``logits`` are plain ndarrays of one float dtype and shape; ±inf
    logits give ``scale·(1 − x)`` and ``−scale·x``, nan gives nan.

    >>> bernoulli_logit_grad(np.array([1.0, 0.0]), np.array([40.0, -np.inf]), 1.0)
    array([-4.24835426e-18,  0.00000000e+00])
    """
    dtype = logits.dtype
    flat = [np.ascontiguousarray(a).reshape(-1) for a in (x, logits)]
    out = np.empty_like(flat[1])
    _bernoulli_flat(flat[0], flat[1], constants(dtype), dtype.type(scale), out)
    return out.reshape(logits.shape)
