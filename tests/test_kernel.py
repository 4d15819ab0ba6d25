"""Accuracy, edge cases, reductions and bad input of the loss kernel (numpy).

The three numpy paths are tested: the traceable where-blend (``portable``, what
JAX and CUDA take), the eager small-batch path (``eager``) and the blocked tiles
(``fast``, forced on small inputs with :func:`forced_path`), each against the mpmath
oracle in ``tests/_oracle.py``.  Each accuracy check is paired with a mutation
test showing that it rejects a worse formula.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
import warnings
from collections.abc import Iterator
from typing import Any

import mpmath
import numpy as np
import pytest
from _oracle import kl_reference, kl_reference_array, max_relative_error
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import elbo_check.kernel._kl as KL
import elbo_check.kernel._numerics as N
import elbo_check.kernel._tiles as T
from elbo_check._xp import REDUCTIONS
from elbo_check.errors import ElboCheckError, UsageError
from elbo_check.kernel import ELBOTerms, elbo_loss, gaussian_kl

RTOL = {np.float64: 1e-14, np.float32: 1e-5}
PATHS = ("portable", "eager", "fast", "jit")


@contextlib.contextmanager
def forced_path(path: str, *, tile_bytes: int | None = None) -> Iterator[None]:
    """Route numpy inputs of any size through one path (and threads, tiny tiles).

    ``jit`` is numba's loop (the optional ``fast`` extra): skipped without numba.
    """
    if path == "jit":
        pytest.importorskip("numba")
    saved = (T.FAST_MIN_SIZE, T._THREAD_MIN_SIZE, T._TILE_BYTES, T._THREAD_TILE_BYTES)
    eager = KL._EAGER_NUMPY
    T.FAST_MIN_SIZE = 0 if path == "fast" else 1 << 62
    KL._EAGER_NUMPY = path != "portable"
    if tile_bytes is not None:
        T._THREAD_MIN_SIZE, T._TILE_BYTES, T._THREAD_TILE_BYTES = 0, tile_bytes, tile_bytes
    try:
        with KL.forced_engine("numba" if path == "jit" else "numpy"):
            yield
    finally:
        T.FAST_MIN_SIZE, T._THREAD_MIN_SIZE, T._TILE_BYTES, T._THREAD_TILE_BYTES = saved
        KL._EAGER_NUMPY = eager


def kl_none(path: str, *arrays: Any) -> np.ndarray:
    """Elementwise KL of 1-D inputs through ``path``."""
    with forced_path(path):
        return np.asarray(gaussian_kl(*arrays, reduction="none"))


def domain(dtype: type, bound: float) -> st.SearchStrategy[float]:
    """Values in [-bound, bound]: plain, magnitudes down to 1e-12, and exactly 0."""
    width = 64 if dtype is np.float64 else 32
    plain = st.floats(-bound, bound, width=width)
    tiny = st.builds(
        lambda sign, exponent, mantissa: float(dtype(sign * mantissa * 10.0**exponent)),
        st.sampled_from([-1.0, 1.0]),
        st.integers(-12, -1),
        st.floats(1.0, 9.99),
    )
    return st.one_of(st.just(0.0), plain, tiny)


def vectors(dtype: type, bound: float, size: int) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(dtype, size, elements=domain(dtype, bound))


# --------------------------------------------------------------------------
# Accuracy against the mpmath oracle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_standard_prior_kl_matches_the_mpmath_oracle(path: str, dtype: type, data: Any) -> None:
    mu = data.draw(vectors(dtype, 1e3, 8), label="mu")
    logvar = data.draw(vectors(dtype, 30.0, 8), label="logvar")
    got = kl_none(path, mu, logvar)
    assert got.dtype == dtype
    assert max_relative_error(got, kl_reference_array(mu, logvar), dtype) <= RTOL[dtype]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_general_prior_kl_matches_the_mpmath_oracle(path: str, dtype: type, data: Any) -> None:
    mu, mu_p = (data.draw(vectors(dtype, 1e3, 8), label=n) for n in ("mu", "mu_p"))
    logvar, logvar_p = (data.draw(vectors(dtype, 30.0, 8), label=n) for n in ("lv", "lv_p"))
    got = kl_none(path, mu, logvar, mu_p, logvar_p)
    ref = kl_reference_array(mu, logvar, mu_p, logvar_p)
    assert max_relative_error(got, ref, dtype) <= RTOL[dtype]


def dense_grid(dtype: type) -> np.ndarray:
    """d on a fine grid over [-1.5, 1.5], plus both sides of each branch threshold."""
    grid = np.linspace(-1.5, 1.5, 3001)
    edges = [t for p in (N.PARAMS64, N.PARAMS32) for t in (p.threshold, -p.threshold)]
    around = [np.nextafter(dtype(t), dtype(direction)) for t in edges for direction in (-9, 9)]
    return np.concatenate([grid, edges, around]).astype(dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kl_is_accurate_on_a_dense_grid_across_the_polynomial_branch(
    path: str, dtype: type
) -> None:
    logvar = dense_grid(dtype)
    mu = np.zeros_like(logvar)
    got = kl_none(path, mu, logvar)
    assert max_relative_error(got, kl_reference_array(mu, logvar), dtype) <= RTOL[dtype]


def test_general_prior_compensates_the_rounding_of_logvar_minus_logvar_p() -> None:
    # d = 30 - (-29.9...) rounds; without the TwoSum correction the error is ~15 ulp
    logvar = np.array([30.0, 29.9, -29.7, 17.3])
    logvar_p = np.array([-29.912345678901234, -29.99, 0.1, -12.7])
    mu = np.zeros(4)
    for path in PATHS:
        got = kl_none(path, mu, logvar, mu, logvar_p)
        ref = kl_reference_array(mu, logvar, mu, logvar_p)
        assert max_relative_error(got, ref, np.float64) <= 4e-16 * 8


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_oracle_check_rejects_the_textbook_formula(dtype: type) -> None:
    # mutation test: the same check fails for the cancelling textbook expression
    logvar = np.array([1e-3, 1e-5, -2e-4, 3e-2], dtype=dtype)
    mu = np.zeros_like(logvar)
    textbook = -0.5 * (1 + logvar - mu**2 - np.exp(logvar))
    assert max_relative_error(textbook, kl_reference_array(mu, logvar), dtype) > RTOL[dtype]


def test_the_oracle_check_rejects_a_perturbed_polynomial(monkeypatch: pytest.MonkeyPatch) -> None:
    coeffs = list(N.G64)
    coeffs[3] *= 1 + 1e-9
    params = N.Params(
        N.PARAMS64.threshold,
        tuple(coeffs),
        tuple(0.5 * c for c in coeffs),
        N.PARAMS64.split,
        N.PARAMS64.half_exp_split,
        N.PARAMS64.upper,
    )
    monkeypatch.setattr(N, "PARAMS64", params)
    logvar = np.array([0.39, -0.39, 0.2])
    mu = np.zeros(3)
    for path in PATHS:
        got = kl_none(path, mu, logvar)
        assert max_relative_error(got, kl_reference_array(mu, logvar), np.float64) > 1e-14


def test_polynomial_coefficients_approximate_g_to_a_few_ulp() -> None:
    # the fits' documented worst cases are 9.7e-16 (float64) and 8.7e-7 (float32)
    for params, dtype, bound in (
        (N.PARAMS64, np.float64, 1.1e-15),
        (N.PARAMS32, np.float32, 1e-6),
    ):
        worst = mpmath.mpf(0)
        with mpmath.workdps(50):
            for x in np.linspace(-params.threshold, params.threshold, 201):
                xm = mpmath.mpf(float(dtype(x)))
                exact = mpmath.fsum(xm**k / mpmath.factorial(k + 2) for k in range(40))
                poly = mpmath.polyval(
                    [mpmath.mpf(float(dtype(c))) for c in params.coeffs[::-1]], xm
                )
                worst = max(worst, abs(poly / exact - 1))
        assert worst < bound


# --------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------

EDGE_CASES = [
    # (dtype, mu, logvar, mu_p, logvar_p, expected) ; expected None -> oracle
    (np.float64, 0.0, 800.0, None, None, math.inf),
    (np.float32, 0.0, 800.0, None, None, math.inf),
    (np.float64, 0.0, math.inf, None, None, math.inf),
    (np.float64, 0.0, -math.inf, None, None, math.inf),
    (np.float64, math.inf, 0.0, None, None, math.inf),
    (np.float64, math.nan, 0.0, None, None, math.nan),
    (np.float64, 0.0, math.nan, None, None, math.nan),
    (np.float64, 0.0, 0.0, math.nan, 0.0, math.nan),
    (np.float64, 0.0, 0.0, 0.0, math.nan, math.nan),
    (np.float32, 0.0, math.nan, None, None, math.nan),
    (np.float64, 0.0, 0.0, None, None, 0.0),
    (np.float32, 0.0, 0.0, None, None, 0.0),
    (np.float64, 1.5, 2.5, 1.5, 2.5, 0.0),
    (np.float32, 0.0, 89.0, None, None, None),  # ~2.2e38: fits, though exp(89) overflows
    (np.float64, 0.0, 710.0, None, None, None),  # ~1.1e308: fits, though exp(710) overflows
    (np.float32, 0.0, -104.0, None, None, None),  # 51.5, torch gives inf
    (np.float64, 0.0, -750.0, None, None, None),  # 374.5
    (np.float32, 2.0e19, 0.0, None, None, None),  # mu² overflows, mu²/2 fits
    (np.float32, 1.0e20, 50.0, 0.0, 50.0, None),  # (mu−mu_p)² overflows, × e^−50 fits
    (np.float32, 1.0e-20, -50.0, 0.0, -50.0, None),  # the other way round
    (np.float32, 0.0, 60.0, 0.0, -29.0, None),  # d = 89 with a prior
    (np.float64, 1e-12, 1e-12, None, None, None),
    (np.float32, 1e-12, -1e-12, None, None, None),
    (np.float64, 1e3, -30.0, -1e3, 30.0, None),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("dtype", "mu", "logvar", "mu_p", "logvar_p", "expected"), EDGE_CASES)
def test_edge_case_table(
    path: str,
    dtype: type,
    mu: float,
    logvar: float,
    mu_p: float | None,
    logvar_p: float | None,
    expected: float | None,
) -> None:
    def arr(v: float | None) -> np.ndarray | None:
        return None if v is None else np.array([v], dtype=dtype)

    got = kl_none(path, arr(mu), arr(logvar), arr(mu_p), arr(logvar_p))[0]
    assert got.dtype == dtype
    if expected is None:
        ref = kl_reference(mu, logvar, mu_p or 0.0, logvar_p or 0.0)
        assert np.isfinite(got)
        assert abs(float(got) - ref) <= RTOL[dtype] * ref
    elif math.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == expected


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
@example(data=None)
def test_kl_is_never_negative_for_any_finite_input(path: str, dtype: type, data: Any) -> None:
    width = 64 if dtype is np.float64 else 32
    if data is None:  # the textbook formula's worst case: q ≈ p
        mu, logvar = np.zeros(4, dtype), np.array([1e-7, -1e-7, 3e-4, -3e-4], dtype)
    else:
        any_float = st.floats(allow_nan=False, allow_infinity=False, width=width)
        mu = data.draw(hnp.arrays(dtype, 6, elements=any_float))
        logvar = data.draw(hnp.arrays(dtype, 6, elements=any_float))
    got = kl_none(path, mu, logvar)
    assert not np.isnan(got).any()
    assert (got >= 0).all()


def test_fast_and_portable_paths_agree_on_a_large_mixed_input() -> None:
    rng = np.random.default_rng(7)
    for dtype in (np.float64, np.float32):
        mu = rng.standard_normal((300, 70)).astype(dtype)
        logvar = (rng.standard_normal((300, 70)) * 0.6).astype(dtype)
        mu_p = rng.standard_normal(70).astype(dtype)
        logvar_p = (rng.standard_normal((300, 1)) * 3).astype(dtype)
        logvar[0, :5] = [np.nan, np.inf, -np.inf, 800, 0.0]
        for args in ((mu, logvar), (mu, logvar, mu_p, logvar_p)):
            with forced_path("portable"):
                portable = gaussian_kl(*args, reduction="none")
            # tiny tiles: column chunking, many tiles, and the thread pool
            with forced_path("fast", tile_bytes=256):
                fast = gaussian_kl(*args, reduction="none")
                fast_rows = gaussian_kl(*args, reduction="batch")
            # a few ulp apart: the float64 tiles form expm1 as exp(d) − 1 for speed
            np.testing.assert_allclose(fast, portable, rtol=8 * np.finfo(dtype).eps, atol=0)
            np.testing.assert_array_equal(np.isnan(fast), np.isnan(portable))
            with forced_path("portable"):
                rows = gaussian_kl(*args, reduction="batch")
            np.testing.assert_allclose(fast_rows, rows, rtol=1e-5 if dtype == np.float32 else 1e-13)


def test_large_inputs_take_the_fast_path_and_match_the_oracle() -> None:
    rng = np.random.default_rng(3)
    mu = rng.standard_normal((2048, 160)) * 10.0 ** rng.uniform(-12, 2, (2048, 160))
    logvar = rng.standard_normal((2048, 160)) * 10.0 ** rng.uniform(-12, 1, (2048, 160))
    assert mu.size >= T._THREAD_MIN_SIZE
    got = gaussian_kl(mu, logvar, reduction="none")
    pick = rng.choice(mu.size, 400, replace=False)
    ref = kl_reference_array(mu.ravel()[pick], logvar.ravel()[pick])
    assert max_relative_error(got.ravel()[pick], ref, np.float64) <= 1e-14


# --------------------------------------------------------------------------
# Reductions, shapes and dtypes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_the_five_reductions_have_the_documented_shapes_and_values(path: str) -> None:
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((2, 3, 4))
    logvar = rng.standard_normal((2, 3, 4))
    with forced_path(path):
        none = gaussian_kl(mu, logvar, reduction="none")
        results = {r: gaussian_kl(mu, logvar, reduction=r) for r in REDUCTIONS}
    assert none.shape == (2, 3, 4)
    assert results["batch"].shape == (2, 3)
    np.testing.assert_allclose(results["batch"], none.sum(-1), rtol=1e-15)
    np.testing.assert_allclose(results["sum"], none.sum(), rtol=1e-15)
    np.testing.assert_allclose(results["batchmean"], none.sum() / 6, rtol=1e-15)
    np.testing.assert_allclose(results["mean"], none.sum() / 24, rtol=1e-15)
    for r in ("sum", "batchmean", "mean"):
        assert np.ndim(results[r]) == 0


def test_one_dimensional_input_is_one_sample() -> None:
    assert gaussian_kl(np.array([1.0, 1.0]), np.zeros(2)).shape == ()
    assert float(gaussian_kl(np.array([1.0, 1.0]), np.zeros(2), reduction="batchmean")) == 1.0


def test_prior_broadcasts_against_the_batch() -> None:
    mu = np.array([[0.0, 1.0], [2.0, 3.0]])
    got = gaussian_kl(mu, np.zeros((2, 2)), np.array([0.0, 1.0]), 0.0, reduction="none")
    np.testing.assert_allclose(got, [[0.0, 0.0], [2.0, 2.0]])


def test_unknown_reduction_lists_the_five_valid_names() -> None:
    with pytest.raises(UsageError) as info:
        gaussian_kl(np.zeros(2), np.zeros(2), reduction="avg")
    message = str(info.value)
    assert "'avg'" in message
    for name in ("none", "batch", "sum", "batchmean", "mean"):
        assert f"'{name}'" in message
    assert isinstance(info.value, ValueError)


def test_shapes_that_do_not_broadcast_name_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"mu has shape \(3, 4\) and logvar has shape \(5,\)"):
        gaussian_kl(np.zeros((3, 4)), np.zeros(5))
    with pytest.raises(ValueError, match=r"mu_p has shape \(2,\)"):
        gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4)), np.zeros(2))


def test_integer_input_promotes_to_the_default_float() -> None:
    got = gaussian_kl(np.array([[1, 2]]), np.array([[0, 0]]))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [2.5])
    # a floating input decides the dtype; integers follow it
    assert gaussian_kl(np.array([1, 2]), np.zeros(2, np.float32)).dtype == np.float32


def test_boolean_complex_and_list_inputs_raise_type_errors() -> None:
    for bad in (np.array([True]), np.array([1j]), [0.0]):
        with pytest.raises(TypeError, match="mu"):
            gaussian_kl(bad, np.zeros(1))
        with pytest.raises(ElboCheckError):
            gaussian_kl(bad, np.zeros(1))


def test_mixed_array_libraries_raise_a_type_error() -> None:
    import array_api_strict as strict
    with pytest.raises(TypeError, match="mixed array libraries: mu is a numpy array"):
        gaussian_kl(np.zeros(2), strict.zeros(2))


def test_batch_reduction_of_zero_dimensional_inputs_is_an_error() -> None:
    with pytest.raises(UsageError, match="at least one axis"):
        gaussian_kl(0.0, 0.0)
    assert float(gaussian_kl(1.0, 0.0, reduction="sum")) == 0.5


def test_float16_computes_in_float32_and_returns_float16() -> None:
    logvar = np.array([0.05, 2.0], dtype=np.float16)  # results in the normal range
    got = gaussian_kl(np.zeros(2, np.float16), logvar, reduction="none")
    assert got.dtype == np.float16
    ref = kl_reference_array([0.0, 0.0], logvar.astype(np.float64))
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=1e-3)


def test_numpy_emits_no_floating_point_warnings_on_overflow() -> None:
    # pytest turns warnings into errors: this would fail if np.errstate leaked
    for path in PATHS:
        got = kl_none(path, np.array([1e300, 0.0]), np.array([0.0, 1e4]))
        assert np.isinf(got).all()


# --------------------------------------------------------------------------
# elbo_loss
# --------------------------------------------------------------------------


def bernoulli_nll_reference(x: float, logit: float) -> float:
    with mpmath.workdps(40):
        lm = mpmath.mpf(logit)
        log_sig = -mpmath.log1p(mpmath.exp(-lm))
        log_one_minus = -mpmath.log1p(mpmath.exp(lm))
        return float(-(x * log_sig + (1 - x) * log_one_minus))


@given(
    x=st.sampled_from([0.0, 1.0, 0.25]),
    logit=st.floats(-700, 700),
)
def test_bernoulli_reconstruction_matches_mpmath_for_any_logit(x: float, logit: float) -> None:
    terms = elbo_loss(np.array([[x]]), np.array([[logit]]), np.zeros((1, 1)), np.zeros((1, 1)))
    ref = bernoulli_nll_reference(x, logit)
    assert abs(float(terms.reconstruction) - ref) <= 4e-15 * max(ref, 1e-300)


def test_bernoulli_reconstruction_is_finite_and_exact_at_infinite_logits() -> None:
    x = np.array([[1.0, 0.0, 1.0, 0.0]])
    logits = np.array([[np.inf, -np.inf, -np.inf, np.inf]])
    terms = elbo_loss(x, logits, np.zeros((1, 1)), np.zeros((1, 1)), reduction="batch")
    assert float(terms.reconstruction[0]) == math.inf
    right = elbo_loss(x[:, :2], logits[:, :2], np.zeros((1, 1)), np.zeros((1, 1)))
    assert float(right.reconstruction) == 0.0


def test_gaussian_reconstruction_includes_the_normalising_constant() -> None:
    import scipy.stats as scipy_stats
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    mean = rng.standard_normal((3, 5))
    obs_logvar = rng.standard_normal(5)
    terms = elbo_loss(
        x,
        mean,
        np.zeros((3, 2)),
        np.zeros((3, 2)),
        likelihood="gaussian",
        obs_logvar=obs_logvar,
        reduction="batch",
    )
    ref = -scipy_stats.norm.logpdf(x, mean, np.exp(obs_logvar / 2)).sum(axis=1)
    np.testing.assert_allclose(terms.reconstruction, ref, rtol=1e-13)


def test_elbo_loss_is_reconstruction_plus_beta_times_kl() -> None:
    rng = np.random.default_rng(2)
    x = (rng.uniform(size=(4, 1, 3, 3)) > 0.5).astype(np.float64)
    logits = rng.standard_normal((4, 1, 3, 3))
    mu, logvar = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    for reduction, count in (("batch", None), ("sum", 1), ("batchmean", 4)):
        terms = elbo_loss(x, logits, mu, logvar, beta=0.25, reduction=reduction)
        assert isinstance(terms, ELBOTerms)
        kl = gaussian_kl(mu, logvar)
        recon = bernoulli_reference_rows(x, logits)
        if count is None:
            np.testing.assert_allclose(terms.kl, kl, rtol=1e-15)
            np.testing.assert_allclose(terms.reconstruction, recon, rtol=1e-13)
        else:
            factor = 1 if reduction == "sum" else 1 / count
            np.testing.assert_allclose(terms.kl, kl.sum() * factor, rtol=1e-14)
            np.testing.assert_allclose(terms.reconstruction, recon.sum() * factor, rtol=1e-13)
        np.testing.assert_allclose(terms.loss, terms.reconstruction + 0.25 * terms.kl, rtol=1e-15)


def bernoulli_reference_rows(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    flat_x, flat_l = x.reshape(len(x), -1), logits.reshape(len(x), -1)
    return np.array(
        [
            sum(bernoulli_nll_reference(float(a), float(b)) for a, b in zip(rx, rl, strict=True))
            for rx, rl in zip(flat_x, flat_l, strict=True)
        ]
    )


def test_elbo_loss_rejects_bad_arguments_with_one_line_messages() -> None:
    x, z = np.zeros((2, 3)), np.zeros((2, 4))
    cases = [
        (
            {"likelihood": "poisson"},
            "unknown likelihood='poisson'; expected one of 'bernoulli', 'gaussian'",
        ),
        ({"reduction": "mean"}, "reduction='mean' is not defined for the negative ELBO"),
        ({"reduction": "none"}, "reduction='none' is not defined"),
        ({"reduction": "avg"}, "unknown reduction='avg'"),
        ({"beta": -1.0}, "beta=-1.0"),
        ({"beta": math.nan}, "beta=nan"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UsageError, match=message.replace("(", r"\(")):
            elbo_loss(x, x, z, z, **kwargs)
    with pytest.raises(UsageError, match=r"batch shapes differ: x/decoder_out have shape \(5, 3\)"):
        elbo_loss(np.zeros((5, 3)), np.zeros((5, 3)), z, z)
    with pytest.raises(
        ValueError, match=r"x has shape \(2, 3\) and decoder_out has shape \(2, 5\)"
    ):
        elbo_loss(x, np.zeros((2, 5)), z, z)


def test_elbo_loss_keeps_float32() -> None:
    x = np.zeros((2, 3), np.float32)
    terms = elbo_loss(x, x, np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32))
    assert all(t.dtype == np.float32 for t in terms)
    assert float(terms.reconstruction) == pytest.approx(3 * math.log(2), rel=1e-6)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_the_thread_pool_works_in_a_forked_child() -> None:
    # a DataLoader-style fork after the pool started must not deadlock the child
    mu = np.ones((64, 8))
    with forced_path("fast", tile_bytes=256):
        expected = gaussian_kl(mu, np.zeros((64, 8)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12: fork with threads
            # JAX, when an earlier test imported it, warns at every fork; the child uses numpy only
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            ok = np.array_equal(gaussian_kl(mu, np.zeros((64, 8))), expected)
            os._exit(0 if ok else 1)
    for _ in range(600):  # up to 30 s; a deadlocked child is killed and fails the test
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child deadlocked in the thread pool")
    assert os.waitstatus_to_exitcode(status) == 0
