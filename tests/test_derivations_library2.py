"""Derivation library II: every new slug is proved, and tampered copies are not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sympy as sp

import derivations
from derivations import beta_vae, conditional_vae, iwae_bound, reparameterization
from derivations import gaussian_kl_gradient as grad
from derivations import gaussian_kl_unit_variance as unit
from derivations import gaussian_kl_zero_iff as zero
from elbo_check import CheckConfig, Checker, Derivation, Verdict
from elbo_check.kernel import gaussian_kl, gaussian_kl_grad
from elbo_check.rules import Rule, change_of_variables, definition
from elbo_check.vocab import ABSOLUTE_CONTINUITY, INTEGRABILITY, KL, LOG_BOUND, q, z

NEW = [
    "gaussian-kl-unit-variance",
    "gaussian-kl-gradient",
    "gaussian-kl-zero-iff",
    "reparameterization",
    "beta-vae",
    "conditional-vae",
    "iwae-bound",
]

#: what each derivation must show in its ledger (its visible assumptions)
LEDGER = {
    "gaussian-kl-unit-variance": {"definition of KL", "Gaussian integral"},
    "gaussian-kl-gradient": {"K_std(μ, ℓ): the standard-prior KL in (μ, log σ²)"},
    "gaussian-kl-zero-iff": {"equality case of exp(d) >= 1 + d", "log x <= x - 1"},
    "reparameterization": {
        "z = μ + σ ε",
        "dominated convergence (differentiation under the integral)",
        "differentiation under the integral sign in μ",
    },
    "beta-vae": {"β = 1 + δ, δ > 0", "p(z) integrates to 1"},
    "conditional-vae": {"conditional product rule", "q(z|x,c) integrates to 1"},
    "iwae-bound": {"concavity of log at two points", "q2 integrates to 1", "integrability"},
}


@pytest.fixture(scope="module")
def checker() -> Checker:
    # a generous limit: a shipped verdict must never depend on machine load
    return Checker(CheckConfig(step_timeout=120))


def verdict_of(
    checker: Checker, lhs: sp.Expr, rhs: sp.Expr, by: Any, relation: str = "=", **kw: Any
) -> Verdict:
    """The verdict on the one-step derivation ``lhs <relation> rhs``."""
    d = Derivation("tampered", **kw).start(lhs)
    {"=": d.equals, ">=": d.geq, "<=": d.leq}[relation](rhs, by=by)
    return checker.check(d).steps[0].verdict


def test_every_new_slug_is_registered() -> None:
    assert set(NEW) <= set(derivations.slugs())


@pytest.mark.parametrize("slug", NEW)
def test_every_step_of_the_new_derivation_is_proved(checker: Checker, slug: str) -> None:
    result = checker.check(derivations.get(slug))
    assert [r.verdict for r in result.steps] == [Verdict.PROVED] * len(result.steps)


@pytest.mark.parametrize("slug", NEW)
def test_the_new_derivation_shows_its_assumptions_in_its_ledger(
    checker: Checker, slug: str
) -> None:
    names = {entry.name for entry in checker.check(derivations.get(slug)).ledger}
    assert LEDGER[slug] <= names


@pytest.mark.parametrize("slug", NEW)
def test_the_new_derivation_has_a_math_docstring(slug: str) -> None:
    module = __import__(derivations.REGISTRY[slug], fromlist=["DERIVATION"])
    assert ".. math::" in (module.__doc__ or "")


# -- gaussian-kl-gradient ------------------------------------------------------


def test_a_gradient_with_the_wrong_sign_is_not_proved(checker: Checker) -> None:
    lhs = sp.Derivative(grad.K(grad.MU, grad.LOGVAR), grad.MU)
    assert verdict_of(checker, lhs, -grad.MU, by=grad.K_DEFINITION) is not Verdict.PROVED


def test_a_general_prior_gradient_with_the_wrong_exponent_is_not_proved(checker: Checker) -> None:
    g = grad.G(grad.MU, grad.LOGVAR, grad.MU_P, grad.LOGVAR_P)
    wrong = (sp.exp(grad.LOGVAR + grad.LOGVAR_P) - 1) / 2
    assert (
        verdict_of(checker, sp.Derivative(g, grad.LOGVAR), wrong, by=grad.G_DEFINITION)
        is not Verdict.PROVED
    )


def test_the_closed_form_is_not_proved_without_the_lemma(checker: Checker) -> None:
    start = derivations.get("gaussian-kl-gradient").chains[0]
    assert verdict_of(checker, start, grad.KL_STANDARD, by="log e^ℓ = ℓ") is not Verdict.PROVED


def _points(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(20261202)
    return rng.normal(0.0, 1.0, size=(4, n))


def _proved_gradients() -> tuple[Any, Any]:
    args = (grad.MU, grad.LOGVAR, grad.MU_P, grad.LOGVAR_P)
    general = sp.lambdify(args, list(grad.GRAD_GENERAL), "numpy")
    standard = sp.lambdify(args[:2], list(grad.GRAD_STANDARD), "numpy")
    return general, standard


def test_the_kernel_gradient_equals_the_proved_formulas_at_sampled_points() -> None:
    general, standard = _proved_gradients()
    mu, lv, mu_p, lv_p = _points()
    got = gaussian_kl_grad(mu, lv, mu_p, lv_p, reduction="none")
    np.testing.assert_allclose(got.mu, general(mu, lv, mu_p, lv_p)[0], rtol=1e-12)
    np.testing.assert_allclose(got.logvar, general(mu, lv, mu_p, lv_p)[1], rtol=1e-12)
    at_prior = gaussian_kl_grad(mu, lv, reduction="none")
    np.testing.assert_allclose(at_prior.mu, standard(mu, lv)[0], rtol=1e-12)
    np.testing.assert_allclose(at_prior.logvar, standard(mu, lv)[1], rtol=1e-12)


def test_the_proved_closed_forms_are_the_kernel_values_at_sampled_points() -> None:
    args = (grad.MU, grad.LOGVAR, grad.MU_P, grad.LOGVAR_P)
    closed = sp.lambdify(args, grad.KL_GENERAL, "numpy")
    mu, lv, mu_p, lv_p = _points()
    np.testing.assert_allclose(
        gaussian_kl(mu, lv, mu_p, lv_p, reduction="none"), closed(mu, lv, mu_p, lv_p), rtol=1e-12
    )


@pytest.mark.torch
def test_torch_backward_equals_the_proved_formulas_at_sampled_points() -> None:
    torch = pytest.importorskip("torch")
    general, _ = _proved_gradients()
    cols = _points()
    tensors = [torch.tensor(c, dtype=torch.float64, requires_grad=True) for c in cols]
    gaussian_kl(*tensors, reduction="sum").backward()
    want = general(*cols)
    for tensor, expected in zip(tensors[:2], want, strict=True):
        np.testing.assert_allclose(tensor.grad.numpy(), expected, rtol=1e-12)  # type: ignore[union-attr]


@pytest.fixture
def jax_x64() -> Iterator[Any]:
    """JAX with float64 enabled, restored afterwards."""
    jax = pytest.importorskip("jax")
    saved = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", saved)


def test_jax_grad_equals_the_proved_formulas_at_sampled_points(jax_x64: Any) -> None:
    general, _ = _proved_gradients()
    cols = _points()
    args = [jax_x64.numpy.asarray(c) for c in cols]
    grads = jax_x64.grad(lambda *a: gaussian_kl(*a, reduction="sum"), argnums=(0, 1))(*args)
    for got, expected in zip(grads, general(*cols), strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


# -- gaussian-kl-unit-variance and gaussian-kl-zero-iff ------------------------


def test_a_unit_variance_closed_form_without_the_half_is_refuted(checker: Checker) -> None:
    integral = derivations.get("gaussian-kl-unit-variance").steps[0].rhs
    assert verdict_of(checker, integral, (unit.M1 - unit.M2) ** 2, by="forgot ½") is Verdict.REFUTED


def test_dropping_f_of_d_needs_the_cited_log_bound(checker: Checker) -> None:
    split = derivations.get("gaussian-kl-zero-iff").steps[1].rhs
    square = (zero.M1 - zero.M2) ** 2 / (2 * zero.S2**2)
    by: list[str | Rule] = [zero.D_DEFINITION, "f(d) >= 0"]
    assert verdict_of(checker, split, square, by=by, relation=">=") is not Verdict.PROVED
    assert verdict_of(checker, split, square, by=[*by, LOG_BOUND], relation=">=") is Verdict.PROVED


def test_the_cited_equality_case_holds_f_vanishes_only_at_zero() -> None:
    d = sp.Symbol("d", real=True)
    f = zero.f(d)
    assert f.subs(d, 0) == 0
    # f(0) = f'(0) = 0 and f'' = e^d > 0: strictly convex with its minimum 0 at d = 0 only
    assert sp.diff(f, d).subs(d, 0) == 0
    assert sp.diff(f, d, 2).is_positive
    values = sp.lambdify(d, f, "numpy")(np.array([-3.0, -0.1, 1e-3, 0.5, 4.0]))
    assert (values > 0).all()


# -- reparameterization --------------------------------------------------------


def test_the_gradient_identity_without_its_side_condition_is_not_proved(checker: Checker) -> None:
    step = derivations.get("reparameterization").steps[1]
    rules = [r for r in step.rules if r is not reparameterization.DOMINATED_CONVERGENCE]
    assert verdict_of(checker, step.lhs, step.rhs, by=rules) is Verdict.UNDECIDED


def test_the_gradient_identity_without_differentiation_under_the_integral_is_not_proved(
    checker: Checker,
) -> None:
    step = derivations.get("reparameterization").steps[1]
    rules = [r for r in step.rules if r is not reparameterization.DIFF_MU]
    assert verdict_of(checker, step.lhs, step.rhs, by=rules) is not Verdict.PROVED


def test_a_change_of_variables_with_the_wrong_scale_is_not_proved(checker: Checker) -> None:
    r = reparameterization
    step = derivations.get("reparameterization").steps[0]
    wrong = change_of_variables("z = μ + 2σ ε", r.Z, r.EPS, r.MU + 2 * r.SIGMA * r.EPS)
    by = [wrong, r.NAME_COMPOSITION, INTEGRABILITY]
    assert verdict_of(checker, step.lhs, step.rhs, by=by) is not Verdict.PROVED


# -- beta-vae and conditional-vae ----------------------------------------------


def _beta_link(checker: Checker, beta_rule: Rule | None, gibbs: bool = True) -> Verdict:
    first = derivations.get("beta-vae").steps[0]
    by: list[str | Rule] = ["(β - 1) KL >= 0"]
    by += [beta_rule] if beta_rule is not None else []
    by += [beta_vae.GIBBS_AT_PRIOR] if gibbs else []
    assumptions = [ABSOLUTE_CONTINUITY, INTEGRABILITY, beta_vae.PRIOR_NORMALISED]
    return verdict_of(checker, first.lhs, first.rhs, by=by, relation="<=", assumptions=assumptions)


def test_the_beta_link_is_proved_for_beta_above_one(checker: Checker) -> None:
    assert _beta_link(checker, beta_vae.BETA_ABOVE_ONE) is Verdict.PROVED


def test_the_beta_link_is_not_proved_for_beta_below_one(checker: Checker) -> None:
    d = beta_vae.DELTA
    below = definition("β = δ/(1 + δ) < 1", beta_vae.BETA, d / (1 + d))
    assert _beta_link(checker, below) is not Verdict.PROVED


def test_the_beta_link_is_not_proved_without_gibbs(checker: Checker) -> None:
    assert _beta_link(checker, beta_vae.BETA_ABOVE_ONE, gibbs=False) is not Verdict.PROVED


def test_the_beta_link_is_not_proved_without_stating_beta_at_least_one(checker: Checker) -> None:
    assert _beta_link(checker, None) is not Verdict.PROVED


def test_the_conditional_bound_is_not_proved_without_the_conditional_premises(
    checker: Checker,
) -> None:
    cv = conditional_vae
    step = derivations.get("conditional-vae").steps[0]
    assert (
        verdict_of(checker, step.lhs, step.rhs, by=list(step.rules), relation=">=")
        is not Verdict.PROVED
    )
    assert cv.ELBO_C in step.rhs.free_symbols


def test_the_conditional_lemma_instances_are_conditioned_on_c(checker: Checker) -> None:
    result = checker.check(derivations.get("conditional-vae"))
    statements = " ".join(e.statement for e in result.ledger)
    assert "q_c(z, x, c)" in statements
    assert "p_prior_c(z, c)" in statements


# -- iwae-bound ----------------------------------------------------------------


def test_the_concavity_schema_is_the_conclusion_of_its_proved_chain() -> None:
    d = derivations.get("iwae-bound")
    begin, relation, end = d.conclusions[0]
    a, b = iwae_bound.A, iwae_bound.B
    schema = iwae_bound.JENSEN_TWO_POINTS.nonneg
    assert schema is not None
    assert relation == ">="
    instance = schema.xreplace(
        {w: v for w in schema.atoms(sp.Wild) for v in (a, b) if w.name == v.name}
    )
    assert sp.expand(instance - (begin - end)) == 0


def test_the_iwae_lower_link_is_not_proved_without_the_concavity_rule(checker: Checker) -> None:
    step = derivations.get("iwae-bound").steps[4]
    rules = [r for r in step.rules if r is not iwae_bound.JENSEN_TWO_POINTS]
    kw = {"assumptions": [ABSOLUTE_CONTINUITY, INTEGRABILITY]}
    assert (
        verdict_of(checker, step.lhs, step.rhs, by=rules or ["none"], relation=">=", **kw)
        is not Verdict.PROVED
    )


def test_the_reversed_iwae_lower_link_is_not_proved(checker: Checker) -> None:
    step = derivations.get("iwae-bound").steps[4]
    kw = {"assumptions": [ABSOLUTE_CONTINUITY, INTEGRABILITY]}
    assert (
        verdict_of(checker, step.lhs, step.rhs, by=list(step.rules), relation="<=", **kw)
        is not Verdict.PROVED
    )


def test_the_symmetry_step_is_not_proved_without_the_marginals(checker: Checker) -> None:
    step = derivations.get("iwae-bound").steps[6]
    rules = [r for r in step.rules if not r.name.startswith("marginal of q2")]
    kw = {"assumptions": [ABSOLUTE_CONTINUITY, INTEGRABILITY]}
    assert verdict_of(checker, step.lhs, step.rhs, by=rules, **kw) is not Verdict.PROVED


def test_gibbs_for_the_beta_vae_is_about_the_prior() -> None:
    assert beta_vae.GIBBS_AT_PRIOR.nonneg is not None
    assert beta_vae.GIBBS_AT_PRIOR.nonneg.has(KL(q(z), derivations.beta_vae.p_prior(z), z))


# -- the additions to elbo_check.vocab -----------------------------------------


def test_the_new_vocabulary_is_what_the_derivations_cite() -> None:
    from elbo_check import vocab

    assert vocab.LOG_CONCAVITY is iwae_bound.JENSEN_TWO_POINTS
    assert vocab.PRIOR_NORMALISED is beta_vae.PRIOR_NORMALISED
    assert vocab.ELBO_RECONSTRUCTION_KL.kind == "lemma"


def test_a_user_derivation_cites_the_unit_variance_lemma(checker: Checker) -> None:
    from elbo_check.rules import instantiate
    from elbo_check.vocab import GAUSSIAN_KL_UNIT_VARIANCE, normal_pdf

    m = sp.Symbol("m", real=True)
    at_zero = instantiate(
        GAUSSIAN_KL_UNIT_VARIANCE, {unit.M1: m, unit.M2: 0}, name="unit KL at m2 = 0"
    )
    d = Derivation("user-unit-kl").start(KL(normal_pdf(z, m, 1), normal_pdf(z, 0, 1), z))
    d.equals(m**2 / 2, by=at_zero)
    assert checker.check(d).verdict is Verdict.PROVED


# -- numeric corroboration of the cited steps (deterministic quadrature, not proof) --


def _gauss_hermite(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[g(ε)], ε ~ N(0, 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / np.sqrt(2 * np.pi)


def test_the_iwae_ordering_holds_on_a_linear_gaussian_model() -> None:
    # z ~ N(0, 1), x | z ~ N(z, s²): log p(x) is exact; q = N(m, v) is not the posterior
    x, s, m, v = 1.3, 0.8, 0.2, 0.5
    eps, wts = _gauss_hermite()
    zs = m + np.sqrt(v) * eps

    def log_w(z: np.ndarray) -> np.ndarray:
        log_joint = -0.5 * (z**2 + (x - z) ** 2 / s**2) - np.log(2 * np.pi * s)
        log_q = -0.5 * (z - m) ** 2 / v - 0.5 * np.log(2 * np.pi * v)
        return np.asarray(log_joint - log_q)

    elbo = float(wts @ log_w(zs))
    lw1, lw2 = np.meshgrid(log_w(zs), log_w(zs), indexing="ij")
    iwae2 = float(wts @ (np.logaddexp(lw1, lw2) - np.log(2)) @ wts)
    log_px = -0.5 * x**2 / (1 + s**2) - 0.5 * np.log(2 * np.pi * (1 + s**2))
    assert log_px > iwae2 + 1e-6
    assert iwae2 > elbo + 1e-6


@pytest.mark.parametrize(("f", "df"), [(np.sin, np.cos), (lambda t: t**3, lambda t: 3 * t**2)])
def test_the_reparameterised_gradient_matches_a_finite_difference(f: Any, df: Any) -> None:
    mu, sigma, h = 0.4, 1.7, 1e-5
    eps, wts = _gauss_hermite()

    def expectation(m: float, sd: float) -> float:
        return float(wts @ f(m + sd * eps))

    d_mu = (expectation(mu + h, sigma) - expectation(mu - h, sigma)) / (2 * h)
    d_sigma = (expectation(mu, sigma + h) - expectation(mu, sigma - h)) / (2 * h)
    assert d_mu == pytest.approx(float(wts @ df(mu + sigma * eps)), rel=1e-7)
    assert d_sigma == pytest.approx(float(wts @ (eps * df(mu + sigma * eps))), rel=1e-7)
