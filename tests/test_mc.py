"""Monte Carlo KL estimator: agreement with closed forms, variance reduction, bad input.

False alarms: the z-tests of this module form one family with family-wise rate
``ALPHA_MODULE = 2e-7``, split by Bonferroni over ``Z_TESTS_PLANNED`` tests (the
helper counts them and fails if the plan is exceeded).  With the other three
modules (test_models, test_properties: 2e-7 each; test_evidence: 1e-7) a correct
closed form fails a CI run with probability below 1e-6.  All seeds are fixed,
so the suite is deterministic anyway.
"""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
from _zbudget import ZBudget
from scipy import stats

from elbo_check import mc
from elbo_check.errors import EvidenceError, UsageError
from elbo_check.mc import (
    DistributionTypeError,
    Independent,
    LogDensity,
    MCEstimate,
    _plan,
    _runners,
    expectation_mc,
    kl_mc,
    z_test,
)
from elbo_check.models import mvn_kl, normal_kl

ALPHA_MODULE = 2e-7
Z_TESTS_PLANNED = 42
_BUDGET = ZBudget(ALPHA_MODULE, Z_TESTS_PLANNED)
assert_agrees = _BUDGET.assert_agrees


def _rejects(est: MCEstimate, closed_form: float) -> bool:
    """True when the z-test at this module's per-test rate rejects the closed form."""
    return not z_test(est, closed_form, alpha=ALPHA_MODULE, n_tests=Z_TESTS_PLANNED).passed


DIAG_MU = np.array([0.8, -0.4, 1.2, 0.1])
DIAG_SIGMA = np.array([0.5, 0.9, 0.3, 1.4])
COV_Q = np.array([[1.0, 0.3, -0.2], [0.3, 0.8, 0.1], [-0.2, 0.1, 0.5]])
COV_P = np.array([[1.5, -0.4, 0.0], [-0.4, 1.0, 0.3], [0.0, 0.3, 1.2]])
MEAN_Q = np.array([0.4, -0.3, 1.0])
MEAN_P = np.array([0.0, 0.2, 0.5])


def _diag_q() -> Independent:
    return Independent(*(stats.norm(m, s) for m, s in zip(DIAG_MU, DIAG_SIGMA, strict=True)))


# ----------------------------------------------------------------------------- agreement


@pytest.mark.parametrize("method", mc.METHODS)
def test_univariate_gaussian_estimate_agrees_with_closed_form(method: str) -> None:
    est = kl_mc(stats.norm(0.3, 0.7), stats.norm(-0.4, 1.3), 20_000, seed=11, method=method)
    assert_agrees(est, float(normal_kl(0.3, 0.7, -0.4, 1.3)))


@pytest.mark.parametrize("method", mc.METHODS)
def test_full_covariance_estimate_agrees_with_closed_form(method: str) -> None:
    q = stats.multivariate_normal(MEAN_Q, COV_Q)
    p = stats.multivariate_normal(MEAN_P, COV_P)
    est = kl_mc(q, p, 20_000, seed=12, method=method)
    assert_agrees(est, mvn_kl(MEAN_Q, COV_Q, MEAN_P, COV_P))


@pytest.mark.parametrize("method", mc.METHODS)
def test_product_estimate_agrees_with_sum_of_coordinate_closed_forms(method: str) -> None:
    p = Independent.iid(stats.norm(0.0, 1.0), 4)
    est = kl_mc(_diag_q(), p, 20_000, seed=13, method=method)
    assert_agrees(est, float(np.sum(normal_kl(DIAG_MU, DIAG_SIGMA, 0.0, 1.0))))


def test_non_gaussian_pair_agrees_with_numerical_integration() -> None:
    from scipy.integrate import quad

    q, p = stats.gamma(3.0, scale=0.5), stats.lognorm(0.6, scale=1.2)
    closed = quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), 0, np.inf, epsabs=1e-12)[0]
    for method in mc.METHODS:
        assert_agrees(kl_mc(q, p, 20_000, seed=14, method=method), closed)


def test_mutated_closed_form_is_rejected() -> None:
    est = kl_mc(stats.norm(0.3, 0.7), stats.norm(-0.4, 1.3), 20_000, seed=11)
    right = float(normal_kl(0.3, 0.7, -0.4, 1.3))
    # a typical slip: the variance ratio without the 1/2
    wrong = right + 0.5 * (0.7 / 1.3) ** 2
    assert not _rejects(est, right)
    assert _rejects(est, wrong)
    assert _rejects(est, right + 10 * est.se)


def test_user_defined_distribution_objects_are_accepted() -> None:
    class Shifted:
        """A duck-typed N(1, 1): rvs and logpdf only."""

        def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
            return 1.0 + random_state.standard_normal(size)

        def logpdf(self, x: np.ndarray) -> np.ndarray:
            return -0.5 * (x - 1.0) ** 2 - 0.5 * math.log(2 * math.pi)

    assert_agrees(kl_mc(Shifted(), stats.norm(), 20_000, seed=15), 0.5)


def test_unnormalized_target_shifts_the_estimate_by_log_normalizer() -> None:
    log_z = 3.0
    target = LogDensity(lambda z: stats.norm.logpdf(z[:, 0]) + log_z, dim=1)
    plain = kl_mc(stats.norm(0.5, 0.8), stats.norm(), 5_000, seed=16)
    shifted = kl_mc(stats.norm(0.5, 0.8), target, 5_000, seed=16)
    assert shifted.estimate == pytest.approx(plain.estimate - log_z, abs=1e-12)
    assert shifted.se == pytest.approx(plain.se, rel=1e-9)


def test_antithetic_cv_is_exact_for_diagonal_gaussians() -> None:
    est = kl_mc(_diag_q(), Independent.iid(stats.norm(), 4), 1_000, seed=0, method="antithetic_cv")
    closed = float(np.sum(normal_kl(DIAG_MU, DIAG_SIGMA, 0.0, 1.0)))
    assert est.estimate == pytest.approx(closed, rel=1e-10)
    assert est.se < 1e-8
    assert_agrees(est, closed)
    assert _rejects(est, closed * (1 + 1e-7))


# ----------------------------------------------------------------------------- variance reduction


def test_variance_reduction_gives_the_plain_standard_error_with_four_times_fewer_draws() -> None:
    q = _diag_q()
    p = Independent.iid(stats.t(5.0), 4)
    plain = kl_mc(q, p, 40_000, seed=21)
    reduced = kl_mc(q, p, 10_000, seed=22, method="antithetic_cv")
    assert reduced.se <= plain.se
    assert plain.variance_per_sample / reduced.variance_per_sample >= 4.0


def test_control_variate_reduces_variance_for_gaussian_q_against_non_gaussian_p() -> None:
    q = _diag_q()
    p = Independent.iid(stats.laplace(), 4)
    plain = kl_mc(q, p, 20_000, seed=23)
    cv = kl_mc(q, p, 20_000, seed=23, method="control_variate")
    assert cv.se < plain.se
    assert abs(cv.estimate - plain.estimate) < 6 * math.hypot(cv.se, plain.se)


def test_antithetic_pairs_cancel_the_odd_part_exactly() -> None:
    # equal scales: the log-ratio is linear in the draw, so the pair mean is constant
    est = kl_mc(stats.norm(1.0, 0.5), stats.norm(0.0, 0.5), 1_000, seed=3, method="antithetic")
    assert est.estimate == pytest.approx(2.0, rel=1e-12)
    assert est.se < 1e-12


# ----------------------------------------------------------------------------- seeds, chunks, dask


def test_same_seed_gives_identical_results_and_other_seeds_differ() -> None:
    a = kl_mc(stats.norm(0.2, 0.9), stats.norm(), 3_000, seed=5)
    b = kl_mc(stats.norm(0.2, 0.9), stats.norm(), 3_000, seed=5)
    c = kl_mc(stats.norm(0.2, 0.9), stats.norm(), 3_000, seed=6)
    assert a == b
    assert a.estimate != c.estimate
    assert (a.n, a.seed, a.method) == (3_000, 5, "plain")


def test_memory_stays_flat_because_draws_come_in_bounded_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []
    real = _plan._moments

    def spy(units: np.ndarray) -> np.ndarray:
        sizes.append(units.shape[0])
        return real(units)

    monkeypatch.setattr(_plan, "_moments", spy)
    est = kl_mc(stats.norm(0.2, 0.9), stats.norm(), 10_500, seed=5, chunk_size=1_000)
    assert sizes == [1_000] * 10 + [500]
    assert est.n == 10_500


def test_chunked_statistics_equal_the_single_chunk_statistics_of_the_same_draws() -> None:
    rows = np.random.default_rng(0).standard_normal((1_000, 3))
    merged = np.zeros(1 + 3 + 9)
    for block in np.array_split(rows, 7):
        merged = _plan._merge(merged, _plan._moments(block), 3)
    np.testing.assert_allclose(merged, _plan._moments(rows), rtol=1e-12, atol=1e-10)


@pytest.mark.dask
@pytest.mark.parametrize("method", ["plain", "antithetic_cv"])
def test_dask_path_matches_numpy_path_for_the_same_seed_stream(method: str) -> None:
    dask = pytest.importorskip("dask")
    q = stats.multivariate_normal(MEAN_Q, COV_Q)
    p = stats.multivariate_normal(MEAN_P, COV_P)
    numpy_est = kl_mc(q, p, 9_000, seed=8, method=method, chunk_size=2_000)
    with dask.config.set(scheduler="synchronous"):
        dask_est = kl_mc(q, p, 9_000, seed=8, method=method, chunks=2_000)
    assert dask_est.estimate == pytest.approx(numpy_est.estimate, rel=1e-13, abs=1e-15)
    assert dask_est.se == pytest.approx(numpy_est.se, rel=1e-12, abs=1e-15)
    assert (dask_est.n, dask_est.seed) == (numpy_est.n, numpy_est.seed)


@pytest.mark.dask
def test_dask_path_is_lazy_until_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    dask = pytest.importorskip("dask")
    seen: list[str] = []
    real_compute = dask.base.compute

    def spy(*args: object, **kwargs: object) -> object:
        seen.append("compute")
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(dask.base, "compute", spy)
    with dask.config.set(scheduler="threads"):
        est = kl_mc(stats.norm(0.1, 0.8), stats.norm(), 4_000, seed=2, chunks=1_000)
    assert seen == ["compute"]
    assert est == kl_mc(stats.norm(0.1, 0.8), stats.norm(), 4_000, seed=2, chunk_size=1_000)


def test_progress_bar_is_shown_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    kl_mc(stats.norm(), stats.norm(0.5), 4_000, seed=1, chunk_size=1_000, progress=True)
    assert "kl_mc" in capsys.readouterr().err


def test_progress_bar_is_silent_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_runners, "_PROGRESS_AFTER_S", 0.0)
    kl_mc(stats.norm(), stats.norm(0.5), 4_000, seed=1, chunk_size=1_000)
    assert capsys.readouterr().err == ""


def test_progress_bar_appears_on_a_terminal_only_for_long_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Terminal()
    monkeypatch.setattr(_runners.sys, "stderr", fake)
    kl_mc(stats.norm(), stats.norm(0.5), 4_000, seed=1, chunk_size=1_000)
    assert fake.getvalue() == ""  # projected well under a second
    monkeypatch.setattr(_runners, "_PROGRESS_AFTER_S", 0.0)
    kl_mc(stats.norm(), stats.norm(0.5), 4_000, seed=1, chunk_size=1_000)
    assert "kl_mc" in fake.getvalue()


# ----------------------------------------------------------------------------- z-test


def test_bonferroni_raises_the_critical_value_with_the_number_of_tests() -> None:
    est = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    one = z_test(est, 0.6, alpha=1e-3)
    many = z_test(est, 0.6, alpha=1e-3, n_tests=1_000)
    assert one.critical < many.critical
    assert many.alpha_per_test == pytest.approx(1e-6)
    assert not one.passed
    assert many.passed
    assert one.p_value == pytest.approx(2 * stats.norm.sf(4.0))


def test_zero_standard_error_is_floored_at_roundoff_not_divided_by() -> None:
    est = MCEstimate(estimate=2.0, se=0.0, n=10, seed=0, method="antithetic_cv")
    assert z_test(est, 2.0 + 1e-15, alpha=1e-6).passed
    assert not z_test(est, 2.0 + 1e-9, alpha=1e-6).passed


def test_infinite_estimates_compare_by_sign() -> None:
    inf = MCEstimate(estimate=math.inf, se=0.0, n=10, seed=0, method="plain", note="x")
    assert inf.z_score(math.inf) == 0.0
    assert inf.z_score(1.0) == math.inf
    assert not z_test(inf, 1.0, alpha=1e-6).passed


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"alpha": 0.0}, "alpha=0.0"),
        ({"alpha": 1.5}, "alpha=1.5"),
        ({"alpha": 1e-3, "n_tests": 0}, "n_tests=0"),
        ({"alpha": 1e-3, "n_tests": 2.0}, "n_tests=2.0"),
    ],
)
def test_z_test_rejects_bad_arguments(kwargs: dict[str, float], pattern: str) -> None:
    est = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    with pytest.raises(EvidenceError, match=re.escape(pattern)):
        z_test(est, 1.0, **kwargs)  # type: ignore[arg-type]


def test_z_test_rejects_a_nan_closed_form() -> None:
    est = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    with pytest.raises(EvidenceError, match="nan"):
        z_test(est, math.nan, alpha=1e-3)


def test_estimate_prints_value_error_bar_and_provenance() -> None:
    est = MCEstimate(estimate=0.25, se=0.01, n=400, seed=7, method="plain")
    assert str(est) == "0.25 ± 0.01 (n=400, seed=7, plain)"
    assert est.variance_per_sample == pytest.approx(0.04)
    with pytest.raises(AttributeError):
        est.estimate = 1.0  # type: ignore[misc]


def test_a_one_sided_z_test_rejects_only_in_the_direction_of_its_alternative() -> None:
    est = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    far_above, far_below = 2.0, 0.0  # ten standard errors either way
    assert z_test(est, far_above, alpha=1e-6, alternative="greater").passed  # 1.0 <= 2.0
    assert not z_test(est, far_above, alpha=1e-6, alternative="less").passed  # 1.0 >= 2.0?
    assert z_test(est, far_below, alpha=1e-6, alternative="less").passed  # 1.0 >= 0.0
    assert not z_test(est, far_below, alpha=1e-6, alternative="greater").passed  # 1.0 <= 0.0?
    one_sided = z_test(est, 1.0, alpha=1e-6, n_tests=4, alternative="less")
    assert one_sided.critical == pytest.approx(stats.norm.isf(1e-6 / 4))
    assert one_sided.critical < z_test(est, 1.0, alpha=1e-6, n_tests=4).critical
    assert "z >= " in str(one_sided)


def test_an_unknown_alternative_is_an_evidence_error() -> None:
    est = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    with pytest.raises(EvidenceError, match="alternative must be one of"):
        z_test(est, 1.0, alpha=1e-6, alternative="two_sided")


# ----------------------------------------------------------------------------- expectations


def test_expectation_mc_agrees_with_known_gaussian_moments() -> None:
    est = expectation_mc(lambda z: z * z, stats.norm(0.5, 2.0), 50_000, seed=3)
    assert_agrees(est, 0.25 + 4.0)
    q = stats.multivariate_normal(MEAN_Q, COV_Q)
    est = expectation_mc(lambda z: np.sum(z, axis=1), q, 50_000, seed=3)
    assert_agrees(est, float(np.sum(MEAN_Q)))


def test_expectation_mc_is_deterministic_and_depends_only_on_seed_and_chunk_size() -> None:
    def run(seed: int, chunk_size: int) -> MCEstimate:
        return expectation_mc(np.sin, stats.norm(0.1, 1.3), 9_000, seed, chunk_size=chunk_size)

    assert run(4, 2_000) == run(4, 2_000)
    assert run(4, 2_000).estimate != run(5, 2_000).estimate
    assert run(4, 2_000).estimate != run(4, 3_000).estimate
    assert (run(4, 2_000).n, run(4, 2_000).seed, run(4, 2_000).method) == (9_000, 4, "plain")


def test_expectation_mc_names_the_draw_where_f_is_not_finite() -> None:
    with pytest.raises(
        EvidenceError, match=r"f returned nan at sample z=-?[0-9.]+ \(draw \d+ of seed 2\)"
    ):
        expectation_mc(np.log, stats.norm(), 1_000, seed=2)


def test_expectation_mc_rejects_a_wrong_shape_and_a_non_callable() -> None:
    with pytest.raises(EvidenceError, match="f returned 2000 values for 1000 draws"):
        expectation_mc(lambda z: np.concatenate([z, z]), stats.norm(), 1_000, seed=0)
    with pytest.raises(DistributionTypeError):
        expectation_mc(3.0, stats.norm(), 1_000, seed=0)  # type: ignore[arg-type]
    with pytest.raises(EvidenceError, match="n must be at least 2"):
        expectation_mc(np.sin, stats.norm(), 1, seed=0)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("n", "pattern"),
    [(1, "n=1"), (0, "n=0"), (-5, "n=-5"), (2.5, "n=2.5"), (1000.0, "n=1000.0"), (True, "n=True")],
)
def test_bad_sample_counts_are_refused_with_the_value_named(n: object, pattern: str) -> None:
    with pytest.raises(EvidenceError, match=re.escape(pattern)):
        kl_mc(stats.norm(), stats.norm(), n, seed=0)  # type: ignore[arg-type]


def test_bad_sample_count_errors_are_usage_errors_and_value_errors() -> None:
    with pytest.raises(UsageError):
        kl_mc(stats.norm(), stats.norm(), 1, seed=0)
    with pytest.raises(ValueError, match="n must be at least 2"):
        kl_mc(stats.norm(), stats.norm(), -1, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"seed": -1}, "seed=-1"),
        ({"seed": 1.5}, "seed=1.5"),
        ({"method": "magic"}, "method='magic'"),
        ({"method": "antithetic", "n": 1001}, "n=1001"),
        ({"method": "antithetic", "n": 2}, "n=2"),
        ({"chunk_size": 0}, "chunk_size=0"),
        ({"chunk_size": 100, "chunks": 200}, "chunks=200"),
    ],
)
def test_bad_options_are_refused_with_the_value_named(
    kwargs: dict[str, object], pattern: str
) -> None:
    args: dict[str, object] = {"n": 1000, "seed": 0} | kwargs
    with pytest.raises(EvidenceError, match=re.escape(pattern)):
        kl_mc(stats.norm(), stats.norm(), **args)  # type: ignore[arg-type]


def test_normal_against_exponential_is_infinite_with_a_note() -> None:
    est = kl_mc(stats.norm(), stats.expon(), 1_000, seed=0)
    assert est.estimate == math.inf
    assert est.se == 0.0
    assert est.note is not None
    assert "support" in est.note
    assert "+inf" in est.note


def test_exponential_against_normal_is_finite() -> None:
    q, p = stats.expon(), stats.norm()
    closed = -1.0 + 0.5 * math.log(2 * math.pi) + 1.0  # -H(expon) + log √(2π) + E[z²]/2
    assert_agrees(kl_mc(q, p, 20_000, seed=1), closed)


def test_support_mismatch_in_one_coordinate_of_a_product_is_infinite() -> None:
    q = Independent(stats.norm(), stats.uniform(0.0, 2.0))
    p = Independent(stats.norm(), stats.uniform(0.0, 1.0))
    est = kl_mc(q, p, 1_000, seed=0)
    assert est.estimate == math.inf
    assert est.note is not None
    assert "coordinate 1" in est.note


def test_zero_density_met_at_a_sample_gives_infinity_naming_the_sample() -> None:
    half_line = LogDensity(
        lambda z: np.where(z[:, 0] > 0, stats.expon.logpdf(np.abs(z[:, 0])), -np.inf), dim=1
    )
    est = kl_mc(stats.norm(), half_line, 1_000, seed=0)
    assert est.estimate == math.inf
    assert est.note is not None
    assert "sample z=" in est.note


def test_nan_density_names_the_sample_and_the_value() -> None:
    def broken(z: np.ndarray) -> np.ndarray:
        out = stats.norm.logpdf(z[:, 0])
        out[3] = np.nan
        return out

    with pytest.raises(EvidenceError, match=r"returned nan at sample z=-?\d.*draw 3 of seed 0"):
        kl_mc(stats.norm(), LogDensity(broken, dim=1, name="broken"), 1_000, seed=0)


def test_nan_density_of_q_is_reported_too() -> None:
    class Bad:
        def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
            return random_state.standard_normal(size)

        def logpdf(self, x: np.ndarray) -> np.ndarray:
            return np.where(x > 1.0, np.nan, -0.5 * x * x)

    with pytest.raises(EvidenceError, match=r"q=.*returned nan at sample z="):
        kl_mc(Bad(), stats.norm(), 1_000, seed=0)


def test_dimension_mismatch_is_refused() -> None:
    with pytest.raises(EvidenceError, match="dimensions differ"):
        kl_mc(_diag_q(), Independent.iid(stats.norm(), 3), 100, seed=0)


def test_things_that_are_not_distributions_are_type_errors() -> None:
    with pytest.raises(DistributionTypeError, match="p=42"):
        kl_mc(stats.norm(), 42, 100, seed=0)
    with pytest.raises(TypeError, match="rvs"):
        kl_mc(LogDensity(lambda z: z[:, 0], dim=1), stats.norm(), 100, seed=0)
    with pytest.raises(DistributionTypeError, match="discrete"):
        kl_mc(stats.poisson(3.0), stats.poisson(2.0), 100, seed=0)


def test_variance_reduction_refuses_distributions_it_cannot_mirror() -> None:
    target = LogDensity(lambda z: stats.norm.logpdf(z[:, 0]), dim=1)

    class NoEntropy:
        def rvs(self, size: int, random_state: np.random.Generator) -> np.ndarray:
            return random_state.standard_normal(size)

        def logpdf(self, x: np.ndarray) -> np.ndarray:
            return stats.norm.logpdf(x)

    with pytest.raises(EvidenceError, match="antithetic"):
        kl_mc(NoEntropy(), target, 100, seed=0, method="antithetic")
    with pytest.raises(EvidenceError, match="entropy"):
        kl_mc(NoEntropy(), target, 100, seed=0, method="control_variate")


def test_singular_q_against_a_density_is_infinite() -> None:
    q = stats.multivariate_normal([0.0, 0.0], [[1.0, 1.0], [1.0, 1.0]], allow_singular=True)
    est = kl_mc(q, stats.multivariate_normal([0.0, 0.0]), 100, seed=0)
    assert est.estimate == math.inf
    assert est.note is not None
    assert "singular" in est.note


def test_independent_refuses_empty_and_non_univariate_components() -> None:
    with pytest.raises(EvidenceError, match="at least one"):
        Independent()
    with pytest.raises(DistributionTypeError, match="component 1"):
        Independent(stats.norm(), "nope")
    with pytest.raises(DistributionTypeError, match="univariate"):
        Independent(stats.multivariate_normal([0.0, 0.0]))
    with pytest.raises(EvidenceError, match="dim=0"):
        Independent.iid(stats.norm(), 0)
