"""The shipped library: every pinned derivation is proved, and broken copies are not."""

from __future__ import annotations

import pytest
import sympy as sp

import derivations
from derivations import gaussian_kl_standard_prior as std
from derivations import gaussian_kl_univariate as uni
from elbo_check import CheckConfig, Checker, Derivation, Verdict
from elbo_check.errors import UsageError

PINNED = [
    "bayes",
    "gaussian-moments",
    "kl-nonnegative",
    "elbo-decomposition",
    "elbo-reconstruction-kl",
    "gaussian-kl-univariate",
    "gaussian-kl-standard-prior",
    "gaussian-kl-diagonal",
    "gaussian-kl-full-covariance",
]


@pytest.fixture(scope="module")
def checker() -> Checker:
    # a generous limit: the verdict of a shipped step must never depend on machine load
    # (the slowest step takes about 1 s; benchmarks/bench_prove.py reports it)
    return Checker(CheckConfig(step_timeout=120))


def test_every_pinned_slug_is_registered() -> None:
    assert set(PINNED) <= set(derivations.slugs())


@pytest.mark.parametrize("slug", PINNED)
def test_every_step_of_the_pinned_derivation_is_proved(checker: Checker, slug: str) -> None:
    result = checker.check(derivations.get(slug))
    assert [r.verdict for r in result.steps] == [Verdict.PROVED] * len(result.steps)


@pytest.mark.parametrize("slug", PINNED)
def test_every_derivation_shows_an_axiom_ledger(checker: Checker, slug: str) -> None:
    ledger = checker.check(derivations.get(slug)).ledger
    assert ledger
    assert all(entry.statement for entry in ledger)


def test_the_seed_ledger_items_are_explicit(checker: Checker) -> None:
    names = {e.name for slug in PINNED for e in checker.check(derivations.get(slug)).ledger}
    assert {"product rule", "definition of KL", "marginalisation (sum rule)"} <= names
    assert any("Gibbs" in n for n in names)
    assert any("Gaussian integral" in n for n in names)


def test_unknown_slug_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(UsageError, match="known: bayes"):
        derivations.get("no-such-thing")


def test_closed_form_exports_agree_with_each_other() -> None:
    at_prior = uni.CLOSED_FORM.subs({uni.M1: std.MU, uni.S1: std.SIGMA, uni.M2: 0, uni.S2: 1})
    assert sp.expand(sp.expand_log(at_prior - std.CLOSED_FORM)) == 0


def test_a_derivation_with_a_mutated_closed_form_is_refuted(checker: Checker) -> None:
    original = derivations.get("gaussian-kl-univariate")
    broken = Derivation("broken-univariate")
    broken.start(original.steps[1].lhs)  # the integral
    broken.equals(uni.CLOSED_FORM + sp.Rational(1, 2), by="forgot the -1/2")
    assert checker.check(broken).steps[0].verdict is Verdict.REFUTED


def test_a_mutated_abstract_step_is_never_proved(checker: Checker) -> None:
    bayes = derivations.get("bayes")
    last = bayes.steps[-1]
    broken = Derivation("broken-bayes")
    broken.start(last.lhs)
    broken.equals(last.rhs * 2, by=list(last.rules))
    assert checker.check(broken).steps[0].verdict is not Verdict.PROVED


def test_the_full_covariance_chain_reduces_to_the_diagonal_formula(checker: Checker) -> None:
    result = checker.check(derivations.get("gaussian-kl-full-covariance"))
    last = result.steps[-1]
    assert last.step.rhs == derivations.gaussian_kl_diagonal.closed_form(3)
    assert last.verdict is Verdict.PROVED
