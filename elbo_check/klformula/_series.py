r"""Discrete pairs over an infinite or symbolic support: Poisson, Geometric, Binomial(n).

``Sum`` is outside the core's fragment, so the defining sum is written with
an *opaque* function class: ``InfiniteSum(body, k, lo)`` is Σ_{k ≥ lo} body and
``FiniteSum(body, k, lo, hi)`` is Σ_{k = lo}^{hi} body.  The core treats them
as uninterpreted; every fact about them is a cited axiom in the ledger, each
an instance for the pair's own parameters (whose domain, 0 < p < 1, is the
side condition :data:`~._discrete.PROBABILITIES`):

* the **log-ratio of the pmfs** inside the sum, ``Σ g log(q/p) = Σ g (a k +
  b)``, the two sums having the same terms on the support (``g`` any
  expression: a pattern variable);
* **linearity** of q's expectation: ``Σ q (a k + b) = a Σ q k + b Σ q``, both
  sums converging absolutely (E_q[k] is finite);
* q's **normalisation** ``Σ q = 1`` and **mean** ``Σ q k``.

The closed form is then derived by the core from these by its canonical forms.

>>> from elbo_check.klformula.families import FAMILIES, Domain, symbol_for
>>> from elbo_check.klformula.spec import Dist
>>> l1, l2 = symbol_for("l1", Domain.POSITIVE), symbol_for("l2", Domain.POSITIVE)
>>> d, closed = series_derivation(Dist(FAMILIES["Poisson"], (l1,)), Dist(FAMILIES["Poisson"], (l2,)))
>>> closed == l1 * (sp.log(l1) - sp.log(l2)) + l2 - l1
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from elbo_check.core.fragment import fact
from elbo_check.derivation import Derivation
from elbo_check.klformula.spec import Dist
from elbo_check.rules import Rule, axiom, side_condition

__all__ = [
    "LAWS",
    "PROBABILITY_DOMAIN",
    "FiniteSum",
    "InfiniteSum",
    "Law",
    "positives_of",
    "probability_expressions",
    "quotient_logs",
    "series_derivation",
]

#: 0 < p < 1 for every probability (sympy itself knows only p > 0)
PROBABILITY_DOMAIN = side_condition(
    "probabilities in (0, 1)",
    "every probability parameter p satisfies 0 < p < 1 (sympy only knows p > 0); "
    "a Categorical's probabilities sum to 1",
)


class InfiniteSum(sp.Function):  # type: ignore[misc]
    """``InfiniteSum(body, k, lo)``: Σ_{k ≥ lo} body (opaque: its facts are cited axioms)."""

    nargs = 3
    is_real = True
    opaque = True

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        body, k, lo = self.args
        return f"Sum({printer._print(body)}, {k} >= {printer._print(lo)})"

    def _pretty(self, printer: sp.printing.pretty.pretty.PrettyPrinter) -> object:
        return printer._print_Sum(sp.Sum(self.args[0], (self.args[1], self.args[2], sp.oo)))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        body, k, lo = self.args
        return rf"\sum_{{{printer._print(k)} \ge {printer._print(lo)}}} {printer._print(body)}"


class FiniteSum(sp.Function):  # type: ignore[misc]
    """``FiniteSum(body, k, lo, hi)``: Σ_{k = lo}^{hi} body (opaque: its facts are cited axioms)."""

    nargs = 4
    is_real = True
    opaque = True

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        body, k, lo, hi = self.args
        return f"Sum({printer._print(body)}, {k} = {printer._print(lo)}..{printer._print(hi)})"

    def _pretty(self, printer: sp.printing.pretty.pretty.PrettyPrinter) -> object:
        return printer._print_Sum(sp.Sum(self.args[0], (self.args[1], self.args[2], self.args[3])))

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        body, k, lo, hi = self.args
        bounds = rf"{printer._print(k)}={printer._print(lo)}"
        return rf"\sum_{{{bounds}}}^{{{printer._print(hi)}}} {printer._print(body)}"


Coeffs = Callable[[tuple[sp.Expr, ...], tuple[sp.Expr, ...]], tuple[sp.Expr, sp.Expr]]


@dataclass(frozen=True)
class Law:
    """A discrete family: pmf head, support, log(q/p) = a k + b, mean and closed form."""

    name: str
    head: sp.FunctionClass
    statement: str
    coeffs: Coeffs
    mean: Callable[..., sp.Expr]
    closed: Callable[[tuple[sp.Expr, ...], tuple[sp.Expr, ...]], sp.Expr]

    def pmf(self, k: sp.Symbol, args: tuple[sp.Expr, ...]) -> sp.Expr:
        """The pmf at ``k`` as the derivation writes it."""
        return self.head(k, *args)


def _log_ratio_1m(p1: sp.Expr, p2: sp.Expr) -> sp.Expr:
    return sp.log((1 - p1) / (1 - p2))


def _poisson(qa: tuple[sp.Expr, ...], pa: tuple[sp.Expr, ...]) -> tuple[sp.Expr, sp.Expr]:
    return sp.log(qa[0]) - sp.log(pa[0]), pa[0] - qa[0]


def _geometric(qa: tuple[sp.Expr, ...], pa: tuple[sp.Expr, ...]) -> tuple[sp.Expr, sp.Expr]:
    a = _log_ratio_1m(qa[0], pa[0])
    return a, sp.log(qa[0]) - sp.log(pa[0]) - a


def _binomial(qa: tuple[sp.Expr, ...], pa: tuple[sp.Expr, ...]) -> tuple[sp.Expr, sp.Expr]:
    n, p1, p2 = qa[0], qa[1], pa[1]
    rest = _log_ratio_1m(p1, p2)
    return sp.log(p1) - sp.log(p2) - rest, n * rest


def _binomial_closed(qa: tuple[sp.Expr, ...], pa: tuple[sp.Expr, ...]) -> sp.Expr:
    n, p1, p2 = qa[0], qa[1], pa[1]
    return n * (p1 * (sp.log(p1) - sp.log(p2)) + (1 - p1) * _log_ratio_1m(p1, p2))


LAWS: dict[str, Law] = {
    "Poisson": Law(
        "Poisson",
        sp.Function("poisson_pmf", positive=True),
        "poisson_pmf(k, λ) = λ^k exp(-λ) / k! for integers k >= 0, λ > 0",
        _poisson,
        lambda lam: lam,
        lambda qa, pa: qa[0] * (sp.log(qa[0]) - sp.log(pa[0])) + pa[0] - qa[0],
    ),
    "Geometric": Law(
        "Geometric",
        sp.Function("geometric_pmf", positive=True),
        "geometric_pmf(k, p) = p (1 - p)^(k - 1) for integers k >= 1, 0 < p < 1",
        _geometric,
        lambda p: 1 / p,
        lambda qa, pa: (
            sp.log(qa[0]) - sp.log(pa[0]) + (1 / qa[0] - 1) * _log_ratio_1m(qa[0], pa[0])
        ),
    ),
    "Binomial": Law(
        "Binomial",
        sp.Function("binomial_pmf", positive=True),
        "binomial_pmf(k, n, p) = C(n, k) p^k (1 - p)^(n - k) for integers 0 <= k <= n, 0 < p < 1",
        _binomial,
        lambda n, p: n * p,
        _binomial_closed,
    ),
}


def probability_expressions(*dists: Dist) -> list[sp.Expr]:
    """Probabilities of the pmfs that sympy cannot show positive: ``1 - p``, a Categorical's ``1 - p1 - p2``."""
    out: list[sp.Expr] = []
    for dist in dists:
        name = dist.family.name
        if name in ("Bernoulli", "Geometric", "Binomial"):
            out.append(1 - dist.args[-1])
        elif name == "Categorical":
            out.extend(dist.args)
    return [e for e in dict.fromkeys(out) if not isinstance(e, sp.Symbol) and not e.is_number]


def quotient_logs(
    closed: sp.Expr, positives: list[sp.Expr], why: str = "probabilities: 0 < p < 1"
) -> list[Rule]:
    """``log(A/B) = Σ log(factors of A) - Σ log(factors of B)`` for the logs in ``closed``.

    Only where every factor of ``A`` and ``B`` is in ``positives`` (positive by
    a side condition, which sympy cannot see for ``1 - p`` or ``b - a``) or
    provably positive, and at least one is in ``positives``; both orientations.
    Each is an instance axiom.
    """
    known = set(positives)
    rules = []
    for atom in sorted(closed.atoms(sp.log), key=sp.default_sort_key):
        num, den = atom.args[0].as_numer_denom()
        tops, bottoms = sp.Mul.make_args(num), sp.Mul.make_args(den)
        factors = (*tops, *bottoms)
        if not known & set(factors) or not all(f in known or fact(f, "positive") for f in factors):
            continue
        split = sp.Add(*(sp.log(f) for f in tops)) - sp.Add(*(sp.log(f) for f in bottoms))
        for lhs, rhs in ((atom, split), (sp.log(den / num), -split)):
            if lhs == rhs:
                continue
            rules.append(
                axiom(
                    f"{sp.sstr(lhs)} = {sp.sstr(rhs)}",
                    lhs,
                    rhs,
                    f"the log of a quotient of positive factors ({why})",
                )
            )
    return rules


def positives_of(rules: tuple[Rule, ...]) -> list[sp.Expr]:
    """The side-condition positives that :func:`quotient_logs` rules were made for."""
    out: list[sp.Expr] = []
    for rule in rules:
        if rule.rhs is not None and rule.statement.startswith("the log of a quotient"):
            out += [
                a.args[0] for a in rule.rhs.atoms(sp.log) if fact(a.args[0], "positive") is not True
            ]
    return list(dict.fromkeys(out))


def _show(name: str, args: tuple[sp.Expr, ...]) -> str:
    return f"{name}({', '.join(sp.sstr(a) for a in args)})"


def series_derivation(q: Dist, p: Dist) -> tuple[Derivation, sp.Expr] | str:
    """The derivation of KL(q ‖ p) for Poisson, Geometric or Binomial, and its closed form."""
    law = LAWS.get(q.family.name)
    if law is None or p.family.name != law.name:
        return f"no series derivation for {q.family.name} vs {p.family.name}"
    if law.name == "Binomial" and q.args[0] != p.args[0]:
        return "Binomial pairs need the same n"
    taken = {s.name for a in (*q.args, *p.args) for s in a.free_symbols}
    k = sp.Symbol(next(n for n in ("k", "j", "i", "m") if n not in taken), integer=True)
    lo, hi = q.family.support(*q.args)

    def total(body: sp.Expr) -> sp.Expr:
        return InfiniteSum(body, k, lo) if hi == sp.oo else FiniteSum(body, k, lo, hi)

    fq, fp = law.pmf(k, q.args), law.pmf(k, p.args)
    a, b = law.coeffs(q.args, p.args)
    qs, ps = _show(law.name, q.args), _show(law.name, p.args)
    g = sp.Wild("g")
    about = f"where {law.statement}"
    ratio = axiom(
        f"log-pmf ratio of {qs} to {ps}",
        total(g * sp.log(fq / fp)),
        total(g * (a * k + b)),
        f"log(q(k)/p(k)) = {sp.sstr(a * k + b)} on the support, so the sums have the same terms; {about}",
    )
    linear = axiom(
        f"linearity of the sum over {qs}",
        total(fq * (a * k + b)),
        a * total(fq * k) + b * total(fq),
        f"Σ q(k) (a k + b) = a Σ q(k) k + b Σ q(k) (both converge absolutely: E_q[k] is finite); {about}",
    )
    mean = law.mean(*q.args)
    moments: list[Rule] = [
        axiom(f"{qs} sums to 1", total(fq), sp.Integer(1), f"Σ_k q(k) = 1; {about}"),
        axiom(f"mean of {qs}", total(fq * k), mean, f"Σ_k k q(k) = {sp.sstr(mean)}; {about}"),
    ]
    d = Derivation(
        f"kl-{law.name.lower()}-{law.name.lower()}",
        title=f"KL({qs} || {ps})",
        description="From the defining sum over q's support, by q's mean.",
        assumptions=[PROBABILITY_DOMAIN] if law.name != "Poisson" else [],
    )
    d.start(total(fq * sp.log(fq / fp)))
    d.equals(total(fq * (a * k + b)), by=[ratio])
    d.equals(a * total(fq * k) + b * total(fq), by=[linear])
    d.equals(a * mean + b, by=moments)
    closed = law.closed(q.args, p.args)
    splits = quotient_logs(closed, probability_expressions(q, p))
    d.equals(closed, by=["regroup", *splits])
    return d, closed
