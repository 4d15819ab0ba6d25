"""The checker: true identities are proved, mutants are refuted, never the reverse."""

from __future__ import annotations

import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from elbo_check import CheckConfig, Derivation, Verdict, check_derivation
from elbo_check.rules import axiom, inequality

m, m2 = sp.symbols("m m2", real=True)
s, s2, a, b = sp.symbols("s s2 a b", positive=True)
z = sp.Symbol("z", real=True)


def _one_step(lhs: sp.Expr, rhs: sp.Expr, by: object = "claim", relation: str = "=") -> Verdict:
    d = Derivation("t").start(lhs)
    getattr(d, {"=": "equals", "<=": "leq", ">=": "geq"}[relation])(rhs, by=by)
    return check_derivation(d).steps[0].verdict


def _normal(v: sp.Symbol, mean: sp.Expr, sd: sp.Expr) -> sp.Expr:
    return sp.exp(-((v - mean) ** 2) / (2 * sd**2)) / (sp.sqrt(2 * sp.pi) * sd)


_KL_INTEGRAL = sp.Integral(
    _normal(z, m, s) * sp.log(_normal(z, m, s) / _normal(z, m2, s2)), (z, -sp.oo, sp.oo)
)
_KL_CLOSED = sp.log(s2 / s) + (s**2 + (m - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)

# (true identity, [mutants]): changed constant, sign, exponent, swapped symbols
IDENTITIES = [
    (
        (
            -sp.Rational(1, 2) * (1 + sp.log(s**2) - m**2 - s**2),
            sp.log(1 / s) + (s**2 + m**2 - 1) / 2,
        ),
        [
            sp.log(1 / s) + (s**2 + m**2 + 1) / 2,  # constant
            sp.log(1 / s) - (s**2 + m**2 - 1) / 2,  # sign
            sp.log(1 / s) + (s**3 + m**2 - 1) / 2,  # exponent
            sp.log(1 / m**2) + (s**2 + m**2 - 1) / 2,  # swapped symbols
        ],
    ),
    (
        (sp.log(a * b), sp.log(a) + sp.log(b)),
        [sp.log(a) - sp.log(b), 2 * sp.log(a) + sp.log(b), sp.log(a) + sp.log(b**2)],
    ),
    (
        ((m + s) ** 2, m**2 + 2 * m * s + s**2),
        [m**2 + m * s + s**2, m**2 - 2 * m * s + s**2, m**2 + 2 * m * s + s**3],
    ),
    (
        (_KL_INTEGRAL, _KL_CLOSED),
        [
            _KL_CLOSED + sp.Rational(1, 2),  # missing -1/2
            sp.log(s / s2)
            + (s**2 + (m - m2) ** 2) / (2 * s2**2)
            - sp.Rational(1, 2),  # sign of log
            sp.log(s2 / s)
            + (s**2 + (m - m2) ** 2) / (2 * s**2)
            - sp.Rational(1, 2),  # s swapped for s2
            sp.log(s2 / s) + (s**2 + (m + m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2),  # +m2
        ],
    ),
]


def test_every_true_identity_in_the_table_is_proved() -> None:
    for (lhs, rhs), _ in IDENTITIES:
        assert _one_step(lhs, rhs) is Verdict.PROVED, (lhs, rhs)


def test_every_mutant_in_the_table_is_refuted_with_a_counterexample() -> None:
    for (lhs, _), mutants in IDENTITIES:
        for mutant in mutants:
            d = Derivation("mutant").start(lhs).equals(mutant, by="mutated claim")
            result = check_derivation(d).steps[0]
            assert result.verdict is Verdict.REFUTED, (lhs, mutant)
            assert result.counterexample is not None
            assert result.counterexample.lhs_value != result.counterexample.rhs_value


def test_gaussian_kl_integral_is_proved_at_m2_zero_where_raw_integrate_fails() -> None:
    at_zero = _KL_INTEGRAL.subs(m2, 0)
    assert _one_step(at_zero, _KL_CLOSED.subs(m2, 0)) is Verdict.PROVED


def test_an_identity_sympy_cannot_close_is_only_corroborated() -> None:
    x = sp.Symbol("x", positive=True)
    assert _one_step(sp.atan(x) + sp.atan(1 / x), sp.pi / 2) is Verdict.CORROBORATED


def test_a_false_identity_sympy_cannot_close_is_refuted_not_corroborated() -> None:
    x = sp.Symbol("x", positive=True)
    assert _one_step(sp.atan(x) + sp.atan(1 / x), sp.pi / 3) is Verdict.REFUTED


def test_abstract_step_without_its_axiom_is_undecided_not_proved() -> None:
    f = sp.Function("f", positive=True)
    assert _one_step(f(a), a**2) is Verdict.UNDECIDED
    assert _one_step(f(a), a**2, by=axiom("f is the square", f(a), a**2)) is Verdict.PROVED


def test_a_wrong_axiom_instance_never_proves_a_mutant() -> None:
    f = sp.Function("f", positive=True)
    assert _one_step(f(a), a**3, by=axiom("f is the square", f(a), a**2)) is not Verdict.PROVED


def test_inequality_is_proved_from_a_cited_rule_and_refuted_when_reversed() -> None:
    w = sp.Wild("w", positive=True)
    bound = inequality("log x <= x - 1", w - 1 - sp.log(w), "log w <= w - 1")
    assert _one_step(sp.log(a), a - 1, by=bound, relation="<=") is Verdict.PROVED
    assert _one_step(sp.log(a), a - 1, by=bound, relation=">=") is Verdict.REFUTED
    # a bound stronger than the rule gives is not proved
    assert _one_step(sp.log(a), a - 2, by=bound, relation="<=") is not Verdict.PROVED


def test_a_step_over_its_time_limit_comes_back_undecided_or_corroborated_and_never_hangs() -> None:
    x = sp.Symbol("x", positive=True)
    d = Derivation("slow").start(sp.atan(x) + sp.atan(1 / x)).equals(sp.pi / 2, by="slow")
    result = check_derivation(d, CheckConfig(step_timeout=0.001)).steps[0]
    assert result.verdict in (Verdict.UNDECIDED, Verdict.CORROBORATED)
    assert result.seconds < 5


_polys = st.lists(st.integers(-4, 4), min_size=1, max_size=4)


@given(coeffs=_polys, shift=st.integers(-3, 3), bump=st.integers(1, 5))
def test_random_polynomial_identities_are_proved_and_their_mutants_refuted(
    coeffs: list[int], shift: int, bump: int
) -> None:
    x = sp.Symbol("x", real=True)
    factored = sp.Add(*(c * (x + shift) ** k for k, c in enumerate(coeffs)))
    expanded = sp.expand(factored)
    assert _one_step(factored, expanded) is Verdict.PROVED
    mutant = expanded + bump * x ** (len(coeffs) - 1)
    assert _one_step(factored, mutant) is Verdict.REFUTED


@given(p=st.integers(1, 5), q=st.integers(1, 5), bump=st.integers(1, 3))
def test_random_log_identities_are_proved_and_their_mutants_refuted(
    p: int, q: int, bump: int
) -> None:
    lhs = sp.log(a**p * b**q)
    rhs = p * sp.log(a) + q * sp.log(b)
    assert _one_step(lhs, rhs) in (Verdict.PROVED, Verdict.CORROBORATED)
    assert _one_step(lhs, rhs + bump * sp.log(a)) is Verdict.REFUTED


def test_identical_divergent_integrals_do_not_cancel() -> None:
    d = Derivation("inf-minus-inf").start(
        sp.Integral(1, (z, -sp.oo, sp.oo)) - sp.Integral(1, (m, -sp.oo, sp.oo))
    )
    d.equals(sp.Integer(0), by="they cancel?")
    result = check_derivation(d).steps[0]
    assert result.verdict is Verdict.UNDECIDED
    assert "converges" in result.message


def test_a_convergent_gaussian_integral_still_cancels_against_itself() -> None:
    gauss = sp.Integral(sp.exp(-(z**2)), (z, -sp.oo, sp.oo))
    assert _one_step(gauss - gauss.subs(z, m), sp.Integer(0)) is Verdict.PROVED
