"""Round-4 red team against the trusted core (issue 8).

Each attack is a tiny derivation.  The expectation is the mathematically
correct behaviour, decided by hand (and with mpmath where numbers matter):

* ``false``: the claim is false (or meaningless): it must not be ``proved``;
* ``true``: the claim is true: it must not be ``refuted``;
* ``proved``: a true claim inside the fragment: the core must still prove it;
* ``check``: the attack returns ``True`` when the defence held.

Attacks that fail today are soundness holes; they are written to pass once
fixed.  Every attack keeps ``step_timeout`` at 5 s or less.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

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
    ChangeOfVariables,
    LemmaOrigin,
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


# ---------------------------------------------------------------------------
# 7. Series, simplify, Float, Piecewise, special functions
# ---------------------------------------------------------------------------
kk = sp.Symbol("kk", integer=True, positive=True)
ALT = sp.Sum((-1) ** (kk + 1) / kk, (kk, 1, sp.oo))

SPECIAL = [
    ("a Float identity is not proved", "false", lambda: verdict(eq("f1", sp.Float("0.5") * s, s / 2))),
    ("a false Float identity is not proved", "false", lambda: verdict(eq("f2", sp.Float("0.333333") * 3, 1))),
    ("Piecewise is out of the fragment", "false",
     lambda: verdict(eq("f3", sp.Piecewise((1, x > 0), (0, True)) + sp.Piecewise((0, x > 0), (1, True)), 1))),
    ("an integral of DiracDelta is out of the fragment", "false",
     lambda: verdict(eq("f4", sp.Integral(sp.DiracDelta(z) * sp.exp(-(z**2)), (z, -R, R)), 1))),
    ("Heaviside squared is out of the fragment", "false", lambda: verdict(eq("f5", sp.Heaviside(x) ** 2, sp.Heaviside(x)))),
    ("LambertW is out of the fragment", "false", lambda: verdict(eq("f6", sp.LambertW(s * sp.exp(s)), s))),
    ("gamma is out of the fragment", "false", lambda: verdict(eq("f7", sp.gamma(s + 1), s * sp.gamma(s)))),
    ("erf + erfc = 1 is out of the fragment", "false", lambda: verdict(eq("f8", sp.erf(x) + sp.erfc(x), 1))),
    ("the alternating harmonic series is not proved", "false", lambda: verdict(eq("f9", ALT, sp.log(2)))),
    ("a rearranged series is not proved to be (3/2) log 2", "false",
     lambda: verdict(eq("f10", ALT, sp.Rational(3, 2) * sp.log(2)))),
    ("sin^2 + cos^2 = 1 is out of the fragment", "false",
     lambda: verdict(eq("f11", sp.sin(x) ** 2 + sp.cos(x) ** 2, 1))),
    ("Max(x, -x) = |x| is out of the fragment", "false", lambda: verdict(eq("f12", sp.Max(x, -x), sp.Abs(x)))),
    ("zeta(3) = 6/5 is out of the fragment", "false", lambda: verdict(eq("f13", sp.zeta(3), sp.Rational(6, 5)))),
    ("s to a Float power is not proved", "false", lambda: verdict(eq("f14", s ** sp.Float(2), s * s))),
    ("a true Float identity is not refuted", "true", lambda: verdict(eq("f15", sp.Float("0.5") * s, s / 2))),
    ("LambertW identity is not refuted", "true", lambda: verdict(eq("f16", sp.LambertW(s * sp.exp(s)), s))),
    ("the alternating harmonic series = log 2 is not refuted", "true", lambda: verdict(eq("f17", ALT, sp.log(2)))),
    ("exp_polar is out of the fragment", "false", lambda: verdict(eq("f18", sp.exp_polar(2 * sp.pi * sp.I) * s, s))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(SPECIAL))
def test_outside_the_fragment_is_at_best_corroborated(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 8. Hand-built rules
# ---------------------------------------------------------------------------
def _stateful_instantiate() -> str:
    f = sp.Function("f", positive=True)
    lemma = eq("pos-log", sp.log(f(t) ** 2), 2 * sp.log(f(t)), by="log rule").as_lemma()

    def sneaky(arg):  # positive while being checked, the bare argument when substituted
        frame = sys._getframe(1)
        names = {frame.f_code.co_name, frame.f_back.f_code.co_name if frame.f_back else ""}
        return sp.exp(arg) if names & {"_lacks", "instance_violation"} else arg

    try:
        inst = instantiate(lemma, {f: sneaky})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-sneaky", sp.log(t**2), 2 * sp.log(t), by=inst))


class _Mixin:
    def _eval_expand_mul(self, **hints):
        return sp.Integer(7)


class OpaqueMixin(sp.Function, _Mixin):
    opaque = True
    is_real = True


class OpaqueEq(sp.Function):
    opaque = True
    is_real = True

    def __hash__(self):
        return 1

    def __eq__(self, other):
        return isinstance(other, OpaqueEq)


class OpaqueProp(sp.Function):
    opaque = True
    is_real = True
    is_nonnegative = True


class OpaqueDirect(sp.Function):
    opaque = True
    is_real = True

    def _eval_expand_mul(self, **hints):
        return sp.Integer(7)


def _opaque_sign_in_ledger() -> bool:
    d = ge("h5", OpaqueProp(x) - 1, -1)
    result = check_derivation(d, CONFIG)
    if result.steps[0].verdict.value != "proved":
        return True
    return any("OpaqueProp" in f"{e.name} {e.statement}" for e in result.ledger)


def _dummy_prime() -> bool:
    """A Dummy declared prime must not slip past the assumption whitelist unseen."""
    d = sp.Dummy("d", prime=True)
    try:
        result = check_derivation(ge("h13", d, 2), CONFIG)
    except (DerivationError, UsageError):
        return True
    if result.steps[0].verdict.value != "proved":
        return True
    return any("prime" in e.statement for e in result.ledger)


def _kwarg_function(**kw):
    return sp.Function("hk", real=True, **kw)


HANDMADE = [
    ("a hand-built lemma without as_lemma is refused", "check",
     lambda: raises_usage(lambda: Rule("forged", "lemma", "x", lhs=sp.log(s), rhs=sp.Integer(0)))),
    ("a side condition that rewrites is refused", "check",
     lambda: raises_usage(lambda: Rule("sc", "side-condition", "x", lhs=sp.log(s), rhs=sp.Integer(0)))),
    ("a side condition given a pattern by replace is refused", "check",
     lambda: raises_usage(lambda: dataclasses.replace(side_condition("sc", "x"), lhs=sp.log(s), rhs=sp.Integer(0)))),
    ("integrability on an axiom is refused", "check",
     lambda: raises_usage(lambda: Rule("ax", "axiom", "x", integrability=True))),
    ("a stateful callable in instantiate does not prove log t^2 = 2 log t for real t", "false",
     _stateful_instantiate),
    ("an undefined function with an _eval_is_nonnegative keyword is not proved non-negative", "false",
     lambda: verdict(ge("h1", _kwarg_function(_eval_is_nonnegative=lambda self: True)(x), 0))),
    ("an undefined function with an _eval_expand_mul keyword does not expand to 0", "false",
     lambda: verdict(eq("h2", _kwarg_function(_eval_expand_mul=lambda self, **h: sp.Integer(0))(x), 0))),
    ("an opaque function with a mixin after Function in the MRO is refused", "false",
     lambda: verdict(eq("h3", OpaqueMixin(x), 7))),
    ("an opaque function with __eq__ and __hash__ is refused", "false",
     lambda: verdict(eq("h4", OpaqueEq(x), OpaqueEq(y)))),
    ("an opaque function's declared sign, if used, is shown in the ledger", "check", _opaque_sign_in_ledger),
    ("an opaque function defining _eval_expand_mul is refused", "false",
     lambda: verdict(eq("h6", OpaqueDirect(x), 7))),
    ("two conflicting definitions of one symbol do not prove log s = s^2", "false", _two_definitions_lemma),
    ("a 'definition' of the number 1 does not prove 1 = 2", "false",
     lambda: verdict(eq("h12", sp.Integer(1), 2, by=definition("one", sp.Integer(1), sp.Integer(2))))),
    ("a Symbol subclass with an expand hook does not prove zz = 0", "false",
     lambda: verdict(eq("h10", ZeroSymbol("zz", real=True), 0))),
    ("an Add subclass with an expand hook does not prove s + 1 = 0", "false",
     lambda: verdict(eq("h11", ZeroAdd(s, 1), 0))),
    ("a Dummy declared prime is refused or its assumption shown", "check", _dummy_prime),
    ("a Wild with a property closure is refused", "check",
     lambda: raises_usage(lambda: axiom("prop", sp.log(sp.Wild("pw", properties=[lambda e: True]) ** 2),
                                        2 * sp.log(sp.Wild("pw", properties=[lambda e: True]))))),
    ("a hand-built complex change of variables is refused by the core", "false",
     lambda: verdict(eq("h7", sp.Integral(1 / (1 + z**2), (z, -R, R)), 0,
                        by=Rule("cov", "axiom", "shift", cov=ChangeOfVariables((z,), (u,), (u + 2 * CUBE_ROOT_M1,)))))),
    ("a hand-built rule with non-sympy sides does not crash or prove", "false",
     lambda: verdict(eq("h8", sp.log(s), 0, by=Rule("odd", "axiom", "odd", lhs=3, rhs=5)))),
    ("a hand-built LemmaOrigin without the token is refused", "check",
     lambda: raises_usage(lambda: Rule("lem", "lemma", "x", lhs=sp.log(s), rhs=sp.Integer(0),
                                       origin=LemmaOrigin(eq("h9", s, s), 0)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(HANDMADE))
def test_hand_built_rules_cannot_forge_a_proof(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 9. Convergence
# ---------------------------------------------------------------------------
INTEG = integrability("all expectations are finite")
r_density = sp.Function("r", positive=True)


def _two_densities() -> str:
    both = ((z, -R, R), (u, -R, R))
    lhs = sp.Integral(q(z) + q(z) * r_density(u), *both)
    rhs = sp.Integral(q(z), *both) + sp.Integral(q(z) * r_density(u), *both)
    return verdict(eq("cv15", lhs, rhs, by=INTEG))


def _cancel(body) -> str:
    integral = sp.Integral(body, (z, -R, R))
    return verdict(eq("cv", integral, integral, by=INTEG))


CONVERGENCE = [
    ("integrability does not cover exp(q)", "false", lambda: _cancel(sp.exp(q(z)))),
    ("integrability does not cover 1/q", "false", lambda: _cancel(1 / q(z))),
    ("integrability does not cover a bare log q", "false", lambda: _cancel(sp.log(q(z)))),
    ("integrability does not cover q + 1", "false",
     lambda: verdict(eq("cv2", sp.Integral(q(z) + 1, (z, -R, R)), QZ + sp.Integral(1, (z, -R, R)), by=INTEG))),
    ("divergent pieces do not cancel", "false",
     lambda: verdict(eq("cv3", sp.Integral(1 + sp.exp(-(z**2)), (z, -R, R)) - sp.Integral(1, (z, -R, R)),
                        sp.sqrt(sp.pi)))),
    ("a limit 1/y is not uniformly finite", "false",
     lambda: verdict(eq("cv4", sp.Integral(sp.Integral(1, (t, 0, 1 / y)), (y, 0, 1)), 0))),
    ("a Gaussian with a variance of unknown sign is not evaluated", "false",
     lambda: verdict(eq("cv5", sp.Integral(sp.exp(-a * z**2), (z, -R, R)), sp.sqrt(sp.pi / a)))),
    ("an indefinite quadratic form does not converge", "false",
     lambda: verdict(eq("cv6", sp.Integral(sp.exp(-(z**2) + 4 * z * u - u**2), (z, -R, R), (u, -R, R)),
                        sp.pi / sp.sqrt(3)))),
    ("a density of one variable is not integrable over two", "false",
     lambda: verdict(eq("cv7", sp.Integral(q(z), (z, -R, R), (u, -R, R)), 1,
                        by=[INTEG, axiom("norm", QZ, 1)]))),
    ("q squared is not a density term", "false",
     lambda: verdict(eq("cv8", sp.Integral(q(z) ** 2 + q(z), (z, -R, R)),
                        sp.Integral(q(z) ** 2, (z, -R, R)) + QZ, by=INTEG))),
    ("a derivative of q is not a density term", "false",
     lambda: verdict(eq("cv9", sp.Integral(sp.Derivative(q(z), z) + q(z), (z, -R, R)),
                        sp.Integral(sp.Derivative(q(z), z), (z, -R, R)) + QZ, by=INTEG))),
    ("integrability does not cover q(1/z), which is no density of z", "false",
     lambda: verdict(eq("cv17", sp.Integral(q(1 / z) * (1 + z), (z, -R, R)),
                        sp.Integral(q(1 / z), (z, -R, R)) + sp.Integral(q(1 / z) * z, (z, -R, R)), by=INTEG))),
    ("1/u on [0, 1] does not converge", "false",
     lambda: verdict(eq("cv10", sp.Integral(1 / u, (u, 0, 1)), sp.Integral(1 / u, (u, 0, 1))))),
    ("an odd polynomial over the whole line does not converge", "false",
     lambda: verdict(eq("cv14", sp.Integral(z, (z, -R, R)), 0))),
    ("a product of one-variable densities over two variables is not covered", "false", _two_densities),
    ("the half-line exponential integral is true and not refuted", "true",
     lambda: verdict(eq("cv16", sp.Integral(sp.exp(-u), (u, 0, R)), 1))),
    ("exp(z^2) exp(-2 z^2) is a true Gaussian", "proved",
     lambda: verdict(eq("cv11", sp.Integral(sp.exp(z**2) * sp.exp(-2 * z**2), (z, -R, R)), sp.sqrt(sp.pi)))),
    ("a Gaussian second moment is still proved", "proved",
     lambda: verdict(eq("cv12", sp.Integral(z**2 * sp.exp(-(z**2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s),
                                           (z, -R, R)), s**2))),
    ("1/(1+z^2) integrates to pi: true, not refuted", "true",
     lambda: verdict(eq("cv13", sp.Integral(1 / (1 + z**2), (z, -R, R)), sp.pi))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CONVERGENCE))
def test_only_provably_convergent_integrals_are_moved(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 10. False refutation
# ---------------------------------------------------------------------------
def _refuted_lemma() -> Rule:
    return eq("bad-lemma", sp.log(s**2), 3 * sp.log(s), by="oops").as_lemma()


REFUTE = [
    ("a tiny difference times e^2000 is not refuted", "true",
     lambda: verdict(eq("r1", sp.exp(2000) * (sp.sin(s) ** 2 + sp.cos(s) ** 2 - 1), 0))),
    ("e^2000 times a vanishing trigonometric difference plus one is not refuted", "true",
     lambda: verdict(eq("r2", sp.exp(2000) * (sp.sin(s) ** 2 + sp.cos(s) ** 2 - 1) + 1, 1))),
    ("a true step citing a refuted lemma is not refuted", "true",
     lambda: verdict(eq("r3", sp.log(s**2), 2 * sp.log(s), by=["log rule", _refuted_lemma()]))),
    ("a true step with a refuted lemma in its assumptions is not refuted", "true",
     lambda: verdict(Derivation("r4", assumptions=[_refuted_lemma()]).start(sp.log(s**2))
                     .equals(2 * sp.log(s), by="log rule"))),
    ("a true step citing a false axiom is not refuted", "true",
     lambda: verdict(eq("r5", sp.log(s**2), 2 * sp.log(s), by=axiom("bad", sp.log(W), W)))),
    ("a true step citing a definition that redefines log is not refuted", "true",
     lambda: verdict(eq("r6", sp.log(s**2), 2 * sp.log(s), by=definition("bad def", sp.log(W), W)))),
    ("a true step about a positive K is not refuted by unfolding an inconsistent definition", "true",
     lambda: verdict(eq("r15", sp.log(sp.Symbol("K", positive=True) ** 2), 2 * sp.log(sp.Symbol("K", positive=True)),
                        by=definition("K", sp.Symbol("K", positive=True), x)))),
    ("a true inequality citing a false inequality axiom is not refuted", "true",
     lambda: verdict(ge("r16", s**2, 0, by=inequality("bad", -W, "w <= 0")))),
    ("a true step is not refuted by unfolding a lemma that is proved only from an absurd axiom", "true",
     lambda: verdict(eq("r17", sp.log(s**2), 2 * sp.log(s),
                        by=["log rule", eq("r17-lemma", sp.log(s), 0, by=ABSURD).as_lemma()]))),
    ("cos(pi n) = (-1)^n for integer n is not refuted", "true",
     lambda: verdict(eq("r7", sp.cos(sp.pi * n), (-1) ** n))),
    ("log x^2 = 2 log |x| for real x is not refuted", "true",
     lambda: verdict(eq("r8", sp.log(x**2), 2 * sp.log(sp.Abs(x))))),
    ("e^1000 log(1 + e^-1000) <= 1 is not refuted", "true",
     lambda: verdict(le("r9", sp.exp(1000) * sp.log(1 + sp.exp(-1000)), 1,
                        by=inequality("log1p", sp.Wild("v", positive=True) - sp.log(1 + sp.Wild("v", positive=True)),
                                      "log(1+v) <= v")))),
    ("an integral with a numeric value is not refuted", "true",
     lambda: verdict(eq("r10", sp.Integral(sp.exp(u), (u, 0, 1)), sp.E - 1))),
    ("a huge exact identity is still proved", "proved",
     lambda: verdict(eq("r11", (s + 10**50) ** 2 - s**2 - 2 * 10**50 * s, 10**100))),
    ("gamma(n + 1) = n! for a positive integer n is not refuted", "true",
     lambda: verdict(eq("r12", sp.gamma(sp.Symbol("m", integer=True, positive=True) + 1),
                        sp.factorial(sp.Symbol("m", integer=True, positive=True))))),
    ("a true inequality with near-equality is not refuted", "true",
     lambda: verdict(ge("r13", (s - sp.Rational(10**30 + 1, 10**30)) ** 2 + sp.exp(-200), 0))),
    ("exp(-1000) sin-cos cancellation over 1 is not refuted", "true",
     lambda: verdict(eq("r14", (sp.sin(s) ** 2 + sp.cos(s) ** 2 - 1) / sp.exp(-1000), 0))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(REFUTE))
def test_true_steps_are_never_refuted(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 11. Crashes
# ---------------------------------------------------------------------------
def _no_crash(build: Callable[[], Derivation], config: CheckConfig = CONFIG) -> bool:
    try:
        d = build()
        check_derivation(d, config).to_dict()
    except (DerivationError, UsageError):
        return True
    return True  # any other exception fails the test by propagating


def _deep(depth: int) -> sp.Expr:
    expr = s
    for _ in range(depth):
        expr = sp.Mul(sp.Integer(2), sp.Add(expr, sp.Integer(1), evaluate=False), evaluate=False)
    return expr


def _deep_exp(depth: int) -> sp.Expr:
    expr = x
    for _ in range(depth):
        expr = sp.exp(-sp.Pow(expr, 2, evaluate=False), evaluate=False)
    return expr


CLI = [sys.executable, "-m", "elbo_check", "prove", "--format", "json", "--step-timeout", "5"]


def _cli(source: str, tmp: Path) -> bool:
    path = tmp / "hostile.py"
    path.write_text(textwrap.dedent(source))
    proc = subprocess.run([*CLI, "--file", str(path)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    if proc.returncode not in (0, 1, 2) or "Traceback" in proc.stderr:
        return False
    if proc.returncode == 2:
        return len(proc.stderr.strip().splitlines()) == 1
    json.loads(proc.stdout)
    return True


CRASHES = [
    ("a 3000-deep expression does not crash", "check",
     lambda: _no_crash(lambda: eq("k1", _deep(3000), _deep(3000) + 1))),
    ("a 200-deep exponential tower does not crash", "check",
     lambda: _no_crash(lambda: eq("k2", _deep_exp(200), _deep_exp(200)))),
    ("a huge integer does not crash", "check",
     lambda: _no_crash(lambda: eq("k3", sp.Integer(10) ** 4000 * s, s * sp.Integer(10) ** 4000 + 1))),
    ("an unevaluated huge power does not crash", "check",
     lambda: _no_crash(lambda: eq("k4", sp.Pow(3, 10**5, evaluate=False), 1))),
    ("an immutable matrix does not crash", "check",
     lambda: _no_crash(lambda: eq("k5", sp.ImmutableMatrix([[s]]), sp.ImmutableMatrix([[s, 1]])))),
    ("an Order term does not crash", "check", lambda: _no_crash(lambda: eq("k6", sp.O(x), 0))),
    ("AccumBounds does not crash", "check", lambda: _no_crash(lambda: eq("k7", sp.AccumBounds(-1, 1), 0))),
    ("nan and zoo do not crash", "check", lambda: _no_crash(lambda: eq("k8", sp.nan, sp.zoo))),
    ("a Wild inside a step does not crash", "check", lambda: _no_crash(lambda: eq("k9", sp.Wild("w9") + 1, 1))),
    ("an indefinite integral does not crash", "check", lambda: _no_crash(lambda: eq("k10", sp.Integral(x, x), x**2 / 2))),
    ("a derivative with respect to a function does not crash", "check",
     lambda: _no_crash(lambda: eq("k11", sp.Derivative(q(z) ** 2, q(z)), 2 * q(z)))),
    ("a string seed is a usage error, not a traceback", "check",
     lambda: _no_crash(lambda: eq("k12", s, s), CheckConfig(step_timeout=5, seed="abc"))),
    ("an infinite step timeout is a usage error, not a traceback", "check",
     lambda: raises_usage(lambda: CheckConfig(step_timeout=float("inf"))) or
     _no_crash(lambda: eq("k13", s, s), CheckConfig(step_timeout=float("inf")))),
    ("a string step timeout is a usage error, not a traceback", "check",
     lambda: raises_usage(lambda: CheckConfig(step_timeout="5")) or
     _no_crash(lambda: eq("k15", s, s), CheckConfig(step_timeout="5"))),
    ("a 1e300 s step timeout does not crash", "check",
     lambda: raises_usage(lambda: CheckConfig(step_timeout=1e300)) or
     _no_crash(lambda: eq("k16", s, s), CheckConfig(step_timeout=1e300))),
    ("check_derivation of a string is a usage error", "check",
     lambda: raises_usage(lambda: check_derivation("not a derivation", CONFIG))),
    ("a Lambda step does not crash", "check", lambda: _no_crash(lambda: eq("k17", sp.Lambda(x, x), sp.Lambda(y, y)))),
    ("a hand-built change of variables with bare symbols does not crash", "check",
     lambda: _no_crash(lambda: eq("k18", GAUSS, sp.sqrt(sp.pi),
                                  by=Rule("cv", "axiom", "shift", cov=ChangeOfVariables(z, u, u + 1))))),
    ("instantiate with no mapping is a usage error", "check",
     lambda: raises_usage(lambda: instantiate(axiom("ax", sp.log(s), 0), None))),
    ("a config of the wrong type is a usage error", "check",
     lambda: raises_usage(lambda: check_derivation(eq("k19", s, s), "fast"))),
    ("a hand-built rule with string sides does not crash", "check",
     lambda: _no_crash(lambda: eq("k20", sp.log(s), 0, by=Rule("str", "definition", "s", lhs="log(s)", rhs="0")))),
    ("a MatrixSymbol does not crash", "check",
     lambda: _no_crash(lambda: eq("k14", sp.MatrixSymbol("M", 2, 2), sp.ZeroMatrix(2, 2)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CRASHES))
def test_nothing_crashes_with_a_traceback(expect, thunk):
    run_case(expect, thunk)


HOSTILE_FILES = {
    "deep expression": """
        import sympy as sp
        from elbo_check import Derivation
        s = sp.Symbol("s", positive=True)
        e = s
        for i in range(3000):
            e = sp.Mul(2, sp.Add(e, 1, evaluate=False), evaluate=False)
        d = Derivation("deep").start(e).equals(e + 1, by="x")
    """,
    "raises at import": """
        raise RuntimeError("boom")
    """,
    "no derivation": """
        x = 1
    """,
    "matrix step": """
        import sympy as sp
        from elbo_check import Derivation
        d = Derivation("mat").start(sp.ImmutableMatrix([[1]])).equals(sp.ImmutableMatrix([[1, 2]]), by="x")
    """,
    "unchecked chain of a broken subclass": """
        import sympy as sp
        from elbo_check import Derivation
        class D(Derivation):
            @property
            def steps(self):
                raise ZeroDivisionError("hostile")
        d = D("hostile")
    """,
    "derivation with a rule of non-sympy sides": """
        import sympy as sp
        from elbo_check import Derivation
        from elbo_check.rules import Rule
        s = sp.Symbol("s", positive=True)
        d = Derivation("odd").start(sp.log(s)).equals(0, by=Rule("odd", "axiom", "odd", lhs=3, rhs=5))
    """,
    "rule with a None statement and a multi-line name": """
        import sympy as sp
        from elbo_check import Derivation
        from elbo_check.rules import Rule
        s = sp.Symbol("s", positive=True)
        r = Rule("two\\nlines", "axiom", None, lhs=sp.log(s), rhs=sp.Integer(0))
        d = Derivation("odd-rule").start(sp.log(s)).equals(0, by=r)
    """,
    "symbol with a non-whitelisted assumption": """
        import sympy as sp
        from elbo_check import Derivation
        e = sp.Symbol("e", even=True)
        d = Derivation("even").start(e).equals(e, by="x")
    """,
}


@pytest.mark.parametrize("source", list(HOSTILE_FILES.values()), ids=list(HOSTILE_FILES))
def test_json_cli_on_a_hostile_file_prints_json_or_one_line(source, tmp_path):
    assert _cli(source, tmp_path)


# ---------------------------------------------------------------------------
# 12. Capture
# ---------------------------------------------------------------------------
B10 = sp.Symbol("_b1_0", real=True)
B20 = sp.Symbol("_b2_0", real=True)
big_k = sp.Symbol("K", real=True)


def _derivative_lemma_instance() -> str:
    """d/da (a x) = x is a lemma; a := x does not make d/dx (x^2) = x."""
    lemma = eq("d-ax", sp.Derivative(a * x, a), x, by="differentiate").as_lemma()
    try:
        inst = instantiate(lemma, {a: x})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("use-d-ax", sp.Derivative(x**2, x), x, by=inst))


def _lemma_param_named_canonical() -> str:
    c = sp.Symbol("c", positive=True)
    lemma = eq("lin", sp.Integral(c * t, (t, 0, 1)), c / 2).as_lemma()
    inst = instantiate(lemma, {c: sp.Symbol("_b1_0", positive=True)})
    return verdict(eq("use-lin", sp.Integral(sp.Symbol("_b1_0", positive=True) * t, (t, 0, 1)),
                      sp.Rational(1, 3), by=inst))


CAPTURE = [
    ("a change-of-variables parameter named _b1_0 is not captured", "false",
     lambda: verdict(eq("cap1", GAUSS, sp.sqrt(sp.pi) / 2, by=change_of_variables("shift", z, u, u + B10)))),
    ("a change-of-variables shift named _b1_0 does not make the second moment vanish", "false",
     lambda: verdict(eq("cap2", sp.Integral(z**2 * sp.exp(-(z**2)), (z, -R, R)), 0,
                        by=change_of_variables("shift", z, u, u + B10)))),
    ("a derivative variable is not rewritten by an axiom a = x", "false",
     lambda: verdict(eq("cap3", sp.Derivative(a * x, a), 2 * x, by=axiom("a is x", a, x)))),
    ("a derivative variable is not rewritten by an axiom", "false",
     lambda: verdict(eq("cap4", sp.Derivative(x**2, x), 0, by=axiom("x is one", x, sp.Integer(1))))),
    ("instantiating a lemma's differentiation variable does not prove d/dx x^2 = x", "false",
     _derivative_lemma_instance),
    ("a Wild under a binder does not capture the bound variable", "false",
     lambda: verdict(eq("cap5", sp.Integral(t * t, (t, 0, 1)), t / 2,
                        by=axiom("lin", sp.Integral(sp.Wild("c") * t, (t, 0, 1)), sp.Wild("c") / 2)))),
    ("a definition's symbol is not captured by the target's binder", "false",
     lambda: verdict(eq("cap6", sp.Integral(big_k, (t, 0, 1)), sp.Rational(1, 2), by=definition("K", big_k, t)))),
    ("a rule's free symbol is not captured by the target's binder", "false",
     lambda: verdict(eq("cap7", sp.Integral(big_k, (y, 0, 1)), sp.Rational(1, 4),
                        by=definition("K", big_k, sp.Integral(y * t, (t, 0, 1)))))),
    ("a free symbol named _b1_0 is not captured by alpha-renaming", "false",
     lambda: verdict(eq("cap8", sp.Integral(t * B10, (t, 0, 1)), sp.Rational(1, 3)))),
    ("a free symbol named _b2_0 is not captured by an iterated integral", "false",
     lambda: verdict(eq("cap9", sp.Integral(sp.Integral(t * B20, (t, 0, 1)), (y, 0, 1)), sp.Rational(1, 3)))),
    ("a lemma instantiated with a symbol named _b1_0 is not captured", "false", _lemma_param_named_canonical),
    ("a Dummy named _b1_0 is not captured", "false",
     lambda: verdict(eq("cap10", sp.Integral(t * sp.Dummy("_b1_0", real=True), (t, 0, 1)), sp.Rational(1, 3)))),
    ("instantiating a lemma's parameter with its bound variable is refused", "check",
     lambda: raises_usage(lambda: instantiate(
         eq("lin-a", sp.Integral(a * t, (t, 0, 1)), a / 2).as_lemma(), {a: t}))),
    ("a change of variables whose new variable occurs free is left alone", "false",
     lambda: verdict(eq("cap11", sp.Integral(sp.exp(-(z**2)) * sp.exp(-(u**2)), (z, -R, R)),
                        sp.sqrt(sp.pi), by=change_of_variables("cv", z, u, u)))),
    ("a parameter named _b1_0 in a Gaussian is still proved without capture", "proved",
     lambda: verdict(eq("cap12", sp.Integral(sp.exp(-(z - B10) ** 2), (z, -R, R)), sp.sqrt(sp.pi)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CAPTURE))
def test_nothing_is_captured_by_a_binder(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# The core stays useful
# ---------------------------------------------------------------------------
USEFUL = [
    ("log s^2 = 2 log s", lambda: verdict(eq("ok1", sp.log(s**2), 2 * sp.log(s)))),
    ("the Gaussian integral", lambda: verdict(eq("ok2", GAUSS, sp.sqrt(sp.pi)))),
    ("a shift keeps the Gaussian integral", lambda: verdict(eq("ok3", GAUSS, sp.sqrt(sp.pi),
                                                                 by=change_of_variables("sh", z, u, u + 1)))),
    ("a polynomial on [0, 1]", lambda: verdict(eq("ok4", sp.Integral(u**2, (u, 0, 1)), sp.Rational(1, 3)))),
    ("normalisation of q by axiom", lambda: verdict(eq("ok5", 2 * QZ, 2, by=[INTEG, axiom("norm", QZ, 1)]))),
    ("log x <= x - 1 by a positive wild", lambda: verdict(le("ok6", sp.log(s), s - 1,
                                                          by=inequality("log", W - 1 - sp.log(W), "log")))),
    ("a proved lemma is usable", lambda: verdict(eq("ok7", sp.log(s**2), 2 * sp.log(s),
                                                  by=eq("ok7-l", sp.log(s**2), 2 * sp.log(s)).as_lemma()))),
    ("a derivative of a polynomial", lambda: verdict(eq("ok8", sp.Derivative(x**3, x), 3 * x**2))),
]


@pytest.mark.parametrize("thunk", [pytest.param(f, id=name) for name, f in USEFUL])
def test_true_in_fragment_claims_are_still_proved(thunk):
    assert thunk() == "proved"
