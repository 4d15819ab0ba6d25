"""Round-5 red team, second part: special functions, hand-built rules, convergence, false refutation, crashes, capture, fragment edges.

Sections 7-13 and "the core stays useful" of round 5 (see ``test_round5_redteam.py``).
"""

from __future__ import annotations

import dataclasses
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
    TRIVIAL,
    cases,
    eq,
    ge,
    le,
    ledger,
    raises_usage,
    run_case,
    verdict,
)
from _vocab import (
    ABSURD,
    GAUSS,
    INTEG,
    K2,
    NONNEG_WILD,
    QZ,
    RAMANUJAN,
    RAMANUJAN_CEIL,
    VR,
    K,
    Kp,
    R,
    V,
    f_pos,
    q,
    s,
    t,
    tp,
    u,
    w,
    x,
    y,
    z,
)
from test_round5_redteam import DUMMY_T  # shared with part one of the round

from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    Rule,
    axiom,
    change_of_variables,
    definition,
    instantiate,
)

# ---------------------------------------------------------------------------
# 7. Series, special functions, Float, numeric signs
# ---------------------------------------------------------------------------
Z0 = sp.sqrt(2 + sp.sqrt(3)) - (sp.sqrt(6) + sp.sqrt(2)) / 2  # exactly 0

SPECIAL = [
    ("a definition whose meaning is a Float does not prove K = 1/10", "false",
     lambda: verdict(eq("f1", K, sp.Rational(1, 10), by=definition("K", K, sp.Float("0.1"))))),
    ("a Float integral limit is out of the fragment", "false",
     lambda: verdict(eq("f2", sp.Integral(1, (t, 0, sp.Float("0.5"))), sp.Rational(1, 2)))),
    ("a Float shift is refused", "check", lambda: raises_usage(lambda: change_of_variables("fl", z, u, u + sp.Float("0.5")))),
    ("EulerGamma is out of the fragment", "false", lambda: verdict(ge("f3", sp.EulerGamma, sp.Rational(3, 5)))),
    ("UnevaluatedExpr is out of the fragment", "false",
     lambda: verdict(eq("f4", sp.UnevaluatedExpr(s) - s, 1))),
    ("a Sum brought in by a definition is out of the fragment", "false",
     lambda: verdict(eq("f5", K, 0, by=definition("K", K, sp.Sum(1 / sp.Symbol("j", integer=True, positive=True) ** 2,
                                                                  (sp.Symbol("j", integer=True, positive=True), 1, R)))))),
    ("Ramanujan's constant is not proved at least its ceiling", "false",
     lambda: verdict(ge("f6", RAMANUJAN, RAMANUJAN_CEIL, by=NONNEG_WILD))),
    ("Ramanujan's constant is (truly) at most its ceiling: not refuted", "true",
     lambda: verdict(le("f7", RAMANUJAN, RAMANUJAN_CEIL, by=NONNEG_WILD))),
    ("an exact zero minus 10^-60 is not proved non-negative", "false",
     lambda: verdict(ge("f8", Z0 - sp.Rational(1, 10**60), 0, by=NONNEG_WILD))),
    ("an exact zero plus 10^-60 is not proved non-positive", "false",
     lambda: verdict(le("f9", Z0 + sp.Rational(1, 10**60), 0, by=NONNEG_WILD))),
    ("a polygamma identity is out of the fragment", "false",
     lambda: verdict(eq("f10", sp.polygamma(0, 1), -sp.Rational(1, 2)))),
    ("a Piecewise brought in by a wild match is out of the fragment", "false",
     lambda: verdict(eq("f11", K, 1, by=definition("K", K, sp.Piecewise((1, x > 0), (0, True)))))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(SPECIAL))
def test_outside_the_fragment_is_at_best_corroborated(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 8. Hand-built rules and classes
# ---------------------------------------------------------------------------
class _SpoofAdd(sp.Add):
    """An Add subclass that claims to live in sympy and expands to 0."""

    __module__ = "sympy.core.add"

    def _eval_expand_mul(self, **hints):
        return sp.Integer(0)


class _SpoofSymbol(sp.Symbol):
    __module__ = "sympy.core.symbol"

    def _eval_expand_mul(self, **hints):
        return sp.Integer(0)


class _SpoofLog(sp.log):
    __module__ = "sympy.functions.elementary.exponential"

    def _eval_expand_log(self, **hints):
        return sp.Integer(0)


class _SpoofMixin:
    __module__ = "sympy.core.function"

    def _eval_expand_mul(self, **hints):
        return sp.Integer(7)


class _OpaqueSpoofMixin(sp.Function, _SpoofMixin):
    opaque = True
    is_real = True


@dataclasses.dataclass(frozen=True, eq=False)
class _TwoFacedRule(Rule):
    """Rewrites for the core, nothing for anyone else."""

    @property
    def patterns(self):  # type: ignore[override]
        if sys._getframe(1).f_code.co_name in ("admit", "_refusal"):
            return ((sp.log(s), sp.Integer(0)),)
        return ()


def _two_faced() -> str:
    try:
        rule = _TwoFacedRule("tf", "side-condition", "nothing")
        return verdict(eq("two-faced", sp.log(s), 0, by=rule))
    except (DerivationError, UsageError):
        return "undecided"


HANDMADE = [
    ("an Add subclass claiming sympy's module does not prove s + 1 = 0", "false", lambda: verdict(eq("h1", _SpoofAdd(s, 1), 0))),
    ("a Symbol subclass claiming sympy's module does not prove zz = 0", "false",
     lambda: verdict(eq("h2", _SpoofSymbol("zz", positive=True), 0))),
    ("a log subclass claiming sympy's module does not prove log s = 0", "false", lambda: verdict(eq("h3", _SpoofLog(s), 0))),
    ("an opaque class with a mixin claiming sympy's module does not prove O(x) = 7", "false",
     lambda: verdict(eq("h4", _OpaqueSpoofMixin(x), 7))),
    ("an undefined function given __module__ and an expand hook does not expand to 0", "false",
     lambda: verdict(eq("h5", sp.Function("hk5", real=True, __module__="sympy.core.function",
                                          _eval_expand_mul=lambda self, **h: sp.Integer(0))(x), 0))),
    ("a Rule subclass with two-faced patterns does not prove log s = 0", "false", _two_faced),
    ("a hand-built definition with an Integral head is refused", "false",
     lambda: verdict(eq("h6", sp.Integral(t, (t, 0, 1)), 1, by=Rule("int def", "definition", "x",
                                                                      lhs=sp.Integral(t, (t, 0, 1)), rhs=sp.Integer(1))))),
    ("a hand-built definition whose extra schema has a non-symbol head is refused", "false",
     lambda: verdict(eq("h7", 2 * K, 1, by=Rule("K2", "definition", "x", lhs=K, rhs=sp.log(s),
                                                  extra=((2 * K, sp.Integer(1)),))))),
    ("a hand-built inequality-kind rule with a schema shows it in the ledger", "check",
     lambda: any("log(s) → 0" in e.shows for e in ledger(eq("h8", sp.log(s), 0, by=Rule(
         "ineq schema", "inequality", "harmless", lhs=sp.log(s), rhs=sp.Integer(0)))))),
    ("a definition of an opaque function applied to a symbol is refused", "false",
     lambda: verdict(eq("h9", _OpaqueFn(x), 2, by=definition("O at x", _OpaqueFn(x), sp.Integer(2))))),
]


class _OpaqueFn(sp.Function):
    opaque = True
    is_real = True


@pytest.mark.parametrize(("expect", "thunk"), cases(HANDMADE))
def test_hand_built_rules_and_classes_cannot_forge_a_proof(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 9. Convergence and integrability
# ---------------------------------------------------------------------------
g_real = sp.Function("g", real=True)

CONVERGENCE = [
    ("a Gaussian of scale x^2 (zero at x = 0) is not evaluated", "false",
     lambda: verdict(eq("cv1", sp.Integral(sp.exp(-(x**2) * z**2), (z, -R, R)), sp.sqrt(sp.pi) / sp.Abs(x)))),
    ("exp(-z^2 + z^3) diverges and is not sqrt(pi)", "false",
     lambda: verdict(eq("cv2", sp.Integral(sp.exp(-(z**2) + z**3), (z, -R, R)), sp.sqrt(sp.pi)))),
    ("the quartic integral 2 Gamma(5/4) is true: not refuted", "true",
     lambda: verdict(eq("cv3", sp.Integral(sp.exp(-(z**4)), (z, -R, R)), 2 * sp.gamma(sp.Rational(5, 4))))),
    ("an odd degree-9 moment is 0: true, not refuted", "true",
     lambda: verdict(eq("cv4", sp.Integral(z**9 * sp.exp(-(z**2)), (z, -R, R)), 0))),
    ("the half-line Gaussian is sqrt(pi)/2: true, not refuted", "true",
     lambda: verdict(eq("cv5", sp.Integral(sp.exp(-(z**2)), (z, 0, R)), sp.sqrt(sp.pi) / 2))),
    ("the integral of log t on [0, 1] is -1: true, not refuted", "true",
     lambda: verdict(eq("cv6", sp.Integral(sp.log(tp), (tp, 0, 1)), -1))),
    ("integrability does not cover q(2z)", "false",
     lambda: verdict(eq("cv7", sp.Integral(q(2 * z) * (1 + z), (z, -R, R)),
                        sp.Integral(q(2 * z), (z, -R, R)) + sp.Integral(q(2 * z) * z, (z, -R, R)), by=INTEG))),
    ("integrability does not cover q(-z)", "false",
     lambda: verdict(eq("cv8", sp.Integral(q(-z) * (1 + z), (z, -R, R)),
                        sp.Integral(q(-z), (z, -R, R)) + sp.Integral(q(-z) * z, (z, -R, R)), by=INTEG))),
    ("integrability does not cover an opaque function", "false",
     lambda: verdict(eq("cv9", sp.Integral(_OpaqueFn(z) * (1 + z), (z, -R, R)),
                        sp.Integral(_OpaqueFn(z), (z, -R, R)) + sp.Integral(_OpaqueFn(z) * z, (z, -R, R)), by=INTEG))),
    ("a 'density' defined as 1 does not split a divergent integral", "false",
     lambda: verdict(eq("cv10", sp.Integral(g_real(z) * (1 + z), (z, -R, R)),
                        sp.Integral(g_real(z), (z, -R, R)) + sp.Integral(g_real(z) * z, (z, -R, R)),
                        by=[INTEG, definition("g", g_real(V), sp.Integer(1))]))),
    ("a rotation of a 2-d Gaussian is still proved", "proved",
     lambda: verdict(eq("cv11", sp.Integral(sp.exp(-(z**2) - w**2), (z, -R, R), (w, -R, R)), sp.pi,
                        by=change_of_variables("rot", (z, w), (u, t), (u + t, u - t))))),
    ("a nested shift by the outer variable is still proved", "proved",
     lambda: verdict(eq("cv12", sp.Integral(sp.Integral(sp.exp(-(z**2) - w**2), (z, -R, R)), (w, -R, R)), sp.pi,
                        by=change_of_variables("shift by w", z, u, u + w)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CONVERGENCE))
def test_only_provably_convergent_integrals_are_moved(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 10. False refutation
# ---------------------------------------------------------------------------
def _refused_instance_unfolded() -> str:
    """K := log s in the citer; the step K = log s is true.  A refused lemma instance
    (K -> log 2s, its hypothesis not cited) must not be unfolded by the numeric stage."""
    lemma = eq("k-log-ri", K, sp.log(s), by=definition("K-log", K, sp.log(s))).as_lemma()
    inst = instantiate(lemma, {s: 2 * s})
    return verdict(eq("ri", K, sp.log(s), by=[inst, definition("K-log", K, sp.log(s))]))


REFUTE = [
    ("log f^2 = 2 log f for a positive f is not refuted by an inconsistent function definition", "true",
     lambda: verdict(eq("r1", sp.log(f_pos(x) ** 2), 2 * sp.log(f_pos(x)), by=definition("f", f_pos(V), V - 10)))),
    ("f >= 0 for a positive f is not refuted by an inconsistent function definition", "true",
     lambda: verdict(ge("r2", f_pos(x), 0, by=[TRIVIAL, definition("f", f_pos(V), V - 10)]))),
    ("a true step is not refuted by unfolding a refused lemma instance", "true", _refused_instance_unfolded),
    ("a true step is not refuted by a lemma resting on a refused definition", "true",
     lambda: verdict(eq("r3", sp.log(Kp**2), 2 * sp.log(Kp),
                        by=eq("kp-x", Kp, x, by=definition("Kp", Kp, x)).as_lemma()))),
    ("a true step citing a lemma that rests on an axiom is not refuted", "true",
     lambda: verdict(eq("r4", sp.log(s**2), 2 * sp.log(s), by=eq("r4-l", sp.log(s), 0, by=ABSURD).as_lemma()))),
    ("10 K = 1 with K := 1/10 is proved", "proved",
     lambda: verdict(eq("r5", 10 * K, 1, by=definition("K", K, sp.Rational(1, 10))))),
    ("an exact huge identity is not refuted", "true",
     lambda: verdict(eq("r6", (1 + sp.Rational(1, 10**60)) - 1, sp.Rational(1, 10**60)))),
    ("sqrt(s^2 + 10^-80) >= s is not refuted", "true",
     lambda: verdict(ge("r7", sp.sqrt(s**2 + sp.Rational(1, 10**80)), s, by=NONNEG_WILD))),
    ("a discharged instance of a definition lemma is not refuted", "true",
     lambda: verdict(eq("r8", K2, sp.log(2 * s), by=[
         instantiate(eq("k-log-r8", K, sp.log(s), by=definition("K-log", K, sp.log(s))).as_lemma(), {s: 2 * s, K: K2}),
         definition("K2-log2", K2, sp.log(2 * s))]))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(REFUTE))
def test_true_steps_are_never_refuted(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 11. Crashes
# ---------------------------------------------------------------------------
def _no_crash(build: Callable[[], Derivation]) -> bool:
    try:
        check_derivation(build(), CONFIG).to_dict()
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)
    return True  # any other exception fails the test by propagating


def _matrix_same_name() -> Derivation:
    m = sp.MatrixSymbol("M", 2, 2)
    return (Derivation("matrix-names").start(s).equals(s, by=axiom("A", sp.log(s), sp.Integer(0)))
            .equals(s, by=axiom("A", m, sp.ZeroMatrix(2, 2))))


def _inconsistent_function() -> Derivation:
    try:
        fi = sp.Function("fi", positive=True, negative=True)
    except Exception:  # sympy itself refuses the class: nothing reaches the checker
        return eq("incons-fn", x, x)
    return eq("incons-fn", fi(x), fi(x))


def _newline_function() -> Derivation:
    return eq("nl-fn", sp.Function("a\nb", even=True)(x), 0)


def _newline_map() -> object:
    return change_of_variables("nl-map", z, u, u + sp.Symbol("p\nq"))


def _matrix_in_hypothesis() -> Derivation:
    lemma = eq("mat-h", sp.log(s), K, by=axiom("K is log s", sp.log(s), K)).as_lemma()
    m = sp.MatrixSymbol("M", 2, 2)
    return eq("mat-h-use", sp.log(2 * s), K, by=[instantiate(lemma, {s: 2 * s}), axiom("matrix", m, sp.ZeroMatrix(2, 2))])


def _long_lemma_chain() -> Derivation:
    rule = eq("long-0", sp.log(s**2), 2 * sp.log(s)).as_lemma()
    for i in range(1, 120):
        rule = eq(f"long-{i}", sp.log(s**2), 2 * sp.log(s), by=[rule]).as_lemma()
    return eq("long-use", sp.log(s**2), 2 * sp.log(s), by=instantiate(rule, {s: 2 * s}))


CRASHES = [
    ("two same-named rules, one over matrices, give a usage error, not a TypeError", "check",
     lambda: _no_crash(_matrix_same_name)),
    ("a function declared positive and negative gives a usage error, not InconsistentAssumptions", "check",
     lambda: _no_crash(_inconsistent_function)),
    ("an unsupported key on a function named with a newline gives a one-line error", "check",
     lambda: _no_crash(_newline_function)),
    ("a refused map holding a symbol named with a newline gives a one-line error", "check",
     lambda: raises_usage(_newline_map)),
    ("a matrix axiom next to an instance hypothesis does not crash", "check", lambda: _no_crash(_matrix_in_hypothesis)),
    ("a derivative of order 10^6 does not crash", "check", lambda: _no_crash(lambda: eq("k1", sp.Derivative(x**3, (x, 10**6)), 0))),
    ("a derivative of symbolic order does not crash", "check",
     lambda: _no_crash(lambda: eq("k2", sp.Derivative(x**3, (x, sp.Symbol("m", integer=True, positive=True))), 0))),
    ("an instance callable returning a matrix is a usage error", "check",
     lambda: raises_usage(lambda: instantiate(eq("k3-l", QZ, QZ).as_lemma(), {q: lambda v: sp.Matrix([v])}))),
    ("a 120-deep lemma chain instantiated does not crash", "check", lambda: _no_crash(_long_lemma_chain)),
    ("a definition of an opaque function of a Tuple does not crash", "check",
     lambda: _no_crash(lambda: eq("k4", _OpaqueFn(sp.Tuple(x, y)), x,
                                  by=definition("O tuple", _OpaqueFn(sp.Tuple(V, sp.Wild("b"))), V)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CRASHES))
def test_nothing_crashes_with_a_traceback(expect, thunk):
    run_case(expect, thunk)


CLI = [sys.executable, "-m", "elbo_check", "prove", "--format", "json", "--step-timeout", "5"]

HOSTILE_FILES = {
    "matrix rule sharing a name": """
        import sympy as sp
        from elbo_check import Derivation
        from elbo_check.rules import axiom
        s = sp.Symbol("s", positive=True)
        m = sp.MatrixSymbol("M", 2, 2)
        d = (Derivation("matrix-names").start(s).equals(s, by=axiom("A", sp.log(s), sp.Integer(0)))
             .equals(s, by=axiom("A", m, sp.ZeroMatrix(2, 2))))
    """,
    "function declared positive and negative": """
        import sympy as sp
        from elbo_check import Derivation
        x = sp.Symbol("x", real=True)
        fi = sp.Function("fi", positive=True, negative=True)
        d = Derivation("incons").start(fi(x)).equals(fi(x), by="same")
    """,
}


@pytest.mark.parametrize("source", list(HOSTILE_FILES.values()), ids=list(HOSTILE_FILES))
def test_json_cli_on_a_hostile_file_prints_json_or_one_line(source, tmp_path):
    path = tmp_path / "hostile.py"
    path.write_text(textwrap.dedent(source))
    proc = subprocess.run([*CLI, "--file", str(path)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode in (0, 1, 2), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if proc.returncode == 2:
        assert len(proc.stderr.strip().splitlines()) == 1
    else:
        json.loads(proc.stdout)


# ---------------------------------------------------------------------------
# 12. Capture
# ---------------------------------------------------------------------------
def _hypothesis_capture() -> str:
    """The lemma K = s/2 rests on K = ∫_0^1 s tp dtp; s := tp moves the hypothesis under the binder
    (K = ∫ tp^2 = 1/3), so citing that instance must not prove K = tp/2 for every tp."""
    lemma = eq("cap-h", K, s / 2, by=axiom("K is half s", K, sp.Integral(s * tp, (tp, 0, 1)))).as_lemma()
    try:
        inst = instantiate(lemma, {s: tp})
    except (DerivationError, UsageError):
        return "undecided"
    return verdict(eq("cap-h-use", K, tp / 2, by=[inst, axiom("K is a third", K, sp.Integral(tp * tp, (tp, 0, 1)))]))


h_real = sp.Function("hcap", real=True)

CAPTURE = [
    ("a lemma hypothesis is not instantiated under its own binder", "false", _hypothesis_capture),
    ("a function definition's free t is not captured by the integral over t", "false",
     lambda: verdict(eq("cap1", sp.Integral(h_real(t), (t, 0, 1)), 1, by=definition("hcap", h_real(V), V + t)))),
    ("the same definition gives 1/2 + t: true, not refuted", "true",
     lambda: verdict(eq("cap2", sp.Integral(h_real(t), (t, 0, 1)), sp.Rational(1, 2) + t,
                        by=definition("hcap", h_real(V), V + t)))),
    ("a definition rhs bound variable named like the canonical prefix is not captured", "false",
     lambda: verdict(eq("cap3", sp.Integral(K, (t, 0, 1)), sp.Rational(1, 3),
                        by=definition("K", K, sp.Integral(sp.Symbol("_b1_0", real=True) * t, (t, 0, 1)))))),
    ("a lemma instance value holding the lemma's integration variable is refused", "check",
     lambda: raises_usage(lambda: instantiate(eq("cap4-l", sp.Integral(s * tp, (tp, 0, 1)), s / 2).as_lemma(), {s: tp}))),
    ("a function instance value capturing the integration variable is refused", "check",
     lambda: raises_usage(lambda: instantiate(eq("cap5-l", sp.Integral(q(z) * q(u), (z, -R, R)),
                                                   sp.Integral(q(z) * q(u), (z, -R, R)), by=INTEG).as_lemma(),
                                              {q: lambda v: sp.exp(-(v - z) ** 2)}))),
    ("a shift whose new variable occurs in a sibling integral is still fine", "proved",
     lambda: verdict(eq("cap6", GAUSS + sp.Integral(sp.exp(-(u**2)), (u, -R, R)), 2 * sp.sqrt(sp.pi),
                        by=change_of_variables("sh", z, u, u + 1)))),
    ("an axiom about a free t is not applied under a binder of t", "false",
     lambda: verdict(eq("cap7", sp.Integral(t, (t, 0, 1)), 0, by=axiom("t is zero", t, sp.Integer(0))))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(CAPTURE))
def test_nothing_is_captured_by_a_binder(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 13. Fragment edges touched by the round-4 fixes
# ---------------------------------------------------------------------------
DUMMY_P = sp.Dummy("dp", positive=True)

FRAGMENT = [
    ("d/dx |x| is out of the fragment (sign)", "false", lambda: verdict(eq("e1", sp.Derivative(sp.Abs(x), x), 1))),
    ("d/dx |x| = x/|x| is true away from 0: not refuted", "true",
     lambda: verdict(eq("e2", sp.Derivative(sp.Abs(x), x), x / sp.Abs(x)))),
    ("d/dx log x = 1/x is proved", "proved", lambda: verdict(eq("e3", sp.Derivative(sp.log(x), x), 1 / x))),
    ("a derivative of an abstract function is not evaluated through a definition", "false",
     lambda: verdict(eq("e4", sp.Derivative(g_real(x), x), 0, by=definition("g", g_real(V), V**2)))),
    # the claim is the axiom itself: following from it is sound (the ledger shows the axiom)
    ("an axiom with a Derivative left side is never refuted against itself", "true",
     lambda: verdict(eq("e5", sp.Derivative(g_real(x), x), 5, by=axiom("dg", sp.Derivative(g_real(x), x), sp.Integer(5))))),
    ("an inequality between opaque values is proved only from declared facts", "false",
     lambda: verdict(ge("e6", _OpaqueFn(x), 0, by=NONNEG_WILD))),
    ("1/x >= 0 for real x is not proved", "false",
     lambda: verdict(ge("e7", 1 / x, 0, by=NONNEG_WILD))),
    ("a Dummy declared only real does not get log d^2 = 2 log d", "false",
     lambda: verdict(eq("e8", sp.log(DUMMY_T**2), 2 * sp.log(DUMMY_T)))),
    ("a Dummy declared positive still gets log d^2 = 2 log d", "proved",
     lambda: verdict(eq("e9", sp.log(DUMMY_P**2), 2 * sp.log(DUMMY_P)))),
    ("an integral limit log(s - 1) is not provably real", "false",
     lambda: verdict(eq("e10", sp.Integral(1, (t, 0, sp.log(s - 1))), sp.log(s - 1)))),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(FRAGMENT))
def test_fragment_edges_of_the_round4_fixes(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# The core stays useful
# ---------------------------------------------------------------------------
USEFUL = [
    # renamed in round 8: the old form discharged K := log 2s with an axiom on the defined K,
    # which with K := log s proved log s = log 2s; the instance now renames K to a fresh K2
    ("an instance of a definition lemma with its definition instance cited", lambda: verdict(eq(
        "ok1", K2, sp.log(2 * s), by=[instantiate(eq("ok1-l", K, sp.log(s), by=definition("K-log", K, sp.log(s))).as_lemma(),
                                                   {s: 2 * s, K: K2}), definition("K2-log2", K2, sp.log(2 * s))]))),
    ("an instance of an axiom-free lemma needs nothing cited", lambda: verdict(eq(
        "ok2", sp.log((2 * s) ** 2), 2 * sp.log(2 * s),
        by=instantiate(eq("ok2-l", sp.log(s**2), 2 * sp.log(s)).as_lemma(), {s: 2 * s})))),
    ("a function-head definition consistent with its sign", lambda: verdict(eq(
        "ok3", f_pos(x), x**2 + 1, by=definition("f", f_pos(VR), VR**2 + 1)))),
    ("a derivative of exp", lambda: verdict(eq("ok4", sp.Derivative(sp.exp(2 * x), x), 2 * sp.exp(2 * x)))),
    ("the Gaussian second moment", lambda: verdict(eq(
        "ok5", sp.Integral(z**2 * sp.exp(-(z**2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s), (z, -R, R)), s**2))),
    ("q normalised by an axiom, under integrability", lambda: verdict(eq(
        "ok6", 3 * QZ, 3, by=[INTEG, axiom("norm", QZ, 1)]))),
]


@pytest.mark.parametrize("thunk", [pytest.param(f, id=name) for name, f in USEFUL])
def test_true_in_fragment_claims_are_still_proved(thunk):
    assert thunk() == "proved"
