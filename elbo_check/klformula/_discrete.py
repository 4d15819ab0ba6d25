r"""Discrete pairs: a finite numeric support written out term by term.

KL(q ‖ p) = Σ_k q(k) log(q(k)/p(k)) over q's support.  When the support is a
concrete finite range (Bernoulli, Categorical, Binomial with a numeric n) the
sum is written out, term by term, as the defining sum: no ``Sum`` (outside the
core's fragment) is needed.  A term with q(k) = 0 is 0; a term with q(k) > 0
and p(k) = 0 makes the KL +∞.

>>> from elbo_check.klformula.families import FAMILIES, Domain, symbol_for
>>> from elbo_check.klformula.spec import Dist
>>> p1, p2 = symbol_for("p1", Domain.PROBABILITY), symbol_for("p2", Domain.PROBABILITY)
>>> d, closed = discrete_derivation(Dist(FAMILIES["Bernoulli"], (p1,)), Dist(FAMILIES["Bernoulli"], (p2,)))
>>> closed
p1*log(p1/p2) + (1 - p1)*log((1 - p1)/(1 - p2))
"""

from __future__ import annotations

import sympy as sp

from elbo_check.derivation import Derivation
from elbo_check.klformula._series import (
    PROBABILITY_DOMAIN,
    probability_expressions,
    quotient_logs,
    series_derivation,
)
from elbo_check.klformula.spec import Dist

__all__ = ["MAX_TERMS", "PROBABILITIES", "discrete_derivation"]

#: the most support points written out term by term
MAX_TERMS = 64

PROBABILITIES = PROBABILITY_DOMAIN


def _support(dist: Dist) -> list[int] | str:
    fam = dist.family
    lo, hi = fam.support(*dist.args)
    if not (isinstance(lo, sp.Integer) and isinstance(hi, sp.Integer)):
        return (
            f"{fam.name}: the support {lo}..{hi} is not a concrete finite range, and a sum "
            "(Sum) over it is outside the core's fragment"
        )
    if int(hi) - int(lo) + 1 > MAX_TERMS:
        return f"{fam.name}: the support has more than {MAX_TERMS} points"
    return list(range(int(lo), int(hi) + 1))


def _name(dist: Dist) -> str:
    return f"{dist.family.name}({', '.join(sp.sstr(a) for a in dist.args)})"


def discrete_derivation(q: Dist, p: Dist) -> tuple[Derivation, sp.Expr] | str:
    """The derivation of KL(q ‖ p) for a same-family discrete pair, and its closed form (or why not)."""
    if q.family.name == "Binomial" and q.args[0] != p.args[0]:
        return "Binomial pairs need the same n"
    if q.family.name == "Categorical" and len(q.args) != len(p.args):
        return "Categorical pairs need the same number of categories"
    if q.family.name == "Binomial":  # the sum route gives n·KL(Bernoulli), for any n
        return series_derivation(q, p)
    support = _support(q)
    if isinstance(support, str):
        return series_derivation(q, p)
    k = sp.Symbol("k", integer=True)
    terms = []
    for value in support:
        qk = q.family.density(k, *q.args).subs(k, value)
        pk = p.family.density(k, *p.args).subs(k, value)
        if qk == 0:
            continue
        if pk == 0:
            return f"p({value}) = 0 where q({value}) > 0: the KL is +oo"
        terms.append(qk * sp.log(qk / pk))
    total = sp.Add(*terms)
    d = Derivation(
        f"kl-{q.family.name.lower()}-{p.family.name.lower()}",
        title=f"KL({_name(q)} || {_name(p)})",
        description="The defining sum over q's finite support, written out term by term.",
        assumptions=[PROBABILITIES],
    )
    d.start(total)
    splits = quotient_logs(total, probability_expressions(q, p))
    d.equals(
        total,
        by=["definition of the discrete KL: Σ_k q(k) log(q(k)/p(k)) over the support", *splits],
    )
    return d, total
