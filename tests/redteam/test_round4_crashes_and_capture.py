"""Round-4 red team, last part: crashes, capture by binders, and the core stays useful.

Sections 11-12 and "the core stays useful" of round 4 (see ``test_round4_redteam.py``;
sections 7-10 are in ``test_round4_rules_and_numerics.py``).
"""

from __future__ import annotations

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
    le,
    raises_usage,
    run_case,
    verdict,
)
from _vocab import (
    GAUSS,
    INTEG,
    QZ,
    R,
    W,
    a,
    q,
    s,
    t,
    u,
    x,
    y,
    z,
)

from elbo_check import CheckConfig, Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import (
    ChangeOfVariables,
    Rule,
    axiom,
    change_of_variables,
    definition,
    inequality,
    instantiate,
)


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
