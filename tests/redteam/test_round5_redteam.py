"""Round-5 red team against the trusted core (issue 8), aimed at the round-4 fixes.

Same harness as round 4 (``test_round4_redteam.py``): each attack is a tiny
derivation whose expectation is the mathematically correct behaviour:

* ``false``: the claim is false (or meaningless): it must not be ``proved``;
* ``true``: the claim is true: it must not be ``refuted``;
* ``proved``: a true claim inside the fragment: the core must still prove it;
* ``check``: the attack returns ``True`` when the defence held.

Refusing hostile input with a one-line DerivationError/UsageError is sound.
Attacks that fail today are open holes; they are written to pass once fixed.
Every attack keeps ``step_timeout`` at 5 s or less.

Sections 7-13 and "the core stays useful" are in ``test_round5_rules_and_numerics.py``.

Sections A and B (the code new in round 5: definitions and instance hypotheses) are in ``test_round5_definitions_and_hypotheses.py``.
"""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
from _harness import (
    CONFIG,
    TRIVIAL,
    cases,
    eq,
    ge,
    le,
    ledger,
    not_all_proved,
    raises_usage,
    run_case,
    verdict,
)
from _vocab import (
    ABSURD,
    CUBE_ROOT_M1,
    GAUSS,
    NONNEG_WILD,
    QZ,
    RAMANUJAN,
    RAMANUJAN_CEIL,
    K,
    R,
    V,
    W,
    kp,
    n,
    q,
    s,
    t,
    u,
    w,
    x,
    y,
    z,
)
from test_round5_definitions_and_hypotheses import (
    _two_named_definitions,  # shared with sections A-B
)

from elbo_check import Checker, Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    ChangeOfVariables,
    Rule,
    axiom,
    change_of_variables,
    definition,
    inequality,
    instantiate,
    integrability,
    side_condition,
)

# ---------------------------------------------------------------------------
# 1. Wild pattern assumptions
# ---------------------------------------------------------------------------
RAMANUJAN_GAP = RAMANUJAN - RAMANUJAN_CEIL  # negative, about -7.5e-13
V_NONINT = sp.Wild("v", real=True, integer=False)
V_NONNEG_ONLY = sp.Wild("v", real=True, negative=False)

WILD = [
    ("a positive wild does not match Ramanujan's (negative) gap", "false",
     lambda: verdict(eq("w1", sp.log(RAMANUJAN_GAP**2), 2 * sp.log(RAMANUJAN_GAP),
                        by=axiom("lsq", sp.log(W**2), 2 * sp.log(W))))),
    ("an integer wild does not prove (n/2)^2 >= n/2 for integer n", "false",
     lambda: verdict(ge("w2", (n / 2) ** 2, n / 2, by=inequality(
         "int", sp.Wild("m", integer=True) ** 2 - sp.Wild("m", integer=True), "m^2 >= m")))),
    ("a nonnegative wild does not prove |x - 1| = x - 1", "false",
     lambda: verdict(eq("w3", sp.Abs(x - 1), x - 1,
                        by=axiom("abs nn", sp.Abs(sp.Wild("v", nonnegative=True)), sp.Wild("v", nonnegative=True))))),
    ("a negative wild does not prove |x| = -x", "false",
     lambda: verdict(eq("w4", sp.Abs(x), -x, by=axiom("abs neg", sp.Abs(sp.Wild("v", negative=True)), -sp.Wild("v", negative=True))))),
    ("a positive wild does not match a variable integrated over [-1, 1]", "false",
     lambda: verdict(eq("w5", sp.Integral(sp.Abs(t), (t, -1, 1)), 0,
                        by=[axiom("abs pos", sp.Abs(W), W)]))),
    ("a wild declared integer=False does not match an integer n", "false",
     lambda: verdict(eq("w6", sp.log(n**2), 0, by=axiom("nonint", sp.log(V_NONINT**2), sp.Integer(0))))),
    ("a wild declared negative=False does not prove x >= 0 for real x", "false",
     lambda: verdict(ge("w7", x, 0, by=inequality("not negative", V_NONNEG_ONLY, "v >= 0 when not negative")))),
    ("a positive wild does not match a defined symbol unfolded to -s", "false",
     lambda: verdict(eq("w8", sp.log(K**2), 2 * sp.log(K),
                        by=[definition("K", K, -s), axiom("lsq", sp.log(W**2), 2 * sp.log(W))]))),
    ("a positive wild does not match the canonical variable of [0, 1] (only non-negative)", "false",
     lambda: verdict(eq("w9", sp.Integral(sp.log(t**2), (t, 0, 1)), sp.Integral(2 * sp.log(t), (t, 0, 1)),
                        by=axiom("lsq", sp.log(W**2), 2 * sp.log(W))))),
    ("a nonzero wild does not prove x/x... log(x * v) split for real x", "false",
     lambda: verdict(eq("w10", sp.log(-s * x), sp.log(-s) + sp.log(x),
                        by=axiom("logmul", sp.log(sp.Wild("a", nonzero=True) * sp.Wild("b", nonzero=True)),
                                 sp.log(sp.Wild("a", nonzero=True)) + sp.log(sp.Wild("b", nonzero=True)))))),
    ("a positive wild still proves Ramanujan's constant above 1 by log w <= w - 1", "proved",
     lambda: verdict(le("w11", sp.log(RAMANUJAN), RAMANUJAN - 1, by=inequality("log", W - 1 - sp.log(W), "log w <= w - 1")))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(WILD))
def test_wild_assumptions_are_enforced_at_every_match(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 2. Caches and state
# ---------------------------------------------------------------------------
def _two(first: Derivation, second: Derivation) -> str:
    checker = Checker(CONFIG)
    check_derivation(first, checker=checker)
    return verdict(second, checker=checker)


def _shared_instance_order(discharge_first: bool) -> str:
    lemma = eq("ax-share", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    inst = instantiate(lemma, {s: 2 * s})
    good = eq("share-good", sp.log(2 * s), K, by=[inst, axiom("K is log 2s", sp.log(2 * s), K)])
    bad = eq("share-bad", sp.log(2 * s), K, by=inst)
    return _two(good, bad) if discharge_first else _two(bad, good)


def _name_clash_across_checks() -> bool:
    """A lemma about a positive s, checked first, then cited where s is only real."""
    lemma = eq("pos-s", sp.log(s**2), 2 * sp.log(s)).as_lemma()
    checker = Checker(CONFIG)
    check_derivation(lemma.derivation, checker=checker)
    s_real = sp.Symbol("s", real=True)
    return raises_usage(lambda: check_derivation(eq("real-s", sp.log(s_real**2), 2 * sp.log(s_real), by=lemma),
                                                 checker=checker))


def _rule_name_clash_across_checks() -> bool:
    lemma = eq("absurd-a", sp.log(s), 0, by=axiom("A", sp.log(s), sp.Integer(0))).as_lemma()
    checker = Checker(CONFIG)
    check_derivation(lemma.derivation, checker=checker)
    return raises_usage(lambda: check_derivation(eq("clash-a", sp.log(s), 0, by=[side_condition("A", "harmless"), lemma]),
                                                 checker=checker))


def _definition_then_numeric() -> str:
    """A definition of f in one derivation is not unfolded by the numeric stage of the next."""
    g = sp.Function("g", positive=True)
    first = eq("g-def", g(x), x**2 + 1, by=definition("g", g(V), V**2 + 1))
    second = eq("g-use", sp.log(g(x) ** 2), 2 * sp.log(g(x)), by="log of a positive function")
    return _two(first, second)


def _refused_then_clean() -> str:
    """An instance refused once stays refused: nothing about it is cached as proved."""
    lemma = eq("ax-rc", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    inst = instantiate(lemma, {s: 2 * s})
    checker = Checker(CONFIG)
    check_derivation(eq("rc-1", sp.log(2 * s), K, by=inst), checker=checker)
    check_derivation(eq("rc-2", sp.log(2 * s), K, by=[inst, axiom("K is log 2s", sp.log(2 * s), K)]), checker=checker)
    return verdict(eq("rc-3", sp.log(2 * s), K, by=inst), checker=checker)


CACHES = [
    ("a discharged instance in one derivation does not carry to the next", "false", lambda: _shared_instance_order(True)),
    ("an instance refused first, then discharged elsewhere, stays refused where it is not", "false", _refused_then_clean),
    ("the discharged instance is proved even after an undischarged one", "proved", lambda: _shared_instance_order(False)),
    ("a lemma's positive s checked first does not mix with a real s later", "check", _name_clash_across_checks),
    ("a lemma's axiom checked first still clashes with a same-named rule later", "check", _rule_name_clash_across_checks),
    ("a definition from an earlier derivation is not unfolded numerically later", "true", _definition_then_numeric),
    ("two named definitions in one derivation do not leak into a later uncited step", "false",
     lambda: _two(_two_named_definitions(), eq("after-defs", sp.log(s), s**2, by="nothing"))),
    ("a spoofed class in one derivation does not leak into a later one", "false",
     lambda: _two(eq("spoof-first", s, s), eq("spoof-later", sp.log(s), 0, by="nothing"))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CACHES))
def test_no_state_leaks_between_steps_or_derivations(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 3. Complex values
# ---------------------------------------------------------------------------
COMPLEX = [
    ("log x^3 = 3 log x for real x is not proved", "false", lambda: verdict(eq("x1", sp.log(x**3), 3 * sp.log(x)))),
    ("(x^3)^(1/3) = x for real x is not proved", "false",
     lambda: verdict(eq("x2", (x**3) ** sp.Rational(1, 3), x))),
    ("(x^6)^(1/3) = x^2 is true and not refuted", "true",
     lambda: verdict(eq("x3", (x**6) ** sp.Rational(1, 3), x**2))),
    ("sqrt(x y) >= 0 for real x, y is not proved", "false", lambda: verdict(ge("x4", sp.sqrt(x * y), 0))),
    ("an integral up to sqrt(x) is not proved non-negative for real x", "false",
     lambda: verdict(ge("x5", sp.Integral(t, (t, 0, sp.sqrt(x))), 0, by=NONNEG_WILD))),
    ("an integral up to log(x) for real x is not a real integral", "false",
     lambda: verdict(eq("x6", sp.Integral(1, (t, 0, sp.log(x))), 0))),
    ("a real K defined as sqrt(x) does not prove x >= 0", "check",
     lambda: not_all_proved(lambda: Derivation("x7").start(x).equals(K**2, by=definition("K", K, sp.sqrt(x)))
                            .geq(0, by=TRIVIAL))),
    ("a shift by sqrt(x) for real x is refused", "check",
     lambda: raises_usage(lambda: change_of_variables("cplx", z, u, u + sp.sqrt(x)))),
    ("a Gaussian with a complex centre is true and not refuted", "true",
     lambda: verdict(eq("x8", sp.Integral(sp.exp(-(z - CUBE_ROOT_M1) ** 2), (z, -R, R)), sp.sqrt(sp.pi)))),
    ("|(-1)^(1/3) + 1| = sqrt(3) is true and not refuted", "true",
     lambda: verdict(eq("x9", sp.Abs(CUBE_ROOT_M1 + 1), sp.sqrt(3)))),
    ("exp(c s) with complex c is not proved at least exp(c s) - 1", "false",
     lambda: verdict(ge("x10", sp.exp(CUBE_ROOT_M1 * s), sp.exp(CUBE_ROOT_M1 * s) - 1,
                        by=inequality("one", sp.Integer(1), "1 >= 0")))),
    ("log(-s) - log(s) = 0 is not proved via a positive-wild log rule", "false",
     lambda: verdict(eq("x11", sp.log(-s) - sp.log(s), 0, by=axiom("lsq", sp.log(W**2), 2 * sp.log(W))))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(COMPLEX))
def test_complex_values_never_sneak_into_a_proof(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 4. Hidden lemma axioms: the ledger is complete and honest
# ---------------------------------------------------------------------------
ABSURD_SHOWS = "log(s) → 0"


def _axiom_shown(d: Derivation, shows: str = ABSURD_SHOWS) -> bool:
    return any(e.kind == "axiom" and e.shows == shows for e in ledger(d))


@dataclasses.dataclass(frozen=True, eq=False)
class _LyingRule(Rule):
    """A Rule subclass whose ledger line says something harmless."""

    @property
    def shows(self) -> str:  # type: ignore[override]
        return "s → s"


def _lying_rule() -> bool:
    try:
        rule = _LyingRule("harmless", "axiom", "s = s", lhs=sp.log(s), rhs=sp.Integer(0))
        d = eq("lying", sp.log(s), 0, by=rule)
        result = check_derivation(d, CONFIG)
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)
    if result.steps[0].verdict.value != "proved":
        return True
    return any(ABSURD_SHOWS in e.shows for e in result.ledger)


def _axiom_named_like_declaration() -> bool:
    """A lemma's axiom named 'symbol t' must not vanish behind the citer's declaration of t."""
    try:
        lemma = eq("named-t", sp.log(s), 0, by=axiom("symbol t", sp.log(s), sp.Integer(0))).as_lemma()
        d = eq("uses-t", sp.log(s) + t, t, by=lemma)
        return _axiom_shown(d)
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)


def _side_condition_hides_declaration() -> bool:
    """A side condition named 'symbol s' must not replace the declaration 's is positive'."""
    try:
        d = eq("hide-s", sp.log(s**2), 2 * sp.log(s), by=side_condition("symbol s", "s is whatever"))
        return any("positive" in e.statement for e in ledger(d))
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)


def _lemma_named_like_its_axiom() -> bool:
    try:
        lemma = eq("self-named", sp.log(s), 0, by=axiom("A", sp.log(s), sp.Integer(0))).as_lemma(name="A")
        return _axiom_shown(eq("self-named-use", sp.log(s), 0, by=lemma))
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)


def _dummy_shares_a_name() -> bool:
    """A Dummy named s next to the positive Symbol s: both declarations show (or it is refused)."""
    try:
        d = eq("dummy-s", sp.log(s**2) + sp.Dummy("s", real=True), 2 * sp.log(s) + sp.Dummy("s", real=True))
        entries = [e for e in ledger(d) if e.kind == "assumption" and e.statement.startswith("s is")]
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)
    return len(entries) >= 2


def _nested_instance_ledger() -> bool:
    lemma = eq("ax-led", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    d = eq("led-use", sp.log(2 * s), K, by=[instantiate(lemma, {s: 2 * s}), axiom("K is log 2s", sp.log(2 * s), K)])
    shows = {e.shows for e in ledger(d)}
    return {"log(s) → K", "log(2*s) → K"} <= shows


def _definition_via_lemma() -> bool:
    lemma = eq("k-log-led", K, sp.log(s), by=definition("K-log", K, sp.log(s))).as_lemma()
    return any(e.kind == "definition" and e.via for e in ledger(eq("k-log-use", K, sp.log(s), by=lemma)))


def _function_and_symbol_same_name() -> bool:
    fs = sp.Function("s", real=True)
    d = eq("fn-sym", sp.log(s**2) + fs(x), 2 * sp.log(s) + fs(x))
    names = {e.name for e in ledger(d)}
    return {"symbol s", "function s"} <= names


LEDGER = [
    ("a Rule subclass cannot show a harmless line for an absurd schema", "check", _lying_rule),
    ("a lemma's axiom named like a symbol declaration still shows", "check", _axiom_named_like_declaration),
    ("a side condition named like a declaration does not hide 's is positive'", "check", _side_condition_hides_declaration),
    ("a lemma named like its own axiom does not hide the axiom", "check", _lemma_named_like_its_axiom),
    ("a Dummy sharing a symbol's name does not hide the symbol's declaration", "check", _dummy_shares_a_name),
    ("an instance and its cited hypothesis both show", "check", _nested_instance_ledger),
    ("a definition reached through a lemma shows, marked with the lemma", "check", _definition_via_lemma),
    ("a function and a symbol named alike both show", "check", _function_and_symbol_same_name),
    ("the absurd lemma (so the checks above mean something) is proved", "proved",
     lambda: verdict(eq("led-absurd", sp.log(s), 0, by=eq("led-absurd-l", sp.log(s), 0, by=ABSURD).as_lemma()))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(LEDGER))
def test_ledger_lists_every_axiom_and_declaration(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 5. Mutation
# ---------------------------------------------------------------------------
class _Flip:
    """A callable whose answer can be changed after instantiate."""

    def __init__(self) -> None:
        self.honest = True

    def __call__(self, v):
        return sp.exp(-(v**2)) if self.honest else q(v)


def _flip_after_instantiate() -> str:
    lemma = eq("q-norm-flip", QZ, 1, by=[integrability("finite"), axiom("q normalised", QZ, 1)]).as_lemma()
    flip = _Flip()
    inst = instantiate(lemma, {q: flip})
    flip.honest = False
    return verdict(eq("use-flip", GAUSS, 1, by=inst))


def _mapping_dict_mutated() -> str:
    lemma = eq("ax-mm", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    mapping = {s: 2 * s}
    inst = instantiate(lemma, mapping)
    mapping[s] = s
    return verdict(eq("use-mm", sp.log(2 * s), K, by=inst))


def _more_list_mutated() -> str:
    more = [(K, s**2)]
    rule = definition("K", K, sp.log(s), more=tuple(more))
    more.append((K, sp.Integer(0)))
    return verdict(eq("more-mut", K, 0, by=rule))


def _replaced_step() -> str:
    d = eq("rep-step", sp.log(s), 0, by="oops")
    fake = dataclasses.replace(d.steps[0], rhs=sp.log(s))
    try:
        return Checker(CONFIG).check_step(fake, d).verdict.value
    except (DerivationError, UsageError):
        return "undecided"


def _replaced_cov() -> str:
    good = change_of_variables("shift", z, u, u + 1)
    bad = dataclasses.replace(good, cov=ChangeOfVariables((z,), (u,), (u + 2 * CUBE_ROOT_M1,)))
    return verdict(eq("rep-cov", sp.Integral(1 / (1 + z**2), (z, -R, R)), 0, by=bad))


def _forged_mapping() -> str:
    """A lemma origin given another mapping by dataclasses.replace keeps the token; the core re-checks it."""
    lemma = eq("lsq-forge", sp.log(s**2), 2 * sp.log(s)).as_lemma()
    origin = dataclasses.replace(lemma.origin, mapping=((s, x),))
    forged = dataclasses.replace(lemma, origin=origin, lhs=sp.log(x**2), rhs=2 * sp.log(x))
    return verdict(eq("use-forge", sp.log(x**2), 2 * sp.log(x), by=forged))


def _forged_origin_derivation() -> str:
    lemma = eq("lsq-forge2", sp.log(s**2), 2 * sp.log(s)).as_lemma()
    other = eq("absurd-forge2", sp.log(s), 0, by="oops")
    origin = dataclasses.replace(lemma.origin, derivation=other)
    forged = dataclasses.replace(lemma, origin=origin, lhs=sp.log(s), rhs=sp.Integer(0))
    return verdict(eq("use-forge2", sp.log(s), 0, by=forged))


def _lemma_kind_to_definition() -> str:
    lemma = eq("kind-swap", sp.log(s**2), 2 * sp.log(s)).as_lemma()
    swapped = dataclasses.replace(lemma, kind="definition", lhs=sp.log(s), rhs=sp.Integer(0), origin=None)
    return verdict(eq("use-kind-swap", sp.log(s), 0, by=swapped))


MUTATION = [
    ("a callable flipped after instantiate does not make the Gaussian integral 1", "false", _flip_after_instantiate),
    ("a mapping dict mutated after instantiating a lemma changes nothing", "false", _mapping_dict_mutated),
    ("a list passed as more= and mutated later changes nothing", "false", _more_list_mutated),
    ("a step copied with a new right side is not part of the derivation", "false", _replaced_step),
    ("a change of variables replaced by a complex map is refused by the core", "false", _replaced_cov),
    ("a lemma origin given a forged mapping does not prove log x^2 = 2 log x", "false", _forged_mapping),
    ("a lemma origin pointed at another derivation does not prove log s = 0", "false", _forged_origin_derivation),
    ("a lemma turned into a definition of log(s) is refused", "false", _lemma_kind_to_definition),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(MUTATION))
def test_mutation_never_proves_more(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 6. Bound variables of binders
# ---------------------------------------------------------------------------
DUMMY_T = sp.Dummy("t", real=True)

BINDERS = [
    ("a positive symbol integrated over [-2, -1] does not split its log", "false",
     lambda: verdict(eq("b1", sp.Integral(sp.log(kp**2) - 2 * sp.log(kp), (kp, -2, -1)), 0))),
    ("the integral of t over [0, 1] then y over [0, t] (t free) is not 1/4", "false",
     lambda: verdict(eq("b2", sp.Integral(t, (t, 0, 1), (y, 0, t)), sp.Rational(1, 4)))),
    ("the integral of t over [0, 1] then y over [0, t] (t free) is t/2", "proved",
     lambda: verdict(eq("b3", sp.Integral(t, (t, 0, 1), (y, 0, t)), t / 2))),
    ("an inner limit naming the outer variable: 1/6", "proved",
     lambda: verdict(eq("b4", sp.Integral(sp.Integral(t, (t, 0, y)), (y, 0, 1)), sp.Rational(1, 6)))),
    ("the derivative in t of an integral that binds t is not y", "false",
     lambda: verdict(eq("b5", sp.Derivative(sp.Integral(t * y, (t, 0, 1)), t), y))),
    ("a reversed range of a negative integrand is still proved non-negative by its value", "true",
     lambda: verdict(ge("b6", sp.Integral(-(t**2), (t, 0, -1)), 0, by=NONNEG_WILD))),
    ("an inner range [y, 1] with y on [0, 3] is not ordered: the integral is -3/2", "false",
     lambda: verdict(ge("b7", sp.Integral(sp.Integral(1, (t, y, 1)), (y, 0, 3)), 0, by=NONNEG_WILD))),
    ("the derivative variable of a lemma cannot take a value holding itself", "check",
     lambda: raises_usage(lambda: instantiate(eq("d-ax2", sp.Derivative(w * x, x), w).as_lemma(), {w: x**2}))),
    ("a Dummy integration variable with a free namesake in the limit", "proved",
     lambda: verdict(eq("b8", sp.Integral(DUMMY_T, (DUMMY_T, 0, t)), t**2 / 2))),
    ("a derivative under an integral integrates to 1: true, not refuted", "true",
     lambda: verdict(eq("b9", sp.Integral(sp.Derivative(t**2, t), (t, 0, 1)), 1))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(BINDERS))
def test_bound_variables_get_their_sign_only_from_their_range(expect, thunk):
    run_case(expect, thunk)
