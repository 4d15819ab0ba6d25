r"""Parameters inside their families' domains, before any axiom is written for them.

Every axiom that :mod:`.derive` generates for a pair (a log-pmf ratio, a
normalisation ``Σ q = 1``, a moment, the ``0 < p < 1`` side condition, the
Uniform width ``a < b``) is true only for parameters in the family's domain.
Binomial(3/2, p) "sums to 1" over ``k = 0..3/2`` is false (the sum is 0.88
at p = 1/2), and so is a Categorical whose numbers sum to 3/2.  So a
parameter is accepted only when its domain is *proved* (by the core's
``fact``, from structure and declared assumptions), except what the
derivation states as a side condition: ``p < 1`` and a Categorical's sum for
symbolic probabilities, ``a < b`` for a symbolic Uniform.  Numbers must be
exact (``Integer``, ``Rational``); a ``Float`` or a complex value is refused.

>>> from elbo_check.klformula.families import FAMILIES
>>> from elbo_check.klformula.spec import Dist
>>> half = sp.Rational(1, 2)
>>> parameter_refusal(Dist(FAMILIES["Binomial"], (sp.Rational(3, 2), half)))
'Binomial(3/2, 1/2): n = 3/2 is not a positive integer'
>>> parameter_refusal(Dist(FAMILIES["Bernoulli"], (half,))) is None
True
"""

from __future__ import annotations

import sympy as sp

from elbo_check.core.fragment import fact, is_real_valued
from elbo_check.klformula.families import MAX_CATEGORIES, Domain
from elbo_check.klformula.spec import Dist

__all__ = ["parameter_refusal"]


def _show(dist: Dist) -> str:
    return f"{dist.family.name}({', '.join(sp.sstr(a) for a in dist.args)})"


def _exact(arg: sp.Expr) -> bool:
    return not arg.has(sp.Float, sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo)


def _domain_refusal(name: str, arg: sp.Expr, domain: Domain) -> str | None:
    if not is_real_valued(arg):
        return f"{name} = {sp.sstr(arg)} is not provably real"
    if domain is Domain.POSITIVE and fact(arg, "positive") is not True:
        return f"{name} = {sp.sstr(arg)} is not provably positive"
    if domain is Domain.POSITIVE_INTEGER and not (
        fact(arg, "positive") is True and fact(arg, "integer") is True
    ):
        return f"{name} = {sp.sstr(arg)} is not a positive integer"
    if domain is Domain.PROBABILITY:
        if arg.is_number and not (isinstance(arg, sp.Rational) and 0 < arg < 1):
            return f"{name} = {sp.sstr(arg)} is not a probability in (0, 1)"
        if isinstance(arg, sp.Symbol) and fact(arg, "positive") is not True:
            return f"{name} = {sp.sstr(arg)} is not declared positive"
        # a symbolic probability: 0 < p < 1 is the derivation's side condition, so refuse
        # only what it would contradict
        if fact(arg, "nonpositive") is True or fact(arg - 1, "nonnegative") is True:
            return f"{name} = {sp.sstr(arg)} is not a probability in (0, 1)"
    return None


def parameter_refusal(dist: Dist) -> str | None:
    """Why ``dist``'s parameters are outside its family's domain, or None if they are inside."""
    fam, args = dist.family, dist.args
    if fam.variadic:
        if not 2 <= len(args) <= MAX_CATEGORIES:
            return f"{_show(dist)}: {fam.name} takes 2 to {MAX_CATEGORIES} probabilities"
        names = tuple(f"p{i + 1}" for i in range(len(args)))
        domains = fam.domains * len(args)
    else:
        if len(args) != len(fam.params):
            return f"{_show(dist)}: {fam.name} takes {len(fam.params)} parameters"
        names, domains = fam.params, fam.domains
    for name, arg, domain in zip(names, args, domains, strict=True):
        if not isinstance(arg, sp.Expr):
            return f"{_show(dist)}: {name} = {arg!r} is not a sympy expression"
        if not _exact(arg):
            return f"{_show(dist)}: {name} = {sp.sstr(arg)} is not an exact real number or symbol"
        why = _domain_refusal(name, arg, domain)
        if why:
            return f"{_show(dist)}: {why}"
    if fam.variadic and fact(sp.Add(*args) - 1, "nonzero") is True:
        return f"{_show(dist)}: the probabilities do not sum to 1"
    width = args[1] - args[0] if fam.name == "Uniform" else sp.Integer(1)
    # a symbolic width: a < b is the derivation's side condition; refuse what contradicts it
    if fact(width, "positive") is not True and (width.is_number or fact(width, "nonpositive")):
        return f"{_show(dist)}: a Uniform(a, b) needs a < b"
    return None
