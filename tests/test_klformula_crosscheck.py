"""The numeric judge's KL against torch's registry and against scipy, at seeded random points.

Parameter conventions (ours = sympy.stats): ``Gamma(k, theta)`` is shape and
*scale*, so torch gets ``rate = 1/theta`` and scipy ``scale = theta``;
``LogNormal(mean, std)`` is scipy's ``lognorm(s=std, scale=exp(mean))``;
``Geometric(p)`` counts *trials* on {1, 2, ...} (as scipy's ``geom``), while
torch's ``Geometric`` counts *failures* on {0, 1, ...}: X_ours = X_torch + 1.
Shifting both sides by one leaves KL unchanged, so Geometric || Geometric
compares directly (torch registers no other Geometric pair).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import mpmath
import pytest
import sympy as sp
from scipy import integrate, stats

from elbo_check.klformula.families import FAMILIES
from elbo_check.klformula.judge import numeric_kl
from elbo_check.klformula.spec import Dist

#: every (q, p) pair among our families that torch.distributions.kl registers (checked below)
TORCH_PAIRS = [
    ("Bernoulli", "Bernoulli"), ("Bernoulli", "Poisson"), ("Beta", "Beta"),
    ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"), ("Beta", "Uniform"),
    ("Binomial", "Binomial"), ("Categorical", "Categorical"), ("Exponential", "Beta"),
    ("Exponential", "Exponential"), ("Exponential", "Gamma"), ("Exponential", "Normal"),
    ("Exponential", "Uniform"), ("Gamma", "Beta"), ("Gamma", "Exponential"), ("Gamma", "Gamma"),
    ("Gamma", "Normal"), ("Gamma", "Uniform"), ("Geometric", "Geometric"), ("Laplace", "Beta"),
    ("Laplace", "Exponential"), ("Laplace", "Gamma"), ("Laplace", "Laplace"),
    ("Laplace", "Normal"), ("Laplace", "Uniform"), ("Normal", "Beta"), ("Normal", "Exponential"),
    ("Normal", "Gamma"), ("Normal", "Laplace"), ("Normal", "Normal"), ("Normal", "Uniform"),
    ("Poisson", "Bernoulli"), ("Poisson", "Binomial"), ("Poisson", "Poisson"),
    ("Uniform", "Beta"), ("Uniform", "Exponential"), ("Uniform", "Gamma"),
    ("Uniform", "Normal"), ("Uniform", "Uniform"),
]  # fmt: skip
#: LogNormal is a TransformedDistribution in torch: KL via its (same-transform) base Normals
TORCH_EXTRA = [("LogNormal", "LogNormal")]

R = sp.Rational


def _draw(name: str, rng: random.Random, *, k: int = 3, n: int = 6) -> tuple[sp.Rational, ...]:
    """Random exact parameters of ``name`` (shapes from 0.3, so singular densities occur)."""

    def u(lo: float, hi: float) -> sp.Rational:
        return R(rng.randint(int(lo * 1000), int(hi * 1000)), 1000)

    if name in ("Normal", "Laplace", "LogNormal"):
        return (u(-1.5, 1.5), u(0.4, 2.5))
    if name == "Exponential":
        return (u(0.3, 3),)
    if name in ("Gamma", "Beta"):
        return (u(0.3, 4), u(0.3, 3))
    if name == "Uniform":
        a = u(-1, 1)
        return (a, a + u(0.2, 2))
    if name in ("Bernoulli", "Geometric"):
        return (u(0.05, 0.95),)
    if name == "Poisson":
        return (u(0.2, 6),)
    if name == "Binomial":
        return (sp.Integer(n), u(0.05, 0.95))
    weights = [rng.randint(1, 100) for _ in range(k)]
    return tuple(R(w, sum(weights)) for w in weights)


def _pair(qn: str, pn: str, rng: random.Random) -> tuple[Dist, Dist]:
    """Random q and p; half the time placed so that KL is finite where that is possible."""
    q = Dist(FAMILIES[qn], _draw(qn, rng))
    p = Dist(FAMILIES[pn], _draw(pn, rng))
    if rng.random() < 0.5:
        return q, p
    if qn == "Uniform" and pn in ("Beta", "Exponential", "Gamma"):
        lo = _draw("Exponential", rng)[0] / 4
        q = Dist(q.family, (lo, lo + R(1, 2)))
    if pn == "Uniform" and qn in ("Uniform", "Beta"):
        lo, hi = q.args if qn == "Uniform" else (sp.Integer(0), sp.Integer(1))
        p = Dist(p.family, (lo - R(1, 4), hi + R(1, 2)))
    return q, p


def _close(ours: mpmath.mpf, theirs: float, rtol: float) -> bool:
    if math.isinf(theirs) or mpmath.isinf(ours):
        return bool(mpmath.isinf(ours)) and math.isinf(theirs) and theirs > 0
    return abs(float(ours) - theirs) <= 1e-9 + rtol * abs(theirs)


# -- torch ------------------------------------------------------------------------


def _torch_dist(dist: Dist) -> Any:
    import torch
    from torch import distributions as D

    def t(x: sp.Expr) -> Any:
        return torch.tensor(float(x), dtype=torch.float64)

    a = dist.args
    makers: dict[str, Callable[[], Any]] = {
        "Normal": lambda: D.Normal(t(a[0]), t(a[1])),
        "Exponential": lambda: D.Exponential(t(a[0])),
        "Laplace": lambda: D.Laplace(t(a[0]), t(a[1])),
        "Gamma": lambda: D.Gamma(t(a[0]), 1 / t(a[1])),
        "Beta": lambda: D.Beta(t(a[0]), t(a[1])),
        "Uniform": lambda: D.Uniform(t(a[0]), t(a[1])),
        "LogNormal": lambda: D.LogNormal(t(a[0]), t(a[1])),
        "Bernoulli": lambda: D.Bernoulli(probs=t(a[0])),
        "Poisson": lambda: D.Poisson(t(a[0])),
        "Geometric": lambda: D.Geometric(probs=t(a[0])),
        "Binomial": lambda: D.Binomial(total_count=int(a[0]), probs=t(a[1])),
        "Categorical": lambda: D.Categorical(
            probs=torch.tensor([float(x) for x in a], dtype=torch.float64)
        ),
    }
    return makers[dist.family.name]()


@pytest.mark.torch
def test_the_torch_pair_list_is_exactly_what_torch_registers_among_our_families() -> None:
    pytest.importorskip("torch")
    from torch.distributions.kl import _KL_REGISTRY

    names = {(a.__name__, b.__name__) for a, b in _KL_REGISTRY}
    ours = set(FAMILIES)
    assert {(a, b) for a, b in names if a in ours and b in ours} == set(TORCH_PAIRS)


@pytest.mark.torch
@pytest.mark.parametrize(("qn", "pn"), TORCH_PAIRS + TORCH_EXTRA)
def test_the_numeric_kl_matches_torch_kl_divergence(qn: str, pn: str) -> None:
    torch = pytest.importorskip("torch")
    rng = random.Random(f"torch:{qn}:{pn}")
    for _ in range(2):
        q, p = _pair(qn, pn, rng)
        ours = numeric_kl(q, p, {})
        theirs = float(torch.distributions.kl_divergence(_torch_dist(q), _torch_dist(p)))
        assert _close(ours, theirs, 1e-7), (q, p, ours, theirs)


# -- scipy ------------------------------------------------------------------------


def _scipy(dist: Dist) -> Any:
    a = [float(x) for x in dist.args]
    name = dist.family.name
    if name == "Categorical":
        return stats.rv_discrete(values=(list(range(len(a))), a))
    makers: dict[str, Callable[[], Any]] = {
        "Normal": lambda: stats.norm(a[0], a[1]),
        "Exponential": lambda: stats.expon(scale=1 / a[0]),
        "Laplace": lambda: stats.laplace(a[0], a[1]),
        "Gamma": lambda: stats.gamma(a[0], scale=a[1]),
        "Beta": lambda: stats.beta(a[0], a[1]),
        "Uniform": lambda: stats.uniform(loc=a[0], scale=a[1] - a[0]),
        "LogNormal": lambda: stats.lognorm(s=a[1], scale=math.exp(a[0])),
        "Bernoulli": lambda: stats.bernoulli(a[0]),
        "Poisson": lambda: stats.poisson(a[0]),
        "Geometric": lambda: stats.geom(a[0]),
        "Binomial": lambda: stats.binom(int(a[0]), a[1]),
    }
    return makers[name]()


def _scipy_kl(q: Dist, p: Dist) -> float:
    sq, sp_ = _scipy(q), _scipy(p)
    lo, hi = sq.support()
    if q.family.kind.value == "discrete":
        total, k = 0.0, int(lo)
        while k <= hi and k < 3000:
            lq = float(sq.logpmf(k))
            if lq < -700 and k > sq.mean():
                break
            total += math.exp(lq) * (lq - float(sp_.logpmf(k)))
            k += 1
        return total

    def f(x: float) -> float:
        lq = sq.logpdf(x)
        return float(math.exp(lq) * (lq - sp_.logpdf(x))) if lq > -700 else 0.0

    mid = float(sq.median())
    left = integrate.quad(f, lo, mid, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    right = integrate.quad(f, mid, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    return float(left + right)


#: pairs with a finite KL, torch-registered or not; shapes >= 1 keep scipy's quad well-behaved
SCIPY_PAIRS = [
    ("Normal", "Normal"), ("Normal", "Laplace"), ("Laplace", "Laplace"), ("Laplace", "Normal"),
    ("Exponential", "Exponential"), ("Exponential", "Gamma"), ("Exponential", "LogNormal"),
    ("Gamma", "Gamma"), ("Gamma", "LogNormal"), ("LogNormal", "Gamma"),
    ("LogNormal", "LogNormal"), ("Beta", "Beta"), ("Uniform", "Normal"),
    ("Bernoulli", "Bernoulli"), ("Bernoulli", "Binomial"), ("Poisson", "Poisson"),
    ("Geometric", "Geometric"), ("Geometric", "Poisson"), ("Binomial", "Poisson"),
    ("Binomial", "Binomial"), ("Categorical", "Categorical"), ("Categorical", "Binomial"),
]  # fmt: skip


@pytest.mark.parametrize(("qn", "pn"), SCIPY_PAIRS)
def test_the_numeric_kl_matches_scipy_quadrature_or_summation(qn: str, pn: str) -> None:
    rng = random.Random(f"scipy:{qn}:{pn}")
    for _ in range(2):
        q = Dist(FAMILIES[qn], _draw(qn, rng))
        p = Dist(FAMILIES[pn], _draw(pn, rng, n=int(rng.randint(2, 8))))
        if qn in ("Gamma", "Beta"):
            q = Dist(q.family, tuple(x + 1 for x in q.args))
        ours = numeric_kl(q, p, {})
        assert _close(ours, _scipy_kl(q, p), 1e-6), (q, p, ours)


@pytest.mark.parametrize(
    ("q", "p"),
    [
        (("Normal", (0, 1)), ("Uniform", (-5, 5))),
        (("Exponential", (1,)), ("Beta", (2, 2))),
        (("Poisson", (2,)), ("Geometric", (R(1, 2),))),
        (("Binomial", (5, R(1, 2))), ("Categorical", (R(1, 2), R(1, 2)))),
        (("Normal", (0, 1)), ("Poisson", (1,))),
        (("Uniform", (0, 2)), ("Uniform", (0, 1))),
    ],
)
def test_mass_where_p_has_none_makes_the_kl_infinite(
    q: tuple[str, tuple[Any, ...]], p: tuple[str, tuple[Any, ...]]
) -> None:
    def dist(spec: tuple[str, tuple[Any, ...]]) -> Dist:
        return Dist(FAMILIES[spec[0]], tuple(sp.Rational(x) for x in spec[1]))

    assert numeric_kl(dist(q), dist(p), {}) == mpmath.inf
