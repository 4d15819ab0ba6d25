"""Third red-team round on the checker's soundness.

The first test reproduces the bug this round found (now fixed) and asserts the
*correct* behaviour; the others are attacks the checker resisted.
"""

from __future__ import annotations

import pytest
import sympy as sp

from elbo_check import CheckConfig, Derivation, Verdict, check_derivation
from elbo_check.errors import DerivationError
from elbo_check.rules import Rule, inequality

oo = sp.oo
z = sp.Symbol("z", real=True)
a = sp.Symbol("a", real=True)
x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
c = sp.Symbol("c")  # complex
TRIVIAL = inequality("trivial", sp.Integer(0), "0 >= 0")


def _verdict(lhs: sp.Expr, rhs: sp.Expr, relation: str = "=", by: object = "claim") -> Verdict:
    d = Derivation("red-team-3").start(lhs)
    getattr(d, {"=": "equals", "<=": "leq", ">=": "geq"}[relation])(rhs, by=by)
    return check_derivation(d, CheckConfig(step_timeout=5.0)).steps[0].verdict


# -- bugs: false steps that come back proved ---------------------------------------------------
def test_an_integral_with_a_parameter_dependent_pole_is_not_proved_equal_to_its_antiderivative() -> (
    None
):
    integral = sp.Integral(1 / (z + a - 5) ** 2, (z, 0, 1))
    assert _verdict(integral, 1 / (4 - a) - 1 / (5 - a)) is not Verdict.PROVED


# -- resisted attacks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lhs", "rhs"),
    [
        (sp.sqrt(x**2), x),
        ((-8) ** sp.Rational(1, 3), -2),
        (sp.atan(sp.tan(x)), x),
        (sp.asin(sp.sin(x)), x),
        (sp.sqrt(x * y), sp.sqrt(x) * sp.sqrt(y)),
        (sp.log(c**2), 2 * sp.log(c)),
        ((x**2) ** y, x ** (2 * y)),
        (sp.atan2(y, x), sp.atan(y / x)),
        (sp.floor(x) + sp.floor(-x), -1),
    ],
)
def test_branch_cut_and_step_function_identities_that_fail_somewhere_are_not_proved(
    lhs: sp.Expr, rhs: sp.Expr
) -> None:
    assert _verdict(lhs, rhs) is not Verdict.PROVED


@pytest.mark.parametrize(
    "expr",
    [
        sp.sqrt(x),
        sp.sqrt(c),
        c**2,
        sp.Abs(c) ** 2 - 1,
        sp.exp(sp.I * x),
        0**x,
        sp.Max(c, 1) - 1,
        sp.acos(x),
        sp.Piecewise((x, x > 0), (-1, True)),
        sp.oo * x**2,
        sp.gamma(x),
        1 / x**2,
    ],
)
def test_the_nonnegativity_prover_is_not_fooled_by_complex_or_undefined_values(
    expr: sp.Expr,
) -> None:
    assert _verdict(expr, 0, ">=", TRIVIAL) is not Verdict.PROVED


def test_the_removable_singularity_of_x_over_x_is_accepted_as_generic_equality() -> None:
    # sympy evaluates x/x to 1 on construction: the checker, like sympy, reads
    # identities generically (away from removable singularities)
    assert _verdict(x / x, 1) is Verdict.PROVED


def test_a_gaussian_with_a_coefficient_of_unknown_sign_is_not_integrated() -> None:
    integral = sp.Integral(sp.exp(-a * z**2), (z, -oo, oo))
    assert _verdict(integral, sp.sqrt(sp.pi / a)) is not Verdict.PROVED


def test_a_chain_mixing_leq_and_geq_gives_no_lemma() -> None:
    d = Derivation("mixed").start(x**2 + 1).geq(x**2, by=inequality("one", sp.Integer(1), "1>=0"))
    d.leq(x**2 + 2, by=inequality("two", sp.Integer(2), "2>=0"))
    with pytest.raises(DerivationError, match="mixes"):
        d.as_lemma()


def test_an_inequality_lemma_is_not_used_as_an_equality_rewrite() -> None:
    d = Derivation("le").start(x**2).leq(x**2 + 1, by=inequality("one", sp.Integer(1), "1>=0"))
    lemma: Rule = d.as_lemma()
    assert not lemma.rewrites
    assert _verdict(x**2, x**2 + 1, "=", lemma) is not Verdict.PROVED


def test_an_integral_with_a_pole_moving_with_its_limit_is_not_proved() -> None:
    z, r = sp.Symbol("z", real=True), sp.Symbol("r", positive=True)
    # ∫_0^r dz/(z - 1)^2 diverges for r >= 1, where -r/(r - 1) is finite (and negative)
    d = Derivation("moving-limit").start(sp.Integral(1 / (z - 1) ** 2, (z, 0, r)))
    d.equals(r / (1 - r), by="calc")
    assert check_derivation(d).steps[0].verdict is not Verdict.PROVED
