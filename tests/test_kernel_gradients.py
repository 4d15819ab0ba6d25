"""Analytic gradients of the loss kernel, and agreement with the proved closed forms.

Checked three ways: against the sympy closed forms of ``derivations`` (value and
``diff``), against central finite differences, and against mpmath for the
accuracy of ∂KL/∂logvar = ½·expm1(d) near 0.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest
from _oracle import max_relative_error
from hypothesis import given
from hypothesis import strategies as st

from elbo_check.kernel import ELBOGrad, KLGrad, elbo_loss, elbo_loss_grad, gaussian_kl
from elbo_check.kernel import gaussian_kl_grad as kl_grad

POINTS = [  # (mu, logvar, mu_p, logvar_p)
    (0.3, -1.2, 0.1, 0.4),
    (-2.5, 0.7, 1.0, -0.3),
    (1e-6, 1e-9, 0.0, 0.0),
    (4.0, 3.0, -1.0, 2.5),
    (0.0, -0.05, 0.2, 0.01),
]


# --------------------------------------------------------------------------
# The closed forms proved in derivations/
# --------------------------------------------------------------------------


def univariate() -> Any:
    from derivations import gaussian_kl_univariate

    return gaussian_kl_univariate


def standard_prior() -> Any:
    from derivations import gaussian_kl_standard_prior

    return gaussian_kl_standard_prior


def test_kernel_equals_the_proved_univariate_closed_form() -> None:
    import sympy as sp
    mod = univariate()
    f = sp.lambdify((mod.M1, mod.M2, mod.S1, mod.S2), mod.CLOSED_FORM, "mpmath")
    with mpmath.workdps(60):
        for mu, lv, mu_p, lv_p in POINTS:
            s1, s2 = mpmath.exp(mpmath.mpf(lv) / 2), mpmath.exp(mpmath.mpf(lv_p) / 2)
            ref = float(f(mpmath.mpf(mu), mpmath.mpf(mu_p), s1, s2))
            got = float(gaussian_kl(mu, lv, mu_p, lv_p, reduction="sum"))
            assert got == pytest.approx(ref, rel=1e-14, abs=0)


def test_kernel_equals_the_proved_standard_prior_closed_form() -> None:
    import sympy as sp
    mod = standard_prior()
    f = sp.lambdify((mod.MU, mod.SIGMA), mod.CLOSED_FORM, "mpmath")
    with mpmath.workdps(60):
        for mu, lv, _, _ in POINTS:
            ref = float(f(mpmath.mpf(mu), mpmath.exp(mpmath.mpf(lv) / 2)))
            assert float(gaussian_kl(mu, lv, reduction="sum")) == pytest.approx(
                ref, rel=1e-14, abs=0
            )


def test_the_closed_form_check_rejects_a_wrong_kernel_value() -> None:
    # mutation test: the comparison above is sensitive to a 1e-12 relative change
    import sympy as sp
    mod = standard_prior()
    f = sp.lambdify((mod.MU, mod.SIGMA), mod.CLOSED_FORM, "mpmath")
    ref = float(f(mpmath.mpf(0.3), mpmath.exp(mpmath.mpf(-1.2) / 2)))
    wrong = float(gaussian_kl(0.3, -1.2, reduction="sum")) * (1 + 1e-12)
    assert wrong != pytest.approx(ref, rel=1e-14, abs=0)


def symbolic_gradients() -> tuple[Any, list[Any]]:
    """sympy d/d(mu, logvar, mu_p, logvar_p) of the closed form, with s = exp(logvar/2)."""
    import sympy as sp
    mod = univariate()
    lv, lv_p = sp.symbols("lv lv_p", real=True)
    expr = mod.CLOSED_FORM.subs({mod.S1: sp.exp(lv / 2), mod.S2: sp.exp(lv_p / 2)})
    variables = (mod.M1, lv, mod.M2, lv_p)
    return variables, [sp.lambdify(variables, sp.diff(expr, v), "mpmath") for v in variables]


def test_gradients_equal_sympy_derivatives_of_the_closed_form() -> None:
    _, derivatives = symbolic_gradients()
    with mpmath.workdps(60):
        for point in POINTS:
            grad = kl_grad(*(np.array([v]) for v in point))
            for got, derivative in zip(grad, derivatives, strict=True):
                ref = float(derivative(*(mpmath.mpf(v) for v in point)))
                assert float(got[0]) == pytest.approx(ref, rel=1e-13, abs=1e-300)


def test_gradients_of_the_standard_prior_equal_the_sympy_derivatives() -> None:
    import sympy as sp
    mod = standard_prior()
    lv = sp.Symbol("lv", real=True)
    expr = mod.CLOSED_FORM.subs(mod.SIGMA, sp.exp(lv / 2))
    d_mu = sp.lambdify((mod.MU, lv), sp.diff(expr, mod.MU), "mpmath")
    d_lv = sp.lambdify((mod.MU, lv), sp.diff(expr, lv), "mpmath")
    with mpmath.workdps(60):
        for mu, logvar, _, _ in POINTS:
            grad = kl_grad(np.array([mu]), np.array([logvar]))
            assert grad.mu_p is None
            assert grad.logvar_p is None
            args = (mpmath.mpf(mu), mpmath.mpf(logvar))
            assert float(grad.mu[0]) == pytest.approx(float(d_mu(*args)), rel=1e-14, abs=0)
            assert float(grad.logvar[0]) == pytest.approx(float(d_lv(*args)), rel=1e-14, abs=0)


# --------------------------------------------------------------------------
# Finite differences
# --------------------------------------------------------------------------


def central_difference(fun: Any, args: list[np.ndarray], index: int, h: float = 1e-6) -> np.ndarray:
    """d sum(fun(*args)) / d args[index], elementwise, by central differences."""
    base = args[index]
    out = np.empty_like(base)
    for i in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[i] += h
        minus[i] -= h
        hi = fun(*args[:index], plus, *args[index + 1 :])
        lo = fun(*args[:index], minus, *args[index + 1 :])
        out[i] = (float(np.sum(hi)) - float(np.sum(lo))) / (2 * h)
    return out


@pytest.mark.parametrize("reduction", ["none", "batch", "sum", "batchmean", "mean"])
def test_kl_gradients_match_finite_differences(reduction: str) -> None:
    rng = np.random.default_rng(5)
    args = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) * 0.5]
    args += [rng.standard_normal(4), rng.standard_normal((3, 1)) * 0.5]

    def fun(*a: np.ndarray) -> Any:
        return gaussian_kl(*a, reduction=reduction)

    grad = kl_grad(*args, reduction=reduction)
    assert isinstance(grad, KLGrad)
    for index, analytic in enumerate(grad):
        assert analytic.shape == args[index].shape  # summed over broadcast axes
        numeric = central_difference(fun, args, index)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-9)


def test_the_finite_difference_check_rejects_the_textbook_logvar_gradient() -> None:
    # mutation test: a wrong gradient (here: missing the 1/2) fails the same check
    rng = np.random.default_rng(6)
    args = [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))]
    wrong = np.expm1(args[1])
    numeric = central_difference(lambda *a: gaussian_kl(*a), args, 1)
    assert not np.allclose(wrong, numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("reduction", ["batch", "sum", "batchmean"])
def test_elbo_gradients_match_finite_differences(likelihood: str, reduction: str) -> None:
    rng = np.random.default_rng(8)
    x = rng.uniform(size=(3, 2, 2))
    if likelihood == "bernoulli":
        x = (x > 0.5).astype(np.float64)
    obs_logvar = rng.standard_normal(2) * 0.3  # broadcast over axis 1
    obs = obs_logvar[:, None]
    args = [
        x,
        rng.standard_normal((3, 2, 2)),
        rng.standard_normal((3, 5)),
        rng.standard_normal((3, 5)),
    ]

    def loss(*a: np.ndarray, obs: Any = obs) -> Any:
        return elbo_loss(
            *a, likelihood=likelihood, obs_logvar=obs, beta=0.7, reduction=reduction
        ).loss

    grad = elbo_loss_grad(
        *args, likelihood=likelihood, obs_logvar=obs, beta=0.7, reduction=reduction
    )
    assert isinstance(grad, ELBOGrad)
    for index, analytic in zip((1, 2, 3), grad[:3], strict=True):
        np.testing.assert_allclose(
            analytic, central_difference(loss, args, index), rtol=1e-7, atol=1e-9
        )
    if likelihood == "gaussian":
        numeric = central_difference(lambda o: loss(*args, obs=o), [obs], 0)
        assert grad.obs_logvar.shape == obs.shape
        np.testing.assert_allclose(grad.obs_logvar, numeric, rtol=1e-7, atol=1e-9)
    else:
        assert grad.obs_logvar is None


def test_scalar_obs_logvar_gets_a_scalar_gradient() -> None:
    x = np.full((2, 3), 2.0)
    grad = elbo_loss_grad(
        x, np.zeros((2, 3)), np.zeros((2, 1)), np.zeros((2, 1)), likelihood="gaussian"
    )
    assert np.shape(grad.obs_logvar) == ()
    assert float(grad.obs_logvar) == 6 * (0.5 - 0.5 * 2.0**2) / 2  # batchmean over 2 samples


# --------------------------------------------------------------------------
# Accuracy of ∂KL/∂logvar = ½·expm1(d) and of the Bernoulli logit gradient
# --------------------------------------------------------------------------


def half_expm1_reference(d: float) -> float:
    with mpmath.workdps(40):
        return float(mpmath.expm1(mpmath.mpf(d)) / 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_logvar_gradient_is_accurate_near_zero_and_far_from_it(dtype: type, data: Any) -> None:
    width = 64 if dtype is np.float64 else 32
    values = data.draw(
        st.lists(
            st.one_of(
                st.floats(-30, 30, width=width),
                st.floats(-1e-6, 1e-6).map(lambda v: float(dtype(v))),
                st.just(0.0),
            ),
            min_size=1,
            max_size=8,
        )
    )
    logvar = np.array(values, dtype=dtype)
    got = kl_grad(np.zeros_like(logvar), logvar, reduction="none").logvar
    ref = np.array([half_expm1_reference(float(v)) for v in logvar])
    tol = 1e-14 if dtype is np.float64 else 1e-5
    assert max_relative_error(got, ref, dtype) <= tol


def test_the_logvar_gradient_check_rejects_the_textbook_form() -> None:
    logvar = np.array([1e-7, -3e-5, 2e-3], dtype=np.float32)
    textbook = 0.5 * (np.exp(logvar) - 1)
    ref = np.array([half_expm1_reference(float(v)) for v in logvar])
    assert max_relative_error(textbook, ref, np.float32) > 1e-5


def test_logvar_gradient_stays_finite_where_the_value_fits() -> None:
    got = kl_grad(np.zeros(1, np.float32), np.array([89.0], np.float32), reduction="none")
    assert np.isfinite(got.logvar).all()
    assert float(got.logvar[0]) == pytest.approx(half_expm1_reference(89.0), rel=1e-5)
    assert np.isinf(kl_grad(np.zeros(1), np.array([800.0])).logvar).all()
    transposed = np.array([[89.0, 0.0], [1e-7, 88.9]], np.float32).T  # not C-contiguous
    got_t = kl_grad(np.zeros((2, 2), np.float32), transposed, reduction="none").logvar
    ref = [[half_expm1_reference(float(v)) for v in row] for row in transposed]
    assert max_relative_error(got_t, np.array(ref), np.float32) <= 1e-5


def test_bernoulli_logit_gradient_has_no_cancellation_for_binary_data() -> None:
    x = np.array([[1.0, 0.0]])
    logits = np.array([[40.0, -40.0]])
    grad = elbo_loss_grad(x, logits, np.zeros((1, 1)), np.zeros((1, 1)), reduction="sum")
    expected = -1 / (1 + math.exp(40.0))  # sigmoid(40) - 1 = -sigmoid(-40)
    np.testing.assert_allclose(grad.decoder_out, [[expected, -expected]], rtol=1e-15)


@pytest.mark.parametrize("reduction", ["none", "batch", "sum", "batchmean", "mean"])
def test_the_plain_numpy_gradient_path_equals_the_generic_one(reduction: str) -> None:
    rng = np.random.default_rng(8)
    for dtype in (np.float64, np.float32):
        mu, logvar = rng.standard_normal((2, 6, 3)).astype(dtype) * 5
        fast = kl_grad(mu, logvar, reduction=reduction)
        generic = kl_grad(mu, logvar, reduction=reduction, xp=np)
        for got, want in zip(fast, generic, strict=True):
            assert (got is None) == (want is None)
            if got is not None:
                assert got.dtype == want.dtype
                assert got.shape == want.shape
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("reduction", ["batch", "sum", "batchmean"])
def test_elbo_loss_grad_without_xp_equals_the_explicit_numpy_namespace(reduction: str) -> None:
    rng = np.random.default_rng(9)
    for dtype in (np.float64, np.float32):
        x = np.concatenate([rng.uniform(size=(3, 5)), [[0.0, 1.0, 1.0, 0.0, 0.5]]])
        logits = np.concatenate(
            [rng.standard_normal((3, 5)) * 40, [[np.inf, -np.inf, 0, 1e-9, -3]]]
        )
        mu, lv = rng.standard_normal((2, 4, 2))
        args = [a.astype(dtype) for a in (x, logits, mu, lv)]
        fast = elbo_loss_grad(*args, reduction=reduction)
        generic = elbo_loss_grad(*args, reduction=reduction, xp=np)
        for got, want in zip(fast, generic, strict=True):
            assert (got is None) == (want is None)
            if got is not None:
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)


def test_the_where_free_sigmoid_pair_equals_the_select_form_bit_for_bit() -> None:
    from elbo_check.kernel._elbo import _sigmoid_pair

    rng = np.random.default_rng(10)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 800.0, -800.0]
    for dtype in (np.float32, np.float64):
        z = np.concatenate([rng.standard_normal(2000) * 50, special]).astype(dtype)
        with np.errstate(all="ignore"):
            e = np.exp(-np.abs(z))
            big, small = 1 / (1 + e), e / (1 + e)
            want = (np.where(z >= 0, big, small), np.where(z >= 0, small, big))
            got = _sigmoid_pair(np, z)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
