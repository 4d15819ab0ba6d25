"""Round 4: the classes of holes closed by the trusted core's design.

Each class gets a false claim that must not be ``proved`` (or a true one that
must not be ``refuted``) and a true claim that must still be ``proved``, so a
fix that simply refuses everything fails here too.
"""

from __future__ import annotations

import json

import pytest
import sympy as sp

from elbo_check import CheckConfig, Checker, Derivation, Verdict, check_derivation
from elbo_check.errors import DerivationError
from elbo_check.render import render_json
from elbo_check.rules import (
    Rule,
    axiom,
    change_of_variables,
    inequality,
    instantiate,
    integrability,
    side_condition,
)

oo = sp.oo
z = sp.Symbol("z", real=True)
u = sp.Symbol("u", real=True)
x = sp.Symbol("x", real=True)
s = sp.Symbol("s", positive=True)
R = (z, -oo, oo)
FINITE = integrability("the densities' expectations are finite")


def _step(lhs: object, rhs: object, by: object = "claim", relation: str = "=", **kw: object) -> Verdict:
    d = Derivation("round-four", assumptions=kw.get("assume", ()))  # type: ignore[arg-type]
    d.start(lhs)
    getattr(d, {"=": "equals", "<=": "leq", ">=": "geq"}[relation])(rhs, by=by)
    checker = kw.get("checker") or Checker(CheckConfig(step_timeout=20))
    return checker.check(d).steps[0].verdict  # type: ignore[union-attr]


# -- Wild assumptions are enforced at every match -----------------------------------------------
_pos = sp.Wild("w", positive=True)
LOG_SQUARE = axiom("log of a square", sp.log(_pos**2), 2 * sp.log(_pos), "log w² = 2 log w, w > 0")
AM_GM = inequality("w + 1/w >= 2", _pos + 1 / _pos - 2, "w + 1/w ≥ 2 for w > 0")


def test_a_positive_wild_does_not_rewrite_the_log_of_a_real_square() -> None:
    assert _step(sp.log(x**2), 2 * sp.log(x), LOG_SQUARE) is not Verdict.PROVED


def test_a_positive_wild_still_rewrites_the_log_of_a_positive_square() -> None:
    assert _step(sp.log(s**2) + sp.exp(s), 2 * sp.log(s) + sp.exp(s), LOG_SQUARE) is Verdict.PROVED


def test_a_positive_wild_inequality_does_not_bound_a_real_variable() -> None:
    assert _step(x + 1 / x, 2, AM_GM, ">=") is not Verdict.PROVED


def test_a_positive_wild_inequality_still_bounds_a_positive_variable() -> None:
    assert _step(s + 1 / s, 2, AM_GM, ">=") is Verdict.PROVED


def test_instantiate_refuses_a_pattern_variable_as_a_value() -> None:
    a = sp.Symbol("a", positive=True)
    lemma = Derivation("wild-lemma").start(sp.log(a**2)).equals(2 * sp.log(a), by="log rule")
    with pytest.raises(DerivationError, match="pattern variable"):
        instantiate(lemma.as_lemma(), {a: sp.Wild("v", positive=True)})


def test_a_wild_with_a_property_closure_is_refused() -> None:
    w = sp.Wild("w", properties=[lambda e: True])
    with pytest.raises(DerivationError, match="property functions"):
        axiom("anything", sp.log(w), w)


# -- caches never leak between derivations ------------------------------------------------------
def test_an_absurd_axiom_in_one_derivation_does_not_help_the_next() -> None:
    checker = Checker(CheckConfig(step_timeout=20))
    square = sp.Integral(u**2, (u, 0, 1))
    absurd = axiom("absurd", square, sp.Integer(0), "∫_0^1 u² du = 0")
    # given the (false, ledgered) axiom, the step follows
    assert _step(sp.sqrt(sp.pi), sp.sqrt(sp.pi) + 7 * square, absurd, checker=checker) is Verdict.PROVED
    # the same checker, nothing cited: the step is false
    assert _step(sp.sqrt(sp.pi), sp.sqrt(sp.pi) + 7 * square, checker=checker) is Verdict.REFUTED
    assert _step(square, sp.Rational(1, 3), checker=checker) is Verdict.PROVED


def test_a_divergent_integral_is_never_proved_away_by_an_axiom() -> None:
    square = sp.Integral(u**2, (u, -oo, oo))
    absurd = axiom("absurd", square, sp.Integer(0), "∫ u² du = 0")
    assert _step(sp.sqrt(sp.pi), sp.sqrt(sp.pi) + 7 * square, absurd) is Verdict.UNDECIDED


# -- changes of variables are real affine maps ----------------------------------------------------
def test_a_complex_shift_is_refused() -> None:
    with pytest.raises(DerivationError, match="real"):
        change_of_variables("z = u + 2i", z, u, u + 2 * sp.I)


def test_a_non_affine_map_is_refused() -> None:
    with pytest.raises(DerivationError, match="affine"):
        change_of_variables("z = u³", z, u, u**3)


def test_a_real_shift_still_proves_the_shifted_integral() -> None:
    shift = change_of_variables("z = u + 2", z, u, u + 2)
    lhs = sp.Integral(sp.exp(-(z**2)), R)
    rhs = sp.Integral(sp.exp(-((u + 2) ** 2)), (u, -oo, oo))
    assert _step(lhs, rhs, shift) is Verdict.PROVED


def test_a_negative_scale_uses_the_absolute_jacobian() -> None:
    flip = change_of_variables("z = -2u", z, u, -2 * u)
    lhs = sp.Integral(sp.exp(-(z**2)), R)
    assert _step(lhs, sp.Integral(2 * sp.exp(-4 * u**2), (u, -oo, oo)), flip) is Verdict.PROVED
    assert _step(lhs, sp.Integral(-2 * sp.exp(-4 * u**2), (u, -oo, oo)), flip) is not Verdict.PROVED


# -- the ledger is complete and shows what each rule does ----------------------------------------
def test_an_axiom_hidden_inside_a_cited_lemma_reaches_the_ledger() -> None:
    sine_zero = axiom("sine vanishes", sp.sin(x), sp.Integer(0), "a harmless-looking fact")
    lemma = Derivation("hidden").start(sp.sin(x)).equals(0, by=sine_zero)
    main = Derivation("uses-hidden").start(sp.sin(x) + 1).equals(1, by=lemma.as_lemma())
    result = check_derivation(main)
    entries = {e.name: e for e in result.ledger}
    assert "sine vanishes" in entries
    assert entries["sine vanishes"].via == "lemma hidden"
    assert entries["sine vanishes"].shows == "sin(x) → 0"


def test_a_hand_made_lemma_rule_is_refused() -> None:
    with pytest.raises(DerivationError, match="as_lemma"):
        Rule("forged", "lemma", "sin x = 0", lhs=sp.sin(x), rhs=sp.Integer(0))


def test_a_side_condition_that_rewrites_is_refused() -> None:
    with pytest.raises(DerivationError, match="never rewrites"):
        Rule("sneaky", "side-condition", "q > 0", lhs=sp.sin(x), rhs=sp.Integer(0))


def test_a_lemma_whose_statement_was_swapped_is_refused_by_the_core() -> None:
    a = sp.Symbol("a", positive=True)
    lemma = Derivation("true-lemma").start(sp.log(a**2)).equals(2 * sp.log(a), by="log rule").as_lemma()
    forged = Rule("forged", "lemma", "log a² = 3 log a", lhs=sp.log(a**2), rhs=3 * sp.log(a), origin=lemma.origin)
    assert _step(sp.log(a**2), 3 * sp.log(a), forged) is not Verdict.PROVED
    assert _step(sp.log(a**2), 2 * sp.log(a), lemma) is Verdict.PROVED


# -- chains cannot be altered after the fact -----------------------------------------------------
def test_the_steps_of_a_derivation_cannot_be_deleted() -> None:
    a = sp.Symbol("a", positive=True)
    d = Derivation("chain").start(sp.log(a**2)).equals(5 * sp.log(a), by="false").equals(
        3 * sp.log(a), by="false"
    )
    with pytest.raises((TypeError, AttributeError)):
        del d.steps[0]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        d.steps = ()  # type: ignore[misc]
    assert check_derivation(d).verdict is Verdict.REFUTED


# -- binders other than Integral are outside the fragment ----------------------------------------
def test_a_sum_variable_does_not_keep_its_declared_sign_outside_its_range() -> None:
    k = sp.Symbol("k", positive=True)
    lhs = sp.Sum(sp.log(k**2) - 2 * sp.log(k), (k, -3, -1))
    assert _step(lhs, 0) is not Verdict.PROVED
    assert _step(sp.Sum(k, (k, -3, -1)), 0, inequality("zero", sp.Integer(0), "0 ≥ 0"), ">=") is not Verdict.PROVED


def test_a_divergent_rearrangement_is_never_proved() -> None:
    n = sp.Symbol("n", positive=True, integer=True)
    lhs = sp.Sum((-1) ** (n + 1) / n, (n, 1, oo))
    assert _step(lhs, sp.Rational(3, 2) * sp.log(2)) is not Verdict.PROVED
    assert _step(lhs, sp.log(2)) is not Verdict.PROVED  # true, but outside the fragment


def test_a_float_limit_or_piecewise_is_at_best_corroborated() -> None:
    for lhs, rhs in [
        (sp.Float("0.5") * s, s / 2),
        (sp.Limit(sp.sin(x) / x, x, 0), 1),
        (sp.Piecewise((x, x > 0), (-x, True)), sp.Abs(x)),
    ]:
        assert _step(lhs, rhs) in (Verdict.CORROBORATED, Verdict.UNDECIDED)


# -- integrability covers density terms only -----------------------------------------------------
@pytest.mark.parametrize("body", [sp.exp, lambda e: 1 / e, sp.log], ids=["exp", "reciprocal", "log"])
def test_integrability_does_not_cover_functions_of_a_density(body: object) -> None:
    q = sp.Function("q", positive=True)
    lhs = sp.Integral(body(q(z)), R) - sp.Integral(body(q(u)), (u, -oo, oo))  # type: ignore[operator]
    assert _step(lhs, 0, assume=(FINITE,)) is not Verdict.PROVED


def test_integrability_still_covers_a_density_times_its_log() -> None:
    q = sp.Function("q", positive=True)
    lhs = sp.Integral(q(z) * sp.log(q(z)), R) - sp.Integral(q(u) * sp.log(q(u)), (u, -oo, oo))
    assert _step(lhs, 0, assume=(FINITE,)) is Verdict.PROVED


# -- refutations rest only on the step as written, certified ------------------------------------
def test_a_true_step_citing_a_refuted_lemma_is_not_refuted() -> None:
    bad = Derivation("bad").start(sp.log(s**2)).equals(3 * sp.log(s), by="oops")
    assert _step(sp.log(s**4), 4 * sp.log(s), bad.as_lemma()) is not Verdict.REFUTED


def test_a_true_step_citing_a_false_axiom_is_not_refuted() -> None:
    false = axiom("false", sp.log(s), 7 * sp.log(s), "log s = 7 log s")
    assert _step(sp.exp(sp.log(s)), s, false) is not Verdict.REFUTED


def test_catastrophic_cancellation_never_refutes_a_true_step() -> None:
    lhs = sp.exp(2000) * (sp.sin(s) ** 2 + sp.cos(s) ** 2 - 1)
    assert _step(lhs, 0) is not Verdict.REFUTED


def test_a_false_step_is_still_refuted_with_its_direction() -> None:
    d = Derivation("wrong-way").start(s**2 + 1)
    d.leq(s, by=inequality("zero", sp.Integer(0), "0 ≥ 0"))
    step = check_derivation(d).steps[0]
    assert step.verdict is Verdict.REFUTED
    assert "lhs <= rhs fails" in step.message


# -- assumptions are whitelisted and names are unique ---------------------------------------------
def test_an_unsupported_assumption_key_is_a_usage_error() -> None:
    odd = sp.Symbol("t", finite=True)
    with pytest.raises(DerivationError, match="finite"):
        _step(odd, odd)


def test_two_symbols_with_one_name_are_a_usage_error() -> None:
    with pytest.raises(DerivationError, match="two different symbols"):
        _step(sp.Symbol("t", real=True), sp.Symbol("t", positive=True))


# -- nothing crashes -------------------------------------------------------------------------------
def test_an_integral_of_a_dirac_delta_is_a_verdict_not_a_crash() -> None:
    assert _step(sp.Integral(sp.DiracDelta(z), R), 1) in (Verdict.CORROBORATED, Verdict.UNDECIDED)


def test_a_300_deep_expression_renders_as_json() -> None:
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        e = s
        for _ in range(300):
            e = sp.log(1 + e)
        d = Derivation("deep").start(e).equals(e, by="same")
    finally:
        sys.setrecursionlimit(old)
    result = check_derivation(d)
    assert result.verdict is Verdict.PROVED
    assert json.loads(render_json([result], None))["summary"]["proved"] == 1


def test_a_side_condition_is_only_recorded() -> None:
    note = side_condition("q > 0", "q is positive where p is")
    assert _step(sp.log(s**2), 2 * sp.log(s), note) is Verdict.PROVED


def test_an_instance_changes_a_premise_buried_two_lemmas_deep() -> None:
    a = sp.Symbol("a", positive=True)
    b = sp.Symbol("b", real=True)
    inner = Derivation("a-is-one").start(sp.log(a)).equals(0, by=axiom("a is one", a, sp.Integer(1)))
    outer = Derivation("uses-a").start(sp.log(a) + b).equals(b, by=inner.as_lemma())
    instance = instantiate(outer.as_lemma(), {a: sp.Integer(2)})
    # log 2 + b = b is false: the premise "a is one" says nothing about 2
    assert _step(sp.log(2) + b, b, instance) is not Verdict.PROVED


def test_the_sign_of_a_numeric_constant_is_never_decided_by_evaluation() -> None:
    zero = inequality("zero", sp.Integer(0), "0 >= 0")
    ramanujan = sp.exp(sp.pi * sp.sqrt(163))  # 262537412640768744 - 7.5e-13
    # true, but only numerics can tell: never proved
    assert _step(ramanujan, 262537412640768744, zero, "<=") is not Verdict.PROVED
    # false by 7.5e-13 at 2.6e17: certified at 40 and 80 digits, so refuted
    assert _step(ramanujan, 262537412640768744, zero, ">=") is Verdict.REFUTED
