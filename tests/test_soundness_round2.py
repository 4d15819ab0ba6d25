"""Second red-team round on the checker's soundness (false ``proved`` verdicts).

The first tests reproduce the bugs this round found (all fixed) and assert the
*correct* behaviour; the last ones are attacks the checker resisted from the start.
"""

from __future__ import annotations

import pytest
import sympy as sp

from elbo_check import CheckConfig, Derivation, Verdict, check_derivation
from elbo_check.errors import DerivationError
from elbo_check.rules import Rule, axiom, change_of_variables, instantiate, integrability

oo = sp.oo
z = sp.Symbol("z", real=True)
u = sp.Symbol("u", real=True)
v = sp.Symbol("v", real=True)
w = sp.Symbol("w", real=True)
a = sp.Symbol("a", real=True)
r = sp.Symbol("r", real=True)
x = sp.Symbol("x")  # complex
R = (z, -oo, oo)
FINITE = integrability("every expectation in the derivation is finite")


def _verdict(
    lhs: sp.Expr, rhs: sp.Expr, by: object = "claim", assume: tuple[Rule, ...] = ()
) -> Verdict:
    d = Derivation("red-team-2", assumptions=assume).start(lhs).equals(rhs, by=by)
    return check_derivation(d, CheckConfig(step_timeout=5.0)).steps[0].verdict


# -- bugs: false steps that come back proved ---------------------------------------------------
def test_a_change_of_variables_does_not_capture_a_free_symbol_named_like_its_variable() -> None:
    zc = sp.Symbol("z")  # a different symbol with the same name
    # lhs = sqrt(pi) exp(-zc**2), rhs = sqrt(pi) exp(-z**2)
    lhs = sp.Integral(sp.exp(-(z**2) - zc**2), (z, -oo, oo))
    rhs = sp.Integral(sp.exp(-(z**2) - zc**2), (zc, -oo, oo))
    # two different symbols named z are now a usage error before anything is checked
    with pytest.raises(DerivationError, match="two different symbols"):
        _verdict(lhs, rhs, change_of_variables("z = u", z, u, u))


def test_instantiating_a_free_symbol_does_not_capture_the_lemmas_bound_variable() -> None:
    lemma = Derivation("shifted").start(sp.Integral(z + a, (z, 0, 1)))
    lemma.equals(a + sp.Rational(1, 2), by="calc")
    # a := z turns the lemma into ∫_0^1 2z dz = z + 1/2, i.e. 1 = z + 1/2
    with pytest.raises(DerivationError, match="captured"):
        instantiate(lemma.as_lemma(), {a: z})


def test_instantiating_a_bound_variable_does_not_capture_a_free_symbol() -> None:
    lemma = Derivation("shifted").start(sp.Integral(z + a, (z, 0, 1)))
    lemma.equals(a + sp.Rational(1, 2), by="calc")
    # z := a gives ∫_0^1 2a da = a + 1/2, i.e. 1 = a + 1/2
    with pytest.raises(DerivationError, match="bound"):
        instantiate(lemma.as_lemma(), {z: a})


def test_a_positive_function_instance_is_not_trusted_at_complex_arguments() -> None:
    q = sp.Function("q", positive=True)
    lemma = Derivation("log-square").start(sp.log(q(x) ** 2)).equals(2 * sp.log(q(x)), by="log")
    # t**2 + 1 is positive for real t only; at x = 2i it is -3 and the claim is off by 2*pi*i
    with pytest.raises(DerivationError, match=r"not provably (real|positive)"):
        instantiate(lemma.as_lemma(), {q: lambda t: t**2 + 1})


def test_a_negative_function_is_not_instantiated_by_a_positive_one() -> None:
    qn = sp.Function("qn", negative=True)
    lemma = Derivation("neg-log").start(sp.log(qn(z) ** 2)).equals(2 * sp.log(-qn(z)), by="neg")
    # log((z^2+1)^2) is real; 2 log(-(z^2+1)) has imaginary part 2*pi
    with pytest.raises(DerivationError, match="not provably negative"):
        instantiate(lemma.as_lemma(), {qn: lambda t: t**2 + 1})


def test_a_positive_bound_variable_over_a_reversed_range_does_not_license_log_rules() -> None:
    zp = sp.Symbol("z", positive=True)
    # over [-1, 0]: lhs = 2, rhs = 2 - 2*pi*I
    lhs = sp.Integral(sp.log(zp**2), (zp, 0, -1))
    rhs = sp.Integral(2 * sp.log(zp), (zp, 0, -1))
    assert _verdict(lhs, rhs) is not Verdict.PROVED


def test_a_wild_exclude_of_a_bound_variable_survives_renaming() -> None:
    # (property closures are refused outright now: see test_soundness_round4)
    p = sp.Function("p", positive=True)
    c = sp.Wild("c", exclude=[z])
    constants_out = axiom("constants out", sp.Integral(c * p(z), R), c, "∫ c p(z) dz = c")
    # E[z^2] = E[z]^2: every density would have zero variance
    lhs = sp.Integral(z**2 * p(z), R)
    rhs = sp.Integral(z * p(z), R) ** 2
    assert _verdict(lhs, rhs, constants_out, (FINITE,)) is not Verdict.PROVED


def test_integrability_does_not_make_a_density_plus_a_constant_integrable() -> None:
    q = sp.Function("q", positive=True)
    # ∫ (q + 1) over R is infinite: the step says ∞ − ∞ = 0
    lhs = sp.Integral(q(z) + 1, R) - sp.Integral(q(u) + 1, (u, -oo, oo))
    assert _verdict(lhs, 0, assume=(FINITE,)) is not Verdict.PROVED


def test_integrability_does_not_cover_a_density_constant_in_one_variable() -> None:
    p = sp.Function("p", positive=True)
    # ∫∫ p(y) dz dy is infinite (nothing decays in z)
    lhs = sp.Integral(p(v), (z, -oo, oo), (v, -oo, oo)) - sp.Integral(
        p(w), (u, -oo, oo), (w, -oo, oo)
    )
    assert _verdict(lhs, 0, assume=(FINITE,)) is not Verdict.PROVED


# -- attacks the checker resists ---------------------------------------------------------------
@pytest.mark.parametrize(
    "integrand",
    [1 / z**3, 1 / z],
    ids=["odd-pole", "simple-pole"],
)
def test_a_principal_value_is_not_taken_for_a_convergent_integral(integrand: sp.Expr) -> None:
    assert _verdict(sp.Integral(integrand, (z, -1, 1)), 0) is not Verdict.PROVED


def test_a_limit_that_is_finite_pointwise_but_unbounded_does_not_make_an_integral_converge() -> (
    None
):
    # ∫_0^1 ∫_0^{1/u} dz du = ∫_0^1 du/u = ∞
    lhs = sp.Integral(1, (z, 0, 1 / u), (u, 0, 1)) - sp.Integral(1, (w, 0, 1 / v), (v, 0, 1))
    assert _verdict(lhs, 0) is not Verdict.PROVED


def test_a_positive_bound_variable_with_a_parameter_limit_keeps_no_sign() -> None:
    zp = sp.Symbol("z", positive=True)
    lhs = sp.Integral(sp.log(zp**2), (zp, 0, r))
    rhs = sp.Integral(2 * sp.log(zp), (zp, 0, r))
    assert _verdict(lhs, rhs) is not Verdict.PROVED
