"""The validator's Python API: conventions, tolerance, inference, results."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kl_zoo import numpy_impls as zoo

from elbo_check import ValidationResult, validate
from elbo_check._validate._reference import expected_mp
from elbo_check._validate._roles import auto_candidates, parse_convention
from elbo_check._validate._shrink import simplicity
from elbo_check.errors import ElboCheckError, ValidationError
from elbo_check.testing import assert_kl_correct


def test_the_result_has_every_pinned_json_key():
    result = validate(zoo.vae_sum, args="mu,logvar", reduction="sum")
    keys = set(json.loads(result.to_json()))
    assert {
        "ok",
        "diagnosis",
        "counterexample",
        "max_rel_error",
        "examples",
        "convention",
        "warnings",
    } <= keys


def test_a_failing_result_serialises_its_counterexample():
    data = json.loads(validate(zoo.sign_flip, args="mu,logvar", reduction="sum").to_json())
    cex = data["counterexample"]
    assert set(cex) >= {"inputs", "expected", "returned"}
    assert data["ok"] is False
    assert data["bug_class"] == "sign_flip"


def test_examples_counts_the_rows_checked():
    assert (
        validate(zoo.vae_batch, args="mu,logvar", reduction="batch", examples=300).examples >= 300
    )
    assert (
        validate(zoo.vae_batch, args="mu,logvar", reduction="batch", examples=2000).examples >= 2000
    )


def test_the_run_is_deterministic_for_a_seed():
    a = validate(zoo.float32_inside, args="mu,logvar", reduction="batch", seed=3)
    b = validate(zoo.float32_inside, args="mu,logvar", reduction="batch", seed=3)
    assert a == b


def test_cancellation_near_q_equal_p_is_a_warning_not_a_failure():
    result = validate(zoo.vae_none, args="mu,logvar", reduction="none")
    assert result.ok
    # a tolerance relative to |KL| would have failed this correct function
    assert result.max_rel_error > 1e-6
    (note,) = [w for w in result.warnings if "significant digits are lost" in w]
    assert note.startswith("note: 14 of 16 significant digits are lost at ")
    assert "q ≈ p" in note


def test_a_function_that_loses_at_most_4_digits_gets_no_note():
    import elbo_check

    def accurate(mu, logvar):
        return elbo_check.gaussian_kl(mu, logvar, reduction="none")

    result = validate(accurate, args="mu,logvar", reduction="none")
    assert result.ok
    assert not [w for w in result.warnings if "digits" in w]


def test_an_error_far_above_rounding_fails_even_where_kl_is_large():
    def off_by_a_millionth(mu, logvar):
        return zoo.vae_batch(mu, logvar) * (1 + 1e-6)

    assert not validate(off_by_a_millionth, args="mu,logvar", reduction="batch").ok


def test_float32_inputs_are_judged_at_float32_precision():
    result = validate(zoo.vae_batch, args="mu,logvar", reduction="batch", dtype="float32")
    assert result.ok
    assert result.convention["dtype"] == "float32"
    assert not validate(zoo.float16_inside, args="mu,logvar", reduction="batch", dtype="float32").ok


@pytest.mark.parametrize("reduction", ["none", "batch", "sum", "batchmean", "mean"])
def test_every_reduction_of_the_reference_form_passes(reduction):
    def kl(mu, logvar):
        e = -0.5 * (1 + logvar - mu**2 - np.exp(logvar))
        return {
            "none": e,
            "batch": e.sum(-1),
            "sum": e.sum(),
            "batchmean": e.sum() / e.shape[0],
            "mean": e.mean(),
        }[reduction]

    assert validate(kl, args="mu,logvar", reduction=reduction).ok


def test_a_correct_function_fails_under_another_declared_reduction():
    result = validate(zoo.vae_sum, args="mu,logvar", reduction="mean")
    assert result.bug_class == "wrong_reduction"


def test_auto_infers_roles_and_reduction():
    result = validate(zoo.keras_batchmean, args="auto", reduction="auto")
    assert result.ok
    assert result.convention["args"] == ["mu", "logvar"]
    assert result.convention["reduction"] == "batchmean"


def test_auto_infers_a_general_std_convention():
    result = validate(zoo.general_std_expanded, args="auto", reduction="auto")
    assert result.ok
    assert result.convention["args"] == ["mu_q", "std_q", "mu_p", "std_p"]


def test_auto_infers_full_covariance():
    result = validate(zoo.full_cov, args="auto", reduction="none")
    assert result.ok
    assert result.convention["args"] == ["mu_q", "cov_q", "mu_p", "cov_p"]


def test_auto_reports_that_no_convention_matches():
    result = validate(lambda mu, logvar: np.sum(mu**3), args="auto", reduction="auto")
    assert not result.ok
    assert result.diagnosis.startswith("no convention matches")


def test_auto_with_given_roles_finds_the_reduction_of_a_buggy_function():
    result = validate(zoo.sign_flip, args="mu,logvar", reduction="auto")
    assert not result.ok
    assert result.bug_class == "sign_flip"


def _pretend_jax_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The "jax is not installed" path, tested whether or not jax is installed here."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"args": "mu,sigma"}, "unknown role 'sigma'"),
        ({"args": "mu,logvar,std"}, "two scales"),
        ({"args": "mu_q,cov_q,mu_p,logvar_p"}, "mixes diagonal and full"),
        ({"args": "logvar"}, "mean and one scale"),
        ({"args": "mu,mu"}, "same quantity twice"),
        ({"reduction": "avg"}, "unknown reduction 'avg'"),
        ({"backend": "tensorflow"}, "unknown backend"),
        ({"dtype": "float16"}, "unsupported dtype"),
        ({"examples": 0}, "examples must be a positive integer"),
        ({"timeout": -1}, "timeout must be"),
        ({"backend": "jax"}, "jax"),
    ],
)
def test_bad_options_raise_a_one_line_validation_error(kwargs, words, monkeypatch):
    kw = {"args": "mu,logvar", "reduction": "sum", **kwargs}
    if kwargs.get("backend") == "jax":
        _pretend_jax_is_missing(monkeypatch)
    with pytest.raises(ValidationError, match=words) as info:
        validate(zoo.vae_sum, **kw)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ElboCheckError)


def test_roles_normalise_to_sides_and_quantities():
    conv = parse_convention("mu_q,scale_tril_q,mu_p,scale_tril_p", "batch")
    assert conv.family == "full"
    assert conv.effective_reduction == "none"
    assert conv.scale("p") == "scale_tril"


def test_auto_candidates_follow_the_signature():
    def four(a, b, c, d):
        return 0.0

    assert all(len(c) == 4 for c in auto_candidates((4, 4), None))
    assert auto_candidates((4, 4), None)[0] == ("mu_q", "logvar_q", "mu_p", "logvar_p")


def test_the_counterexample_expected_value_is_the_exact_kl():
    conv = parse_convention("mu_q,std_q,mu_p,std_p", "sum")
    raw = {
        k: np.array([[v]])
        for k, v in {"mu_q": 1.0, "std_q": 2.0, "mu_p": 0.0, "std_p": 1.0}.items()
    }
    expected = math.log(1 / 2) + (4 + 1) / 2 - 0.5
    assert expected_mp(conv, raw) == pytest.approx(expected, rel=1e-15)


def test_the_full_covariance_expected_value_matches_the_diagonal_case():
    conv = parse_convention("mu_q,cov_q", "mean")
    raw = {"mu_q": np.array([[1.0, 0.0]]), "cov_q": np.array([[[2.0, 0.0], [0.0, 0.5]]])}
    diag = 0.5 * ((2 - 1 - math.log(2) + 1) + (0.5 - 1 - math.log(0.5)))
    assert expected_mp(conv, raw) == pytest.approx(diag / 2, rel=1e-14)


def test_round_numbers_are_simpler_than_others():
    assert (
        simplicity(0.0) < simplicity(1.0) < simplicity(-2.0) < simplicity(0.5) < simplicity(0.123)
    )
    assert simplicity(9.357622968840175e-14) > simplicity(1.0)


def test_the_text_report_says_wrong_and_names_the_bug():
    text = validate(zoo.missing_half, args="mu,logvar", reduction="sum").report()
    assert text.startswith("WRONG")
    assert "missing ½" in text
    assert "counterexample" in text


def test_assert_kl_correct_passes_silently_and_fails_with_the_diagnosis():
    assert_kl_correct(zoo.vae_sum, args="mu,logvar", reduction="sum")
    with pytest.raises(AssertionError, match="reversed direction"):
        assert_kl_correct(
            zoo.reversed_direction, args="mu_q,logvar_q,mu_p,logvar_p", reduction="batch"
        )


def test_a_result_is_a_frozen_value():
    result = validate(zoo.vae_sum, args="mu,logvar", reduction="sum", examples=20)
    assert isinstance(result, ValidationResult)
    with pytest.raises(AttributeError):
        result.ok = False  # type: ignore[misc]


def test_the_package_name_stays_a_plain_function_after_importing_the_subpackage():
    import types

    import elbo_check
    import elbo_check._validate._cli  # the private subpackage no longer shadows the name

    assert isinstance(elbo_check.validate, types.FunctionType)
    result = elbo_check.validate(zoo.vae_sum, args="mu,logvar", reduction="sum", examples=20)
    assert result.ok


def test_json_has_null_max_rel_error_when_nothing_was_compared():
    def raises(mu, logvar):
        raise ValueError("no")

    data = json.loads(validate(raises, args="mu,logvar", reduction="sum").to_json())
    assert data["max_rel_error"] is None
    assert data["bug_class"] == "raises"


@settings(max_examples=25)
@given(
    scale=st.floats(min_value=1e-8, max_value=10.0).map(lambda x: 1 + x)
    | st.floats(min_value=-10.0, max_value=1 - 1e-8),
    reduction=st.sampled_from(["none", "batch", "sum", "batchmean", "mean"]),
)
def test_any_rescaling_of_a_correct_kl_is_caught(scale, reduction):
    def rescaled(mu, logvar):
        e = -0.5 * (1 + logvar - mu**2 - np.exp(logvar)) * scale
        return {
            "none": e,
            "batch": e.sum(-1),
            "sum": e.sum(),
            "batchmean": e.sum() / len(e),
            "mean": e.mean(),
        }[reduction]

    assert not validate(rescaled, args="mu,logvar", reduction=reduction, examples=50).ok


def test_a_formula_bug_hidden_behind_a_wrong_reduction_gets_a_counterexample_showing_the_formula_bug():
    # plus_mu_squared sums over the latent axis only (shape (N,)) *and* has +mu²:
    # the counterexample must exhibit the +mu² bug (mu != 0), not only the shape
    result = validate(zoo.plus_mu_squared, args="mu,logvar", reduction="sum")
    assert not result.ok
    assert result.diagnosis is not None
    assert "+mu²" in result.diagnosis
    cex = result.counterexample
    assert cex is not None
    assert np.any(np.asarray(cex["inputs"]["mu"]) != 0)
    assert not math.isnan(result.max_rel_error)
    expected = float(cex["expected"])
    returned = float(np.sum(cex["returned"]))
    assert abs(returned - expected) > 0.1 * abs(expected)
