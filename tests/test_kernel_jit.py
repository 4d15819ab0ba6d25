"""numba's compiled loop for plain ndarrays (the optional ``fast`` extra).

``tests/test_kernel.py`` runs its oracle, edge-case and reduction tests on this
loop too (its ``jit`` path).  Here: the parts only this loop has (the range
reduction over the whole float range, the two-factor scaling near overflow,
float32 arithmetic with PARAMS64's polynomial), the engine switch
(``ELBO_CHECK_JIT``, the call count, no numba installed) and threads.
(``tests/test_kernel.py``'s mutation test patches ``PARAMS64`` and checks
that this loop, too, fails the oracle.)
"""

from __future__ import annotations

import math
import sys
import threading
from typing import Any

import mpmath
import numpy as np
import pytest
from _oracle import kl_reference_array, max_relative_error
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import elbo_check.kernel
import elbo_check.kernel._kl as KL
from elbo_check.errors import UsageError
from elbo_check.kernel import elbo_loss_grad, gaussian_kl, gaussian_kl_grad

pytest.importorskip("numba")

from elbo_check.kernel import _jit  # imports numba: after the skip

RTOL = {np.float64: 1e-14, np.float32: 1e-5}


def jit_kl(*arrays: Any, reduction: str = "none") -> Any:
    with KL.forced_engine("numba"):
        return gaussian_kl(*arrays, reduction=reduction)


def numpy_kl(*arrays: Any, reduction: str = "none") -> Any:
    with KL.forced_engine("numpy"):
        return gaussian_kl(*arrays, reduction=reduction)


def whole_range(dtype: type) -> np.ndarray:
    """d from the underflow of e^d to its overflow, every reduction step k, and the seams."""
    top = 710.5 if dtype is np.float64 else 89.5
    bottom = -800.0 if dtype is np.float64 else -120.0
    ladder = np.geomspace(1e-3, top, 4000)
    seams = [0.5 * math.log(2.0) * s for s in (1, 3, 5)] + [0.4, 27.7, 41.6, 88.7, 709.8]
    around = [np.nextafter(dtype(v), dtype(w)) for v in seams for w in (-1e9, 1e9)]
    points = np.concatenate([ladder, -ladder, np.linspace(bottom, top, 3001), seams, around])
    return points[(points >= bottom) & (points <= top)].astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loop_matches_the_oracle_from_underflow_to_overflow(dtype: type) -> None:
    logvar = whole_range(dtype)
    mu = np.zeros_like(logvar)
    got = jit_kl(mu, logvar)
    ref = kl_reference_array(mu, logvar)
    finite = ref <= np.finfo(dtype).max
    assert max_relative_error(got[finite], ref[finite], dtype) <= RTOL[dtype]
    assert np.isinf(got[~finite]).all()  # beyond the dtype's range, and only there
    assert (~finite).sum() >= 2  # the grid reaches past overflow


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loop_matches_the_oracle_with_a_prior_over_the_whole_range(dtype: type) -> None:
    rng = np.random.default_rng(11)
    logvar = whole_range(dtype)
    logvar_p = (rng.uniform(-30, 30, logvar.size)).astype(dtype)
    mu = (rng.standard_normal(logvar.size) * 10.0 ** rng.uniform(-8, 3, logvar.size)).astype(dtype)
    mu_p = rng.standard_normal(logvar.size).astype(dtype)
    lv = np.clip(logvar + logvar_p, -700 if dtype is np.float64 else -85, None).astype(dtype)
    ref = kl_reference_array(mu, lv, mu_p, logvar_p)
    got = jit_kl(mu, lv, mu_p, logvar_p)
    finite = np.isfinite(ref) & (ref < np.finfo(dtype).max)
    assert max_relative_error(got[finite], ref[finite], dtype) <= RTOL[dtype]


def test_float32_is_at_most_a_few_ulp_from_the_float64_loop_rounded_once() -> None:
    rng = np.random.default_rng(5)
    mu = rng.standard_normal((64, 48)).astype(np.float32)
    logvar = (rng.standard_normal((64, 48)) * 4).astype(np.float32)
    single = jit_kl(mu, logvar)
    double = jit_kl(mu.astype(np.float64), logvar.astype(np.float64)).astype(np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, double, rtol=4 * np.finfo(np.float32).eps, atol=0)


def test_rows_with_inf_or_nan_are_redone_exactly_as_the_numpy_engine_does() -> None:
    for dtype in (np.float64, np.float32):
        rng = np.random.default_rng(2)
        mu = rng.standard_normal((6, 5)).astype(dtype)
        logvar = rng.standard_normal((6, 5)).astype(dtype)
        logvar[0, 1], logvar[1, 2], logvar[2, 3], logvar[3, 4] = np.nan, np.inf, -np.inf, 800
        mu[4, 0] = np.inf
        for reduction in ("none", "batch"):
            got = jit_kl(mu, logvar, reduction=reduction)
            want = numpy_kl(mu, logvar, reduction=reduction)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
            ok = np.isfinite(want)
            np.testing.assert_allclose(got[ok], want[ok], rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("reduction", ["none", "batch", "sum", "batchmean", "mean"])
def test_shapes_layouts_and_reductions_agree_with_the_numpy_engine(reduction: str) -> None:
    rng = np.random.default_rng(9)
    base = rng.standard_normal((4, 6, 10))
    cases = {
        "3-d": (base, base * 0.1),
        "1-d": (base[0, 0], base[1, 1]),
        "transposed": (base[0].T, base[1].T),  # not contiguous
        "strided": (base[:, ::2, ::3], base[:, 1::2, ::3] * 2),
        "prior": (base, base * 0.3, base[::-1] * 0.5, base[:, ::-1] * 0.2),
    }
    for dtype in (np.float64, np.float32):
        for name, arrays in cases.items():
            cast = [a.astype(dtype) for a in arrays]
            if reduction == "batch" and cast[0].ndim == 0:
                continue
            got, want = jit_kl(*cast, reduction=reduction), numpy_kl(*cast, reduction=reduction)
            assert np.shape(got) == np.shape(want), name
            assert np.asarray(got).dtype == dtype, name
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype], err_msg=name)


def test_the_loop_gives_the_same_answer_from_two_threads_at_once() -> None:
    rng = np.random.default_rng(4)
    mu, logvar = rng.standard_normal((2, 300, 64))
    want = jit_kl(mu, logvar, reduction="batch")
    results: list[Any] = [None, None]

    def work(slot: int) -> None:
        for _ in range(20):
            results[slot] = gaussian_kl(mu, logvar, reduction="batch")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    with KL.forced_engine("numba"):  # process-wide: set once, outside the threads
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for got in results:
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------
# Which engine serves plain ndarrays
# --------------------------------------------------------------------------


@pytest.fixture
def fresh_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has made no call yet (the state restored afterwards)."""
    monkeypatch.setattr(KL._JitState, "calls", 0)
    monkeypatch.setattr(KL._JitState, "module", None)


def calls_until_numba(limit: int = 100) -> int | None:
    arrays = (np.zeros((2, 3)), np.full((2, 3), 0.5))
    for call in range(1, limit + 1):
        gaussian_kl(*arrays)
        if KL.numpy_engine() == "numba":
            return call
    return None


@pytest.mark.usefixtures("fresh_engine")
def test_a_program_gets_the_loop_from_its_sixteenth_call_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ELBO_CHECK_JIT", "auto")
    assert calls_until_numba() == KL._JIT_AFTER == 16


@pytest.mark.usefixtures("fresh_engine")
def test_jit_on_takes_the_loop_from_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELBO_CHECK_JIT", "on")
    assert calls_until_numba() == 1


@pytest.mark.usefixtures("fresh_engine")
def test_jit_off_never_takes_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELBO_CHECK_JIT", "off")
    assert calls_until_numba(40) is None


@pytest.mark.usefixtures("fresh_engine")
def test_without_numba_the_numpy_engine_serves_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELBO_CHECK_JIT", "on")
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    monkeypatch.delitem(sys.modules, "elbo_check.kernel._jit")
    monkeypatch.delattr(elbo_check.kernel, "_jit")
    assert calls_until_numba(40) is None
    assert gaussian_kl(np.zeros(2), np.array([1e-9, 0.0])) == pytest.approx(2.5e-19, rel=1e-15)


@pytest.mark.usefixtures("fresh_engine")
def test_a_numba_that_cannot_compile_warns_once_and_numpy_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("cannot cache function: no locator available\nmore detail")

    monkeypatch.setenv("ELBO_CHECK_JIT", "on")
    monkeypatch.setattr(_jit, "kl_rows", broken)
    with pytest.warns(RuntimeWarning, match=r"unavailable \(cannot cache function: no locator"):
        first = gaussian_kl(np.zeros(2), np.array([1e-9, 0.0]))
    assert first == pytest.approx(2.5e-19, rel=1e-15)
    assert KL.numpy_engine() == "numpy"
    gaussian_kl(np.zeros(2), np.zeros(2))  # no second warning (warnings are errors here)


@pytest.mark.usefixtures("fresh_engine")
@pytest.mark.parametrize("loop", ["kl_grad_standard", "bernoulli_logit_grad"])
def test_a_gradient_loop_that_fails_warns_once_and_numpy_answers(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("LLVM ERROR: cannot select")

    monkeypatch.setenv("ELBO_CHECK_JIT", "on")
    monkeypatch.setattr(_jit, loop, broken)
    args = (np.ones((2, 3)), np.array([[40.0, -1.0, 0.0]] * 2), np.zeros((2, 2)), np.zeros((2, 2)))
    with KL.forced_engine("numpy"):
        want = elbo_loss_grad(*args, reduction="sum")
    with pytest.warns(RuntimeWarning, match=r"unavailable \(LLVM ERROR: cannot select\)"):
        got = elbo_loss_grad(*args, reduction="sum")
    for g, w in zip(got[:3], want[:3], strict=True):
        np.testing.assert_allclose(g, w, rtol=4 * np.finfo(np.float64).eps, atol=0)
    assert KL.numpy_engine() == "numpy"


@pytest.mark.usefixtures("fresh_engine")
def test_an_unknown_jit_setting_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELBO_CHECK_JIT", "fast")
    with pytest.raises(UsageError, match=r"ELBO_CHECK_JIT='fast': expected one of auto, on, off"):
        gaussian_kl(np.zeros((1, 2)), np.zeros((1, 2)))


def test_an_unknown_forced_engine_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="engine 'gpu'"), KL.forced_engine("gpu"):
        pass


# --------------------------------------------------------------------------
# Gradients: gaussian_kl_grad and elbo_loss_grad's Bernoulli logit gradient
# --------------------------------------------------------------------------


def half_expm1_reference(values: np.ndarray) -> np.ndarray:
    with mpmath.workdps(60):
        return np.array([float(mpmath.expm1(mpmath.mpf(float(v))) / 2) for v in values])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loop_logvar_gradient_matches_the_oracle_from_underflow_to_overflow(
    dtype: type,
) -> None:
    # the loop itself (gaussian_kl_grad takes it for float64; float32 stays in numpy)
    logvar = whole_range(dtype)[::3]
    g_mu, g_lv = _jit.kl_grad_standard(np.ones_like(logvar), logvar, 0.5)
    half = half_expm1_reference(logvar)
    ref = half * 0.5
    fits = np.abs(half) <= np.finfo(dtype).max  # the slope, then the scale (as every path)
    assert g_lv.dtype == g_mu.dtype == dtype
    assert (g_mu == 0.5).all()
    assert max_relative_error(g_lv[fits], ref[fits], dtype) <= RTOL[dtype]
    assert np.isinf(g_lv[~fits]).all()
    # logvar = 800: inf, as gaussian_kl_grad gives on every path
    assert np.isinf(_jit.kl_grad_standard(np.zeros(1, dtype), np.array([800.0], dtype), 1.0)[1])
    with KL.forced_engine("numba"):
        edge = gaussian_kl_grad(np.zeros(1, dtype), np.array([800.0], dtype)).logvar
    assert np.isinf(edge).all()


def logit_grad_reference(x: float, z: float) -> tuple[float, float]:
    """σ(z) − x at 60 digits, and the scale (1 − x)σ(z) + xσ(−z) its error is measured on."""
    with mpmath.workdps(60):
        s = 1 / (1 + mpmath.exp(-mpmath.mpf(z)))
        t = 1 / (1 + mpmath.exp(mpmath.mpf(z)))
        return float((1 - x) * s - x * t), float((1 - x) * s + x * t)  # s + t = 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loop_logit_gradient_matches_the_oracle_for_any_logit(dtype: type) -> None:
    top = 800.0 if dtype is np.float64 else 120.0
    z = np.concatenate([np.linspace(-top, top, 801), np.geomspace(1e-30, 50, 200)])
    z = np.concatenate([z, -z]).astype(dtype)
    for x_value in (0.0, 1.0, 0.25):
        x = np.full_like(z, x_value)
        with KL.forced_engine("numba"):
            got = elbo_loss_grad(
                x[:, None],
                z[:, None],
                np.zeros((z.size, 1), dtype),
                np.zeros((z.size, 1), dtype),
                reduction="sum",
            ).decoder_out
        ref, scale = np.array([logit_grad_reference(x_value, float(v)) for v in z]).T
        tiny = float(np.finfo(dtype).tiny)  # below it, an absolute error on that scale
        err = np.abs(got[:, 0].astype(np.float64) - ref) / np.maximum(scale, tiny)
        assert err.max() <= RTOL[dtype], (x_value, z[err.argmax()])


def test_the_loop_logit_gradient_handles_infinite_and_nan_logits() -> None:
    x = np.array([[1.0, 0.0, 0.3, 0.3, 0.5]])
    z = np.array([[np.inf, -np.inf, np.inf, -np.inf, np.nan]])
    with KL.forced_engine("numba"):
        got = elbo_loss_grad(x, z, np.zeros((1, 1)), np.zeros((1, 1)), reduction="sum")
    np.testing.assert_array_equal(got.decoder_out[0, :4], [0.0, 0.0, 0.7, -0.3])
    assert np.isnan(got.decoder_out[0, 4])


@pytest.mark.parametrize("reduction", ["batch", "sum", "batchmean"])
def test_gradients_from_the_loop_agree_with_the_numpy_engine(reduction: str) -> None:
    rng = np.random.default_rng(12)
    for dtype in (np.float64, np.float32):
        x = (rng.uniform(size=(6, 7)) > 0.5).astype(dtype)
        logits = (rng.standard_normal((6, 7)) * 20).astype(dtype)
        mu, lv = (rng.standard_normal((2, 6, 3)) * 5).astype(dtype)
        with KL.forced_engine("numba"):
            fast = elbo_loss_grad(x, logits, mu, lv, reduction=reduction)
            fast_kl = gaussian_kl_grad(mu, lv, reduction=reduction)
        with KL.forced_engine("numpy"):
            slow = elbo_loss_grad(x, logits, mu, lv, reduction=reduction)
            slow_kl = gaussian_kl_grad(mu, lv, reduction=reduction)
        for got, want in zip((*fast, *fast_kl), (*slow, *slow_kl), strict=True):
            assert (got is None) == (want is None)
            if got is not None:
                assert got.dtype == want.dtype
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data())
def test_the_loop_and_the_numpy_engine_agree_on_any_input(dtype: type, data: Any) -> None:
    """Any floats (subnormal, ±0, ±inf, nan, huge), with and without a prior."""
    width = 64 if dtype is np.float64 else 32
    anything = st.floats(width=width)
    arrays = [data.draw(hnp.arrays(dtype, (3, 4), elements=anything)) for _ in range(4)]
    with_prior = data.draw(st.booleans())
    args = arrays if with_prior else arrays[:2]
    for reduction in ("none", "batch"):
        got = jit_kl(*args, reduction=reduction)
        want = numpy_kl(*args, reduction=reduction)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
        assert not (np.asarray(got) < 0).any()
        ok = np.isfinite(want) & np.isfinite(got)
        tiny = RTOL[dtype] * np.finfo(dtype).tiny  # below the smallest normal: absolute
        np.testing.assert_allclose(got[ok], want[ok], rtol=RTOL[dtype], atol=tiny)
