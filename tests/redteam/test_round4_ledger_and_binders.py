"""Round-4 red team, sections 4-6: the ledger is complete and honest, mutated chains, bound variables.

See ``test_round4_redteam.py`` for the round's summary.
"""

from __future__ import annotations

import dataclasses
import sys

import pytest
import sympy as sp
from _harness import (
    CONFIG,
    cases,
    eq,
    ge,
    le,
    ledger_shows,
    raises_usage,
    refused_or_not_proved,
    run_case,
    verdict,
)
from _vocab import (
    ABSURD,
    NONNEG_WILD,
    QZ,
    R,
    W,
    kp,
    p,
    q,
    s,
    t,
    x,
    y,
    z,
)
from test_round4_redteam import _normalised_density_instance  # shared with part one

from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    Rule,
    axiom,
    definition,
    inequality,
    instantiate,
    integrability,
    side_condition,
)

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
