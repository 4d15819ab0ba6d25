r"""The distribution families ``kl-formula`` knows: one typed definition each.

Names and parameter orders follow ``sympy.stats``; each parameter has a
:class:`Domain`, which decides the assumptions its symbol gets (scales and
rates positive, means real, probabilities in (0, 1)).  Densities are written
out here with sympy's elementary functions (``sympy.stats`` itself is never
used as a source of truth).

>>> FAMILIES["Normal"].params
('mean', 'std')
>>> FAMILIES["Gamma"].domains
(<Domain.POSITIVE: 'positive'>, <Domain.POSITIVE: 'positive'>)
>>> FAMILIES["Bernoulli"].kind
<Kind.DISCRETE: 'discrete'>
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

__all__ = ["FAMILIES", "MAX_CATEGORIES", "Domain", "Family", "Kind", "symbol_for"]

#: ``Categorical`` takes between 2 and this many probabilities
MAX_CATEGORIES = 4


class Domain(enum.Enum):
    """What a parameter may be; it fixes the assumptions of its symbol."""

    REAL = "real"
    POSITIVE = "positive"
    PROBABILITY = "probability (0 < p < 1)"
    POSITIVE_INTEGER = "positive integer"

    def assumptions(self) -> dict[str, bool]:
        """The sympy assumptions a symbol of this domain is declared with.

        >>> Domain.PROBABILITY.assumptions()
        {'positive': True}
        """
        if self is Domain.REAL:
            return {"real": True}
        if self is Domain.POSITIVE_INTEGER:
            return {"positive": True, "integer": True}
        # p < 1 is not a sympy assumption: it is stated as a side condition
        return {"positive": True}


class Kind(enum.Enum):
    """Continuous (a density, integrals) or discrete (a mass function, sums)."""

    CONTINUOUS = "continuous"
    DISCRETE = "discrete"


Density = Callable[..., sp.Expr]


@dataclass(frozen=True)
class Family:
    """A named family: parameters, their domains, the support and the density.

    ``support(*params)`` gives ``(lo, hi)``: the interval for a continuous
    family, the range of integers ``lo..hi`` (``hi`` may be ``oo``) for a
    discrete one.  ``density(x, *params)`` is the pdf or pmf on the support.
    ``Categorical`` is variadic: ``params`` names its first probability only.
    """

    name: str
    params: tuple[str, ...]
    domains: tuple[Domain, ...]
    kind: Kind
    support: Callable[..., tuple[sp.Expr, sp.Expr]]
    density: Density
    variadic: bool = False


def symbol_for(name: str, domain: Domain) -> sp.Symbol:
    """The symbol a parameter named ``name`` gets in ``domain``.

    >>> symbol_for("s", Domain.POSITIVE).is_positive
    True
    """
    return sp.Symbol(name, **domain.assumptions())


R, P, PR, N = Domain.REAL, Domain.POSITIVE, Domain.PROBABILITY, Domain.POSITIVE_INTEGER
C, D = Kind.CONTINUOUS, Kind.DISCRETE
oo = sp.oo


def _categorical(k: sp.Expr, *probs: sp.Expr) -> sp.Expr:
    """pmf of Categorical(p1, ..., pK) on 0..K-1 as a Piecewise in k."""
    return sp.Piecewise(*[(pr, sp.Eq(k, i)) for i, pr in enumerate(probs)], (0, True))


_LIST = [
    Family(
        "Normal",
        ("mean", "std"),
        (R, P),
        C,
        lambda m, s: (-oo, oo),
        lambda x, m, s: sp.exp(-((x - m) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s),
    ),
    Family(
        "Exponential",
        ("rate",),
        (P,),
        C,
        lambda r: (sp.Integer(0), oo),
        lambda x, r: r * sp.exp(-r * x),
    ),
    Family(
        "Laplace",
        ("mu", "b"),
        (R, P),
        C,
        lambda m, b: (-oo, oo),
        lambda x, m, b: sp.exp(-sp.Abs(x - m) / b) / (2 * b),
    ),
    Family(
        "Gamma",
        ("k", "theta"),
        (P, P),
        C,
        lambda k, t: (sp.Integer(0), oo),
        lambda x, k, t: x ** (k - 1) * sp.exp(-x / t) / (sp.gamma(k) * t**k),
    ),
    Family(
        "Beta",
        ("a", "b"),
        (P, P),
        C,
        lambda a, b: (sp.Integer(0), sp.Integer(1)),
        lambda x, a, b: (
            x ** (a - 1) * (1 - x) ** (b - 1) * sp.gamma(a + b) / (sp.gamma(a) * sp.gamma(b))
        ),
    ),
    Family("Uniform", ("a", "b"), (R, R), C, lambda a, b: (a, b), lambda x, a, b: 1 / (b - a)),
    Family(
        "LogNormal",
        ("mean", "std"),
        (R, P),
        C,
        lambda m, s: (sp.Integer(0), oo),
        lambda x, m, s: sp.exp(-((sp.log(x) - m) ** 2) / (2 * s**2)) / (x * s * sp.sqrt(2 * sp.pi)),
    ),
    Family(
        "Bernoulli",
        ("p",),
        (PR,),
        D,
        lambda p: (sp.Integer(0), sp.Integer(1)),
        lambda k, p: p**k * (1 - p) ** (1 - k),
    ),
    Family(
        "Poisson",
        ("lam",),
        (P,),
        D,
        lambda lam: (sp.Integer(0), oo),
        lambda k, lam: lam**k * sp.exp(-lam) / sp.factorial(k),
    ),
    Family(
        "Geometric",
        ("p",),
        (PR,),
        D,
        lambda p: (sp.Integer(1), oo),
        lambda k, p: p * (1 - p) ** (k - 1),
    ),
    Family(
        "Binomial",
        ("n", "p"),
        (N, PR),
        D,
        lambda n, p: (sp.Integer(0), n),
        lambda k, n, p: sp.binomial(n, k) * p**k * (1 - p) ** (n - k),
    ),
    Family(
        "Categorical",
        ("p1",),
        (PR,),
        D,
        lambda *ps: (sp.Integer(0), sp.Integer(len(ps) - 1)),
        _categorical,
        variadic=True,
    ),
]

#: every supported family by its sympy.stats name
FAMILIES: dict[str, Family] = {f.name: f for f in _LIST}
