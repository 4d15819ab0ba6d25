"""Property suite (hypothesis): KL and ELBO facts that any correct closed form satisfies.

The ``ci`` profile (default) is derandomized; ``--hypothesis-profile=thorough``
runs many more examples.  Edge cases are pinned with ``@example``: σ → 0,
large |μ|, dimension 1, batch 1.

Round-off: "KL ≥ 0" allows ``-1e-15`` absolute, because the closed form
``-log r + r²/2 - 1/2`` cancels to a few ulps near ``r = 1``.

False alarms: the Monte Carlo z-tests of this module form one family with
family-wise rate ``ALPHA_MODULE = 2e-7``, Bonferroni over ``Z_TESTS_PLANNED``,
which grows with the profile's ``max_examples`` (counted at run time).  See
tests/test_mc.py for the suite-wide budget (< 1e-6 per CI run).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _zbudget import ZBudget
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from elbo_check.mc import Independent, kl_mc
from elbo_check.models import LinearGaussianModel, mvn_kl, normal_kl, normal_kl_grad

_MC_PROPERTY_TESTS = 3  # hypothesis tests below that run z-tests
_MC_EXAMPLES = settings.default.max_examples + 4  # + pinned @example cases
ALPHA_MODULE = 2e-7
Z_TESTS_PLANNED = 10 + 2 * _MC_PROPERTY_TESTS * _MC_EXAMPLES
_BUDGET = ZBudget(ALPHA_MODULE, Z_TESTS_PLANNED)
_z = _BUDGET.z
assert_agrees = _BUDGET.assert_agrees


means = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)
scales = st.floats(min_value=-3.0, max_value=2.0).map(math.exp)
dims = st.integers(min_value=1, max_value=8)
seeds = st.integers(min_value=0, max_value=2**31 - 1)

SIGMA_TINY = 1e-6
MU_LARGE = 1e6


# ----------------------------------------------------------------------------- non-negativity


@given(m1=means, s1=scales, m2=means, s2=scales)
@example(m1=0.0, s1=SIGMA_TINY, m2=0.0, s2=1.0)  # σ → 0
@example(m1=MU_LARGE, s1=1.0, m2=-MU_LARGE, s2=1.0)  # large |μ|
@example(m1=0.3, s1=1.0 + 1e-9, m2=0.3, s2=1.0)  # nearly equal: round-off regime
def test_kl_is_never_negative(m1: float, s1: float, m2: float, s2: float) -> None:
    assert normal_kl(m1, s1, m2, s2) >= -1e-15
    assert mvn_kl([m1], [[s1 * s1]], [m2], [[s2 * s2]]) >= -1e-15


@given(m=means, s=scales, d=dims)
@example(m=0.0, s=SIGMA_TINY, d=1)
@example(m=MU_LARGE, s=1.0, d=1)
def test_kl_of_a_distribution_with_itself_is_zero(m: float, s: float, d: int) -> None:
    assert normal_kl(m, s, m, s) == 0.0
    cov = np.diag(np.full(d, s * s))
    assert abs(mvn_kl(np.full(d, m), cov, np.full(d, m), cov)) <= 1e-12 * d
    q = Independent.iid(stats.norm(m, s), d)
    est = kl_mc(q, q, 64, seed=0)
    assert (est.estimate, est.se) == (0.0, 0.0)


def test_a_mutated_closed_form_can_be_negative() -> None:
    # a sign slip on the log-ratio: +log(s1/s2) instead of -log(s1/s2)
    def wrong(m1: float, s1: float, m2: float, s2: float) -> float:
        r = s1 / s2
        return math.log(r) + 0.5 * (r * r + ((m1 - m2) / s2) ** 2) - 0.5

    assert wrong(0.0, 0.5, 0.0, 1.0) < -1e-15  # the property test would catch it
    assert normal_kl(0.0, 0.5, 0.0, 1.0) > 0.0


# ----------------------------------------------------------------------------- additivity


@given(data=st.data(), d=dims)
@example(data=None, d=1)
def test_kl_of_independent_coordinates_is_the_sum(data: Any, d: int) -> None:
    if data is None:  # pinned dimension-1 case
        mq, sq, mp, sp = [0.5], [0.4], [-0.2], [1.3]
    else:
        mq = data.draw(st.lists(means, min_size=d, max_size=d))
        sq = data.draw(st.lists(scales, min_size=d, max_size=d))
        mp = data.draw(st.lists(means, min_size=d, max_size=d))
        sp = data.draw(st.lists(scales, min_size=d, max_size=d))
    parts = normal_kl(mq, sq, mp, sp)
    joint = mvn_kl(mq, np.diag(np.square(sq)), mp, np.diag(np.square(sp)))
    assert joint == pytest.approx(float(np.sum(parts)), rel=1e-10, abs=1e-12)


@given(m1=means, s1=scales, m2=means, s2=scales, d=dims)
@example(m1=0.0, s1=SIGMA_TINY, m2=0.0, s2=1.0, d=1)
def test_kl_scales_linearly_with_the_latent_dimension(
    m1: float, s1: float, m2: float, s2: float, d: int
) -> None:
    one = float(normal_kl(m1, s1, m2, s2))
    many = mvn_kl(np.full(d, m1), np.eye(d) * s1 * s1, np.full(d, m2), np.eye(d) * s2 * s2)
    assert many == pytest.approx(d * one, rel=1e-10, abs=1e-12)


@settings(max_examples=settings.default.max_examples)
@given(
    m1=st.floats(-2, 2), s1=st.floats(0.5, 1.5), m2=st.floats(-2, 2), s2=st.floats(0.7, 1.5), d=dims
)
@example(m1=0.5, s1=0.8, m2=0.0, s2=1.0, d=1)
def test_monte_carlo_kl_scales_linearly_with_the_latent_dimension(
    m1: float, s1: float, m2: float, s2: float, d: int
) -> None:
    q = Independent.iid(stats.norm(m1, s1), d)
    p = Independent.iid(stats.norm(m2, s2), d)
    est = kl_mc(q, p, 4_000, seed=d, method="control_variate")
    assert_agrees(est, d * float(normal_kl(m1, s1, m2, s2)))


@given(batch=st.integers(1, 16), d=dims, seed=seeds)
@example(batch=1, d=1, seed=0)
def test_per_sample_kl_does_not_depend_on_the_batch(batch: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mu, sigma = rng.normal(size=(batch, d)), np.exp(rng.normal(size=(batch, d)))
    rows = np.sum(normal_kl(mu, sigma, 0.0, 1.0), axis=1)
    alone = [float(np.sum(normal_kl(mu[i], sigma[i], 0.0, 1.0))) for i in range(batch)]
    np.testing.assert_allclose(rows, alone, rtol=1e-13)
    first = np.sum(normal_kl(mu[:1], sigma[:1], 0.0, 1.0), axis=1)
    np.testing.assert_allclose(rows[:1], first, rtol=1e-13)


# ----------------------------------------------------------------------------- affine invariance


def _random_affine(d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A well-conditioned invertible map (condition number below e^2)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((d, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return u @ np.diag(np.exp(rng.uniform(-1, 1, d))) @ v, rng.normal(size=d)


def _random_gaussian(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.standard_normal((d, d)) / math.sqrt(d)
    return rng.normal(size=d), a @ a.T + 0.3 * np.eye(d)


@given(d=dims, seed=seeds)
@example(d=1, seed=0)
def test_kl_is_invariant_under_an_invertible_affine_map(d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    (mq, sq), (mp, sp) = _random_gaussian(d, rng), _random_gaussian(d, rng)
    a, c = _random_affine(d, seed + 1)
    before = mvn_kl(mq, sq, mp, sp)
    after = mvn_kl(a @ mq + c, a @ sq @ a.T, a @ mp + c, a @ sp @ a.T)
    assert after == pytest.approx(before, rel=1e-8, abs=1e-10)


def test_mapping_only_one_side_changes_the_kl() -> None:
    a, c = _random_affine(3, 5)
    (mq, sq), (mp, sp) = (
        _random_gaussian(3, np.random.default_rng(6)),
        _random_gaussian(3, np.random.default_rng(7)),
    )
    before = mvn_kl(mq, sq, mp, sp)
    assert mvn_kl(a @ mq + c, a @ sq @ a.T, mp, sp) != pytest.approx(before, rel=1e-3)


@given(shift=st.floats(-10, 10), scale=st.floats(0.01, 100.0), df=st.floats(2.5, 30.0))
@example(shift=MU_LARGE, scale=1.0, df=5.0)
@example(shift=0.0, scale=SIGMA_TINY, df=5.0)
def test_monte_carlo_kl_is_invariant_under_a_location_scale_map(
    shift: float, scale: float, df: float
) -> None:
    # same seed, same draws: the estimate itself is invariant, not just its mean
    base = kl_mc(stats.t(df, 0.2, 0.8), stats.norm(-0.1, 1.1), 2_000, seed=4)
    moved = kl_mc(
        stats.t(df, shift + scale * 0.2, scale * 0.8),
        stats.norm(shift - scale * 0.1, scale * 1.1),
        2_000,
        seed=4,
    )
    tol = 1e-9 * (1.0 + abs(shift) / scale)
    assert moved.estimate == pytest.approx(base.estimate, rel=tol, abs=tol)


# ----------------------------------------------------------------------------- direction


def test_kl_is_not_symmetric_with_an_explicit_witness() -> None:
    narrow, wide = stats.norm(0.0, 1.0), stats.norm(0.0, 2.0)
    forward = float(normal_kl(0.0, 1.0, 0.0, 2.0))  # log 2 + 1/8 - 1/2
    backward = float(normal_kl(0.0, 2.0, 0.0, 1.0))  # -log 2 + 2 - 1/2
    assert forward == pytest.approx(math.log(2) - 0.375, rel=1e-14)
    assert backward == pytest.approx(1.5 - math.log(2), rel=1e-14)
    est_forward = kl_mc(narrow, wide, 20_000, seed=1)
    est_backward = kl_mc(wide, narrow, 20_000, seed=2)
    assert_agrees(est_forward, forward)
    assert_agrees(est_backward, backward)
    # the estimates themselves are significantly different
    z = (est_backward.estimate - est_forward.estimate) / math.hypot(est_forward.se, est_backward.se)
    assert z > 20


@given(m1=means, m2=means, s=scales, r=st.floats(0.05, 20.0))
@example(m1=0.0, m2=0.0, s=1.0, r=2.0)  # the witness above
def test_kl_is_symmetric_for_equal_scales_and_not_for_equal_means(
    m1: float, m2: float, s: float, r: float
) -> None:
    # equal scales: both directions are (m1 - m2)² / (2 s²)
    assert float(normal_kl(m1, s, m2, s)) == pytest.approx(
        float(normal_kl(m2, s, m1, s)), rel=1e-12
    )
    # equal means, scale ratio r: the difference -2 log r + (r² - r⁻²)/2 is strictly
    # increasing in r (derivative (r² - 1)² / r³), so it vanishes only at r = 1
    forward = float(normal_kl(m1, s * r, m1, s))
    backward = float(normal_kl(m1, s, m1, s * r))
    expected = -2 * math.log(r) + 0.5 * (r * r - 1 / (r * r))
    assert forward - backward == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if abs(r - 1.0) > 1e-3:
        assert forward != pytest.approx(backward, rel=1e-6, abs=1e-12)


# ----------------------------------------------------------------------------- ELBO and its gap


@given(k=st.integers(1, 8), n=st.integers(1, 32), sigma=st.floats(0.05, 3.0), seed=seeds)
@example(k=1, n=1, sigma=1.0, seed=0)  # dimension 1, one observation
@example(k=8, n=32, sigma=0.05, seed=1)  # largest, sharpest
def test_elbo_is_bounded_by_log_evidence_with_gap_equal_to_kl_to_posterior(
    k: int, n: int, sigma: float, seed: int
) -> None:
    model = LinearGaussianModel.random(latent_dim=k, obs_dim=n, seed=seed, sigma=sigma)
    x = model.sample(seed=seed + 1)[1]
    rng = np.random.default_rng(seed + 2)
    m, S = _random_gaussian(k, rng)
    log_px, elbo = model.log_marginal(x), model.elbo(x, m, S)
    gap = model.kl_to_posterior(x, m, S)
    assert elbo <= log_px
    assert log_px - elbo == pytest.approx(gap, rel=1e-10, abs=1e-10 * max(1.0, abs(log_px)))
    mean, cov = model.posterior(x)
    assert model.elbo(x, mean, cov) == pytest.approx(log_px, rel=1e-10, abs=1e-10)


@given(k=st.integers(1, 4), n=st.integers(1, 12), seed=seeds)
@example(k=1, n=1, seed=0)
def test_monte_carlo_gap_equals_kl_to_posterior(k: int, n: int, seed: int) -> None:
    model = LinearGaussianModel.random(latent_dim=k, obs_dim=n, seed=seed)
    x = model.sample(seed=seed + 1)[1]
    m, S = _random_gaussian(k, np.random.default_rng(seed + 2))
    est = model.elbo_mc(x, m, S, 4_000, seed=seed % 1000, method="antithetic")
    assert_agrees(est, model.log_marginal(x) - model.kl_to_posterior(x, m, S))


# ----------------------------------------------------------------------------- gradients


@functools.cache
def _symbolic_gradient() -> Callable[..., list[float]]:
    """Lambdified sympy derivatives of the univariate Gaussian KL."""
    import sympy as sp

    m1, m2 = sp.symbols("m1 m2", real=True)
    s1, s2 = sp.symbols("s1 s2", positive=True)
    kl = sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)
    grads = [sp.diff(kl, v) for v in (m1, s1, m2, s2)]
    return sp.lambdify((m1, s1, m2, s2), grads, modules="math")  # type: ignore[no-any-return]


def _central_difference(f: Callable[..., float], args: list[float], i: int) -> float:
    h = 1e-6 * max(abs(args[i]), 1e-3 if i % 2 == 0 else args[i])
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


@given(m1=means, s1=scales, m2=means, s2=scales)
@example(m1=0.0, s1=1e-4, m2=0.0, s2=1.0)  # σ → 0
@example(m1=1e4, s1=1.0, m2=-1e4, s2=2.0)  # large |μ|
def test_closed_form_gradient_equals_symbolic_and_finite_differences(
    m1: float, s1: float, m2: float, s2: float
) -> None:
    analytic = [float(g) for g in normal_kl_grad(m1, s1, m2, s2)]
    symbolic = _symbolic_gradient()(m1, s1, m2, s2)
    np.testing.assert_allclose(analytic, symbolic, rtol=1e-10, atol=1e-12)
    args = [m1, s1, m2, s2]
    scale = max(1.0, max(abs(g) for g in analytic))

    def f(*a: float) -> float:
        return float(normal_kl(*a))

    for i in range(4):
        fd = _central_difference(f, args, i)
        assert fd == pytest.approx(analytic[i], rel=1e-5, abs=1e-6 * scale)


def test_a_mutated_gradient_disagrees_with_finite_differences() -> None:
    args = [0.4, 0.7, -0.3, 1.2]
    ds1 = float(normal_kl_grad(*args)[1])
    fd = _central_difference(lambda *a: float(normal_kl(*a)), args, 1)
    assert fd == pytest.approx(ds1, rel=1e-6)
    assert fd != pytest.approx(ds1 + 1.0 / args[1], rel=1e-3)  # sign slip on -1/s1


# ----------------------------------------------------------------------------- the loss kernel

logvars = st.floats(min_value=-6.0, max_value=4.0)


@functools.cache
def _symbolic_logvar_gradient() -> Callable[..., list[float]]:
    """Lambdified sympy derivatives of the KL in (mu, logvar, mu_p, logvar_p)."""
    import sympy as sp

    mu, lv, mu_p, lv_p = sp.symbols("mu logvar mu_p logvar_p", real=True)
    kl = (lv_p - lv) / 2 + (sp.exp(lv) + (mu - mu_p) ** 2) / (2 * sp.exp(lv_p)) - sp.Rational(1, 2)
    grads = [sp.diff(kl, v) for v in (mu, lv, mu_p, lv_p)]
    return sp.lambdify((mu, lv, mu_p, lv_p), grads, modules="math")  # type: ignore[no-any-return]


@given(mu=means, lv=logvars, mu_p=means, lv_p=logvars)
@example(mu=0.0, lv=2 * math.log(SIGMA_TINY), mu_p=0.0, lv_p=0.0)  # σ → 0
@example(mu=MU_LARGE, lv=0.0, mu_p=0.0, lv_p=0.0)  # large |μ|
@example(mu=0.2, lv=1e-9, mu_p=0.2, lv_p=0.0)  # q ≈ p
def test_kernel_kl_matches_the_reference_closed_form_and_is_never_negative(
    mu: float, lv: float, mu_p: float, lv_p: float
) -> None:
    from elbo_check import kernel
    value = float(kernel.gaussian_kl(np.array([mu]), np.array([lv]), mu_p, lv_p, reduction="sum"))
    reference = float(normal_kl(mu, math.exp(lv / 2), mu_p, math.exp(lv_p / 2)))
    assert value >= 0.0
    assert value == pytest.approx(reference, rel=1e-9, abs=1e-14)


@given(batch=st.integers(1, 8), d=dims, seed=seeds)
@example(batch=1, d=1, seed=0)  # batch 1, dimension 1
def test_kernel_kl_is_additive_over_coordinates_and_independent_of_the_batch(
    batch: int, d: int, seed: int
) -> None:
    from elbo_check import kernel
    rng = np.random.default_rng(seed)
    mu, lv = rng.normal(size=(batch, d)), rng.normal(size=(batch, d))
    elementwise = kernel.gaussian_kl(mu, lv, reduction="none")
    rows = kernel.gaussian_kl(mu, lv, reduction="batch")
    np.testing.assert_allclose(rows, elementwise.sum(axis=-1), rtol=1e-13)
    for i in range(batch):
        alone = kernel.gaussian_kl(mu[i : i + 1], lv[i : i + 1], reduction="batch")
        np.testing.assert_allclose(alone, rows[i : i + 1], rtol=1e-13)
    # iid coordinates: KL is d times the one-coordinate KL
    iid = kernel.gaussian_kl(np.full((1, d), mu[0, 0]), np.full((1, d), lv[0, 0]))
    np.testing.assert_allclose(iid, d * elementwise[0, 0], rtol=1e-12)


@given(mu=means, lv=logvars, mu_p=means, lv_p=logvars, a=st.floats(0.01, 100.0), c=means)
@example(mu=0.3, lv=0.0, mu_p=0.0, lv_p=0.0, a=SIGMA_TINY, c=0.0)
def test_kernel_kl_is_invariant_under_a_shared_affine_map(
    mu: float, lv: float, mu_p: float, lv_p: float, a: float, c: float
) -> None:
    from elbo_check import kernel
    before = float(kernel.gaussian_kl(mu, lv, mu_p, lv_p, reduction="sum"))
    shift = 2 * math.log(a)
    after = float(
        kernel.gaussian_kl(a * mu + c, lv + shift, a * mu_p + c, lv_p + shift, reduction="sum")
    )
    assert after == pytest.approx(before, rel=1e-8, abs=1e-12)


@given(mu=means, lv=logvars, mu_p=means, lv_p=logvars)
@example(mu=0.0, lv=2 * math.log(1e-4), mu_p=0.0, lv_p=0.0)  # σ → 0
@example(mu=1e4, lv=0.0, mu_p=-1e4, lv_p=1.0)  # large |μ|
def test_kernel_gradient_equals_symbolic_and_finite_differences(
    mu: float, lv: float, mu_p: float, lv_p: float
) -> None:
    from elbo_check import kernel
    grad = kernel.gaussian_kl_grad(
        np.array([mu]), np.array([lv]), np.array([mu_p]), np.array([lv_p]), reduction="sum"
    )
    analytic = [float(np.asarray(g).reshape(-1)[0]) for g in grad]
    symbolic = _symbolic_logvar_gradient()(mu, lv, mu_p, lv_p)
    scale = max(1.0, max(abs(g) for g in symbolic))
    np.testing.assert_allclose(analytic, symbolic, rtol=1e-9, atol=1e-12 * scale)

    def f(*a: float) -> float:
        return float(kernel.gaussian_kl(a[0], a[1], a[2], a[3], reduction="sum"))

    args = [mu, lv, mu_p, lv_p]
    for i in range(4):
        h = 1e-6 * max(abs(args[i]), 1.0)
        up, down = list(args), list(args)
        up[i] += h
        down[i] -= h
        fd = (f(*up) - f(*down)) / (2 * h)
        assert fd == pytest.approx(analytic[i], rel=1e-5, abs=1e-6 * scale)
