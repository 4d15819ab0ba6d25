"""An mpmath oracle for the loss kernel tests.

Every float converts to mpmath exactly and the KL is evaluated at 60 digits;
``exp(d) - 1 - d`` is summed as its Taylor series for small ``|d|``, so the
reference keeps full relative accuracy even for ``d = 1e-300``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mpmath
import numpy as np

__all__ = [
    "DPS",
    "EDGE_POINTS",
    "EDGE_RTOL",
    "edge_columns",
    "edge_failures",
    "f_reference",
    "grad_reference",
    "kl_reference",
    "kl_reference_array",
    "max_relative_error",
    "relative_errors",
]

DPS = 60

# (mu, logvar, mu_p, logvar_p): q ≈ p, branch edges, extremes and overflow windows
_COMMON = [
    (0.0, 0.0, 0.0, 0.0),
    (1e-12, 1e-12, 0.0, 0.0),
    (0.0, -1e-7, 0.0, 0.0),
    (0.0, 3e-4, 0.0, 0.0),
    (2.0, 0.0999, 0.0, 0.0),
    (2.0, 0.39, 0.0, 0.0),
    (-3.0, 0.41, 0.0, 0.0),
    (0.5, 30.0, 0.0, 0.0),
    (0.5, -30.0, 0.0, 0.0),
    (0.3, 1.5 + 2**-20, 0.3, 1.5),
    (1e3, -30.0, -1e3, 30.0),
    (0.0, 800.0, 0.0, 0.0),
]
EDGE_RTOL = {np.float64: 1e-14, np.float32: 1e-5}
#: Points per dtype for the autodiff tests and benchmarks/gpu_check.py.
EDGE_POINTS = {
    np.float64: [
        *_COMMON,
        (0.0, 710.0, 0.0, 0.0),
        (0.0, -750.0, 0.0, 0.0),
        (0.0, 600.0, 0.0, -109.0),
    ],
    np.float32: [
        *_COMMON,
        (0.0, 89.0, 0.0, 0.0),
        (0.0, -104.0, 0.0, 0.0),
        (2.0e19, 0.0, 0.0, 0.0),
        (1.0e20, 50.0, 0.0, 50.0),
        (1.0e-20, -50.0, 0.0, -50.0),
        (0.0, 60.0, 0.0, -29.0),
    ],
}


def kl_reference(mu: float, logvar: float, mu_p: float = 0.0, logvar_p: float = 0.0) -> float:
    """KL(N(mu, e^logvar) || N(mu_p, e^logvar_p)) at 60 digits, rounded to float64."""
    with mpmath.workdps(DPS):
        d = mpmath.mpf(logvar) - mpmath.mpf(logvar_p)
        m = mpmath.mpf(mu) - mpmath.mpf(mu_p)
        value = (f_reference(d) + m * m * mpmath.exp(-mpmath.mpf(logvar_p))) / 2
        return float(value)


def grad_reference(
    mu: float, logvar: float, mu_p: float = 0.0, logvar_p: float = 0.0
) -> tuple[float, float, float, float, float]:
    """∂KL/∂(mu, logvar, mu_p, logvar_p) at 60 digits, and the scale of the last.

    The logvar_p partial −½expm1(d) − ½m²e^(−ℓp) cancels where its two terms
    meet; the fifth value, ½|expm1(d)| + ½m²e^(−ℓp), is the scale its error is
    measured against.
    """
    with mpmath.workdps(DPS):
        d = mpmath.mpf(logvar) - mpmath.mpf(logvar_p)
        m = mpmath.mpf(mu) - mpmath.mpf(mu_p)
        inv = mpmath.exp(-mpmath.mpf(logvar_p))
        half_expm1 = mpmath.expm1(d) / 2
        half_m2 = m * m * inv / 2
        values = (m * inv, half_expm1, -m * inv, -half_expm1 - half_m2, abs(half_expm1) + half_m2)
        return tuple(float(v) for v in values)  # type: ignore[return-value]


def f_reference(d: mpmath.mpf) -> mpmath.mpf:
    """exp(d) - 1 - d at the working precision, without cancellation."""
    if abs(d) < mpmath.mpf("0.01"):
        return mpmath.fsum(d**k / mpmath.factorial(k) for k in range(2, 40))
    return mpmath.expm1(d) - d


def kl_reference_array(
    mu: Iterable[float],
    logvar: Iterable[float],
    mu_p: Iterable[float] | None = None,
    logvar_p: Iterable[float] | None = None,
) -> np.ndarray:
    """:func:`kl_reference` elementwise over equal-length float64 sequences."""
    mu_a = np.asarray(mu, dtype=np.float64).ravel()
    lv_a = np.asarray(logvar, dtype=np.float64).ravel()
    mp_a = np.zeros_like(mu_a) if mu_p is None else np.asarray(mu_p, np.float64).ravel()
    lp_a = np.zeros_like(mu_a) if logvar_p is None else np.asarray(logvar_p, np.float64).ravel()
    return np.array(
        [kl_reference(*map(float, row)) for row in zip(mu_a, lv_a, mp_a, lp_a, strict=True)]
    )


def relative_errors(got: np.ndarray, ref: np.ndarray, dtype: type) -> np.ndarray:
    """|got − ref| / max(|ref|, tiny) with ``tiny`` the dtype's smallest normal.

    Below ``tiny`` the dtype cannot hold a relative accuracy, so the error is
    measured on the absolute scale ``tiny`` there; where ``ref`` is exactly 0
    the result must be exactly 0 too.
    """
    got = np.asarray(got, dtype=np.float64).ravel()
    ref = np.asarray(ref, dtype=np.float64).ravel()
    tiny = float(np.finfo(dtype).tiny)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - ref) / np.maximum(np.abs(ref), tiny)
    both_inf = np.isinf(got) & np.isinf(ref) & (np.sign(got) == np.sign(ref))
    return np.where(both_inf, 0.0, np.where(np.isnan(err), np.inf, err))


def max_relative_error(got: np.ndarray, ref: np.ndarray, dtype: type) -> float:
    """The largest of :func:`relative_errors` (0.0 for empty input)."""
    errors = relative_errors(got, ref, dtype)
    return float(errors.max()) if errors.size else 0.0


def edge_columns(dtype: type) -> list[np.ndarray]:
    """The points as four arrays of ``dtype`` (the oracle sees the rounded values)."""
    return [np.array(col, dtype=dtype) for col in zip(*EDGE_POINTS[dtype], strict=True)]


def _check(got: Any, ref: list[float], dtype: type, scale: list[float] | None = None) -> list[str]:
    got = np.asarray(got, dtype=np.float64)
    with np.errstate(over="ignore"):  # beyond the dtype's range the answer is ±inf
        ref_a = np.asarray(ref).astype(dtype).astype(np.float64)
    if scale is None:
        err = relative_errors(got, ref_a, dtype)
    else:  # errors measured against the size of the terms, where they cancel
        scale_a = np.maximum(np.asarray(scale), float(np.finfo(dtype).tiny))
        both_inf = np.isinf(got) & np.isinf(ref_a) & (np.sign(got) == np.sign(ref_a))
        with np.errstate(invalid="ignore"):
            err = np.where(both_inf, 0.0, np.abs(got - ref_a) / scale_a)
        err = np.where(np.isnan(err), np.inf, err)
    bad = np.flatnonzero(err > EDGE_RTOL[dtype])
    return [f"{EDGE_POINTS[dtype][i]}: got {float(got[i])!r}, want {ref[i]!r}" for i in bad]


def _oracle(cols: list[np.ndarray], prior: bool) -> tuple[list[float], list[tuple[float, ...]]]:
    rows = [tuple(map(float, r)) for r in zip(*cols, strict=True)]
    if not prior:
        rows = [(m, lv, 0.0, 0.0) for m, lv, _, _ in rows]
    return [kl_reference(*r) for r in rows], [grad_reference(*r) for r in rows]


def edge_failures(values: Any, grads: list[Any], cols: list[np.ndarray], prior: bool) -> list[str]:
    """Forward values and each partial (two or four) against the oracle; the misses.

    Relative errors at most 1e-14 (float64) or 1e-5 (float32); the logvar_p
    partial is measured against the size of its two terms, which can cancel.
    """
    dtype = cols[0].dtype.type
    ref, gref = _oracle(cols, prior)
    failures = [f"value at {f}" for f in _check(values, ref, dtype)]
    for k, grad in enumerate(grads):
        scale = [g[4] for g in gref] if k == 3 else None
        got = np.asarray(grad)
        failures += [f"grad {k} at {f}" for f in _check(got, [g[k] for g in gref], dtype, scale)]
    return failures
