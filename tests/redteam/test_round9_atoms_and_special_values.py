"""Round-9 red team, parts 2 and 3: the general-k Gaussian KL atoms and the ψ/log Γ values.

Same harness as rounds 4-8 (part 1, definition renaming, is in
``test_round9_redteam.py``).  Expectations are the mathematically correct
behaviour, checked with mpmath where a value matters.

2. the opaque matrix atoms and five axioms of
   ``derivations/gaussian_kl_full_covariance_general.py``;
3. the special values of ψ and log Γ that ``conclude`` cites
   (``klformula/_special.py``).

Found: nothing; every attack held (no strict xfail).  Noted, not a core
hole: ``instantiate`` on one of the matrix axioms treats its parameter k as
universal, so TRACE with k := 1 beside TRACE proves k = 1; the core proves
relative to the cited axioms, and the ledger shows the instance with its
substitution (tested).
"""
from __future__ import annotations

from functools import cache

import mpmath
import pytest
import sympy as sp
from _harness import CONFIG, cases, run_case

from derivations import gaussian_kl_full_covariance_general as gen
from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.klformula._moments import Digamma, LogGamma, to_sympy
from elbo_check.klformula._special import MAX_ARGUMENT, special_values
from elbo_check.klformula.derive import conclude, derive
from elbo_check.klformula.families import FAMILIES
from elbo_check.klformula.spec import Dist
from elbo_check.rules import definition, instantiate

R = sp.Rational
s = sp.Symbol("s", positive=True)
t = sp.Symbol("t", real=True)
K, K2, K3, J, J2 = sp.symbols("K K2 K3 J J2", real=True)
f, f2 = sp.Function("f"), sp.Function("f2")
W = sp.Wild("w")
w = sp.Symbol("w")


def _outcome(d: Derivation) -> list[str]:
    """The verdicts, or ``["refused"]`` when the core refuses the derivation outright."""
    try:
        return [r.verdict.value for r in check_derivation(d, CONFIG).steps]
    except (UsageError, DerivationError):
        return ["refused"]


def _all_proved(build) -> str:
    """``proved`` when every step of the built derivation is proved (else what is not)."""
    try:
        got = _outcome(build())
    except (UsageError, DerivationError):
        return "refused"
    return "proved" if got and all(v == "proved" for v in got) else ",".join(got)


def _k_log():
    return (
        Derivation("k-log")
        .start(K)
        .equals(sp.log(s), by=definition("K-log", K, sp.log(s)))
        .as_lemma()
    )


# ---------------------------------------------------------------------------
# 2. The general-k Gaussian KL: opaque matrix atoms and their five axioms
# ---------------------------------------------------------------------------
Tr, Quad, EQuad, ELogN, LogDet, KLN = gen.Tr, gen.Quad, gen.EQuad, gen.ELogN, gen.LogDet, gen.KLN
k, m0, m1, S0, S1 = gen.k, gen.mu0, gen.mu1, gen.Sigma0, gen.Sigma1
x = sp.Symbol("x", real=True)


def _with_axioms(lhs: sp.Expr, rhs: sp.Expr) -> str:
    d = Derivation("fc", assumptions=[gen.SPD]).start(lhs).equals(rhs, by=list(gen.AXIOMS))
    return _all_proved(lambda: d)


def _general_lemma():
    return gen.DERIVATION.as_lemma()


def _instance_claim(mapping: dict) -> str:
    inst = instantiate(_general_lemma(), mapping)
    d = Derivation("fc-inst").start(inst.lhs).equals(inst.rhs, by=inst)
    return _all_proved(lambda: d)


FULL_COVARIANCE = [
    ("the shipped derivation is proved", "proved", lambda: _all_proved(lambda: gen.DERIVATION)),
    ("KL of a Gaussian from itself is 0", "proved", lambda: _with_axioms(KLN(m0, S0, m0, S0), 0)),
    ("k = 1 from the axioms", "false", lambda: _with_axioms(k, 1)),
    ("k = 0 from the axioms", "false", lambda: _with_axioms(k, 0)),
    ("tr(A^-1 B) = k for A != B", "false", lambda: _with_axioms(Tr(S0, S1), k)),
    ("tr(A^-1 B) = tr(B^-1 A)", "false", lambda: _with_axioms(Tr(S0, S1), Tr(S1, S0))),
    ("a quadratic form of m0 - m1 is 0", "false", lambda: _with_axioms(Quad(m0, m1, S0), 0)),
    (
        "quadratic forms symmetric in the matrix",
        "false",
        lambda: _with_axioms(Quad(m0, m1, S0), Quad(m0, m1, S1)),
    ),
    (
        "log det of a product of codes",
        "false",
        lambda: _with_axioms(LogDet(S0 * S1), LogDet(S0) + LogDet(S1)),
    ),
    (
        "log det of a scalar multiple",
        "false",
        lambda: _with_axioms(LogDet(2 * S0), k * sp.log(2) + LogDet(S0)),
    ),
    (
        "the closed form off by one",
        "false",
        lambda: _with_axioms(KLN(m0, S0, m1, S1), gen.closed_form() + 1),
    ),
    (
        "the closed form with k dropped",
        "false",
        lambda: _with_axioms(KLN(m0, S0, m1, S1), gen.closed_form() + k / 2),
    ),
    ("an atom times a scalar, Tr(x,x)*x = k*x", "true", lambda: _with_axioms(Tr(x, x) * x, k * x)),
    ("the lemma at k := 0", "false", lambda: _instance_claim({k: 0})),
    ("the lemma at k := -1", "false", lambda: _instance_claim({k: -1})),
    ("the lemma at k := 1/2", "false", lambda: _instance_claim({k: R(1, 2)})),
    ("the lemma at k := 1 without its changed axioms", "false", lambda: _instance_claim({k: 1})),
    (
        "the lemma with Tr := 0 without its changed axioms",
        "false",
        lambda: _instance_claim({Tr: sp.Lambda((x, t), 0)}),
    ),
    (
        "the lemma with LogDet := log without its changed axioms",
        "false",
        lambda: _instance_claim({LogDet: sp.Lambda(x, sp.log(x**2 + 1))}),
    ),
    ("the lemma at Sigma0 := Sigma1 (codes: true)", "true", lambda: _instance_claim({S0: S1})),
    (
        "a definition of LogDet beside the axioms",
        "false",
        lambda: _all_proved(
            lambda: (
                Derivation("ld")
                .start(LogDet(S0))
                .equals(0, by=definition("LogDet0", LogDet(sp.Wild("M", real=True)), 0))
                .equals(KLN(m0, S0, m0, S0), by=list(gen.AXIOMS))
            )
        ),
    ),
]


def test_an_instantiated_matrix_axiom_is_shown_in_the_ledger_with_its_substitution():
    """Not a core hole, but the sharpest way to k = 1 from these axioms: ``instantiate`` on
    an axiom treats its parameter k as universal, so TRACE with k := 1 beside TRACE proves
    k = 1.  The core proves relative to the cited axioms; the ledger must show the instance."""
    tr1 = instantiate(gen.TRACE_OF_IDENTITY, {k: 1}, name="tr1")
    d = Derivation("k-one").start(k).equals(Tr(S0, S0), by=gen.TRACE_OF_IDENTITY).equals(1, by=tr1)
    report = check_derivation(d, CONFIG)
    shown = {e.name: e for e in report.ledger}
    assert shown["tr1"].kind == "axiom"
    assert "[with k := 1]" in shown["tr1"].statement


@pytest.mark.parametrize(("expect", "thunk"), cases(FULL_COVARIANCE))
def test_the_general_k_matrix_atoms_prove_nothing_false(expect, thunk):
    run_case(expect, thunk)


# ---------------------------------------------------------------------------
# 3. Special values of ψ and log Γ cited by conclude
# ---------------------------------------------------------------------------
def test_every_special_value_is_true_to_mpmath():
    """ψ(a) and log Γ(a) at a = 1/2, 1, 3/2, ..., MAX_ARGUMENT against mpmath (γ = -ψ(1))."""
    atoms = [cls(R(j, 2)) for j in range(1, 2 * MAX_ARGUMENT + 1) for cls in (Digamma, LogGamma)]
    rules = special_values(sp.Add(*atoms))
    assert len(rules) == len(atoms) - 1  # all but ψ(1), which stays opaque
    with mpmath.workdps(40):
        for rule in rules:
            ((lhs, rhs),) = rule.patterns
            a = mpmath.mpf(lhs.args[0].p) / lhs.args[0].q
            want = mpmath.digamma(a) if isinstance(lhs, Digamma) else mpmath.loggamma(a)
            got = mpmath.mpf(str(sp.N(to_sympy(rhs), 40)))
            assert abs(got - want) < mpmath.mpf(10) ** -30, rule.name


@pytest.mark.parametrize(
    "atom",
    [
        Digamma(sp.Float(0.5)),
        Digamma(sp.Integer(0)),
        Digamma(-R(1, 2)),
        LogGamma(-R(3, 2)),
        LogGamma(R(1, 3)),
        LogGamma(R(2 * MAX_ARGUMENT + 1, 2)),
        Digamma(sp.Integer(MAX_ARGUMENT + 1)),
        Digamma(sp.EulerGamma),
        LogGamma(sp.pi),
    ],
    ids=str,
)
def test_no_special_value_outside_positive_integers_and_halves_up_to_the_bound(atom):
    assert special_values(atom) == []


@cache
def _gamma_numeric():
    g = FAMILIES["Gamma"]
    out = derive(Dist(g, (R(5, 2), sp.Integer(1))), Dist(g, (sp.Integer(3), sp.Integer(2))))
    assert out.derivation is not None
    return out.derivation, out.closed_form


def _numeric_claim(extra: sp.Expr, true: bool) -> str:
    d, closed = _gamma_numeric()
    gap = complex(sp.N(extra, 30))
    assert (abs(gap) < 1e-25) is true, f"the attack's premise is wrong: the extra term is {gap}"
    return _steps_last(conclude(d, closed + extra))


def _steps_last(d: Derivation) -> str:
    return _outcome(d)[-1]


dg, lg = sp.digamma, sp.loggamma
NUMERIC = [
    ("the closed form itself", "true", lambda: _numeric_claim(sp.Integer(0), True)),
    (
        "+ digamma(3) - digamma(2) - 1/3",
        "false",
        lambda: _numeric_claim(dg(3) - dg(2) - R(1, 3), False),
    ),
    (
        "+ digamma(3) - digamma(2) - 1/2 (true)",
        "true",
        lambda: _numeric_claim(dg(3) - dg(2) - R(1, 2), True),
    ),
    (
        "+ digamma(1/2) - digamma(1) + log 2",
        "false",
        lambda: _numeric_claim(dg(R(1, 2)) - dg(1) + sp.log(2), False),
    ),
    (
        "+ loggamma(1/2) - log pi",
        "false",
        lambda: _numeric_claim(lg(R(1, 2)) - sp.log(sp.pi), False),
    ),
    (
        "+ loggamma(101) - log 99!",
        "false",
        lambda: _numeric_claim(lg(101) - sp.log(sp.factorial(99)), False),
    ),
    (
        "+ loggamma(100) - log 99! (true)",
        "true",
        lambda: _numeric_claim(lg(100) - sp.log(sp.factorial(99)), True),
    ),
    (
        "+ digamma(199/2) - digamma(197/2) - 2/195",
        "false",
        lambda: _numeric_claim(dg(R(199, 2)) - dg(R(197, 2)) - R(2, 195), False),
    ),
    (
        "+ digamma(201/2) - digamma(199/2) - 2/197 (beyond the bound)",
        "false",
        lambda: _numeric_claim(dg(R(201, 2)) - dg(R(199, 2)) - R(2, 197), False),
    ),
    (
        "+ digamma(199/2) - digamma(197/2) - 2/197 (true)",
        "true",
        lambda: _numeric_claim(dg(R(199, 2)) - dg(R(197, 2)) - R(2, 197), True),
    ),
    (
        "+ EulerGamma + digamma(1) (true)",
        "true",
        lambda: _numeric_claim(sp.EulerGamma + dg(1), True),
    ),
    ("+ EulerGamma - digamma(1)", "false", lambda: _numeric_claim(sp.EulerGamma - dg(1), False)),
    (
        "+ digamma(-1/2) - digamma(1/2) - 2 (negative half-integer, true)",
        "true",
        lambda: _numeric_claim(dg(-R(1, 2)) - dg(R(1, 2)) - 2, True),
    ),
    (
        "+ digamma(-1/2) - digamma(1/2) + 2",
        "false",
        lambda: _numeric_claim(dg(-R(1, 2)) - dg(R(1, 2)) + 2, False),
    ),
    (
        "+ loggamma(0.5) - loggamma(1/2) (a float, off by 5e-18)",
        "false",
        lambda: _numeric_claim(lg(sp.Float(0.5)) - lg(R(1, 2)), False),
    ),
    (
        "+ loggamma(-1/2) - log(2 sqrt(pi)) (complex: -i pi)",
        "false",
        lambda: _numeric_claim(lg(-R(1, 2)) - sp.log(2 * sp.sqrt(sp.pi)), False),
    ),
    (
        "+ EulerGamma**2 + EulerGamma",
        "false",
        lambda: _numeric_claim(sp.EulerGamma**2 + sp.EulerGamma, False),
    ),
    (
        "+ log(15 sqrt(pi)/8) - log(15 sqrt(pi)/4)",
        "false",
        lambda: _numeric_claim(
            sp.log(15 * sp.sqrt(sp.pi) / 8) - sp.log(15 * sp.sqrt(sp.pi) / 4), False
        ),
    ),
    (
        "+ trigamma(5/2) - trigamma(3/2) + 4/9 (true, not covered)",
        "true",
        lambda: _numeric_claim(sp.polygamma(1, R(5, 2)) - sp.polygamma(1, R(3, 2)) + R(4, 9), True),
    ),
    (
        "+ trigamma(5/2) - trigamma(3/2) + 1/2",
        "false",
        lambda: _numeric_claim(
            sp.polygamma(1, R(5, 2)) - sp.polygamma(1, R(3, 2)) + R(1, 2), False
        ),
    ),
    (
        "+ log(gamma(199/2)/gamma(197/2)) - log(195/2)",
        "false",
        lambda: _numeric_claim(
            sp.log(sp.gamma(R(199, 2)) / sp.gamma(R(197, 2))) - sp.log(R(195, 2)), False
        ),
    ),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(NUMERIC))
def test_special_values_at_numeric_gamma_parameters_prove_nothing_false(expect, thunk):
    run_case(expect, thunk)


# the command as a user runs it: true special-value claims are proved, near misses never are
KL_CLAIMS = [
    ("Gamma(5/2, 1)", "Gamma(7/2, 2)",
     "(5/2-7/2)*digamma(5/2) - lgamma(5/2) + lgamma(7/2) + 7/2*log(2) + 5/2*(1-2)/2", {0}),
    ("Gamma(5/2, 1)", "Gamma(7/2, 2)",
     "(5/2-7/2)*digamma(5/2) - lgamma(5/2) + lgamma(7/2) + 7/2*log(2) + 5/2*(1-2)/2 + 1e-12", {1, 3}),
    ("Gamma(99, 1)", "Gamma(100, 1)", "lgamma(100) - digamma(99) - lgamma(99)", {0}),
    ("Gamma(99, 1)", "Gamma(100, 1)", "lgamma(100) - digamma(99) - lgamma(99) + 1/10**20", {1, 3}),
    ("Beta(1/2, 1/2)", "Beta(1, 1)", "log(4/pi)", {0}),
    ("Beta(1/2, 1/2)", "Beta(1, 1)", "log(4) - log(pi) + digamma(2) - digamma(1) - 1", {0}),
    ("Beta(1/2, 1/2)", "Beta(1, 1)", "log(4/pi) + digamma(1)", {1}),
    ("Beta(1/2, 1/2)", "Beta(1, 1)", "log(64/pi) + 2*digamma(1/2) - 2*digamma(1)", {0}),
    ("Beta(1/2, 1/2)", "Beta(1, 1)", "log(16/pi) + 2*digamma(1/2) - 2*digamma(1)", {1}),
    ("Beta(1/2, 1/2)", "Beta(1, 1)", "log(64/pi) + 2*digamma(1/2) - 2*digamma(3/2)", {1}),
]  # fmt: skip


@pytest.mark.parametrize(("q", "p", "claim", "codes"), KL_CLAIMS)
def test_special_value_claims_through_the_command(q, p, claim, codes, capsys):
    from elbo_check.cli import main

    assert main(["kl-formula", "--q", q, "--p", p, "--claim", claim]) in codes
    capsys.readouterr()
