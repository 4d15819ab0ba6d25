"""The two-loop arrangement of the standard-prior KL (JAX's path), against mpmath.

:func:`~elbo_check.kernel._numerics.kl_pieces_standard_two_pass` chooses its
branch on the large branch's own value and evaluates the polynomial on the
unclipped ``d``; ``h`` comes from ``expm1`` or, on large JAX arrays, from
``exp`` and the polynomial.  Both forms are checked here in numpy and under
``jax.jit`` (values and gradients) at the edge points and across the branch
thresholds, including a logvar large enough for JAX to take the ``exp`` form
on its own; and the compiled 128×32 program is checked to stay on one thread,
the reason for the arrangement.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _oracle import edge_columns, edge_failures, grad_reference, kl_reference_array
from _oracle import max_relative_error as max_rel

import elbo_check.kernel._numerics as N
from elbo_check.kernel import gaussian_kl

RTOL = {np.float64: 1e-14, np.float32: 1e-5}
DTYPES = [np.float64, np.float32]


def sweep(dtype: type) -> np.ndarray:
    """logvar over [-1.5, 1.5], each threshold and its floor crossing, one ulp either side."""
    grid = np.linspace(-1.5, 1.5, 601)
    p = N.params_for(np.dtype(dtype))
    marks = [p.threshold, -p.threshold, crossing(p)]
    near = [np.nextafter(dtype(m), dtype(k)) for m in marks for k in (-9, 9)]
    return np.concatenate([grid, marks, near]).astype(dtype)


def crossing(p: N.Params) -> float:
    """t' in (0, t): the positive d with ½f(d) = ``large_floor`` (bisection)."""
    lo, hi = 0.0, p.threshold
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if 0.5 * (math.expm1(mid) - mid) < p.large_floor else (lo, mid)
    return lo


def oracle_grads(lv: np.ndarray) -> np.ndarray:
    return np.array([grad_reference(0.0, float(v))[1] for v in lv])


# --------------------------------------------------------------------------
# numpy: the function itself, both forms of h
# --------------------------------------------------------------------------


def test_every_polynomial_coefficient_is_positive_so_plus_infinity_gives_plus_infinity() -> None:
    # the two-pass form sends d = +inf through the polynomial: it must give +inf
    for p in (N.PARAMS64, N.PARAMS32):
        assert all(c > 0 for c in p.half_coeffs)


def test_the_large_floor_is_half_f_at_minus_the_threshold() -> None:
    for p in (N.PARAMS64, N.PARAMS32):
        t = p.threshold
        assert p.large_floor == pytest.approx(0.5 * (math.exp(-t) - 1 + t), rel=1e-15)
        assert 0.85 * t < crossing(p) < t  # the large branch reaches a little inside t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("from_exp", [False, True])
def test_two_pass_values_and_slope_match_the_oracle_across_the_thresholds(
    dtype: type, from_exp: bool
) -> None:
    lv = sweep(dtype)
    mu = np.zeros_like(lv)
    kl, h = N.kl_pieces_standard_two_pass(np, mu, lv, from_exp=from_exp)
    assert kl.dtype == h.dtype == dtype
    assert max_rel(kl, kl_reference_array(mu, lv), dtype) <= RTOL[dtype]
    assert max_rel(h, oracle_grads(lv), dtype) <= RTOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("from_exp", [False, True])
def test_two_pass_matches_the_oracle_at_every_edge_point(dtype: type, from_exp: bool) -> None:
    cols = edge_columns(dtype)
    kl, h = N.kl_pieces_standard_two_pass(np, cols[0], cols[1], from_exp=from_exp)
    assert not edge_failures(kl, [cols[0], h], cols, prior=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("from_exp", [False, True])
def test_two_pass_gives_inf_at_both_infinities_and_nan_for_nan(dtype: type, from_exp: bool) -> None:
    lv = np.array([np.inf, -np.inf, np.nan, 0.0], dtype=dtype)
    mu = np.array([0.0, 0.0, 0.0, np.nan], dtype=dtype)
    kl, h = N.kl_pieces_standard_two_pass(np, mu, lv, from_exp=from_exp)
    np.testing.assert_array_equal(kl, np.array([np.inf, np.inf, np.nan, np.nan], dtype=dtype))
    np.testing.assert_array_equal(h, np.array([np.inf, -0.5, np.nan, 0.0], dtype=dtype))


def test_the_mutation_check_rejects_a_boundary_floor_of_half_f_at_plus_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # with ½f(+t) as the floor the polynomial runs out to d ≈ −0.46 in float64,
    # beyond its fitted interval: the sweep must notice (1e-13 there)
    t = N.PARAMS64.threshold
    monkeypatch.setattr(N.Params, "large_floor", property(lambda p: 0.5 * (math.expm1(t) - t)))
    lv = np.linspace(-0.46, -0.40, 201)
    kl, _ = N.kl_pieces_standard_two_pass(np, np.zeros_like(lv), lv)
    assert max_rel(kl, kl_reference_array(np.zeros_like(lv), lv), np.float64) > 1e-14


# --------------------------------------------------------------------------
# JAX: jit and grad, both forms of h
# --------------------------------------------------------------------------


@pytest.fixture
def jax_x64() -> Iterator[Any]:
    """JAX with float64 enabled, restored afterwards."""
    jax = pytest.importorskip("jax")
    saved = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", saved)


def jit_value_and_grads(jax: Any, mu: Any, lv: Any) -> tuple[Any, Any, Any]:
    """Elementwise KL and both partials of the sum, each under ``jax.jit``."""
    values = jax.jit(lambda m, v: gaussian_kl(m, v, reduction="none"))(mu, lv)
    total = jax.jit(lambda m, v: gaussian_kl(m, v, reduction="sum"))
    grads = jax.jit(jax.grad(total, argnums=(0, 1)))(mu, lv)
    return np.asarray(values), np.asarray(grads[0]), np.asarray(grads[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("exp_form", [False, True])
def test_jax_matches_the_oracle_in_either_form_of_h(
    jax_x64: Any, monkeypatch: pytest.MonkeyPatch, dtype: type, exp_form: bool
) -> None:
    import elbo_check.kernel._jax as J

    monkeypatch.setattr(J, "LARGE_FORM_BYTES", 0 if exp_form else 1 << 62)
    jnp = jax_x64.numpy
    cols = edge_columns(dtype)
    values, gmu, glv = jit_value_and_grads(jax_x64, jnp.asarray(cols[0]), jnp.asarray(cols[1]))
    assert not edge_failures(values, [gmu, glv], cols, prior=False)
    lv = sweep(dtype)
    values, _, glv = jit_value_and_grads(jax_x64, jnp.zeros(lv.shape, lv.dtype), jnp.asarray(lv))
    assert max_rel(values, kl_reference_array(np.zeros_like(lv), lv), dtype) <= RTOL[dtype]
    assert max_rel(glv, oracle_grads(lv), dtype) <= RTOL[dtype]


def test_a_large_float64_logvar_takes_the_range_reduced_form_and_stays_exact(jax_x64: Any) -> None:
    import elbo_check.kernel._jax as J

    jnp = jax_x64.numpy
    base = np.concatenate([sweep(np.float64), edge_columns(np.float64)[1]])
    reps = -(-J.LARGE_FORM_BYTES // base.nbytes) + 1
    lv = np.tile(base, reps)
    assert lv.nbytes >= J.LARGE_FORM_BYTES
    values, gmu, glv = jit_value_and_grads(jax_x64, jnp.zeros(lv.shape), jnp.asarray(lv))
    want_kl = np.tile(kl_reference_array(np.zeros_like(base), base), reps)
    want_h = np.tile(oracle_grads(base), reps)
    assert max_rel(values, want_kl, np.float64) <= RTOL[np.float64]
    assert max_rel(glv, want_h, np.float64) <= RTOL[np.float64]
    assert not np.any(gmu)


def test_jax_gives_inf_and_an_inf_gradient_at_plus_infinity(jax_x64: Any) -> None:
    jnp = jax_x64.numpy
    for dtype in (jnp.float32, jnp.float64):
        lv = jnp.array([jnp.inf, 800.0, -jnp.inf], dtype=dtype)
        values, _, glv = jit_value_and_grads(jax_x64, jnp.zeros(3, dtype), lv)
        assert np.all(values == np.inf)
        np.testing.assert_array_equal(glv, np.array([np.inf, np.inf, -0.5], dtype=dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_xla_runs_a_small_value_and_grad_on_one_thread(jax_x64: Any, dtype: str) -> None:
    # the point of the two-pass form (not a timing): XLA's CPU cost model splits a
    # loop with more flops than bytes over threads even at 128x32, which costs
    # ~100 µs of CPU time a call; the compiled program must have no such split
    jnp = jax_x64.numpy
    mu = jnp.zeros((128, 32), dtype=dtype)

    def total(m: Any, v: Any) -> Any:
        return gaussian_kl(m, v, reduction="sum")

    vg = jax_x64.jit(jax_x64.value_and_grad(total, argnums=(0, 1)))
    hlo = vg.lower(mu, mu).compile().as_text()
    assert "fusion(" in hlo
    assert 'outer_dimension_partitions":["' not in hlo
