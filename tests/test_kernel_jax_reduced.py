"""The range-reduced slope of large float64 JAX arrays, against mpmath.

:func:`~elbo_check.kernel._numerics.half_expm1_reduced` builds ½expm1(d) from
the polynomial of :data:`~elbo_check.kernel._numerics.PARAMS64` alone
(``d = k·ln 2 + r``, ``2^(k−2)`` from its bits); JAX's no-prior ``custom_jvp``
takes it from ``LARGE_FORM_BYTES`` of logvar on.  Checked here, in numpy and
under ``jax.jit``, ``grad`` and ``vmap`` (the size switch forced to 0): every
``k`` from d = −800 to 710.5, the seams of the threshold and of the rounding
of ``k`` one ulp either side, the window 709.78–710.475 where ½e^d is finite
although e^d is not, and ±inf and nan.  And, for large arrays of either
dtype, that the compiled value-and-grad needs no temporary array (the μ
gradient is written over the elementwise KL) and still gives exactly μ.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _oracle import grad_reference, kl_reference_array
from _oracle import max_relative_error as max_rel

import elbo_check.kernel._numerics as N
from elbo_check.kernel import gaussian_kl

RTOL = 1e-14
LN2 = math.log(2.0)


def every_k() -> np.ndarray:
    """d at three offsets within each k·ln 2 interval, d from −800 to 710.5."""
    ks = np.arange(-1155, 1026)
    grid = (ks[:, None] * LN2 + np.array([-0.33, 0.0, 0.21])).ravel()
    return np.concatenate([np.clip(grid, -800.0, 710.5), [-800.0, 710.5]])


def seams() -> np.ndarray:
    """Both thresholds, the rounding seams (k + ½)·ln 2 and 0, one ulp either side.

    The KL's own seam is t' (where ``large_floor`` is crossed, just under t);
    a band of 0.3 <= |d| <= 0.45 around both.
    """
    marks = [N.PARAMS64.threshold, -N.PARAMS64.threshold, crossing(), 0.0]
    marks += [s * (k + 0.5) * LN2 for k in (0, 1, 2, 10, 500, 1000) for s in (1, -1)]
    near = [np.nextafter(m, m + k) for m in marks for k in (-9, 0, 9)]
    band = np.linspace(0.3, 0.45, 301)
    return np.concatenate([near, band, -band])


def crossing() -> float:
    """t' in (0, t): the positive d with ½f(d) = ``large_floor`` (bisection)."""
    lo, hi = 0.0, N.PARAMS64.threshold
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = 0.5 * (math.expm1(mid) - mid) < N.PARAMS64.large_floor
        lo, hi = (mid, hi) if below else (lo, mid)
    return lo


def overflow_window() -> np.ndarray:
    """709.78 (e^d overflows) to 710.4758 (½e^d does not): finite KL and slope."""
    return np.concatenate([np.linspace(709.78, 710.4758, 41), [709.7827128933840]])


def points() -> np.ndarray:
    return np.concatenate([every_k(), seams(), overflow_window()])


def oracle_h(lv: np.ndarray) -> np.ndarray:
    return np.array([grad_reference(0.0, float(v))[1] for v in lv])


@pytest.fixture(scope="module")
def oracle() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lv = points()
    return lv, kl_reference_array(np.zeros_like(lv), lv), oracle_h(lv)


@pytest.fixture
def jax_x64(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """JAX with float64 enabled and the reduced slope at every size, restored afterwards."""
    jax = pytest.importorskip("jax")
    import elbo_check.kernel._jax as J

    monkeypatch.setattr(J, "LARGE_FORM_BYTES", 0)
    saved = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", saved)


def test_the_reduced_slope_matches_the_oracle_for_every_k_in_numpy(oracle: Any) -> None:
    lv, _, want_h = oracle
    with np.errstate(over="ignore"):
        got = N.half_expm1_reduced(np, lv)
    assert max_rel(got, want_h, np.float64) <= RTOL


def test_the_reduced_slope_stays_finite_across_the_overflow_window() -> None:
    lv = overflow_window()
    got = N.half_expm1_reduced(np, lv)
    assert np.all(np.isfinite(got))
    with np.errstate(over="ignore"):
        assert N.half_expm1_reduced(np, np.array([710.4759, 710.5]))[0] == np.inf


def test_the_reduced_slope_gives_inf_minus_half_and_nan_at_the_specials() -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        got = N.half_expm1_reduced(np, np.array([np.inf, -np.inf, np.nan, -800.0]))
    np.testing.assert_array_equal(got, [np.inf, -0.5, np.nan, -0.5])


def test_the_two_pass_kl_with_the_reduced_slope_matches_the_oracle(oracle: Any) -> None:
    lv, want_kl, want_h = oracle
    kl, h = N.kl_pieces_standard_two_pass(np, np.zeros_like(lv), lv, reduced=True)
    assert max_rel(kl, want_kl, np.float64) <= RTOL
    assert max_rel(h, want_h, np.float64) <= RTOL


def jit_value_and_grads(jax: Any, mu: Any, lv: Any) -> tuple[Any, Any, Any]:
    values = jax.jit(lambda m, v: gaussian_kl(m, v, reduction="none"))(mu, lv)
    total = jax.jit(lambda m, v: gaussian_kl(m, v, reduction="sum"))
    grads = jax.jit(jax.grad(total, argnums=(0, 1)))(mu, lv)
    return np.asarray(values), np.asarray(grads[0]), np.asarray(grads[1])


def test_jax_jit_and_grad_match_the_oracle_for_every_k(jax_x64: Any, oracle: Any) -> None:
    jnp = jax_x64.numpy
    lv, want_kl, want_h = oracle
    values, gmu, glv = jit_value_and_grads(jax_x64, jnp.zeros(lv.shape), jnp.asarray(lv))
    assert max_rel(values, want_kl, np.float64) <= RTOL
    assert max_rel(glv, want_h, np.float64) <= RTOL
    assert not np.any(gmu)


def test_jax_takes_the_reduced_slope_when_the_switch_allows(jax_x64: Any) -> None:
    jnp = jax_x64.numpy
    lv = jnp.zeros(8)
    grad = jax_x64.jit(jax_x64.grad(lambda v: gaussian_kl(jnp.zeros(8), v, reduction="sum")))
    assert "bitcast_convert" in grad.lower(lv).as_text()


def test_jax_gives_inf_and_nan_where_the_kl_is_infinite_or_undefined(jax_x64: Any) -> None:
    jnp = jax_x64.numpy
    lv = jnp.array([np.inf, -np.inf, np.nan, 800.0, -800.0])
    values, _, glv = jit_value_and_grads(jax_x64, jnp.zeros(5), lv)
    np.testing.assert_array_equal(values, [np.inf, np.inf, np.nan, np.inf, 399.5])
    np.testing.assert_array_equal(glv, [np.inf, -0.5, np.nan, np.inf, -0.5])


def test_jax_vmap_of_grad_matches_the_oracle_row_by_row(jax_x64: Any, oracle: Any) -> None:
    jnp = jax_x64.numpy
    lv, _, want_h = oracle
    n = lv.size // 8 * 8
    rows = lv[:n].reshape(8, -1)
    mu = np.random.default_rng(5).standard_normal(rows.shape)

    def total(m: Any, v: Any) -> Any:
        return gaussian_kl(m, v, reduction="sum")

    sums, (gmu, glv) = jax_x64.jit(jax_x64.vmap(jax_x64.value_and_grad(total, argnums=(0, 1))))(
        jnp.asarray(mu), jnp.asarray(rows)
    )
    np.testing.assert_array_equal(np.asarray(gmu), mu)
    assert max_rel(np.asarray(glv).ravel(), want_h[:n], np.float64) <= RTOL
    moderate = np.abs(rows).max(axis=1) < 700.0  # the other sums overflow
    assert moderate.sum() >= 5
    want = kl_reference_array(mu[moderate], rows[moderate]).reshape(-1, rows.shape[1])
    np.testing.assert_allclose(np.asarray(sums)[moderate], want.sum(axis=1), rtol=1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_large_value_and_grad_writes_the_mu_gradient_over_the_kl_buffer(
    jax_x64: Any, monkeypatch: pytest.MonkeyPatch, dtype: str
) -> None:
    # not a timing: the compiled program needs no temporary array (the mu gradient
    # reuses the elementwise KL's buffer), and that gradient is still exactly mu,
    # also where the KL is inf or nan
    import elbo_check.kernel._jax as J

    jnp = jax_x64.numpy
    n = 1 << 19
    monkeypatch.setattr(J, "LARGE_FORM_BYTES", n)  # the default, whatever the fixture set
    mu = np.random.default_rng(7).standard_normal(n // np.dtype(dtype).itemsize).astype(dtype)
    lv = np.zeros_like(mu)
    lv[:4] = [np.inf, -np.inf, np.nan, 800.0]

    def total(m: Any, v: Any) -> Any:
        return gaussian_kl(m, v, reduction="sum")

    vg = jax_x64.jit(jax_x64.value_and_grad(total, argnums=(0, 1)))
    stats = vg.lower(jnp.asarray(mu), jnp.asarray(lv)).compile().memory_analysis()
    if stats is not None:
        assert stats.temp_size_in_bytes == 0
    _, (gmu, _) = vg(jnp.asarray(mu), jnp.asarray(lv))
    np.testing.assert_array_equal(np.asarray(gmu), mu)
