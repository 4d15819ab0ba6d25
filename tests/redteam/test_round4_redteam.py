"""Round-4 red team against the trusted core (issue 8).

Each attack is a tiny derivation.  The expectation is the mathematically
correct behaviour, decided by hand (and with mpmath where numbers matter):

* ``false``: the claim is false (or meaningless): it must not be ``proved``;
* ``true``: the claim is true: it must not be ``refuted``;
* ``proved``: a true claim inside the fragment: the core must still prove it;
* ``check``: the attack returns ``True`` when the defence held.

Attacks that fail today are soundness holes; they are written to pass once
fixed.  Every attack keeps ``step_timeout`` at 5 s or less.

Sections 7-12 (special functions, hand-built rules, convergence, false refutation, crashes, capture) and "the core stays useful" are in ``test_round4_rules_and_numerics.py``.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from collections.abc import Callable

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

from elbo_check import CheckConfig, Checker, Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    Rule,
    axiom,
    change_of_variables,
    definition,
    inequality,
    instantiate,
    integrability,
    side_condition,
)

x, y = sp.symbols("x y", real=True)
s, p = sp.symbols("s p", positive=True)
t, u, z, k = sp.symbols("t u z k", real=True)
a = sp.Symbol("a", real=True)
n = sp.Symbol("n", integer=True)
q = sp.Function("q", positive=True)
W = sp.Wild("w", positive=True)
R = sp.oo
CUBE_ROOT_M1 = (-1) ** sp.Rational(1, 3)  # a complex constant built from fragment nodes only
ABSURD = axiom("absurd", sp.log(s), sp.Integer(0))


def ledger_shows(d: Derivation) -> list[str]:
    return [f"{e.name}|{e.statement}|{e.shows}" for e in check_derivation(d, CONFIG).ledger]


def refused_or_not_proved(build: Callable[[], Derivation]) -> bool:
    """The attack holds when the forged input is refused at build time or not proved."""
    try:
        d = build()
    except (DerivationError, UsageError):
        return True
    return verdict(d) != "proved"


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


GAUSS = sp.Integral(sp.exp(-(z**2)), (z, -R, R))
QZ = sp.Integral(q(z), (z, -R, R))

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


# ---------------------------------------------------------------------------
# 4. Hidden lemma axioms: the ledger is complete and honest
# ---------------------------------------------------------------------------
ABSURD_SHOWS = "log(s) → 0"


def _axiom_shown(d: Derivation, shows: str = ABSURD_SHOWS) -> bool:
    """Some ledger entry of kind axiom shows exactly ``shows`` (not merely a lemma with that statement)."""
    return any(e.kind == "axiom" and e.shows == shows for e in check_derivation(d, CONFIG).ledger)


def _shows_absurd(d: Derivation) -> bool:
    return _axiom_shown(d)


def _lemma_chain(depth: int) -> Rule:
    rule = eq("deep-0", sp.log(s), 0, by=[ABSURD]).as_lemma()
    for i in range(1, depth):
        rule = eq(f"deep-{i}", sp.log(s), 0, by=[rule]).as_lemma()
    return rule


def _collision_lemma() -> bool:
    lemma = eq("col-lemma", sp.log(s), 0, by=[axiom("A", sp.log(s), 0, statement="harmless")]).as_lemma()
    d = eq("col-use", sp.log(s), 0, by=[side_condition("A", "harmless"), lemma])
    return _axiom_shown(d)


def _collision_steps() -> bool:
    d = (Derivation("col-steps").start(sp.log(s)).equals(sp.log(s), by=axiom("A", s, s))
         .equals(0, by=[axiom("A", sp.log(s), 0)]))
    return _axiom_shown(d)


class _HideAssumptions(Derivation):
    """Shows the absurd axiom to the core, and nothing to anyone else."""

    @property
    def assumptions(self):  # type: ignore[override]
        return (ABSURD,) if sys._getframe(1).f_code.co_name in ("decide", "_decide") else ()

    @assumptions.setter
    def assumptions(self, value):
        pass


def _hidden_assumptions() -> bool:
    result = check_derivation(_HideAssumptions("hide").start(sp.log(s)).equals(0, by="nothing"), CONFIG)
    if result.steps[0].verdict.value != "proved":
        return True
    return any(e.shows == ABSURD_SHOWS for e in result.ledger)


class EvilLog(sp.log):
    """A log subclass (so an Operator of the fragment) that expands to 0 and prints as log."""

    def _eval_expand_log(self, **hints):
        return sp.Integer(0)

    def _sympystr(self, printer):
        return f"log({printer._print(self.args[0])})"


class ZeroSymbol(sp.Symbol):
    def _eval_expand_mul(self, **hints):
        return sp.Integer(0)


class ZeroAdd(sp.Add):
    def _eval_expand_mul(self, **hints):
        return sp.Integer(0)


def _two_definitions_chain() -> Derivation:
    big = sp.Symbol("K", real=True)
    return (Derivation("two-defs").start(sp.log(s)).equals(big, by=definition("K", big, sp.log(s)))
            .equals(s**2, by=definition("K", big, s**2)))


def _two_definitions_ledger() -> bool:
    """Both definitions of K must show: each proved link used one of them."""
    shows = {e.shows for e in check_derivation(_two_definitions_chain(), CONFIG).ledger}
    return {"K → log(s)", "K → s**2"} <= shows


def _two_definitions_lemma() -> str:
    return verdict(eq("use-two-defs", sp.log(s), s**2, by=_two_definitions_chain().as_lemma()))


def _underscore_symbol() -> bool:
    hidden = sp.Symbol("_p", positive=True)
    d = eq("underscore", sp.log(hidden**2), 2 * sp.log(hidden))
    return any("_p" in line and "positive" in line for line in ledger_shows(d))


def _symbol_only_in_rule() -> bool:
    big_k = sp.Symbol("K", real=True)
    d = eq("only-in-rule", sp.Abs(big_k), big_k, by=axiom("K is p", big_k, p))
    lines = ledger_shows(d)
    return any("p" in line.split("|")[0] and "positive" in line for line in lines)


LEDGER = [
    ("a lemma's absurd axiom is in the citing derivation's ledger", "check",
     lambda: _shows_absurd(eq("l1", sp.log(s), 0, by=_lemma_chain(1)))),
    ("an absurd axiom three lemmas deep is in the ledger", "check",
     lambda: _shows_absurd(eq("l2", sp.log(s), 0, by=_lemma_chain(3)))),
    ("a lemma cited through assumptions brings its axioms into the ledger", "check",
     lambda: _shows_absurd(Derivation("l3", assumptions=[_lemma_chain(1)]).start(sp.log(s)).equals(0, by="lemma"))),
    ("an instantiated lemma brings its axioms into the ledger", "check",
     lambda: _shows_absurd(eq("l4", sp.log(s), 0, by=instantiate(_lemma_chain(1), {s: s})))),
    ("a side condition named like a lemma's axiom does not hide it", "check", _collision_lemma),
    ("two cited axioms with the same name both show in the ledger", "check", _collision_steps),
    ("two definitions of K with the same name both show in the ledger", "check", _two_definitions_ledger),
    ("an axiom whose statement lies still shows lhs -> rhs", "check",
     lambda: any("log(s) → 0" in line for line in
                 ledger_shows(eq("l5", sp.log(s), 0, by=axiom("tiny", sp.log(s), 0, statement="x = x"))))),
    ("an inequality shows expr >= 0", "check",
     lambda: any("≥ 0" in line for line in ledger_shows(ge("l6", s**2, 0)))),
    ("a lemma's integrability side condition is in the ledger", "check",
     lambda: any("integrab" in line.lower() for line in ledger_shows(
         eq("l7", sp.Integral(q(z) * (1 + z), (z, -R, R)), QZ + sp.Integral(q(z) * z, (z, -R, R)),
            by=eq("l7-lemma", sp.Integral(q(z) * (1 + z), (z, -R, R)),
                  QZ + sp.Integral(q(z) * z, (z, -R, R)), by=integrability("finite")).as_lemma())))),
    ("a symbol named with a leading underscore still has its assumption in the ledger", "check",
     _underscore_symbol),
    ("a symbol only in a cited rule has its assumption in the ledger", "check", _symbol_only_in_rule),
    ("a subclass that hides its assumptions from the ledger does not keep a proof", "check", _hidden_assumptions),
    ("instantiating q in a lemma that assumes q normalised does not prove the Gaussian integral is 1", "false",
     _normalised_density_instance),
    ("a log subclass printing as log does not prove log(s) = 0 with an empty ledger", "false",
     lambda: verdict(eq("l10", EvilLog(s), 0))),
    ("an axiom reached through a lemma is marked with the lemma it comes via", "check",
     lambda: any(e.via and "log(s) → 0" in e.shows for e in
                 check_derivation(eq("l8", sp.log(s), 0, by=_lemma_chain(2)), CONFIG).ledger)),
    ("the absurd lemma chain is proved (so the ledger checks above mean something)", "proved",
     lambda: verdict(eq("l9", sp.log(s), 0, by=_lemma_chain(2)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(LEDGER))
def test_ledger_lists_every_axiom_transitively_and_shows_what_it_does(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 5. Mutated chains and derivations
# ---------------------------------------------------------------------------
class _ForgedConclusion(Derivation):
    """A public subclass whose conclusions say something its steps do not."""

    @property
    def conclusions(self):  # type: ignore[override]
        return [(sp.log(s**2), "=", 3 * sp.log(s))]


def _forged_conclusion() -> str:
    d = _ForgedConclusion("forged").start(sp.log(s**2)).equals(2 * sp.log(s), by="log rule")
    try:
        lemma = d.as_lemma()
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-forged", sp.log(s**2), 3 * sp.log(s), by=lemma))


class _ShrinkingSteps(Derivation):
    """A subclass whose steps drop the false link once the chain is validated."""

    calls = 0

    @property
    def steps(self):  # type: ignore[override]
        frame = sys._getframe(1)
        if frame.f_code.co_name in ("derivation_proved",):
            return super().steps[:1]
        return super().steps


def _shrinking_steps() -> str:
    d = (_ShrinkingSteps("shrink").start(sp.log(s**2)).equals(2 * sp.log(s), by="log")
         .equals(3 * sp.log(s), by="oops"))
    try:
        lemma = d.as_lemma()
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-shrink", sp.log(s**2), 3 * sp.log(s), by=lemma))


def _assign_assumptions_after_check() -> bool:
    d = eq("m1", sp.log(s), 0, by="nothing")
    check_derivation(d, CONFIG)
    try:
        d.assumptions = (ABSURD,)
    except (DerivationError, UsageError, AttributeError, dataclasses.FrozenInstanceError):
        return True
    return verdict(eq("m1-use", sp.log(s), 0, by=d.as_lemma())) != "proved" or False


def _assign_assumptions_after_lemma() -> bool:
    d = eq("m2", sp.log(s), 0, by="nothing")
    d.as_lemma()
    try:
        d.assumptions = (ABSURD,)
    except (DerivationError, UsageError, AttributeError):
        return True
    return False


def _citation_list_mutated() -> str:
    rules: list = [axiom("harmless", s, s)]
    d = eq("m3", sp.log(s), 0, by=rules)
    rules.append(ABSURD)
    return verdict(d)


def _mapping_mutated() -> str:
    mapping = {p: s}
    inst = instantiate(axiom("lsq", sp.log(p**2), 2 * sp.log(p)), mapping)
    mapping[p] = x
    return verdict(eq("m4", sp.log(x**2), 2 * sp.log(x), by=inst))


def _forged_lemma_replace() -> bool:
    lemma = eq("m5-lemma", sp.log(s**2), 2 * sp.log(s), by="log").as_lemma()
    return refused_or_not_proved(
        lambda: eq("m5", sp.log(s), 0, by=dataclasses.replace(lemma, lhs=sp.log(s), rhs=sp.Integer(0))))


def _forged_origin_chain() -> bool:
    d = Derivation("m6").start(sp.log(s**2)).equals(2 * sp.log(s), by="log")
    d.start(sp.log(s)).equals(0, by="oops")
    lemma = d.as_lemma(chain=0)
    forged = dataclasses.replace(lemma, origin=dataclasses.replace(lemma.origin, chain=1),
                                 lhs=sp.log(s), rhs=sp.Integer(0))
    return refused_or_not_proved(lambda: eq("m6-use", sp.log(s), 0, by=forged))


def _wild_properties_mutated() -> bool:
    w = sp.Wild("wm", positive=True)
    rule = axiom("lsq", sp.log(w**2), 2 * sp.log(w))
    try:
        w.properties = (lambda e: True,)
    except (AttributeError, TypeError):
        return True
    return verdict(eq("m7", sp.log(x**2), 2 * sp.log(x), by=rule)) != "proved"


MUTATION = [
    ("a subclass that forges its conclusions does not make a false lemma", "false", _forged_conclusion),
    ("a subclass whose steps shrink during the proof does not make a false lemma", "false", _shrinking_steps),
    ("assumptions cannot be reassigned after a check", "check", _assign_assumptions_after_check),
    ("assumptions cannot be reassigned after as_lemma", "check", _assign_assumptions_after_lemma),
    ("adding a step after a check raises", "check",
     lambda: raises_usage(lambda: (lambda d: (check_derivation(d, CONFIG), d.equals(0, by="x")))(eq("m8", s, s)))),
    ("assume after as_lemma raises", "check",
     lambda: raises_usage(lambda: (lambda d: (d.as_lemma(), d.assume(ABSURD)))(eq("m9", s, s)))),
    ("start after citing raises", "check",
     lambda: raises_usage(lambda: (lambda d: (d.as_lemma(), d.start(s)))(eq("m10", s, s)))),
    ("a citation list mutated after building changes nothing", "false", _citation_list_mutated),
    ("a mapping mutated after instantiate changes nothing", "false", _mapping_mutated),
    ("a lemma forged with dataclasses.replace is refused", "check", _forged_lemma_replace),
    ("a lemma whose origin points at another chain is refused", "check", _forged_origin_chain),
    ("a Wild's properties set after the rule was built do not slip through", "check", _wild_properties_mutated),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(MUTATION))
def test_mutated_chains_and_derivations_never_prove_more(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 6. Bound variables of binders
# ---------------------------------------------------------------------------
kp = sp.Symbol("kp", positive=True)
NONNEG_WILD = inequality("non-negative", sp.Wild("v", nonnegative=True), "v >= 0")

BINDERS = [
    ("a Sum over negative k does not prove log k^2 = 2 log k", "false",
     lambda: verdict(eq("b1", sp.Sum(sp.log(kp**2) - 2 * sp.log(kp), (kp, -3, -1)), 0))),
    ("a Sum of negative k is not proved non-negative", "false",
     lambda: verdict(ge("b2", sp.Sum(kp, (kp, -3, -1)), 0, by=NONNEG_WILD))),
    ("a Product over negative k is out of the fragment", "false",
     lambda: verdict(eq("b3", sp.Product(sp.Abs(kp) / kp, (kp, -3, -1)), 1))),
    ("Subs at a negative point does not keep the positive sign", "false",
     lambda: verdict(eq("b4", sp.Subs(sp.log(kp**2) - 2 * sp.log(kp), kp, -1), 0))),
    ("Limit towards a negative point does not keep the positive sign", "false",
     lambda: verdict(eq("b5", sp.Limit(sp.log(kp**2) - 2 * sp.log(kp), kp, -1), 0))),
    ("an inner variable on [-y, 0] is not non-negative", "false",
     lambda: verdict(ge("b6", sp.Integral(sp.Integral(t, (t, -y, 0)), (y, 0, 1)), 0, by=NONNEG_WILD))),
    ("reversed limits are not monotone", "false",
     lambda: verdict(ge("b7", sp.Integral(t, (t, 1, 0)), 0, by=NONNEG_WILD))),
    ("a variable on [-1, 0] written with reversed limits is not <= 0 integrated", "false",
     lambda: verdict(le("b8", sp.Integral(t, (t, 0, -1)), 0, by=NONNEG_WILD))),
    ("an inner upper limit y on [-1, 0] is not ordered", "false",
     lambda: verdict(ge("b9", sp.Integral(sp.Integral(1, (t, 0, y)), (y, -1, 0)), 0, by=NONNEG_WILD))),
    ("a variable declared positive but integrated over [-1, 0] loses its sign", "false",
     lambda: verdict(ge("b10", sp.Integral(kp, (kp, -1, 0)), 0, by=NONNEG_WILD))),
    ("the same variable bound twice is integrated twice", "false",
     lambda: verdict(eq("b11", sp.Integral(sp.Integral(t, (t, 0, 1)), (t, 0, 1)), sp.Rational(1, 4)))),
    ("a limit that names the integration variable refers to the free one", "false",
     lambda: verdict(eq("b12", sp.Integral(t, (t, 0, t)), t**2))),
    ("the integral of t from s to b is not proved non-negative (b may be below s)", "false",
     lambda: verdict(ge("b15", sp.Integral(t, (t, s, sp.Symbol("bb", positive=True))), 0, by=inequality("pos", W, "w")))),
    ("an integral inside a Sum is out of the fragment", "false",
     lambda: verdict(eq("b16", sp.Sum(sp.Integral(kp * t, (t, 0, 1)), (kp, -2, -1)), sp.Rational(3, 2)))),
    ("Leibniz: d/dy of the integral of t from 0 to y is y, not refuted", "true",
     lambda: verdict(eq("b17", sp.Derivative(sp.Integral(t, (t, 0, y)), y), y))),
    ("iterated integral with an outer-variable limit is still proved", "proved",
     lambda: verdict(eq("b13", sp.Integral(sp.Integral(t, (t, 0, y)), (y, 0, 1)), sp.Rational(1, 6)))),
    ("a reversed polynomial integral is still proved", "proved",
     lambda: verdict(eq("b14", sp.Integral(t, (t, 1, 0)), -sp.Rational(1, 2)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(BINDERS))
def test_bound_variables_get_their_sign_only_from_their_range(expect, thunk):
    run_case(expect, thunk)
