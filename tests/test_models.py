"""Exact-likelihood models: the ELBO decomposition to 1e-10, and ELBO ≤ log p(x) by quadrature.

False alarms: the z-tests of this module form one family with family-wise rate
``ALPHA_MODULE = 2e-7``, Bonferroni over ``Z_TESTS_PLANNED`` (counted at run
time).  See tests/test_mc.py for the suite-wide budget (< 1e-6 per CI run).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from _zbudget import ZBudget
from scipy import stats

from elbo_check.errors import EvidenceError
from elbo_check.models import (
    BernoulliLogisticModel,
    LinearGaussianModel,
    mvn_kl,
)

ALPHA_MODULE = 2e-7
Z_TESTS_PLANNED = 40
RTOL = 1e-10
_BUDGET = ZBudget(ALPHA_MODULE, Z_TESTS_PLANNED)
_z = _BUDGET.z
assert_agrees = _BUDGET.assert_agrees


def _random_q(k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, k)) / math.sqrt(k)
    return rng.standard_normal(k), a @ a.T + 0.2 * np.eye(k)


INSTANCES = [(1, 1), (1, 5), (2, 3), (3, 12), (5, 20), (8, 8), (8, 32), (6, 32)]


def _instance(k: int, n: int, seed: int) -> tuple[LinearGaussianModel, np.ndarray]:
    model = LinearGaussianModel.random(latent_dim=k, obs_dim=n, seed=seed)
    return model, model.sample(seed=seed + 1000)[1]


# ----------------------------------------------------------------------------- linear-Gaussian


@pytest.mark.parametrize(("k", "n"), INSTANCES)
def test_log_evidence_is_elbo_plus_kl_to_the_posterior(k: int, n: int) -> None:
    for seed in range(3):
        model, x = _instance(k, n, seed)
        m, S = _random_q(k, seed + 50)
        log_px = model.log_marginal(x)
        total = model.elbo(x, m, S) + model.kl_to_posterior(x, m, S)
        assert total == pytest.approx(log_px, rel=RTOL, abs=RTOL)


@pytest.mark.parametrize(("k", "n"), INSTANCES)
def test_elbo_never_exceeds_log_evidence(k: int, n: int) -> None:
    for seed in range(3):
        model, x = _instance(k, n, seed)
        m, S = _random_q(k, seed + 60)
        assert model.elbo(x, m, S) <= model.log_marginal(x)
        assert model.kl_to_posterior(x, m, S) > 0.0


@pytest.mark.parametrize(("k", "n"), INSTANCES)
def test_elbo_equals_log_evidence_at_the_exact_posterior(k: int, n: int) -> None:
    model, x = _instance(k, n, 7)
    mean, cov = model.posterior(x)
    assert model.elbo(x, mean, cov) == pytest.approx(model.log_marginal(x), rel=RTOL, abs=RTOL)
    assert abs(model.kl_to_posterior(x, mean, cov)) < 1e-10


def test_log_evidence_matches_scipy_multivariate_normal() -> None:
    model, x = _instance(4, 10, 3)
    cov = model.W @ model.W.T + model.sigma**2 * np.eye(10)
    expected = stats.multivariate_normal(model.b, cov).logpdf(x)
    assert model.log_marginal(x) == pytest.approx(expected, rel=1e-12)


def test_posterior_matches_gaussian_conditioning_of_the_joint() -> None:
    model, x = _instance(3, 7, 4)
    # joint of (z, x): cov [[I, Wᵀ], [W, WWᵀ + σ²I]]
    sxx = model.W @ model.W.T + model.sigma**2 * np.eye(7)
    gain = np.linalg.solve(sxx, model.W).T
    mean, cov = model.posterior(x)
    np.testing.assert_allclose(mean, gain @ (x - model.b), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov, np.eye(3) - gain @ model.W, rtol=1e-10, atol=1e-12)


def test_kl_to_posterior_matches_the_generic_gaussian_kl() -> None:
    model, x = _instance(4, 9, 5)
    m, S = _random_q(4, 5)
    mean, cov = model.posterior(x)
    assert model.kl_to_posterior(x, m, S) == pytest.approx(mvn_kl(m, S, mean, cov), rel=1e-10)


def test_a_mutated_elbo_breaks_the_decomposition() -> None:
    model, x = _instance(3, 8, 6)
    m, S = _random_q(3, 6)
    log_px = model.log_marginal(x)
    right = model.elbo(x, m, S)
    # the usual slip: forgetting the spread term tr(W S Wᵀ) / (2σ²)
    wrong = right + float(np.trace(model.W @ S @ model.W.T)) / (2 * model.sigma**2)
    kl = model.kl_to_posterior(x, m, S)
    assert right + kl == pytest.approx(log_px, rel=RTOL)
    assert abs(wrong + kl - log_px) > 1e3 * RTOL * abs(log_px)


@pytest.mark.parametrize(("k", "n", "method"), [(2, 5, "plain"), (8, 32, "antithetic_cv")])
def test_monte_carlo_elbo_agrees_with_the_closed_form(k: int, n: int, method: str) -> None:
    model, x = _instance(k, n, 8)
    m, S = _random_q(k, 8)
    est = model.elbo_mc(x, m, S, 20_000, seed=1, method=method)
    closed = model.elbo(x, m, S)
    assert_agrees(est, closed)
    z, critical = _z(est, closed + 0.05 * abs(closed))
    assert abs(z) > critical  # a 5 % error is caught


def test_a_positive_elbo_is_not_an_error() -> None:
    model = LinearGaussianModel.random(latent_dim=2, obs_dim=6, seed=9, sigma=0.01)
    x = model.sample(seed=10)[1]
    mean, cov = model.posterior(x)
    log_px = model.log_marginal(x)
    assert log_px > 0.0
    assert model.elbo(x, mean, cov) == pytest.approx(log_px, rel=RTOL)
    est = model.elbo_mc(x, mean, 0.5 * cov, 10_000, seed=2)
    assert est.estimate > 0.0
    assert_agrees(est, model.elbo(x, mean, 0.5 * cov))


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"W": np.ones((3, 2)), "b": np.zeros(3), "sigma": 0.0}, "sigma=0.0"),
        ({"W": np.ones((3, 2)), "b": np.zeros(3), "sigma": math.nan}, "sigma=nan"),
        ({"W": np.ones((3, 2)), "b": np.zeros(4), "sigma": 1.0}, r"b.shape=\(4,\)"),
    ],
)
def test_linear_gaussian_model_refuses_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises(EvidenceError, match=pattern):
        LinearGaussianModel(**kwargs)


def test_linear_gaussian_model_refuses_bad_q_and_x() -> None:
    model, x = _instance(2, 3, 0)
    with pytest.raises(EvidenceError, match="positive definite"):
        model.elbo(x, np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(EvidenceError, match=r"S.shape=\(3, 3\)"):
        model.elbo(x, np.zeros(2), np.eye(3))
    with pytest.raises(EvidenceError, match=r"x.shape=\(2,\)"):
        model.log_marginal(np.zeros(2))


# ----------------------------------------------------------------------------- Bernoulli decoder


def _centred_gauss_hermite_log_evidence(
    model: BernoulliLogisticModel, x: np.ndarray, order: int = 120
) -> float:
    """An independent check: Gauss–Hermite importance quadrature around a widened posterior."""
    k = model.latent_dim
    ref = model.log_marginal(x)
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    weights = weights / math.sqrt(2 * math.pi)
    grid = np.stack([g.ravel() for g in np.meshgrid(*([nodes] * k), indexing="ij")], axis=1)
    w = np.ones(len(grid))
    for g in np.meshgrid(*([weights] * k), indexing="ij"):
        w = w * g.ravel()
    chol = np.linalg.cholesky(1.5 * ref.posterior_cov)
    z = ref.posterior_mean + grid @ chol.T
    log_q = (
        -0.5 * np.sum(grid**2, axis=1)
        - np.log(np.diag(chol)).sum()
        - 0.5 * k * math.log(2 * math.pi)
    )
    terms = model.log_joint(x, z) - log_q
    top = terms.max()
    return float(top + math.log(w @ np.exp(terms - top)))


@pytest.mark.parametrize(("k", "seed"), [(1, 0), (1, 1), (2, 0), (2, 1)])
def test_quadrature_log_evidence_is_within_its_stated_error_bound(k: int, seed: int) -> None:
    model = BernoulliLogisticModel.random(latent_dim=k, obs_dim=15, seed=seed)
    x = model.sample(seed=seed + 100)[1]
    res = model.log_marginal(x)
    assert 0.0 < res.error_bound < 1e-8
    check = _centred_gauss_hermite_log_evidence(model, x)
    assert abs(res.value - check) <= res.error_bound + 1e-11 * abs(check)
    assert abs(res.value + 1e-6 - check) > res.error_bound + 1e-11 * abs(check)  # resolves 1e-6
    assert res.value < 0.0  # a probability of discrete data


@pytest.mark.parametrize("k", [1, 2])
def test_monte_carlo_elbo_stays_below_quadrature_log_evidence_and_the_gap_shrinks(k: int) -> None:
    model = BernoulliLogisticModel.random(latent_dim=k, obs_dim=12, seed=3)
    x = model.sample(seed=4)[1]
    res = model.log_marginal(x)
    far_mean, far_cov = res.posterior_mean + 1.5, 2.0 * np.eye(k)
    gaps_mc, gaps_gh = [], []
    for t in (0.0, 0.5, 1.0):
        m = (1 - t) * far_mean + t * res.posterior_mean
        S = (1 - t) * far_cov + t * res.posterior_cov
        est = model.elbo_mc(x, m, S, 20_000, seed=5)
        gh = model.elbo_quadrature(x, m, S)
        assert_agrees(est, gh)
        assert gh < res.value - res.error_bound
        # one-sided: the MC ELBO is not significantly above log p(x)
        z, critical = _z(est, res.value + res.error_bound)
        assert z < critical
        gaps_mc.append((res.value - est.estimate, est.se))
        gaps_gh.append(res.value - gh)
    assert gaps_gh[0] > gaps_gh[1] > gaps_gh[2] > 0.0
    for (g0, s0), (g1, s1) in itertools.pairwise(gaps_mc):
        assert g0 - g1 > 6 * math.hypot(s0, s1)


def test_a_wrong_log_evidence_is_caught_by_the_bound() -> None:
    model = BernoulliLogisticModel.random(latent_dim=1, obs_dim=12, seed=3)
    x = model.sample(seed=4)[1]
    res = model.log_marginal(x)
    est = model.elbo_mc(x, res.posterior_mean, res.posterior_cov, 20_000, seed=6)
    wrong = res.value - 0.1  # e.g. a dropped normalizing constant
    z, critical = _z(est, wrong)
    assert z > critical


def test_bernoulli_model_refuses_bad_input() -> None:
    with pytest.raises(EvidenceError, match="k=3"):
        BernoulliLogisticModel.random(latent_dim=3, obs_dim=4, seed=0)
    model = BernoulliLogisticModel.random(latent_dim=1, obs_dim=3, seed=0)
    with pytest.raises(EvidenceError, match=r"x=\[0.0, 0.5, 1.0\]"):
        model.log_marginal(np.array([0.0, 0.5, 1.0]))
    with pytest.raises(EvidenceError, match="x="):
        model.elbo_mc(np.array([0.0, 2.0, 1.0]), np.zeros(1), np.eye(1), 100, seed=0)
