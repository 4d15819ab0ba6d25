"""``gaussian-kl-full-covariance-general``: proved for every k, from cited matrix axioms.

The matrix facts are axioms: here each is checked numerically (numpy, random
SPD matrices, k = 1..6), the matrix names are shown never to enter scalar
algebra, tampered steps are shown unproved, and the result is tied to the
explicit k ≤ 3 derivation at seeded random points.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import sympy as sp
from numpy.polynomial.hermite_e import hermegauss
from scipy import integrate
from scipy.stats import multivariate_normal

import derivations
from derivations import gaussian_kl_full_covariance as explicit
from derivations import gaussian_kl_full_covariance_general as gen
from derivations.gaussian_kl_full_covariance_general import (
    KLN,
    ELogN,
    EQuad,
    LogDet,
    Quad,
    Sigma0,
    Sigma1,
    Tr,
    k,
    mu0,
    mu1,
)
from elbo_check import CheckConfig, Checker, Derivation, Verdict
from elbo_check.rules import Rule

SLUG = "gaussian-kl-full-covariance-general"
DIMS = range(1, 7)
Point = dict[sp.Symbol, np.ndarray]


@pytest.fixture(scope="module")
def checker() -> Checker:
    # a generous limit: a shipped verdict must never depend on machine load
    return Checker(CheckConfig(step_timeout=120))


def verdict_of(checker: Checker, lhs: sp.Expr, rhs: sp.Expr, by: Rule | list[Rule]) -> Verdict:
    """The verdict on the one-step derivation ``lhs = rhs``."""
    d = Derivation("tampered", assumptions=[gen.SPD]).start(lhs).equals(rhs, by=by)
    return checker.check(d).steps[0].verdict


# -- the numpy reading of the opaque atoms ----------------------------------------------


def random_spd(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A random, well-conditioned symmetric positive-definite matrix (Σ = L Lᵀ)."""
    chol = np.tril(rng.normal(size=(dim, dim)), -1) / 2 + np.diag(rng.uniform(0.5, 1.5, dim))
    return np.asarray(chol @ chol.T)


def random_point(seed: int, dim: int) -> Point:
    rng = np.random.default_rng(seed)
    return {
        mu0: rng.normal(size=dim),
        mu1: rng.normal(size=dim),
        Sigma0: random_spd(rng, dim),
        Sigma1: random_spd(rng, dim),
    }


def expect(fn: object, mean: np.ndarray, cov: np.ndarray, order: int = 3) -> float:
    """E_{z∼N(mean, cov)}[fn(z)] by tensor Gauss-Hermite quadrature (exact for degree ≤ 5)."""
    nodes, weights = hermegauss(order)
    weights = weights / np.sqrt(2 * np.pi)
    chol = np.linalg.cholesky(cov)
    dim = len(mean)
    grid = np.array(list(itertools.product(nodes, repeat=dim)))
    w = np.prod(np.array(list(itertools.product(weights, repeat=dim))), axis=1)
    z = mean + grid @ chol.T
    return float(np.sum(w * np.asarray(fn(z))))  # type: ignore[operator]


def quad_form(z: np.ndarray, a: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = np.atleast_2d(z) - a
    return np.asarray(np.einsum("ni,ni->n", d, np.linalg.solve(cov, d.T).T))


def log_pdf(z: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    return np.asarray(multivariate_normal(mean, cov).logpdf(np.atleast_2d(z))).reshape(-1)


def atom_value(app: sp.Expr, point: Point) -> float:
    """The numpy value of one applied atom at ``point`` (by quadrature, not by the axioms)."""
    v = [point[a] for a in app.args]
    if app.func is LogDet:
        return float(np.linalg.slogdet(v[0])[1])
    if app.func is Tr:
        return float(np.trace(np.linalg.solve(v[0], v[1])))
    if app.func is Quad:
        return float(quad_form(v[0], v[1], v[2])[0])
    if app.func is EQuad:
        return expect(lambda z: quad_form(z, v[2], v[3]), v[0], v[1])
    if app.func is ELogN:
        return expect(lambda z: log_pdf(z, v[2], v[3]), v[0], v[1])
    if app.func is KLN:
        return expect(lambda z: log_pdf(z, v[0], v[1]) - log_pdf(z, v[2], v[3]), v[0], v[1])
    raise AssertionError(f"not an atom: {app}")


def value(expr: sp.Expr, point: Point) -> float:
    """``expr`` at ``point``, every atom read by numpy and k the dimension."""
    atoms = {app: sp.Float(atom_value(app, point), 30) for app in atoms_of(expr)}
    return float(expr.xreplace(atoms).subs(k, len(point[mu0])))


def atoms_of(expr: sp.Expr) -> Iterator[sp.Expr]:
    yield from (a for a in sp.preorder_traversal(expr) if getattr(a, "func", None) in gen.ATOMS)


# -- proved, with its matrix axioms in the ledger -----------------------------------------


def test_the_general_slug_is_registered_right_after_the_explicit_one() -> None:
    names = derivations.slugs()
    assert names[names.index("gaussian-kl-full-covariance") + 1] == SLUG
    assert derivations.get(SLUG) is gen.DERIVATION


def test_every_step_of_the_general_derivation_is_proved(checker: Checker) -> None:
    result = checker.check(gen.DERIVATION)
    assert [r.verdict for r in result.steps] == [Verdict.PROVED] * len(result.steps)


def test_the_conclusion_is_the_closed_form_for_symbolic_k() -> None:
    ((begin, relation, end),) = gen.DERIVATION.conclusions
    assert (begin, relation, end) == (KLN(mu0, Sigma0, mu1, Sigma1), "=", gen.closed_form())
    assert not any(isinstance(a, sp.Integer) and a > 3 for a in sp.preorder_traversal(end))
    assert k.is_integer
    assert k.is_positive
    assert k in end.free_symbols


def test_every_matrix_axiom_and_the_spd_condition_are_in_the_ledger(checker: Checker) -> None:
    ledger = {entry.name: entry for entry in checker.check(gen.DERIVATION).ledger}
    for rule in (*gen.AXIOMS, gen.SPD):
        assert ledger[rule.name].kind == rule.kind
    assert all("symmetric positive-definite" in rule.statement for rule in gen.AXIOMS)


def test_the_evidence_is_the_k8_monte_carlo_record() -> None:
    from elbo_check.evidence.gaussian_kl import FULL_COVARIANCE_GAUSSIAN_KL_K8

    assert gen.EVIDENCE is FULL_COVARIANCE_GAUSSIAN_KL_K8


# -- the invariant: matrix and vector names never enter scalar algebra --------------------


def slot_violations(expr: sp.Expr) -> list[str]:
    """Each occurrence of a matrix/vector name (or pattern) outside its atom slot."""
    kinds = {**dict.fromkeys(gen.VECTORS, "v"), **dict.fromkeys(gen.MATRICES, "M")}
    for rule in gen.AXIOMS:
        for atom in (a for side in rule.patterns for e in side for a in atoms_of(e)):
            slots = zip(atom.args, gen.ATOMS[atom.func], strict=True)
            kinds.update({w: s for w, s in slots if isinstance(w, sp.Wild)})
    bad: list[str] = []

    def walk(node: sp.Basic, slot: str | None) -> None:
        if node in kinds:
            if slot != kinds[node]:
                bad.append(f"{node} in slot {slot!r}")
            return
        if node.func in gen.ATOMS:
            for arg, kind in zip(node.args, gen.ATOMS[node.func], strict=True):
                if arg not in kinds:
                    bad.append(f"{arg} (not a name) as an argument of {node.func}")
                walk(arg, kind)
            return
        for arg in node.args:
            walk(arg, None)

    walk(expr, None)
    return bad


def test_matrix_and_vector_names_occur_only_as_atom_arguments_in_every_step() -> None:
    exprs = [e for s in gen.DERIVATION.steps for e in (s.lhs, s.rhs)]
    exprs += [e for rule in gen.AXIOMS for side in rule.patterns for e in side]
    assert len(exprs) > 8
    assert [slot_violations(e) for e in exprs] == [[]] * len(exprs)


def test_each_pattern_variable_fills_slots_of_one_kind_only() -> None:
    seen: dict[sp.Basic, set[str]] = {}
    for rule in gen.AXIOMS:
        for atom in (a for side in rule.patterns for e in side for a in atoms_of(e)):
            for arg, kind in zip(atom.args, gen.ATOMS[atom.func], strict=True):
                seen.setdefault(arg, set()).add(kind)
    assert all(isinstance(w, sp.Wild) for w in seen)
    assert {w: len(kinds) for w, kinds in seen.items()} == dict.fromkeys(seen, 1)


def test_the_invariant_check_catches_a_matrix_name_in_scalar_algebra() -> None:
    assert slot_violations(2 * Sigma0 + LogDet(Sigma0)) == ["Sigma0 in slot None"]
    assert slot_violations(Tr(Sigma1, mu0)) == ["mu0 in slot 'M'"]
    assert slot_violations(LogDet(2 * Sigma0)) != []


# -- tampered steps are not proved --------------------------------------------------------

_FINAL = gen.DERIVATION.steps[-1]
_TAMPERED = {
    "the -k dropped": gen.closed_form() + k / 2,
    "the log-determinant signs flipped": gen.closed_form() - LogDet(Sigma1) + LogDet(Sigma0),
    "tr(Σ0⁻¹Σ1) for tr(Σ1⁻¹Σ0)": gen.closed_form() + (Tr(Sigma0, Sigma1) - Tr(Sigma1, Sigma0)) / 2,
    "the quadratic form under Σ0": gen.closed_form()
    + (Quad(mu0, mu1, Sigma0) - Quad(mu0, mu1, Sigma1)) / 2,
}


@pytest.mark.parametrize("what", list(_TAMPERED))
def test_a_tampered_final_step_is_not_proved(checker: Checker, what: str) -> None:
    assert verdict_of(checker, _FINAL.lhs, _TAMPERED[what], list(_FINAL.rules)) != Verdict.PROVED


def test_the_expected_quadratic_form_with_the_wrong_covariance_is_not_proved(
    checker: Checker,
) -> None:
    step = gen.DERIVATION.steps[2]
    wrong = step.rhs.xreplace({Tr(Sigma1, Sigma0): Tr(Sigma1, Sigma1)})
    assert wrong != step.rhs
    assert verdict_of(checker, step.lhs, wrong, list(step.rules)) != Verdict.PROVED


def test_the_whole_chain_in_one_step_needs_its_axioms(checker: Checker) -> None:
    start, end = KLN(mu0, Sigma0, mu1, Sigma1), gen.closed_form()
    assert verdict_of(checker, start, end, list(gen.AXIOMS)) == Verdict.PROVED
    for dropped in gen.AXIOMS:
        rest = [r for r in gen.AXIOMS if r is not dropped]
        assert verdict_of(checker, start, end, rest) != Verdict.PROVED, dropped.name


# -- the cited matrix axioms are numerically true (k = 1..6) -------------------------------


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("rule", gen.AXIOMS, ids=lambda r: r.name)
def test_each_matrix_axiom_holds_for_random_spd_matrices(rule: Rule, dim: int) -> None:
    for seed in (dim, 100 + dim):
        point = random_point(seed, dim)
        for lhs, rhs in rule.patterns:
            for instance in _instances(lhs):
                lhs_i, rhs_i = lhs.xreplace(instance), rhs.xreplace(instance)
                assert value(lhs_i, point) == pytest.approx(value(rhs_i, point), rel=1e-9, abs=1e-9)


def _instances(lhs: sp.Expr) -> Iterator[dict[sp.Wild, sp.Symbol]]:
    """Every way to put the point's names of the right kind into the pattern's slots."""
    wilds = {w: s for a in atoms_of(lhs) for w, s in zip(a.args, gen.ATOMS[a.func], strict=True)}
    pools = [gen.VECTORS if s == "v" else gen.MATRICES for s in wilds.values()]
    for choice in itertools.product(*pools):
        yield dict(zip(wilds, choice, strict=True))


def test_the_expected_quadratic_form_with_the_wrong_covariance_is_false() -> None:
    point = random_point(7, 3)
    right = Tr(Sigma0, Sigma1) + Quad(mu1, mu0, Sigma0)
    wrong = Tr(Sigma1, Sigma0) + Quad(mu1, mu0, Sigma0)
    assert value(EQuad(mu1, Sigma1, mu0, Sigma0), point) == pytest.approx(value(right, point))
    assert value(EQuad(mu1, Sigma1, mu0, Sigma0), point) != pytest.approx(value(wrong, point))


@pytest.mark.parametrize("dim", [1, 2])
def test_the_expected_quadratic_form_matches_scipy_quadrature(dim: int) -> None:
    p = random_point(11 + dim, dim)
    m, s, a, A = p[mu0], p[Sigma0], p[mu1], p[Sigma1]
    dist = multivariate_normal(m, s)

    def integrand(*z: float) -> float:
        return float(dist.pdf(np.array(z[::-1])) * quad_form(np.array(z[::-1]), a, A)[0])

    lim = [(mi - 10 * np.sqrt(s[i, i]), mi + 10 * np.sqrt(s[i, i])) for i, mi in enumerate(m)]
    numeric = integrate.nquad(integrand, lim, opts={"epsabs": 1e-9})[0]
    exact = np.trace(np.linalg.solve(A, s)) + quad_form(m, a, A)[0]
    assert numeric == pytest.approx(exact, rel=1e-5)


def test_the_expected_quadratic_form_matches_monte_carlo_at_k_6() -> None:
    p = random_point(6, 6)
    z = np.random.default_rng(6).multivariate_normal(p[mu0], p[Sigma0], size=200_000)
    draws = quad_form(z, p[mu1], p[Sigma1])
    exact = value(Tr(Sigma1, Sigma0) + Quad(mu0, mu1, Sigma1), p)
    assert abs(draws.mean() - exact) < 5 * draws.std() / np.sqrt(len(draws))


# -- tie to the explicit k ≤ 3 derivation --------------------------------------------------


@pytest.mark.parametrize("dim", [2, 3])
def test_the_general_form_agrees_with_the_explicit_closed_form(dim: int) -> None:
    for seed in range(3):
        rng = np.random.default_rng(1000 * dim + seed)
        chols = [np.linalg.cholesky(random_spd(rng, dim)) for _ in range(2)]
        means = [rng.normal(size=dim) for _ in range(2)]
        point = {mu0: means[0], mu1: means[1], Sigma0: chols[0] @ chols[0].T}
        point[Sigma1] = chols[1] @ chols[1].T
        sym = [sp.Matrix(x.tolist()) for x in (means[0], chols[0], means[1], chols[1])]
        want = float(explicit.closed_form(*sym))
        assert value(gen.closed_form(), point) == pytest.approx(want, rel=1e-9)


def test_every_step_has_the_same_value_as_the_kl_by_quadrature() -> None:
    point = random_point(3, 3)
    kl = value(KLN(mu0, Sigma0, mu1, Sigma1), point)
    for step in gen.DERIVATION.steps:
        assert value(step.rhs, point) == pytest.approx(kl, rel=1e-9)
