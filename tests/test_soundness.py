"""Red-team tests of the checker's soundness: false steps must never come back ``proved``.

The first group reproduces bugs a red-team review found (every one now fixed): each
asserts the *correct* behaviour.  The second group holds attacks the checker resisted
from the start; they guard against regressions.
"""

from __future__ import annotations

import pytest
import sympy as sp

from elbo_check import CheckConfig, Checker, Derivation, Verdict, check_derivation
from elbo_check.errors import DerivationError
from elbo_check.rules import axiom, change_of_variables, inequality, instantiate

oo = sp.oo
z = sp.Symbol("z", real=True)
u = sp.Symbol("u", real=True)
r = sp.Symbol("r", real=True)
s = sp.Symbol("s", positive=True)
x, y = sp.symbols("x y")  # complex: no assumptions
R = (z, -oo, oo)

TRIVIAL = inequality("zero is non-negative", sp.Integer(0), "0 >= 0")
_real = sp.Wild("w", real=True)
SQUARES = inequality("squares are non-negative", _real**2, "w^2 >= 0 for real w")
_pos = sp.Wild("w", positive=True)
LOG_BOUND = inequality("log x <= x - 1", _pos - 1 - sp.log(_pos), "log w <= w - 1 for w > 0")


def _verdict(
    lhs: sp.Expr,
    rhs: sp.Expr,
    by: object = "claim",
    relation: str = "=",
    timeout: float = 5.0,
) -> Verdict:
    d = Derivation("red-team").start(lhs)
    getattr(d, {"=": "equals", "<=": "leq", ">=": "geq"}[relation])(rhs, by=by)
    return check_derivation(d, CheckConfig(step_timeout=timeout)).steps[0].verdict


# -- bugs: false steps that come back proved ---------------------------------------------------
def test_a_positive_bound_variable_does_not_license_log_rules_over_negative_values() -> None:
    zp = sp.Symbol("z", positive=True)
    # lhs = -4, rhs = -4 + 2*pi*I
    lhs = sp.Integral(sp.log(zp**2), (zp, -1, 1))
    rhs = sp.Integral(2 * sp.log(zp), (zp, -1, 1))
    assert _verdict(lhs, rhs) is not Verdict.PROVED


def test_monotonicity_does_not_trust_a_positive_bound_variable_outside_its_range() -> None:
    zp = sp.Symbol("z", positive=True)
    # the integral is -3/2
    assert _verdict(sp.Integral(zp, (zp, -2, 1)), 0, TRIVIAL, ">=") is not Verdict.PROVED


def test_alpha_normalisation_does_not_capture_a_free_symbol_in_the_limits() -> None:
    w = sp.Symbol("w", real=True)
    # sympy reads both limits as free symbols: the claim is z = w
    assert _verdict(sp.Integral(1, (z, 0, z)), sp.Integral(1, (w, 0, w))) is not Verdict.PROVED


def test_alpha_normalisation_does_not_capture_an_inner_variable_in_an_outer_limit() -> None:
    t = sp.Symbol("t", real=True)
    # each side is the free upper limit: the claim is z = t
    lhs = sp.Integral(1, (z, 0, 1), (u, 0, z))
    rhs = sp.Integral(1, (t, 0, 1), (u, 0, t))
    assert _verdict(lhs, rhs) is not Verdict.PROVED


def test_alpha_normalisation_does_not_capture_a_free_symbol_named_like_a_bound_one() -> None:
    t = sp.Symbol("_b1_0", real=True)
    # the integral is 1/2 - t
    assert _verdict(sp.Integral(z - t, (z, 0, 1)), 0) is not Verdict.PROVED


def test_change_of_variables_does_not_capture_a_free_symbol() -> None:
    # the integral is sqrt(pi) * exp(-u**2); z = u captures the free u
    rule = change_of_variables("z = u", z, u, u)
    lhs = sp.Integral(sp.exp(-(z**2) - u**2), R)
    assert _verdict(lhs, sp.sqrt(sp.pi / 2), rule) is not Verdict.PROVED


def test_an_axioms_wild_exclude_survives_the_renaming_of_bound_variables() -> None:
    q = sp.Function("q", positive=True)
    c = sp.Wild("c", exclude=[z])
    constants_out = axiom(
        "constants pull out of a density integral",
        sp.Integral(c * q(z), R),
        c,
        "∫ c q(z) dz = c for c free of z",
    )
    # E[z^2] = E[z]^2 says every density has zero variance
    lhs = sp.Integral(z**2 * q(z), R)
    rhs = sp.Integral(z * q(z), R) ** 2
    assert _verdict(lhs, rhs, constants_out) is not Verdict.PROVED


def test_a_lemma_instantiated_at_complex_values_does_not_prove_log_of_a_product() -> None:
    a, b = sp.symbols("a b", positive=True)
    lemma = Derivation("log-product").start(sp.log(a * b)).equals(sp.log(a) + sp.log(b), by="log")
    # false at x = y = -1: log(1) = 0, but log(-1) + log(-1) = 2*pi*I
    with pytest.raises(DerivationError, match="is declared"):
        instantiate(lemma.as_lemma(), {a: x, b: y})


def test_a_lemma_instantiated_at_negative_values_does_not_prove_zero_equals_two_pi_i() -> None:
    a, b = sp.symbols("a b", positive=True)
    lemma = Derivation("log-product").start(sp.log(a * b)).equals(sp.log(a) + sp.log(b), by="log")
    with pytest.raises(DerivationError, match="is declared"):
        instantiate(lemma.as_lemma(), {a: -1, b: -1})


def test_divergent_integrals_do_not_cancel_into_a_false_chain() -> None:
    w, v = sp.symbols("w v", real=True)
    gauss = sp.Integral(sp.exp(-(w**2)), (w, -oo, oo))
    one_z, one_v = sp.Integral(1, (z, -oo, oo)), sp.Integral(1, (v, -oo, oo))
    d = Derivation("divergent").start(gauss)
    d.equals(gauss + one_z - one_v, by="add zero")
    d.equals(
        gauss + sp.Integral(2, (u, -oo, oo)) - one_v, by=change_of_variables("z=2u", z, u, 2 * u)
    )
    d.equals(gauss + sp.Integral(1, (u, -oo, oo)), by="linearity")
    d.equals(sp.sqrt(sp.pi) + sp.Integral(1, (u, -oo, oo)), by="Gaussian integral")
    # the chain concludes sqrt(pi) = sqrt(pi) + infinity
    assert check_derivation(d).verdict is not Verdict.PROVED


def test_a_non_integrable_integrand_is_not_split_into_cancelling_pieces() -> None:
    lhs = sp.Integral(z + sp.exp(-(z**2)), R) - sp.Integral(z, R)
    assert _verdict(lhs, sp.sqrt(sp.pi)) is not Verdict.PROVED


def test_a_checked_lemma_cannot_gain_a_false_step() -> None:
    checker = Checker()
    lemma = Derivation("grows").start(sp.log(s**2)).equals(2 * sp.log(s), by="log rule")
    assert checker.check(lemma).verdict is Verdict.PROVED
    # a checked derivation is frozen: what was proved is what stays written
    with pytest.raises(DerivationError, match="already checked"):
        lemma.equals(3 * sp.log(s), by="oops")


# -- bugs: true steps that come back refuted ---------------------------------------------------
def test_a_true_step_about_a_nonpositive_symbol_is_not_refuted() -> None:
    xn = sp.Symbol("xn", nonpositive=True)
    assert _verdict(sp.Heaviside(xn) * xn, 0) is not Verdict.REFUTED


def test_a_symbol_declared_even_is_a_usage_error_not_a_refutation() -> None:
    n = sp.Symbol("n", even=True)
    # n = 2k gives 4k(k + 1), a multiple of 8; "even" is not a supported assumption key
    with pytest.raises(DerivationError, match="even"):
        _verdict(sp.Mod(n * (n + 2), 8), 0)


# -- attacks the checker resists ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("lhs", "rhs"),
    [
        (sp.log(x * y), sp.log(x) + sp.log(y)),
        (sp.log(r**2), 2 * sp.log(r)),
        (sp.sqrt(r**2), r),
        ((x**s) ** y, x ** (s * y)),
        (sp.log(1 / x), -sp.log(x)),
        (sp.acos(sp.cos(r)), r),
    ],
    ids=["log-product", "log-square-real", "sqrt-square", "power-of-power", "log-inverse", "acos"],
)
def test_canonical_forms_do_not_use_assumptions_that_were_not_declared(
    lhs: sp.Expr, rhs: sp.Expr
) -> None:
    assert _verdict(lhs, rhs) is not Verdict.PROVED


@pytest.mark.parametrize(
    ("lhs", "rhs"),
    [
        (sp.Integral(sp.exp(-r * z**2), R), sp.sqrt(sp.pi / r)),  # r may be <= 0
        (sp.Integral(sp.exp(z**2), R), sp.sqrt(-sp.pi)),
        (sp.Integral(sp.exp(-(z**2)), (z, 0, oo)), sp.sqrt(sp.pi)),
        (sp.Integral(sp.exp(-(z**2)), (z, -1, 1)), sp.sqrt(sp.pi)),
        (sp.Integral(z, R), 0),
        (sp.Integral(z**6 * sp.exp(-(z**2) / 2), R), 14 * sp.sqrt(2 * sp.pi)),
    ],
    ids=["real-coefficient", "growing", "half-line", "finite-range", "odd-divergent", "z6"],
)
def test_the_gaussian_engine_does_not_prove_what_completing_the_square_does_not_give(
    lhs: sp.Expr, rhs: sp.Expr
) -> None:
    assert _verdict(lhs, rhs, timeout=2.0) is not Verdict.PROVED


def test_an_indefinite_two_dimensional_quadratic_is_not_integrated() -> None:
    lhs = sp.Integral(sp.exp(-(z**2) - u**2 + 4 * z * u), (z, -oo, oo), (u, -oo, oo))
    assert _verdict(lhs, sp.pi / sp.sqrt(3)) is not Verdict.PROVED


def test_a_positive_definite_two_dimensional_quadratic_is_proved() -> None:
    lhs = sp.Integral(sp.exp(-(z**2) - u**2 + z * u), (z, -oo, oo), (u, -oo, oo))
    assert _verdict(lhs, 2 * sp.pi / sp.sqrt(3)) is Verdict.PROVED


@pytest.mark.parametrize(
    ("lhs", "rhs", "rule"),
    [
        (sp.Integral(z**2, (z, 1, 0)), 0, SQUARES),  # reversed limits
        (sp.Integral(z**2, (z, 0, r)), 0, SQUARES),  # r may be negative
        (sp.Integral(z**2, (z, 0, 1)), sp.Integral(z**2, (z, 0, 2)), SQUARES),  # 1/3 >= 8/3
        (r**2, r, SQUARES),  # false for 0 < r < 1
        (r - 1 - sp.log(r), 0, LOG_BOUND),  # the Wild needs r > 0
        (-((r - 1) ** 2), 0, SQUARES),
    ],
    ids=["reversed", "parameter-limit", "different-ranges", "r2-vs-r", "wild-property", "negated"],
)
def test_the_nonnegativity_prover_does_not_prove_unjustified_gaps(
    lhs: sp.Expr, rhs: sp.Expr, rule: object
) -> None:
    assert _verdict(lhs, rhs, rule, ">=") is not Verdict.PROVED


def test_the_nonnegativity_prover_proves_an_integral_of_a_square_over_an_ordered_range() -> None:
    assert _verdict(sp.Integral((z - 1) ** 2, (z, 0, 1)), 0, SQUARES, ">=") is Verdict.PROVED


def test_a_step_citing_a_refuted_lemma_is_not_proved() -> None:
    bad = Derivation("bad-lemma").start(sp.log(s**2)).equals(3 * sp.log(s), by="oops")
    # the step is false on its own: the numeric stage refutes the step as written
    assert _verdict(sp.log(s**2), 3 * sp.log(s), bad.as_lemma()) is Verdict.REFUTED


def test_a_derivation_cannot_cite_itself_as_a_lemma() -> None:
    d = Derivation("circular").start(sp.log(s**2)).equals(3 * sp.log(s), by="oops")
    lemma = d.as_lemma()  # citing freezes the derivation: no cycle can be built
    with pytest.raises(DerivationError, match="already checked or cited"):
        d.start(sp.log(s**2) + 1).equals(3 * sp.log(s) + 1, by=lemma)


def test_a_change_of_variables_rejects_a_map_that_is_not_affine() -> None:
    from elbo_check.errors import DerivationError

    with pytest.raises(DerivationError):
        change_of_variables("z = u + floor(u)", z, u, u + sp.floor(u))
    with pytest.raises(DerivationError):
        change_of_variables("z = u**3", z, u, u**3)


def test_a_change_of_variables_rejects_a_jacobian_that_may_be_negative() -> None:
    from elbo_check.errors import DerivationError

    with pytest.raises(DerivationError):
        change_of_variables("z = r u", z, u, r * u)


def test_a_step_that_times_out_is_not_proved() -> None:
    m, m2 = sp.symbols("m m2", real=True)
    s2 = sp.Symbol("s2", positive=True)

    def normal(mean: sp.Expr, sd: sp.Expr) -> sp.Expr:
        return sp.exp(-((z - mean) ** 2) / (2 * sd**2)) / (sp.sqrt(2 * sp.pi) * sd)

    kl = sp.Integral(normal(m, s) * sp.log(normal(m, s) / normal(m2, s2)), R)
    closed = sp.log(s2 / s) + (s**2 + (m - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)
    verdict = _verdict(kl, closed, timeout=0.001)
    assert verdict in (Verdict.UNDECIDED, Verdict.CORROBORATED)
