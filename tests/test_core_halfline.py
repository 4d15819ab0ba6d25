"""The core's half-line Gamma integral: ∫_0^∞ uⁿ exp(-a u + c) du = exp(c) n!/a^(n+1).

Each abuse (a ≤ 0 or of unknown sign, a non-integer, symbolic or too large n,
a lower limit other than 0, reversed limits, a non-linear exponent, ∞ − ∞)
must not be proved; the true statements must still be.
"""

from __future__ import annotations

import pytest
import sympy as sp

from elbo_check import Derivation
from elbo_check.core import Core
from elbo_check.core.integrals import HALF_LINE, MAX_DEGREE, Reducer, converges

oo = sp.oo
u = sp.Symbol("u", real=True)
v = sp.Symbol("v", real=True)
a = sp.Symbol("a", positive=True)
c = sp.Symbol("c", real=True)
t = sp.Symbol("t", real=True)
n = sp.Symbol("n", integer=True, positive=True)


def _proved(lhs: sp.Expr, rhs: sp.Expr) -> bool:
    d = Derivation("half-line").start(lhs).equals(rhs, by="claim")
    return Core().decide(d, d.steps[0]).proved


def _half(body: sp.Expr) -> sp.Integral:
    return sp.Integral(body, (u, 0, oo))


@pytest.mark.parametrize("power", [0, 1, 2, 3, MAX_DEGREE])
def test_the_gamma_integral_of_each_small_power_is_proved(power: int) -> None:
    assert _proved(_half(u**power * sp.exp(-a * u)), sp.factorial(power) / a ** (power + 1))


def test_a_constant_in_the_exponent_factors_out_as_exp_c() -> None:
    assert _proved(_half(sp.exp(-a * u + c)), sp.exp(c) / a)


def test_the_exponential_mean_and_its_normalisation_are_proved() -> None:
    density = a * sp.exp(-a * u)
    assert _proved(_half(density), 1)
    assert _proved(_half(u * density), 1 / a)


def test_a_rate_positive_by_structure_is_accepted() -> None:
    s = sp.Symbol("s", positive=True)
    assert _proved(_half(sp.exp(-(s**2 + 1) * u)), 1 / (s**2 + 1))


def test_the_move_is_recorded_as_a_fact() -> None:
    reducer = Reducer()
    assert reducer.reduce(_half(u * sp.exp(-2 * u))) == sp.Rational(1, 4)
    assert HALF_LINE in reducer.used


def test_a_wrong_coefficient_is_not_proved() -> None:
    assert not _proved(_half(u**2 * sp.exp(-a * u)), 1 / a**3)


def test_a_growing_exponential_is_not_integrated() -> None:
    assert not _proved(_half(sp.exp(a * u)), -1 / a)
    assert not converges(_half(sp.exp(a * u)), False)


def test_a_rate_of_unknown_sign_is_not_integrated() -> None:
    assert not _proved(_half(sp.exp(-t * u)), 1 / t)


def test_a_zero_rate_diverges() -> None:
    assert not converges(_half(sp.Integer(1)), False)
    assert not _proved(_half(sp.exp(0 * u) * u), 0)


def test_a_constant_rate_whose_sign_needs_numerics_is_not_integrated() -> None:
    tiny = sp.exp(sp.pi * sp.sqrt(163)) - 262537412640768744  # negative, by about 7.5e-13
    assert not _proved(_half(sp.exp(-tiny * u)), 1 / tiny)
    assert not _proved(_half(sp.exp(-(sp.E - 2) * u)), 1 / (sp.E - 2))


def test_a_non_integer_power_is_not_integrated() -> None:
    assert not _proved(_half(sp.sqrt(u) * sp.exp(-u)), sp.sqrt(sp.pi) / 2)


def test_a_power_above_the_bound_is_not_integrated() -> None:
    power = MAX_DEGREE + 1
    assert not _proved(_half(u**power * sp.exp(-u)), sp.factorial(power))


def test_a_symbolic_power_is_not_integrated() -> None:
    assert not _proved(_half(u**n * sp.exp(-u)), 1)


def test_a_lower_limit_other_than_zero_is_not_covered() -> None:
    assert not _proved(sp.Integral(sp.exp(-u), (u, 1, oo)), sp.exp(-1))
    assert not _proved(sp.Integral(sp.exp(-u), (u, 1, oo)), 1)


def test_reversed_limits_are_not_covered() -> None:
    assert not _proved(sp.Integral(sp.exp(-u), (u, oo, 0)), 1)
    assert not _proved(sp.Integral(sp.exp(-u), (u, oo, 0)), -1)


def test_a_quadratic_exponent_on_the_half_line_is_not_covered() -> None:
    assert not _proved(_half(sp.exp(-(u**2))), sp.sqrt(sp.pi) / 2)


def test_infinity_minus_infinity_is_not_cancelled() -> None:
    assert not _proved(_half(sp.exp(-u) + 1) - _half(sp.Integer(1)), 1)


def test_a_log_factor_is_not_integrated() -> None:
    assert not _proved(_half(sp.log(u) * sp.exp(-u)), 0)


def test_two_half_line_variables_are_not_covered() -> None:
    double = sp.Integral(sp.exp(-u - v), (u, 0, oo), (v, 0, oo))
    assert not converges(double, False)
    assert not _proved(double, 1)


def test_a_rate_that_is_an_outer_variable_reaching_zero_is_not_integrated() -> None:
    inner = sp.Integral(sp.exp(-v * u), (u, 0, oo))
    assert not _proved(sp.Integral(inner, (v, 0, 1)), 1)
    assert not _proved(inner, 1 / v)  # v is only real here


def test_a_rate_that_is_a_positive_outer_variable_is_integrated_inside() -> None:
    w = sp.Symbol("w", positive=True)
    assert _proved(sp.Integral(u * sp.exp(-w * u), (u, 0, oo)), 1 / w**2)
