"""Round-4 red team, third part: special functions, hand-built rules, convergence, false refutation.

Sections 7-10 of round 4 (see ``test_round4_redteam.py``); sections 11-12 and
"the core stays useful" are in ``test_round4_crashes_and_capture.py``.
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
    raises_usage,
    run_case,
    verdict,
)
from _vocab import (
    ABSURD,
    CUBE_ROOT_M1,
    INTEG,
    QZ,
    R,
    W,
    a,
    n,
    q,
    s,
    t,
    u,
    x,
    y,
    z,
)
from test_round4_ledger_and_binders import (  # shared with sections 4-6
    ZeroAdd,
    ZeroSymbol,
    _two_definitions_lemma,
)

from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    ChangeOfVariables,
    LemmaOrigin,
    Rule,
    axiom,
    definition,
    inequality,
    instantiate,
    side_condition,
)

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
