"""The validator on badly behaved functions: each case ends in a clear verdict, never a crash."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

from elbo_check import validate


def vae_batch(mu, logvar):
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)


def test_a_function_that_raises_is_wrong_with_the_exception_named():
    def raises_for_wide_inputs(mu, logvar):
        if mu.shape[1] > 2:
            raise RuntimeError("shape mismatch in my layer")
        return vae_batch(mu, logvar)

    result = validate(raises_for_wide_inputs, args="mu,logvar", reduction="batch")
    assert not result.ok
    assert result.bug_class == "raises"
    assert "RuntimeError: shape mismatch in my layer" in result.diagnosis
    assert result.counterexample["shape"] == [1, 3]


def test_a_function_that_hangs_is_reported_after_the_timeout():
    release = threading.Event()

    def hangs(mu, logvar):
        release.wait(60)
        return vae_batch(mu, logvar)

    try:
        result = validate(hangs, args="mu,logvar", reduction="batch", timeout=0.3)
    finally:
        release.set()
    assert not result.ok
    assert result.bug_class == "timeout"
    assert "did not return within 0.3 s" in result.diagnosis


def test_printing_is_captured_and_reported_as_a_warning(capsys):
    def chatty(mu, logvar):
        print("debug: computing KL")
        return vae_batch(mu, logvar)

    result = validate(chatty, args="mu,logvar", reduction="batch")
    assert result.ok
    assert any("printed" in w for w in result.warnings)
    assert "debug" not in capsys.readouterr().out


def test_a_returned_list_is_accepted_with_a_warning():
    result = validate(
        lambda mu, lv: vae_batch(mu, lv).tolist(), args="mu,logvar", reduction="batch"
    )
    assert result.ok
    assert any("python list" in w for w in result.warnings)


def test_a_wrong_list_is_still_judged_by_its_values():
    result = validate(
        lambda mu, lv: (2 * vae_batch(mu, lv)).tolist(), args="mu,logvar", reduction="batch"
    )
    assert result.bug_class == "missing_half"


def test_mutating_an_input_in_place_is_wrong():
    def clips_in_place(mu, logvar):
        np.clip(logvar, -10, 10, out=logvar)
        return vae_batch(mu, logvar)

    result = validate(clips_in_place, args="mu,logvar", reduction="batch")
    assert result.bug_class == "mutates_inputs"
    assert "'logvar'" in result.diagnosis


def test_a_float32_result_for_float64_inputs_passes_with_a_warning():
    result = validate(
        lambda mu, lv: vae_batch(mu, lv).astype(np.float32), args="mu,logvar", reduction="batch"
    )
    assert result.ok
    assert any("returned float32" in w for w in result.warnings)


def test_a_float16_result_for_float64_inputs_is_precision_loss():
    result = validate(
        lambda mu, lv: vae_batch(mu, lv).astype(np.float16), args="mu,logvar", reduction="batch"
    )
    assert result.bug_class == "precision_loss"
    assert any("returned float16" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("returns", "words"),
    [(None, "returned None"), ((1.0, 2.0), "tuple"), ("kl", "dtype <U2")],
)
def test_a_non_numeric_return_is_wrong(returns, words):
    result = validate(lambda mu, lv: returns, args="mu,logvar", reduction="sum")
    assert result.bug_class == "bad_return"
    assert words in result.diagnosis


def test_a_python_float_and_a_0d_array_are_fine_for_scalar_reductions():
    def as_float(mu, lv):
        return float(np.sum(vae_batch(mu, lv)))

    def as_0d(mu, lv):
        return np.asarray(np.sum(vae_batch(mu, lv)))

    assert validate(as_float, args="mu,logvar", reduction="sum").ok
    assert validate(as_0d, args="mu,logvar", reduction="sum").ok


def test_nan_outputs_on_valid_input_are_wrong():
    def nan_for_big_means(mu, lv):
        out = vae_batch(mu, lv)
        return np.where(np.max(np.abs(mu), axis=-1) > 50, np.nan, out)

    result = validate(nan_for_big_means, args="mu,logvar", reduction="batch")
    assert not result.ok
    assert result.bug_class in ("nan_or_inf", "clamping")
    assert abs(result.counterexample["inputs"]["mu"][0][0]) >= 50


def test_a_shape_bug_that_no_reduction_explains_is_a_wrong_shape():
    result = validate(lambda mu, lv: np.zeros((7,)), args="mu,logvar", reduction="batch")
    assert result.bug_class == "wrong_shape"
    assert "expected (" in result.diagnosis


def test_user_warnings_never_escape_as_python_warnings():
    def warns(mu, lv):
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
        return np.log(-np.abs(mu)).sum(-1) * 0 + vae_batch(mu, lv)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = validate(warns, args="mu,logvar", reduction="batch")
    assert not result.ok  # log of a negative number gives nan
    assert any("deprecated thing" in w for w in result.warnings)
