"""Round-5 red team, new code: definitions (definition_refusal) and the hypotheses of instantiated lemmas.

Sections A and B of round 5 (see ``test_round5_redteam.py``).
"""

from __future__ import annotations

import inspect

import pytest
import sympy as sp
from _harness import (
    CONFIG,
    TRIVIAL,
    cases,
    eq,
    ge,
    not_all_proved,
    run_case,
    verdict,
)
from _vocab import (
    GAUSS,
    QZ,
    RAMANUJAN,
    RAMANUJAN_CEIL,
    VR,
    K,
    Kp,
    L,
    V,
    W,
    f_pos,
    kp,
    p,
    q,
    s,
    tp,
    u,
    x,
    z,
)

from elbo_check import Checker, Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    axiom,
    change_of_variables,
    definition,
    inequality,
    instantiate,
    integrability,
)


# ---------------------------------------------------------------------------
# A. Definitions (new code: definition_refusal)
# ---------------------------------------------------------------------------
def _two_named_definitions() -> Derivation:
    """K := log s and K := s^2 under two different names: log s = s^2 is false."""
    return (Derivation("two-named-defs").start(sp.log(s)).equals(K, by=definition("K-log", K, sp.log(s)))
            .equals(s**2, by=definition("K-sq", K, s**2)))


def _two_named_definitions_lemma() -> str:
    return verdict(eq("use-two-named", sp.log(s), s**2, by=_two_named_definitions().as_lemma()))


def _lemma_definition_vs_citer_definition() -> Derivation:
    """The lemma defines K := log s, the citer K := s^2: s^2 = log s is false."""
    lemma = eq("k-is-log", K, sp.log(s), by=definition("K-log", K, sp.log(s))).as_lemma()
    return Derivation("k-is-square").start(s**2).equals(K, by=definition("K-sq", K, s**2)).equals(sp.log(s), by=lemma)


def _mutual_definitions() -> Derivation:
    """K := L + 1 and L := K: each is non-circular alone; together they give K = K + 1."""
    return (Derivation("mutual-defs").start(K).equals(L + 1, by=definition("K", K, L + 1))
            .equals(K + 1, by=definition("L", L, K)))


def _function_head_sign() -> Derivation:
    """f is declared positive; 'f(v) := -1' contradicts it: -1 >= 0 follows."""
    return (Derivation("f-head-sign").start(sp.Integer(-1)).equals(f_pos(x), by=definition("f", f_pos(V), sp.Integer(-1)))
            .geq(0, by=TRIVIAL))


def _function_head_sign_lemma() -> str:
    return verdict(ge("use-f-head", 0, 1, by=_function_head_sign().as_lemma()))


def _real_head_log() -> Derivation:
    g = sp.Function("g", real=True)
    return Derivation("g-real-log").start(g(x)).equals(sp.log(x), by=definition("g", g(V), sp.log(V)))


def _integer_head_half() -> Derivation:
    kint = sp.Symbol("Kint", integer=True)
    return Derivation("k-int-half").start(sp.Rational(1, 2)).equals(kint, by=definition("Kint", kint, sp.Rational(1, 2)))


def _positive_head_ramanujan() -> Derivation:
    gap = RAMANUJAN - RAMANUJAN_CEIL  # negative, about -7.5e-13
    return Derivation("kp-ramanujan").start(gap).equals(Kp, by=definition("Kp", Kp, gap)).geq(0, by=TRIVIAL)


def _positive_head_integral() -> Derivation:
    return (Derivation("kp-integral").start(-sp.Rational(1, 2)).equals(Kp, by=definition("Kp", Kp, sp.Integral(kp, (kp, -1, 0))))
            .geq(0, by=TRIVIAL))


DEFINITIONS = [
    ("two differently named definitions of K do not prove log s = s^2", "check",
     lambda: not_all_proved(_two_named_definitions)),
    ("a lemma from two differently named definitions of K does not prove log s = s^2", "false",
     _two_named_definitions_lemma),
    ("a definition inside a cited lemma and another in the citer do not prove s^2 = log s", "check",
     lambda: not_all_proved(_lemma_definition_vs_citer_definition)),
    ("mutually recursive definitions do not prove K = K + 1", "check", lambda: not_all_proved(_mutual_definitions)),
    ("a function-head definition against the declared sign does not prove -1 >= 0", "check",
     lambda: not_all_proved(_function_head_sign)),
    ("a function-head definition against the declared sign does not prove 0 >= 1", "false", _function_head_sign_lemma),
    ("a real function defined as log of a real argument is refused or not proved", "check",
     lambda: not_all_proved(_real_head_log)),
    ("an integer symbol defined as 1/2 is refused", "check", lambda: not_all_proved(_integer_head_half)),
    ("a positive symbol defined as Ramanujan's negative gap is refused", "check",
     lambda: not_all_proved(_positive_head_ramanujan)),
    ("a positive symbol defined as a negative integral is refused", "check", lambda: not_all_proved(_positive_head_integral)),
    ("a definition with a non-symbol head (K + 1) is refused", "false",
     lambda: verdict(eq("d1", K + 1, sp.log(s), by=definition("K plus one", K + 1, sp.log(s))))),
    ("a definition of log(w) is refused", "false",
     lambda: verdict(eq("d2", sp.log(s), s, by=definition("log", sp.log(W), W)))),
    ("a definition whose head applies the function to a symbol (not a pattern) is refused", "false",
     lambda: verdict(eq("d3", f_pos(x), 2, by=definition("f at x", f_pos(x), sp.Integer(2))))),
    ("a circular definition K := K + 1 is refused", "false",
     lambda: verdict(eq("d4", K, K + 1, by=definition("K", K, K + 1)))),
    ("a circular function definition f(v) := f(v) + 1 is refused", "false",
     lambda: verdict(eq("d5", f_pos(x), f_pos(x) + 1, by=definition("f", f_pos(V), f_pos(V) + 1)))),
    ("a nonzero symbol defined as 0 is refused", "check",
     lambda: not_all_proved(lambda: Derivation("nz").start(sp.Integer(0)).equals(
         sp.Symbol("Knz", nonzero=True), by=definition("Knz", sp.Symbol("Knz", nonzero=True), sp.Integer(0))))),
    ("a consistent definition still proves K = log s", "proved",
     lambda: verdict(eq("d6", K, sp.log(s), by=definition("K", K, sp.log(s))))),
    ("a consistent function definition still proves f(s) = s + 1", "proved",
     lambda: verdict(eq("d7", sp.Function("h", real=True)(x), x + 1,
                        by=definition("h", sp.Function("h", real=True)(VR), VR + 1)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(DEFINITIONS))
def test_definitions_introduce_names_consistently(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# B. Hypothesis obligations of instantiated lemmas (new code: hypotheses)
# ---------------------------------------------------------------------------
def _nested_axiom_instance() -> str:
    """A rests on the axiom log s = K; B cites A; B with s := 2s is no lemma: log 2s = K."""
    inner = eq("ax-inner", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    outer = eq("ax-outer", sp.log(s), K, by=inner).as_lemma()
    return verdict(eq("use-outer", sp.log(2 * s), K, by=instantiate(outer, {s: 2 * s})))


def _nested_normalised_density() -> str:
    """'q integrates to 1', one lemma deep, is no fact about exp(-z^2): its integral is sqrt(pi)."""
    inner = eq("q-norm-inner", QZ, 1, by=[integrability("finite"), axiom("q normalised", QZ, 1)]).as_lemma()
    outer = eq("q-norm-outer", QZ, 1, by=[integrability("finite"), inner]).as_lemma()
    return verdict(eq("use-q-outer", GAUSS, 1, by=instantiate(outer, {q: lambda v: sp.exp(-(v**2))})))


def _nested_definition_instance() -> str:
    inner = eq("def-inner", K, sp.log(s), by=definition("K-log", K, sp.log(s))).as_lemma()
    outer = eq("def-outer", K, sp.log(s), by=inner).as_lemma()
    return verdict(eq("use-def-outer", K, sp.log(2 * s), by=instantiate(outer, {s: 2 * s})))


def _three_deep_instance() -> str:
    rule = eq("deep-a0", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    for i in range(1, 3):
        rule = eq(f"deep-a{i}", sp.log(s), K, by=rule).as_lemma()
    return verdict(eq("use-deep-a", sp.log(2 * s), K, by=instantiate(rule, {s: 2 * s})))


def _discharged_instance() -> str:
    lemma = eq("ax-s5", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    return verdict(eq("use-ax-s5", sp.log(2 * s), K,
                      by=[instantiate(lemma, {s: 2 * s}), axiom("K is log 2s", sp.log(2 * s), K)]))


def _discharged_by_lemma() -> str:
    """A hypothesis is discharged only by a cited axiom/definition/inequality, never by a lemma."""
    lemma = eq("ax-s6", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    inst = instantiate(lemma, {s: 2 * s})
    return verdict(eq("use-ax-s6", sp.log(2 * s), K, by=[inst, inst]))


def _discharged_elsewhere() -> str:
    """The instance hypothesis cited by a *different* derivation does not count."""
    lemma = eq("ax-s7", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    inst = instantiate(lemma, {s: 2 * s})
    checker = Checker(CONFIG)
    check_derivation(eq("elsewhere", sp.log(2 * s), K, by=[inst, axiom("K is log 2s", sp.log(2 * s), K)]), checker=checker)
    return verdict(eq("use-ax-s7", sp.log(2 * s), K, by=inst), checker=checker)


def _inequality_hypothesis() -> str:
    """A lemma resting on the inequality K - s >= 0 does not give K >= 2s."""
    lemma = ge("k-ge-s", K, s, by=inequality("K above s", K - s, "K >= s")).as_lemma()
    return verdict(ge("use-k-ge", K, 2 * s, by=instantiate(lemma, {s: 2 * s})))


def _cov_hypothesis() -> str:
    """A lemma proved with the shift z = u + s, cited as it is."""
    lemma = eq("cov-h", GAUSS, sp.sqrt(sp.pi), by=change_of_variables("shift", z, u, u + s)).as_lemma()
    return verdict(eq("use-cov-h", GAUSS, sp.sqrt(sp.pi), by=lemma))


def _cov_hypothesis_instance() -> str:
    """The same lemma with s := 2s is true (sqrt(pi)); without the shifted instance it is not proved, never refuted."""
    lemma = eq("cov-h2", GAUSS, sp.sqrt(sp.pi), by=change_of_variables("shift", z, u, u + s)).as_lemma()
    return verdict(eq("use-cov-h2", GAUSS, sp.sqrt(sp.pi), by=instantiate(lemma, {s: 2 * s})))


def _stateful_hypothesis() -> str:
    """A callable that answers q(v) only to the hypothesis check, exp(-v^2) elsewhere."""
    lemma = eq("q-norm-st", QZ, 1, by=[integrability("finite"), axiom("q normalised", QZ, 1)]).as_lemma()

    def sneaky(v):
        names = {frame.function for frame in inspect.stack()[1:12]}
        return q(v) if "hypotheses" in names else sp.exp(-(v**2))

    try:
        inst = instantiate(lemma, {q: sneaky})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-q-st", GAUSS, 1, by=inst))


def _swap_mapping() -> str:
    """{s: p, p: s} is applied in order: the instance is log p = K_s... never an unchecked swap."""
    lemma = eq("ax-sp", sp.log(s) + sp.log(p), K, by=axiom("K is log sp", sp.log(s) + sp.log(p), K)).as_lemma()
    try:
        inst = instantiate(lemma, {s: 2 * p, p: s})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-sp", sp.log(2 * s) + sp.log(s), K, by=inst))


def _nested_stateful_hypothesis() -> str:
    """The lying callable one lemma down: B cites A{q := sneaky}; then B is cited as it is."""
    inner = eq("q-norm-in-st", QZ, 1, by=[integrability("finite"), axiom("q normalised", QZ, 1)]).as_lemma()

    def sneaky(v):
        names = {frame.function for frame in inspect.stack()[1:14]}
        return q(v) if names & {"hypotheses", "_premises"} else sp.exp(-(v**2))

    try:
        outer = eq("q-norm-out-st", GAUSS, 1, by=[integrability("finite"), instantiate(inner, {q: sneaky})]).as_lemma()
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-q-out-st", GAUSS, 1, by=outer))


def _nested_hypothesis_capture() -> str:
    """K = s/2 rests (one lemma deep) on K = ∫_0^1 s tp dtp; s := tp moves it under the binder."""
    inner = eq("cap-in", K, s / 2, by=axiom("K is half s", K, sp.Integral(s * tp, (tp, 0, 1)))).as_lemma()
    outer = eq("cap-out", K, s / 2, by=inner).as_lemma()
    try:
        inst = instantiate(outer, {s: tp})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("cap-out-use", K, tp / 2, by=[inst, axiom("K is a third", K, sp.Integral(tp * tp, (tp, 0, 1)))]))


HYPOTHESES = [
    ("an axiom one lemma deep still constrains an instance: log 2s = K is not proved", "false", _nested_axiom_instance),
    ("'q normalised' one lemma deep does not make the Gaussian integral 1", "false", _nested_normalised_density),
    ("a definition one lemma deep still constrains an instance: K = log 2s is not proved", "false",
     _nested_definition_instance),
    ("an axiom three lemmas deep still constrains an instance", "false", _three_deep_instance),
    ("a callable that lies only to the hypothesis check does not make the Gaussian integral 1", "false",
     _stateful_hypothesis),
    ("a callable lying to the premise check one lemma down does not make the Gaussian integral 1", "false",
     _nested_stateful_hypothesis),
    ("a lemma hypothesis one lemma deep is not instantiated under its own binder", "false", _nested_hypothesis_capture),
    ("a lemma instance never discharges its own hypothesis", "false", _discharged_by_lemma),
    ("a hypothesis discharged in another derivation does not count here", "false", _discharged_elsewhere),
    ("an inequality hypothesis constrains an instance: K >= 2s is not proved", "false", _inequality_hypothesis),
    ("an instance with the swapped mapping is not proved without its hypothesis", "false", _swap_mapping),
    ("a lemma resting on a shift is still proved when cited as it is", "proved", _cov_hypothesis),
    ("its instance with a moved shift is true: never refuted", "true", _cov_hypothesis_instance),
    ("an instance whose hypothesis is cited is still proved", "proved", _discharged_instance),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(HYPOTHESES))
def test_lemma_instances_carry_their_hypotheses(expect, thunk):
    run_case(expect, thunk)
