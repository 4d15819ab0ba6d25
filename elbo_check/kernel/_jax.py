"""JAX: the Gaussian KL as a ``jax.custom_jvp`` with the analytic derivative.

This module imports JAX; ``_kl.py`` imports it only when a JAX array (or a
tracer) arrives.  The primal is :func:`~elbo_check.kernel._numerics.kl_pieces`
in its traceable form (``where``-blend, no data-dependent shapes); without a
prior, its two-loop arrangement
:func:`~elbo_check.kernel._numerics.kl_pieces_standard_two_pass` (for large
float64 arrays with ``h`` range-reduced onto the same polynomial, and on
large arrays with the μ gradient written over the elementwise KL's buffer, see
``_mu_after``).  Both work
under ``jit``, ``vmap`` and ``grad``; the JVP is linear in the tangents,

    dKL = h·dℓ + mw·w·(dμ − dμp) − (h + ½mw²)·dℓp,   h = ½·expm1(ℓ − ℓp),

and JAX transposes it for reverse mode.  Higher derivatives differentiate the
JVP rule itself, which is written in differentiable ``jax.numpy``.

>>> import jax, jax.numpy as jnp
>>> from elbo_check.kernel import gaussian_kl
>>> mu = jnp.zeros(2, dtype=jnp.float32)
>>> kl = jax.jit(lambda lv: gaussian_kl(mu, lv, reduction="sum"))
>>> jax.grad(kl)(jnp.array([1e-6, 800.0], dtype=jnp.float32))
Array([5.000002e-07,          inf], dtype=float32)
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from elbo_check.kernel._numerics import kl_pieces, kl_pieces_standard_two_pass

__all__ = ["gaussian_kl_arrays"]


def _reduce(x: Any, reduction: str) -> Any:
    if reduction == "none":
        return x
    if reduction == "batch":
        return jnp.sum(x, axis=-1)
    total = jnp.sum(x)
    if reduction == "sum":
        return total
    shape = x.shape
    return total / math.prod(shape[:-1] if reduction == "batchmean" else shape)


#: From this many bytes of logvar on, XLA's CPU cost model splits even a light
#: (memory-bound) loop over two threads, so the heavier range-reduced form of
#: ``h`` (float64: :func:`~elbo_check.kernel._numerics.half_expm1_reduced`,
#: the polynomial in place of ``exp``; XLA's ``expm1`` costs about two ``exp``)
#: no longer adds a split of its own; below it, ``expm1`` keeps the ``h`` loop
#: on one thread.
LARGE_FORM_BYTES = 512 << 10


def _large(lv: Any) -> bool:
    return bool(lv.size * lv.dtype.itemsize >= LARGE_FORM_BYTES)


def _standard_pieces(mu: Any, lv: Any) -> tuple[Any, Any]:
    """``(kl, h)`` elementwise: :func:`kl_pieces_standard_two_pass`, its ``h`` form by size."""
    return kl_pieces_standard_two_pass(jnp, mu, lv, reduced=_large(lv))  # float64 only


def _mu_after(kl: Any, mu: Any) -> Any:
    """``mu`` itself (the KL is never negative), read after the elementwise KL.

    On large arrays XLA then writes ∂KL/∂μ over the KL's buffer once the sum
    has read it, instead of copying μ first and giving the KL a fresh
    temporary (whose page faults cost as much CPU time as the arithmetic).
    """
    return jnp.where(kl < 0.0, -mu, mu) if _large(kl) else mu


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def _kl_standard(mu: Any, lv: Any, reduction: str) -> Any:
    return _reduce(_standard_pieces(mu, lv)[0], reduction)


@_kl_standard.defjvp
def _kl_standard_jvp(reduction: str, primals: Any, tangents: Any) -> tuple[Any, Any]:
    mu, lv = primals
    dmu, dlv = tangents
    kl, h = _standard_pieces(mu, lv)
    dkl = jnp.broadcast_to(_mu_after(kl, mu) * dmu + h * dlv, kl.shape)
    return _reduce(kl, reduction), _reduce(dkl, reduction)


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def _kl_prior(mu: Any, lv: Any, mu_p: Any, lv_p: Any, reduction: str) -> Any:
    return _reduce(kl_pieces(jnp, mu, lv, mu_p, lv_p, eager=False, fused=True)[0], reduction)


@_kl_prior.defjvp
def _kl_prior_jvp(reduction: str, primals: Any, tangents: Any) -> tuple[Any, Any]:
    mu, lv, mu_p, lv_p = primals
    dmu, dlv, dmu_p, dlv_p = tangents
    kl, h, mw, w = kl_pieces(jnp, mu, lv, mu_p, lv_p, eager=False, fused=True)
    dkl = (mw * w) * (dmu - dmu_p) + h * dlv - (h + mw * (0.5 * mw)) * dlv_p
    return _reduce(kl, reduction), _reduce(jnp.broadcast_to(dkl, kl.shape), reduction)


def gaussian_kl_arrays(arrays: list[Any], reduction: str) -> Any:
    """The KL of prepared JAX arrays (one float dtype; ``None`` for no prior)."""
    mu, lv, mu_p, lv_p = arrays
    if mu_p is None and lv_p is None:
        return _kl_standard(mu, lv, reduction)
    zero = jnp.zeros((), dtype=lv.dtype)
    return _kl_prior(
        mu, lv, zero if mu_p is None else mu_p, zero if lv_p is None else lv_p, reduction
    )
