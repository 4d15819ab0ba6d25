"""Round-4 red team against the trusted core (issue 8).

Each attack is a tiny derivation.  The expectation is the mathematically
correct behaviour, decided by hand (and with mpmath where numbers matter):

* ``false``: the claim is false (or meaningless): it must not be ``proved``;
* ``true``: the claim is true: it must not be ``refuted``;
* ``proved``: a true claim inside the fragment: the core must still prove it;
* ``check``: the attack returns ``True`` when the defence held.

Attacks that fail today are soundness holes; they are written to pass once
fixed.  Every attack keeps ``step_timeout`` at 5 s or less.

Sections 7-10 (special functions, hand-built rules, convergence, false refutation) are in
``test_round4_rules_and_numerics.py``; sections 11-12 (crashes, capture) and "the core stays
useful" in ``test_round4_crashes_and_capture.py``.

Sections 4-6 (ledger, mutation, bound variables) are in ``test_round4_ledger_and_binders.py``.
"""

from __future__ import annotations

import gc

import pytest
import sympy as sp
from _harness import (
    CONFIG,
    cases,
    eq,
    ge,
    le,
    raises_usage,
    run_case,
    verdict,
)
from _vocab import (
    ABSURD,
    CUBE_ROOT_M1,
    GAUSS,
    QZ,
    R,
    W,
    a,
    p,
    q,
    s,
    t,
    u,
    x,
    y,
    z,
)

from elbo_check import CheckConfig, Checker, Derivation, check_derivation
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
# 1. Wild pattern assumptions
# ---------------------------------------------------------------------------
def _inst_wild_for_positive_symbol() -> bool:
    rule = axiom("log square", sp.log(p**2), 2 * sp.log(p))
    try:
        inst = instantiate(rule, {p: sp.Wild("w2", positive=True)})
    except (DerivationError, UsageError):
        return True
    return verdict(eq("inst-wild", sp.log(x**2), 2 * sp.log(x), by=inst)) != "proved"


def _defined_symbol_instance() -> str:
    """A lemma K = log(s) holds only because K is defined so; K := s^2 is no instance of it."""
    big = sp.Symbol("K", real=True)
    lemma = eq("def-k", big, sp.log(s), by=definition("K", big, sp.log(s))).as_lemma()
    try:
        inst = instantiate(lemma, {big: s**2})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-def-k", s**2, sp.log(s), by=inst))


def _axiom_symbol_instance() -> str:
    """A lemma log(s) = K resting on the axiom log(s) = K does not hold for 2s in place of s."""
    big = sp.Symbol("K", real=True)
    lemma = eq("ax-s", sp.log(s), big, by=axiom("K is log s", sp.log(s), big)).as_lemma()
    try:
        inst = instantiate(lemma, {s: 2 * s})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-ax-s", sp.log(2 * s), big, by=inst))


def _normalised_density_instance() -> str:
    """'q integrates to 1' (an axiom about q) is no fact about exp(-z^2): its integral is sqrt(pi)."""
    lemma = eq("q-norm", QZ, 1, by=[integrability("finite"), axiom("q normalised", QZ, 1)]).as_lemma()
    try:
        inst = instantiate(lemma, {q: lambda v: sp.exp(-(v**2))})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-q-norm", GAUSS, 1, by=inst))


def _nonreal_wild() -> str:
    """log(1/w) = -log(w) holds for every non-real w, and fails at w = -1; real=False must be enforced."""
    w = sp.Wild("w", real=False)
    big = sp.Symbol("K", real=True)
    rules = [axiom("log of an inverse, w not real", sp.log(1 / w), -sp.log(w)),
             definition("K", big, -sp.log(x))]
    return verdict(eq("nonreal-wild", sp.log(1 / x), big, by=rules))


def _inst_value(value) -> bool:
    rule = axiom("log square", sp.log(p**2), 2 * sp.log(p))
    return raises_usage(lambda: instantiate(rule, {p: value}))


WILD = [
    ("positive wild does not prove log x^2 = 2 log x for real x", "false",
     lambda: verdict(eq("w1", sp.log(x**2), 2 * sp.log(x), by=axiom("lsq", sp.log(W**2), 2 * sp.log(W))))),
    ("positive wild inequality does not prove x + 1/x >= 2 for real x", "false",
     lambda: verdict(ge("w2", x + 1 / x, 2, by=inequality("amgm", W + 1 / W - 2, "w + 1/w >= 2")))),
    ("nonnegative wild inequality does not prove x >= 0 for real x", "false",
     lambda: verdict(ge("w3", x, 0, by=inequality("nn", sp.Wild("v", nonnegative=True), "v >= 0")))),
    ("negative wild inequality does not prove y <= 0 for real y", "false",
     lambda: verdict(le("w4", y, 0, by=inequality("neg", -sp.Wild("v", negative=True), "v <= 0")))),
    ("integer wild does not prove (y^2)^a = y^(2a) for real a", "false",
     lambda: verdict(eq("w5", (y**2) ** a, y ** (2 * a),
                        by=axiom("pow", (sp.Wild("b") ** 2) ** sp.Wild("m", integer=True),
                                 sp.Wild("b") ** (2 * sp.Wild("m", integer=True)))))),
    ("positive wilds do not split log(y * (-s)) for real y", "false",
     lambda: verdict(eq("w6", sp.log(y * (-s)), sp.log(y) + sp.log(-s),
                        by=axiom("logmul", sp.log(W * sp.Wild("v", positive=True)),
                                 sp.log(W) + sp.log(sp.Wild("v", positive=True)))))),
    ("positive wild does not prove x - 1 - log x >= 0 for real x", "false",
     lambda: verdict(ge("w7", x - 1 - sp.log(x), 0, by=inequality("log", W - 1 - sp.log(W), "log w <= w-1")))),
    ("positive wild does not match a bound variable ranging over [-2, -1]", "false",
     lambda: verdict(ge("w8", sp.Integral(t, (t, -2, -1)), 0, by=inequality("pos", W, "w >= 0")))),
    ("instantiate refuses a positive Wild as value of a positive symbol", "check", _inst_wild_for_positive_symbol),
    ("instantiate refuses a real value for a positive symbol", "check", lambda: _inst_value(x)),
    ("instantiate refuses a negative value for a positive symbol", "check", lambda: _inst_value(-s)),
    ("instantiate refuses s - 1 for a positive symbol", "check", lambda: _inst_value(s - 1)),
    ("instantiate refuses a complex constant for a positive symbol", "check", lambda: _inst_value(CUBE_ROOT_M1)),
    ("a real wild does not match a complex value", "false",
     lambda: verdict(ge("w9", (CUBE_ROOT_M1 * s) ** 2, 0))),
    ("integer wild does not prove x^2 - x >= 0 for real x", "false",
     lambda: verdict(ge("w11", x**2 - x, 0, by=inequality("int", sp.Wild("m", integer=True) ** 2 - sp.Wild("m", integer=True),
                                                          "m^2 >= m for integers")))),
    ("nonpositive wild does not prove -x >= 0 for real x", "false",
     lambda: verdict(ge("w12", -x, 0, by=inequality("np", -sp.Wild("v", nonpositive=True), "v <= 0")))),
    ("instantiate refuses x^2 (only non-negative) for a positive symbol", "check", lambda: _inst_value(x**2)),
    ("instantiating a defined symbol does not prove s^2 = log s", "false", _defined_symbol_instance),
    ("instantiating a symbol an axiom constrains does not prove log 2s = K", "false", _axiom_symbol_instance),
    ("a positive wild on a bound variable of [1, 2] still proves the integral non-negative", "proved",
     lambda: verdict(ge("w13", sp.Integral(t, (t, 1, 2)), 0, by=inequality("pos", W, "w >= 0")))),
    ("a wild declared real=False does not match a real x", "false", _nonreal_wild),
    ("a wild declared real and positive=False does not prove -s >= 0 for positive s", "false",
     lambda: verdict(ge("w14", -s, 0, by=inequality("w <= 0", -sp.Wild("v", real=True, positive=False),
                                                    "-w >= 0 for real w that is not positive")))),
    ("a wild declared integer and nonzero=False does not match a nonzero value", "false",
     lambda: verdict(eq("w15", s * 5, 0, by=axiom("w = 0", sp.Wild("v", integer=True, nonzero=False) * 5, sp.Integer(0))))),
    ("positive wild still proves log s^2 = 2 log s for positive s", "proved",
     lambda: verdict(eq("w10", sp.log(s**2), 2 * sp.log(s), by=axiom("lsq", sp.log(W**2), 2 * sp.log(W))))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(WILD))
def test_wild_assumptions_are_enforced_at_every_match(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 2. Caches and state between steps or derivations
# ---------------------------------------------------------------------------
def _two(first: Derivation, second: Derivation) -> str:
    checker = Checker(CONFIG)
    check_derivation(first, checker=checker)
    return verdict(second, checker=checker)


def _lemma_then_plain() -> str:
    lemma = eq("absurd-lemma", sp.log(s**2), 0, by=ABSURD).as_lemma()
    checker = Checker(CONFIG)
    check_derivation(eq("cites", sp.log(s**2), 0, by=lemma), checker=checker)
    return verdict(eq("plain", sp.log(s**2), 0, by="nothing"), checker=checker)


def _gc_reuse() -> str:
    checker = Checker(CONFIG)
    for _ in range(3):
        check_derivation(eq("gc", sp.log(s), 0, by=ABSURD), checker=checker)
        gc.collect()
    return verdict(eq("gc", sp.log(s), 0, by="nothing"), checker=checker)


def _same_step_object() -> str:
    first = eq("shared", sp.log(s), 0, by=ABSURD)
    second = Derivation("shared").start(sp.log(s)).equals(0, by="nothing")
    return _two(first, second)


def _tiny_timeout_lemma() -> str:
    checker = Checker(CheckConfig(step_timeout=1e-9))
    lemma = eq("tiny-l", sp.log(s**2), 3 * sp.log(s), by="oops")
    check_derivation(lemma, checker=checker)
    return verdict(eq("tiny-use", sp.log(s**2), 3 * sp.log(s), by=lemma.as_lemma()), checker=checker)


def _reassigned_cycle() -> str:
    first = eq("cyc-a", sp.log(s), 0, by="by b")
    second = eq("cyc-b", sp.log(s), 0, by="by a")
    lemma_b = second.as_lemma()
    first.assume(lemma_b)
    lemma_a = first.as_lemma()
    try:
        second.assumptions = (lemma_a,)
    except (DerivationError, UsageError, AttributeError):
        return "undecided"
    return verdict(first)


def _foreign_step() -> str:
    """A reused Checker asked about another derivation's step must not return a cached decision."""
    good = eq("good", sp.log(s**2), 2 * sp.log(s), by="log rule")
    bad = eq("bad", sp.log(s), 0, by="oops")
    checker = Checker(CONFIG)
    checker.check(good)
    try:
        return checker.check_step(bad.steps[0], good).verdict.value
    except (DerivationError, UsageError):
        return "undecided"


def _circular() -> str:
    first = eq("circ-a", sp.log(s), 0, by="a")
    lemma_a = first.as_lemma()
    second = eq("circ-b", sp.log(s), 0, by=lemma_a)
    third = eq("circ-c", sp.log(s), 0, by=second.as_lemma())
    return verdict(third)



CACHES = [
    ("an absurd axiom in one derivation does not prove a later uncited step", "false",
     lambda: _two(eq("c1", sp.log(s), 0, by=ABSURD), eq("c2", sp.log(s), 0, by="nothing"))),
    ("an absurd integral axiom does not leak through the convergence cache", "false",
     lambda: _two(eq("c3", sp.Integral(u**2, (u, -R, R)), 0, by=axiom("div", sp.Integral(u**2, (u, -R, R)), 0)),
                  eq("c4", sp.sqrt(sp.pi), sp.sqrt(sp.pi) + 7 * sp.Integral(u**2, (u, -R, R)), by="nothing"))),
    ("integrability in one derivation does not carry over to the next", "false",
     lambda: _two(eq("c5", sp.Integral(q(z) + q(z) * z, (z, -R, R)), QZ + sp.Integral(q(z) * z, (z, -R, R)),
                     by=integrability("finite")),
                  eq("c6", sp.Integral(q(z) + q(z) * z, (z, -R, R)), QZ + sp.Integral(q(z) * z, (z, -R, R)),
                     by="linearity"))),
    ("a same-named derivation does not inherit a cached decision", "false", _same_step_object),
    ("a same-named harmless axiom does not inherit the absurd one", "false",
     lambda: _two(eq("c7", sp.log(s), 0, by=axiom("A", sp.log(s), 0)),
                  eq("c8", sp.log(s), 0, by=axiom("A", s, s)))),
    ("a definition in one derivation does not define the symbol in another", "false",
     lambda: _two(eq("c9", sp.Symbol("K", real=True), sp.log(s), by=definition("K", sp.Symbol("K", real=True), sp.log(s))),
                  eq("c10", sp.Symbol("K", real=True), sp.log(s), by="nothing"))),
    ("a lemma resting on an absurd axiom does not prove a later uncited step", "false", _lemma_then_plain),
    ("repeated absurd derivations with garbage collection leak nothing", "false", _gc_reuse),
    ("a positive wild axiom in one derivation does not apply in the next", "false",
     lambda: _two(eq("c11", sp.log(s**2), 2 * sp.log(s), by=axiom("lsq", sp.log(W**2), 2 * sp.log(W))),
                  eq("c12", sp.log(s**2), 3 * sp.log(s), by="nothing"))),
    ("a change of variables in one derivation is not reused by the next", "false",
     lambda: _two(eq("c13", GAUSS, sp.sqrt(sp.pi), by=change_of_variables("sh", z, u, u + 1)),
                  eq("c14", GAUSS, sp.sqrt(sp.pi) / 2, by="nothing"))),
    ("circular lemmas through one checker are not proved", "false", _circular),
    ("a reused checker does not prove another derivation's step from a cached decision", "false", _foreign_step),
    ("a lemma cycle made by reassigning assumptions is not proved and does not crash", "false", _reassigned_cycle),
    ("an undecided lemma (tiny timeout) does not become proved through a cache", "false", _tiny_timeout_lemma),
    ("checking the same derivation twice gives the same proved verdict", "proved",
     lambda: _two(eq("c15", sp.log(s**2), 2 * sp.log(s)), eq("c16", sp.log(s**2), 2 * sp.log(s)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CACHES))
def test_no_state_leaks_between_steps_or_derivations(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 3. Complex values
# ---------------------------------------------------------------------------
def _cov_refused(mapping) -> bool:
    try:
        rule = change_of_variables("complex shift", z, u, mapping)
    except (DerivationError, UsageError):
        return True
    d = eq("cplx-cov", sp.Integral(1 / (1 + z**2), (z, -R, R)), 0, by=rule)
    return verdict(d) != "proved"


COMPLEX = [
    ("a shift by a complex cube root of -1 is refused", "check", lambda: _cov_refused(u + 2 * CUBE_ROOT_M1)),
    ("a shift by sqrt(-s) is refused", "check", lambda: _cov_refused(u + sp.sqrt(-s))),
    ("a shift by the cube root of a real x is refused", "check", lambda: _cov_refused(u + x ** sp.Rational(1, 3))),
    ("a scale by a complex constant is refused", "check", lambda: _cov_refused(CUBE_ROOT_M1 * u)),
    ("log(-s) = log(s) is not proved", "false", lambda: verdict(eq("x1", sp.log(-s), sp.log(s)))),
    ("2 log(-s) = log(s^2) is not proved", "false", lambda: verdict(eq("x2", 2 * sp.log(-s), sp.log(s**2)))),
    ("a complex symbol does not get log c^2 = 2 log c", "false",
     lambda: verdict(eq("x3", sp.log(sp.Symbol("c") ** 2), 2 * sp.log(sp.Symbol("c"))))),
    ("(-8)^(1/3) = 2 is not proved", "false", lambda: verdict(eq("x4", (-8) ** sp.Rational(1, 3), 2))),
    ("x^(2/3) >= 0 for real x is not proved (complex for x < 0)", "false",
     lambda: verdict(ge("x5", x ** sp.Rational(2, 3), 0))),
    ("(x^2)^(1/3) = x^(2/3) for real x is not proved", "false",
     lambda: verdict(eq("x6", (x**2) ** sp.Rational(1, 3), x ** sp.Rational(2, 3)))),
    ("log(exp(c s)) = c s with complex c is not proved", "false",
     lambda: verdict(eq("x7", sp.log(sp.exp(CUBE_ROOT_M1 * s)), CUBE_ROOT_M1 * s))),
    ("an order between complex numbers is not proved", "false",
     lambda: verdict(ge("x8", x + CUBE_ROOT_M1, x - 1 + CUBE_ROOT_M1))),
    ("an integral whose limit is complex is not a real integral", "false",
     lambda: verdict(eq("x9", sp.Integral(sp.Integral(sp.Abs(sp.Symbol("w")) ** 2, (sp.Symbol("w"), 0, CUBE_ROOT_M1 * y)),
                                          (y, 0, 1)), -sp.Rational(1, 12)))),
    ("an order between cube roots of a real x is not proved (complex for x < 0)", "false",
     lambda: verdict(ge("x12", x ** sp.Rational(1, 3), x ** sp.Rational(1, 3) - 1))),
    ("exp(c s) >= 0 with complex c is not proved", "false", lambda: verdict(ge("x13", sp.exp(CUBE_ROOT_M1 * s), 0))),
    ("sqrt(x y) = sqrt(x) sqrt(y) for real x, y is not proved", "false",
     lambda: verdict(eq("x14", sp.sqrt(x * y), sp.sqrt(x) * sp.sqrt(y)))),
    ("log(x y) = log x + log y for real x, y is not proved", "false",
     lambda: verdict(eq("x15", sp.log(x * y), sp.log(x) + sp.log(y)))),
    ("|exp(c s)| = exp(s/2) is true and not refuted", "true",
     lambda: verdict(eq("x16", sp.Abs(sp.exp(CUBE_ROOT_M1 * s)), sp.exp(s / 2)))),
    ("((-1)^(1/3))^3 = -1 is true and not refuted", "true", lambda: verdict(eq("x10", CUBE_ROOT_M1**3 * s, -s))),
    ("|x|^(2/3) = (x^2)^(1/3) is true and not refuted", "true",
     lambda: verdict(eq("x11", sp.Abs(x) ** sp.Rational(2, 3), (x**2) ** sp.Rational(1, 3)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(COMPLEX))
def test_complex_values_never_sneak_into_a_proof(expect, thunk):
    run_case(expect, thunk)
