"""``prove --evidence`` data: one line per closed form, honest z-tests, loud failures.

False alarms: each ``collect_evidence`` run is one Bonferroni family at
``EVIDENCE_ALPHA = 1e-7``; with fixed seeds the repeated calls below repeat the
same event, so this module adds at most 1e-7 to the suite-wide budget (see
tests/test_mc.py).
"""

from __future__ import annotations

import json
import math
import sys
import types

import numpy as np
import pytest
import sympy as sp

from elbo_check import evidence
from elbo_check.evidence import (
    EVIDENCE_ALPHA,
    EVIDENCE_LINES,
    EVIDENCE_SLUGS,
    EvidenceLine,
    collect_evidence,
)
from elbo_check.models import LinearGaussianModel

KEYS = {"name", "point", "closed_form", "estimate", "se", "z", "passed", "alpha", "n", "seed"}


@pytest.mark.parametrize("slug", EVIDENCE_SLUGS)
def test_every_covered_slug_yields_passing_evidence(slug: str) -> None:
    lines = collect_evidence(slug)
    assert len(lines) >= 1
    for line in lines:
        assert line.passed, line.format_text()
        assert abs(line.z) < 5.0
        assert line.se > 0.0
        assert line.alpha == pytest.approx(EVIDENCE_ALPHA / EVIDENCE_LINES)


def test_all_slugs_together_make_up_the_bonferroni_family() -> None:
    total = sum(len(collect_evidence(slug)) for slug in EVIDENCE_SLUGS)
    assert total == EVIDENCE_LINES
    assert EVIDENCE_ALPHA < 1e-6


def test_slugs_without_numeric_evidence_give_an_empty_list() -> None:
    assert collect_evidence("gaussian-moments") == []
    assert collect_evidence("") == []


def test_json_form_has_exactly_the_documented_keys_and_types() -> None:
    (line,) = collect_evidence("gaussian-kl-full-covariance")
    data = line.to_dict()
    assert set(data) == KEYS
    assert isinstance(data["name"], str)
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in data["point"].items())
    for key in ("closed_form", "estimate", "se", "z", "alpha"):
        assert isinstance(data[key], float)
    assert isinstance(data["passed"], bool)
    assert isinstance(data["n"], int)
    assert isinstance(data["seed"], int)
    assert json.loads(json.dumps(data)) == data


def test_text_form_shows_point_closed_form_estimate_error_bar_and_verdict() -> None:
    (line,) = collect_evidence("gaussian-kl-univariate", seed=4)
    text = line.format_text()
    assert "\n" not in text
    for piece in ("M1=0.3", "S2=1.3", "closed form", "±", "z=", "pass", "seed=4"):
        assert piece in text


def test_evidence_is_deterministic_for_a_seed_and_changes_with_it() -> None:
    first = collect_evidence("gaussian-kl-diagonal", seed=1)
    again = collect_evidence("gaussian-kl-diagonal", seed=1)
    other = collect_evidence("gaussian-kl-diagonal", seed=2)
    assert first == again
    assert first[0].estimate != other[0].estimate
    assert first[0].closed_form == other[0].closed_form


def test_elbo_decomposition_compares_both_sides_of_the_identity() -> None:
    elbo_line, gap_line = collect_evidence("elbo-decomposition")
    assert "ELBO" in elbo_line.name
    assert "KL" in gap_line.name
    assert gap_line.closed_form > 0.0  # log p(x) - ELBO(q) = KL(q || posterior)
    assert elbo_line.point == gap_line.point


# ----------------------------------------------------------------------------- failures are loud


def _without_derivations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the derivation modules unimportable: evidence falls back to numpy."""
    for name in (
        "gaussian_kl_univariate",
        "gaussian_kl_standard_prior",
        "gaussian_kl_diagonal",
        "gaussian_kl_full_covariance",
    ):
        monkeypatch.setitem(sys.modules, f"derivations.{name}", None)


@pytest.mark.parametrize("slug", EVIDENCE_SLUGS[:4])
def test_numpy_fallback_passes_and_says_where_the_closed_form_came_from(
    monkeypatch: pytest.MonkeyPatch, slug: str
) -> None:
    _without_derivations(monkeypatch)
    (line,) = collect_evidence(slug)
    assert "numpy" in line.source
    assert "unavailable" in line.source
    assert line.passed


def test_a_wrong_univariate_closed_form_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = evidence.normal_kl

    def missing_half(m1: float, s1: float, m2: float, s2: float) -> float:
        return float(real(m1, s1, m2, s2)) + 0.5  # forgot the "- 1/2"

    _without_derivations(monkeypatch)
    monkeypatch.setattr(evidence, "normal_kl", missing_half)
    for slug in ("gaussian-kl-univariate", "gaussian-kl-standard-prior", "gaussian-kl-diagonal"):
        (line,) = collect_evidence(slug)
        assert not line.passed
        assert "FAIL" in line.format_text()
        assert line.to_dict()["passed"] is False


def test_a_wrong_full_covariance_closed_form_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_derivations(monkeypatch)
    real = evidence.mvn_kl
    monkeypatch.setattr(evidence, "mvn_kl", lambda *a: 1.05 * real(*a))  # 5 %: MC resolves ~1.5 %
    (line,) = collect_evidence("gaussian-kl-full-covariance")
    assert not line.passed


def test_a_wrong_elbo_closed_form_fails_both_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    real = LinearGaussianModel.elbo

    def without_entropy_constant(
        self: LinearGaussianModel, x: object, m: object, S: object
    ) -> float:
        return real(self, x, m, S) - 0.5 * self.latent_dim  # dropped the "+1" in log(2πe)

    monkeypatch.setattr(LinearGaussianModel, "elbo", without_entropy_constant)
    lines = collect_evidence("elbo-decomposition")
    assert [line.passed for line in lines] == [False, False]


# ----------------------------------------------------------------------------- derivation closed forms


def _fake_derivation(monkeypatch: pytest.MonkeyPatch, name: str, expr: object) -> None:
    module = types.ModuleType(name)
    module.CLOSED_FORM = expr  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)


def _univariate_expr(shift: int = 0) -> object:
    m1, m2 = sp.symbols("M1 M2", real=True)
    s1, s2 = sp.symbols("S1 S2", positive=True)
    return sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2) + shift


def test_derivation_closed_forms_are_lambdified_when_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_derivation(monkeypatch, "derivations.gaussian_kl_univariate", _univariate_expr())
    mu, sigma = sp.symbols("MU", real=True), sp.symbols("SIGMA", positive=True)
    standard = -sp.log(sigma) + (sigma**2 + mu**2) / 2 - sp.Rational(1, 2)
    _fake_derivation(monkeypatch, "derivations.gaussian_kl_standard_prior", standard)
    for slug in ("gaussian-kl-univariate", "gaussian-kl-standard-prior"):
        (line,) = collect_evidence(slug)
        assert "CLOSED_FORM (lambdified)" in line.source
        assert line.passed


def test_diagonal_and_full_covariance_builders_are_used_when_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mus = sp.symbols("mu1:4", real=True)
    sigmas = sp.symbols("sigma1:4", positive=True)

    def diagonal(d: int, slip: int = 0) -> object:
        return (
            -sp.Rational(1, 2)
            * sp.Add(*(1 + sp.log(sigmas[j] ** 2) - mus[j] ** 2 - sigmas[j] ** 2 for j in range(d)))
            + slip
        )

    def full(mu0: object, l0: object, mu1: object, l1: object, slip: int = 0) -> object:
        s0, s1 = l0 * l0.T, l1 * l1.T  # type: ignore[attr-defined]
        diff = mu1 - mu0  # type: ignore[operator]
        k = s0.shape[0]
        quad = (diff.T * s1.inv() * diff)[0, 0]
        return ((s1.inv() * s0).trace() + quad - k + sp.log(s1.det() / s0.det())) / 2 + slip

    for slip, passes in ((0, True), (1, False)):
        diag_module = types.ModuleType("derivations.gaussian_kl_diagonal")
        diag_module.closed_form = lambda d, slip=slip: diagonal(d, slip)  # type: ignore[attr-defined]
        full_module = types.ModuleType("derivations.gaussian_kl_full_covariance")
        full_module.closed_form = lambda *a, slip=slip: full(*a, slip=slip)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "derivations.gaussian_kl_diagonal", diag_module)
        monkeypatch.setitem(sys.modules, "derivations.gaussian_kl_full_covariance", full_module)
        (diag_line,) = collect_evidence("gaussian-kl-diagonal")
        (full_line,) = collect_evidence("gaussian-kl-full-covariance")
        assert "gaussian_kl_diagonal.closed_form (lambdified)" in diag_line.source
        assert "numeric Cholesky factors" in full_line.source
        assert (diag_line.passed, full_line.passed) == (passes, passes)


def test_a_wrong_derivation_closed_form_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_derivation(monkeypatch, "derivations.gaussian_kl_univariate", _univariate_expr(shift=1))
    (line,) = collect_evidence("gaussian-kl-univariate")
    assert "lambdified" in line.source
    assert not line.passed


def test_a_closed_form_in_unexpected_symbols_falls_back_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_derivation(monkeypatch, "derivations.gaussian_kl_univariate", sp.Symbol("mu_q") ** 2)
    (line,) = collect_evidence("gaussian-kl-univariate")
    assert "unexpected symbols ['mu_q']" in line.source
    assert line.passed


def test_a_closed_form_that_cannot_be_evaluated_fails_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m1 = sp.Symbol("M1", real=True)
    _fake_derivation(monkeypatch, "derivations.gaussian_kl_univariate", sp.log(m1 - 1))
    (line,) = collect_evidence("gaussian-kl-univariate")  # log of a negative number
    assert math.isnan(line.closed_form)
    assert not line.passed


def test_format_text_marks_a_failure() -> None:
    line = EvidenceLine("KL", {"a": 1.0}, 1.0, 2.0, 0.01, 100.0, False, 1e-8, 100, 0)
    assert "FAIL" in line.format_text()
    assert np.isclose(line.to_dict()["z"], 100.0)
