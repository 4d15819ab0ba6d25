r"""The one definition of the KL numerics, shared by every backend path.

Everything that decides *which* function the kernel computes lives here: the
per-dtype thresholds and polynomial coefficients (:class:`Params`), the two
branches of :math:`\tfrac12 f(d) = \tfrac12(e^d - 1 - d)`, the overflow-safe
slope :math:`\tfrac12\operatorname{expm1}(d)` and the rounding compensation of
:math:`d = \ell - \ell_p`.  The portable path, the torch
:class:`~torch.autograd.Function` off the CPU (and under ``torch.compile`` and
``torch.func``) and the JAX ``custom_jvp`` with a prior call :func:`kl_pieces`;
the JAX ``custom_jvp`` without one calls :func:`kl_pieces_standard_two_pass`,
the same function arranged as two loops for XLA; eager torch on the CPU calls
:func:`kl_pieces_inplace_torch`, the same steps in place; the
numpy tiles (``_tiles.py``, which also serve small plain arrays as one tile) are
its in-place, blocked form with the same :class:`Params`; numba's loop
(``_jit.py``, the optional ``fast`` extra) takes the same threshold and
polynomial and builds :math:`e^d` from that polynomial too, as the JAX slope
of large float64 arrays does (:func:`half_expm1_reduced`).  The tests hold
all of them to the mpmath oracle; a perturbed coefficient in :data:`PARAMS64`
fails the oracle test on every numpy path, the numba loop included.

The functions take the namespace ``xp`` (numpy, torch, ``jax.numpy`` or any
array-API namespace) and import none at module level (the torch-only helpers
import torch when called).

>>> import numpy as np
>>> from elbo_check.kernel._numerics import kl_pieces
>>> value, slope, mw, w = kl_pieces(np, np.array([0.0, 1.0]), np.array([1e-9, 0.0]))
>>> value       # KL elementwise: ½(e^d − 1 − d) + ½μ², no cancellation at d = 1e-9
array([2.5e-19, 5.0e-01])
>>> slope       # ∂KL/∂logvar = ½·expm1(d)
array([5.e-10, 0.e+00])
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PARAMS32",
    "PARAMS64",
    "Params",
    "half_expm1",
    "half_expm1_reduced",
    "half_f_small",
    "horner",
    "kl_pieces",
    "kl_pieces_inplace_torch",
    "kl_pieces_standard_two_pass",
    "params_for",
    "slopes",
]


@dataclass(frozen=True)
class Params:
    """Per-dtype constants of the ½f(d) = ½(e^d − 1 − d) evaluation."""

    threshold: float  # |d| < threshold: polynomial; otherwise ½expm1(d) − ½d
    coeffs: tuple[float, ...]  # G(c) = (e^c − 1 − c)/c² as a polynomial in c
    half_coeffs: tuple[float, ...]  # ½·G(c), the coefficients every path evaluates
    split: float  # above it ½e^d is formed as e^(d−split)·½e^split (no spurious overflow)
    half_exp_split: float
    upper: float  # d is clipped here (beyond overflow) so that d = +inf gives +inf
    use_expm1: bool = False  # numpy tiles: large branch from expm1(d) (else exp(d) − 1)
    huge: float = 1.7976931348623157e308  # the dtype's largest finite value

    @property
    def large_floor(self) -> float:
        """½f(−threshold): where the large branch's ½f(d) exceeds it, |d| >= ~threshold.

        ½f is decreasing below 0 and increasing above, and ½f(−t) < ½f(t); so
        ``½f(d) > large_floor`` holds for ``d < −t`` and for ``d > t'`` with
        t' a little under t (0.0967 in float32, 0.355 in float64, where the
        large branch is as accurate as at t: see :func:`kl_pieces_standard_two_pass`).
        """
        return 0.5 * (math.expm1(-self.threshold) + self.threshold)


# G(c) = (exp(c) - 1 - c) / c**2 on |c| <= 0.4: Chebyshev interpolation at 10 nodes
# (near-minimax), fitted in 60-digit mpmath.  Max relative error 9.7e-16 (4.4 ulp)
# after rounding to float64; tests/test_kernel.py re-checks it against mpmath.
G64 = (
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
# float32: the large branch keeps a 1.3e-6 relative error down to |d| = 0.1; below,
# G on |c| <= 0.1 by Chebyshev interpolation at 4 nodes: max relative error 1.1e-7
# after rounding to float32.
G32 = (
    0.4999999826357884,
    0.16666666418616344,
    0.04168055772590114,
    0.008335317701462794,
)

# ½·coefficients are exact (a power-of-two scaling)
PARAMS64 = Params(
    0.4, G64, tuple(0.5 * c for c in G64), 512.0, 0.5 * math.exp(512.0), 1024.0, False
)
PARAMS32 = Params(
    0.1,
    G32,
    tuple(0.5 * c for c in G32),
    64.0,
    0.5 * math.exp(64.0),
    128.0,
    True,
    3.4028234663852886e38,
)


def params_for(dtype: Any) -> Params:
    """The constants for a float64 or float32 ``dtype`` of any library.

    >>> import numpy as np
    >>> params_for(np.dtype("float64")).threshold, params_for(np.float32).threshold
    (0.4, 0.1)
    """
    key = (type(dtype), dtype)  # the type first: no cross-library dtype comparison
    try:
        wide = _IS_FLOAT64[key]
    except (KeyError, TypeError):  # a first sight, or an unhashable dtype
        name = getattr(dtype, "__name__", None) or str(dtype)
        wide = name.endswith("float64")
        with contextlib.suppress(TypeError):  # an unhashable dtype: not cached
            _IS_FLOAT64[key] = wide
    return PARAMS64 if wide else PARAMS32


_IS_FLOAT64: dict[tuple[type, Any], bool] = {}  # str(numpy dtype) alone costs a few µs


def horner(c: Any, coeffs: tuple[float, ...]) -> Any:
    """Σ coeffs[k]·c^k by Horner's rule (any array type; torch: one fused op a step)."""
    if type(c).__module__.startswith("torch"):
        return _horner_torch(c, coeffs)
    acc = c * coeffs[-1]
    acc += coeffs[-2]
    for coeff in coeffs[-3::-1]:
        acc *= c
        acc += coeff
    return acc


_TORCH_COEFFS: dict[tuple[int, Any, Any], tuple[Any, ...]] = {}


def _horner_torch(c: Any, coeffs: tuple[float, ...], inplace: bool = False) -> Any:
    """Horner with ``addcmul(k, acc, c) = k + acc·c`` on cached 0-d coefficient tensors.

    ``inplace=True`` writes every step after the first into the same tensor
    (eager only: autograd cannot differentiate through ``out=``).
    """
    import torch

    key = (id(coeffs), c.dtype, c.device)  # Params' tuples live as long as the module
    ks = _TORCH_COEFFS.get(key)
    if ks is None:
        # torch.full, not torch.tensor: a fill kernel, no host-to-device copy (no sync)
        ks = tuple(torch.full((), k, dtype=c.dtype, device=c.device) for k in coeffs)
        _TORCH_COEFFS[key] = ks
    acc = torch.addcmul(ks[-2], c, ks[-1])
    for k in ks[-3::-1]:
        acc = torch.addcmul(k, acc, c, out=acc) if inplace else torch.addcmul(k, acc, c)
    return acc


def half_f_small(c: Any, p: Params) -> Any:
    """½f(c) = ½(e^c − 1 − c) as c²·½G(c): the branch for |c| <= ``p.threshold``."""
    acc = horner(c, p.half_coeffs)
    return acc * (c * c)


def half_expm1(xp: Any, d: Any, p: Params, guard: bool = True, from_exp: bool = False) -> Any:
    """½·expm1(d) without spurious overflow where the value fits the dtype.

    ``guard=False`` skips the overflow guard; callers pass it only after
    checking that no ``d`` exceeds ``p.split``.  ``from_exp=True`` forms it as
    ``½exp(d) − ½``: accurate only for ``|d|`` beyond the threshold (see
    :func:`kl_pieces`).
    """
    if not guard:
        if from_exp:
            return xp.exp(d) * 0.5 - 0.5
        return xp.expm1(d) * 0.5  # not in place: the double backward differentiates it
    # one transcendental: e = expm1(d − split) above the split (d − split is exact
    # there, by Sterbenz), else expm1(d); then ½expm1(d) = (e + 1)·½e^split − ½ above it
    over = d > p.split
    if from_exp:
        e = xp.exp(xp.where(over, d - p.split, d))
        return xp.where(over, e * p.half_exp_split, e * 0.5) - 0.5
    e = xp.expm1(xp.where(over, d - p.split, d))
    return xp.where(over, (e + 1.0) * p.half_exp_split - 0.5, e * 0.5)


#: fdlibm's split of ln 2 (k·LN2_HI is exact for every k the reduction meets)
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
_ROUND = 1.5 * 2.0**52  # an integer-valued x < 2^51 in size: bits(x + _ROUND) = _ROUND_BITS + x
_ROUND_BITS = 0x4338000000000000
#: d is clipped to this range first: 2^(k−2) stays a normal number, and ½e^d
#: overflows exactly where it must (ln(2·huge) = 710.4758...)
_REDUCED_RANGE = (-707.0, 710.5)


def half_expm1_reduced(xp: Any, d: Any, p: Params | None = None) -> Any:
    r"""½expm1(d) for float64 ``d`` from the polynomial of ``p`` alone (no ``exp``).

    The range-reduced arrangement of the same :class:`Params` (numba's loop in
    ``_jit.py`` builds :math:`e^d` the same way): :math:`d = k\ln 2 + r` with
    fdlibm's two-part ln 2, :math:`|r| \le \tfrac12\ln 2 <` ``p.threshold``,
    :math:`e^r = 1 + r + r^2 G(r)`, and :math:`\tfrac12 e^d = 2\cdot 2^{k-2}e^r`
    with :math:`2^{k-2}` formed from its bits (the factor 2 last, so that
    :math:`\tfrac12 e^d` overflows only where it must: finite up to
    :math:`d = 710.475`).  Where ``|d| <= p.threshold`` it is
    :math:`\tfrac12 d + \tfrac12 d^2 G(d)`: one polynomial evaluation serves
    both branches.  Below ``d = −707``, :math:`\tfrac12 e^d < 10^{-307}` is
    below an ulp of ½ and the result is −½; ``+inf`` gives ``+inf`` and nan
    gives nan.  XLA compiles this to cheaper code than its ``exp``.  ``p``
    defaults to :data:`PARAMS64` as it is at call time.

    >>> import numpy as np
    >>> half_expm1_reduced(np, np.array([1e-9, 1.0, -np.inf, 710.4]))
    array([ 5.00000000e-010,  8.59140914e-001, -5.00000000e-001,  1.66636428e+308])
    """
    p = PARAMS64 if p is None else p
    x = xp.clip(d, *_REDUCED_RANGE)
    kf = xp.round(x * (1.0 / math.log(2.0)))  # round-half-even; |kf| <= 1025
    r = (x - kf * LN2_HI) - kf * LN2_LO
    small = xp.abs(d) <= p.threshold
    c = xp.where(small, d, r)
    q = (c * c) * horner(c, p.coeffs)  # e^c − 1 − c
    # 2^(k−2) from its bits: exponent field k − 2 + 1023 (kf + _ROUND is exact)
    biased = _bitcast(xp, kf + _ROUND, xp.int64) - (_ROUND_BITS - 1021)
    quarter_pow = _bitcast(xp, biased << 52, xp.float64)
    half_exp = (quarter_pow * (1.0 + (r + q))) * 2.0
    return xp.where(small, 0.5 * d + 0.5 * q, half_exp - 0.5)


def _bitcast(xp: Any, x: Any, dtype: Any) -> Any:
    """``x``'s bits as ``dtype`` of the same width (numpy, torch or ``jax.numpy``)."""
    if getattr(xp, "__name__", "") == "jax.numpy":
        import jax

        return jax.lax.bitcast_convert_type(x, dtype)
    return x.view(dtype)


def _scalar(xp: Any, like: Any, value: float) -> Any:
    """``value`` for a where argument: a Python float where the library takes one."""
    if getattr(xp, "__name__", "") in ("numpy", "torch", "jax.numpy"):
        return value
    import array_api_compat

    return xp.asarray(value, dtype=like.dtype, device=array_api_compat.device(like))


def _two_diff(xp: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """``(d, e)`` with ``d = fl(a − b)`` and ``a − b = d + e`` exactly (Knuth's TwoSum).

    ``e`` is 0 where it is not finite (an infinite or nan operand).
    """
    d = a - b
    bb = d - a
    err = (a - (d - bb)) - (b + bb)
    return d, xp.where(xp.isfinite(err), err, _scalar(xp, err, 0.0))


def slopes(
    xp: Any, mu: Any, lv: Any, mu_p: Any = None, lv_p: Any = None, *, eager: bool = False
) -> tuple[Any, Any, Any]:
    """``(h, mw, w)``: ∂KL/∂ℓ = h = ½expm1(ℓ − ℓp), mw = (μ − μp)·w, w = e^(−ℓp/2).

    Then ∂KL/∂μ = mw·w and ∂KL/∂ℓp = −h − ½mw².  ``w`` is ``None`` without a
    prior.  Free of data-dependent control flow: traceable, differentiable
    (the torch double backward recomputes through it) and free of host syncs;
    ``eager=True`` skips the overflow guard when no ``d`` needs it.
    """
    p = params_for(lv.dtype)
    d, d_lo = (lv, None) if lv_p is None else _two_diff(xp, lv, lv_p)
    h = half_expm1(xp, d, p, not eager or bool(xp.any(d > p.split)))
    if d_lo is not None:
        h = h + (xp.clip(h, None, p.huge) + 0.5) * d_lo  # (½expm1)' = ½e^d
    m = mu if mu_p is None else mu - mu_p
    if lv_p is None:
        return h, m, None
    w = xp.exp(-0.5 * lv_p)
    return h, m * w, w


def kl_pieces(
    xp: Any,
    mu: Any,
    lv: Any,
    mu_p: Any = None,
    lv_p: Any = None,
    *,
    eager: bool = True,
    guard: bool | None = None,
    fused: bool = False,
) -> tuple[Any, Any, Any, Any]:
    """``(kl, h, mw, w)``: the elementwise KL and the :func:`slopes` at the same point.

    KL = ½f(d) + ½mw², with ½f from the polynomial where ``|d| <= threshold``
    and from ``h − ½d`` elsewhere, plus ``h·d_lo`` for the rounding error
    ``d_lo`` of ``d = ℓ − ℓp``.

    ``eager=True`` (numpy, torch on the CPU) may look at the data: the overflow
    guard runs only when some ``d`` exceeds the split.  ``eager=False`` (JAX,
    CUDA, ``torch.compile``, ``vmap``, lazy arrays) always guards: no host sync,
    no data-dependent shape.  Both evaluate the two branches and select with
    ``where`` (the polynomial on the clipped ``d``, so it stays finite); both
    give the same values.  Gathering the small-``|d|`` elements pays only on
    large numpy arrays, which the tiles handle.  ``guard`` forces the overflow
    guard on or off (a caller that detects overflow itself, as numpy's error
    state does, retries with it).

    ``fused=True`` (JAX, whose compiler fuses the whole evaluation into one
    loop, so that both branches cost per element) spends one transcendental
    where ``Params.use_expm1`` is false (float64): the large branch takes
    ``exp(d) − 1``, as the numpy tiles do (exact by Sterbenz for
    ``|d| < ln 2``, at most 3 ulp from ``expm1`` beyond ``threshold``), and the
    slope on small ``|d|`` is ``½d + ½f(d)`` from the polynomial.  XLA's
    float64 ``expm1`` costs about two ``exp``.
    """
    p = params_for(lv.dtype)
    if lv_p is None:
        d, d_lo = lv, None
    else:
        d, d_lo = _two_diff(xp, lv, lv_p)
    if guard is None:
        guard = not eager or bool(xp.any(d > p.split))
    u = xp.clip(d, None, p.upper) if guard else d  # d = +inf gives +inf
    from_exp = fused and not p.use_expm1
    h = half_expm1(xp, u, p, guard, from_exp)
    half_f = _minus_half(xp, h, u)
    c = xp.clip(u, -p.threshold, p.threshold)
    small = half_f_small(c, p)
    half_f = _select_small(xp, c, u, small, half_f, guard)
    if from_exp:  # ½expm1(d) = ½d + ½f(d) where |d| <= threshold
        h = xp.where(c == u, 0.5 * c + small, h)
    if d_lo is not None:  # f(d + d_lo) ≈ f(d) + expm1(d)·d_lo; inf·0 must not give nan
        capped = xp.clip(h, None, p.huge)
        half_f = half_f + capped * d_lo
        h = h + (capped + 0.5) * d_lo
    m = mu if mu_p is None else mu - mu_p
    if lv_p is None:
        return _plus_half_square(xp, half_f, m, eager, fused), h, m, None
    w = xp.exp(-0.5 * lv_p)
    mw = m * w
    return _plus_half_square(xp, half_f, mw, eager, fused), h, mw, w


def kl_pieces_standard_two_pass(
    xp: Any, mu: Any, lv: Any, *, from_exp: bool = False, reduced: bool = False
) -> tuple[Any, Any]:
    """``(kl, h)`` of :func:`kl_pieces` without a prior, as two light loops (XLA).

    The same function from the same :class:`Params`: ½f(d) from the
    polynomial near 0 and from ``h − ½d`` elsewhere, ``h = ½expm1(d)`` with the
    overflow guard of :func:`half_expm1` (``from_exp``, honoured where
    ``Params.use_expm1`` is false: the ``exp`` form and the polynomial near 0,
    as ``kl_pieces(fused=True)``; ``reduced``, honoured in float64 only:
    ``h`` from :func:`half_expm1_reduced`), ``KL = ½f + ½μ²``.
    Two differences of arrangement, so that XLA's CPU compiler makes one loop
    for ``h`` (the logvar gradient) and one for the KL that only *reads* ``h``,
    each with at most one floating-point operation per byte it moves (its
    cost model then runs small arrays on one thread: a loop it splits over
    threads costs about 100 µs of CPU time, which dwarfs a 128×32 problem):

    * the branch is chosen on the large branch's own value, ``h − ½d >
      Params.large_floor`` (no clip, no ``|d|`` test): that is ``d < −t`` or
      ``d > t'`` with t' just under t (the large branch keeps its accuracy
      there: 4.5e-15 at worst in float64 with ``from_exp``, against mpmath);
    * the polynomial takes ``d`` unclipped: it is selected only where
      ``|d| < t``, and for ``d = +∞`` (where ``h − ½d`` is nan), where it gives
      +∞ as the KL must (every coefficient is positive); a nan stays nan.

    ``½μ²`` is added to both branches before the select, which then ends the
    loop (a reduction cannot absorb it and materialise constants).

    >>> import numpy as np
    >>> kl, h = kl_pieces_standard_two_pass(np, np.array([0.0, 1.0]), np.array([1e-9, 0.0]))
    >>> kl, h
    (array([2.5e-19, 5.0e-01]), array([5.e-10, 0.e+00]))
    """
    p = params_for(lv.dtype)
    from_exp = from_exp and not p.use_expm1
    with _quiet(xp):
        if reduced and p is PARAMS64:
            h = half_expm1_reduced(xp, lv, p)
        else:
            h = half_expm1(xp, lv, p, True, from_exp)
            if from_exp:  # ½expm1(d) = ½d + ½f(d) where |d| <= threshold
                c = xp.clip(lv, -p.threshold, p.threshold)
                h = xp.where(c == lv, 0.5 * c + half_f_small(c, p), h)
        large = h - 0.5 * lv
        small = half_f_small(lv, p)
        q = mu * (0.5 * mu)
        return xp.where(large > p.large_floor, large + q, small + q), h


def _quiet(xp: Any) -> Any:
    """numpy's error state silenced (the unselected branch may overflow); else nothing."""
    if getattr(xp, "__name__", "") == "numpy":
        return xp.errstate(all="ignore")
    return contextlib.nullcontext()


def kl_pieces_inplace_torch(
    mu: Any, lv: Any, mu_p: Any = None, lv_p: Any = None
) -> tuple[Any, Any, Any, Any]:
    """:func:`kl_pieces` for eager torch CPU tensors, unguarded, in four allocations.

    Step for step the same function (the same :class:`Params`, branches and
    compensation), written with in-place ops: on the CPU a fresh large tensor
    costs page faults, and a pass that allocates costs 5 to 10 in-place passes.
    No overflow guard: the caller checks that the result is finite and else
    calls :func:`kl_pieces` with the guard.  The branches are blended with exact
    0/1 weights (``lerp``) instead of ``where`` (see :func:`_select_small`).
    """
    import torch

    p = params_for(lv.dtype)
    d, d_lo = (lv, None) if lv_p is None else _two_diff_inplace_torch(lv, lv_p)
    h = torch.expm1(d).mul_(0.5)  # ½expm1(d), kept for the backward
    c = d.clamp(-p.threshold, p.threshold)
    small_w = torch.eq(c, d, out=torch.empty_like(d))  # 1.0 where |d| <= threshold
    acc = _horner_torch(c, p.half_coeffs, inplace=True).mul_(c).mul_(c)  # ½f(c) = c²·½G(c)
    half_f = torch.sub(h, d, alpha=0.5, out=c).lerp_(acc, small_w)  # ½expm1(d) − ½d elsewhere
    if d_lo is not None:  # f(d + d_lo) ≈ f(d) + expm1(d)·d_lo; inf·0 must not give nan
        capped = h.clamp(max=p.huge)
        half_f.addcmul_(capped, d_lo)
        h.addcmul_(capped.add_(0.5), d_lo)
    m = mu if mu_p is None else mu - mu_p
    w = None
    if lv_p is not None:
        w = torch.exp(lv_p * -0.5)
        m = m * w if m.shape != w.shape or m is mu else m.mul_(w)
    if half_f.shape == m.shape:
        return half_f.addcmul_(m, m, value=0.5), h, m, w
    return half_f + m * (0.5 * m), h, m, w


def _two_diff_inplace_torch(a: Any, b: Any) -> tuple[Any, Any]:
    """:func:`_two_diff` for torch: ``nan_to_num_`` in place of ``where``."""
    d = a - b
    bb = d - a
    err = (a - (d - bb)).sub_(b + bb)
    return d, err.nan_to_num_(0.0, 0.0, 0.0)


def _select_small(xp: Any, c: Any, u: Any, small: Any, large: Any, guard: bool) -> Any:
    """``small`` where ``c == u`` (that is ``|d| <= threshold``), else ``large``.

    Unguarded torch (eager, on the CPU) blends with exact 0/1 weights instead of
    ``where``: ``torch.where`` on a boolean mask costs 10 to 30 multiplies there,
    ``eq`` into a float mask and ``lerp`` one each.  ``lerp(large, small, w)`` is
    exactly ``large`` for ``w = 0`` and exactly ``small`` for ``w = 1`` wherever
    both are finite: ``small`` always is (it is evaluated on the clipped ``c``),
    ``large`` is finite where ``|d| <= threshold``, and where it is not (an
    overflow, or an inf input) the nan it gives sends the unguarded caller to
    its guarded retry, which takes ``where``.
    """
    if not guard and xp.__name__ == "torch":
        return xp.lerp(large, small, xp.eq(c, u, out=xp.empty_like(u)))
    return xp.where(c == u, small, large)


def _minus_half(xp: Any, h: Any, u: Any) -> Any:
    """h − ½u (one fused torch call)."""
    if xp.__name__ == "torch":
        return xp.sub(h, u, alpha=0.5)
    return h - 0.5 * u


def _plus_half_square(xp: Any, acc: Any, m: Any, eager: bool, fused: bool = False) -> Any:
    """acc + m·(½m), overflow-free where ½m² fits (eager torch: one fused call, in place).

    ``fused=True`` ends on an identity ``where(m == m, ·, m)`` (nan in, nan
    out either way): XLA's CPU reduction fusion then takes the elementwise KL
    from one loop, instead of materialising the constant ½ as a full array.
    """
    if eager and xp.__name__ == "torch" and acc.shape == m.shape:
        return acc.addcmul_(m, m, value=0.5)
    if fused:
        return xp.where(m == m, acc + m * (0.5 * m), m)
    return acc + m * (0.5 * m)
