r"""Integrals the core can evaluate or prove convergent, and nothing else.

Convergence (:func:`converges`): after ``expand``, every term of the
integrand must converge on its own, by one of three tests:

* a **polynomial** on a bounded range whose limits are polynomials in the
  outer variables (a limit like 1/u is finite pointwise, not uniformly);
* a **Gaussian** over all of R^k: ``P(z) exp(E(z))`` with ``E`` quadratic
  and provably negative definite (completing the square with positive pivots);
* under the derivation's **integrability** side condition only, a term with an
  abstract density of every integration variable as a plain factor
  (``q(z) * g``), never ``exp(q)``, ``1/q`` or a bare ``log q``;
* an **exponential** over the half-line [0, ∞), one variable: ``P(u) exp(-a u + c)``
  with ``a > 0`` proved.

Evaluation (:class:`Reducer`), each move a classical theorem:

* linearity, splitting only into pieces that each converge;
* the Gaussian integral by completing the square, for ``a > 0`` proved,

  .. math::

     \int_{-\infty}^{\infty} u^n e^{-a u^2 + b u + c}\, du
       = e^{c + b^2/(4a)} \sqrt{\pi/a}\;
         \mathbb{E}\left[\left(\tfrac{b}{2a} + \tfrac{t}{\sqrt{2a}}\right)^n\right],
     \quad t \sim N(0, 1),\ \mathbb{E}[t^{2j}] = (2j-1)!!,

  one variable at a time (Fubini-Tonelli, justified by absolute convergence);
* a polynomial over finite limits by its antiderivative (``Poly.integrate``,
  then the fundamental theorem of calculus);
* the Gamma integral over the half-line, for ``a > 0`` proved and ``n`` a
  non-negative integer up to :data:`MAX_DEGREE`,

  .. math:: \int_0^{\infty} u^n e^{-a u + c}\, du = e^c\, \frac{n!}{a^{n+1}}.

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True); s = sp.Symbol("s", positive=True)
>>> density = sp.exp(-z**2 / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
>>> Reducer().reduce(sp.Integral(z**2 * density, (z, -sp.oo, sp.oo)))
s**2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef

from elbo_check.core.fragment import fact

__all__ = ["FACTS", "MAX_DEGREE", "Reducer", "converges", "normal_moment"]

#: highest polynomial degree the Gaussian move accepts (bounds the work)
MAX_DEGREE = 8

LINEARITY = "linearity of the integral"
INTEGRABLE = "integrability"
GAUSSIAN = "Gaussian integral"
FUBINI = "Fubini-Tonelli"
FTC = "polynomial antiderivative"
HALF_LINE = "Gamma integral on the half-line"

#: what each fact states, for the axiom ledger
FACTS: dict[str, str] = {
    LINEARITY: "∫(a f + b g) = a ∫f + b ∫g when ∫f and ∫g converge",
    INTEGRABLE: "terms density × g are integrable (the derivation's integrability side condition)",
    GAUSSIAN: "∫ uⁿ exp(-a u² + b u + c) du = exp(c + b²/4a) √(π/a) E[(b/2a + t/√(2a))ⁿ], "
    "t ~ N(0, 1), E[t²ʲ] = (2j-1)!!, for a > 0 (Poisson's integral, integration by parts)",
    FUBINI: "absolutely convergent iterated integrals may be taken in any order",
    FTC: "∫_a^b P = F(b) - F(a) for a polynomial P with antiderivative F",
    HALF_LINE: "∫_0^∞ uⁿ exp(-a u + c) du = exp(c) n!/a^(n+1) for a > 0 and an integer n >= 0 "
    "(Euler's Gamma integral, by induction with integration by parts)",
}


def normal_moment(n: int) -> sp.Integer:
    """``E[t**n]`` for ``t ~ N(0, 1)``.

    >>> [int(normal_moment(n)) for n in range(7)]
    [1, 0, 1, 0, 3, 0, 15]
    """
    if n % 2:
        return sp.Integer(0)
    return sp.factorial2(n - 1) if n else sp.Integer(1)


def _positive(expr: sp.Expr) -> sp.Expr | None:
    for form in (expr, sp.cancel(expr), sp.factor(expr)):
        if fact(form, "positive") is True:
            return form
    return None


def _exp_poly(term: sp.Expr, variables: list[sp.Symbol]) -> tuple[sp.Expr, sp.Expr] | None:
    """``(E, P)`` with ``term = exp(E) * P``, both polynomial in ``variables``."""
    exponent = sp.Integer(0)
    rest = []
    for factor in sp.Mul.make_args(term):
        if isinstance(factor, sp.exp):
            exponent += factor.exp
        elif factor.as_base_exp()[0] is sp.E:
            exponent += factor.as_base_exp()[1]
        else:
            rest.append(factor)
    poly = sp.expand(sp.Mul(*rest), power_exp=False)
    exponent = sp.expand(exponent)
    if all(poly.is_polynomial(v) and exponent.is_polynomial(v) for v in variables):
        return exponent, poly
    return None


def _pairs(integrand: sp.Expr, variables: list[sp.Symbol]) -> dict[sp.Expr, sp.Expr] | None:
    pairs: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand(integrand, power_exp=False, mul=False)):
        split = _exp_poly(term, variables)
        if split is None:
            return None
        pairs[split[0]] = pairs.get(split[0], sp.Integer(0)) + split[1]
    return pairs


def _pivot(exponent: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """``(a, centre, rest)`` with ``exponent = -a (var - centre)² + rest``, ``a > 0`` proved."""
    if not exponent.is_polynomial(var):
        return None
    p = sp.Poly(exponent, var)
    if p.degree() != 2:
        return None
    a2, a1, a0 = (p.coeff_monomial(var**k) for k in (2, 1, 0))
    a = _positive(-a2)
    if a is None:
        return None
    return a, sp.cancel(a1 / (2 * a)), sp.expand(sp.cancel(a0 + a1**2 / (4 * a)))


def negative_definite(exponent: sp.Expr, variables: list[sp.Symbol]) -> bool:
    """Eliminate the variables one at a time, each with a provably positive pivot."""
    remaining, current = list(variables), exponent
    while remaining:
        for var in remaining:
            pivot = _pivot(current, var)
            if pivot is not None:
                current = pivot[2]
                remaining.remove(var)
                break
        else:
            return False
    return True


def _is_density_term(term: sp.Expr, variables: set[sp.Symbol]) -> bool:
    """A plain factor ``f(..., z, ...)``: an abstract density with each variable as an argument."""
    return any(
        isinstance(f, AppliedUndef) and variables <= set(f.args) for f in sp.Mul.make_args(term)
    )


def _bounded_polynomial(term: sp.Expr, limits: tuple[tuple[sp.Basic, ...], ...]) -> bool:
    """A polynomial over a bounded range whose limits are polynomials in the outer variables."""
    variables = [lim[0] for lim in limits]
    if not all(term.is_polynomial(v) for v in variables):
        return False
    for i, (_, lo, hi) in enumerate(limits):
        outer = [lim[0] for lim in limits[i + 1 :]]
        for bound in (lo, hi):
            if bound.has(sp.oo, -sp.oo, sp.zoo) or not all(bound.is_polynomial(v) for v in outer):
                return False
            if fact(bound, "real") is not True and not (bound.free_symbols & set(outer)):
                return False
    return True


def _half_line(limits: tuple[tuple[sp.Basic, ...], ...]) -> bool:
    """Exactly one variable, integrated from 0 to +oo."""
    return len(limits) == 1 and limits[0][1] == 0 and limits[0][2] == sp.oo


def _decay(exponent: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``(a, c)`` with ``exponent = -a var + c``, ``a > 0`` proved and ``c`` free of ``var``."""
    if not exponent.is_polynomial(var):
        return None
    p = sp.Poly(exponent, var)
    if p.degree() != 1:
        return None
    a = _positive(-p.coeff_monomial(var))
    if a is None:
        return None
    return a, p.coeff_monomial(1)


def _half_line_term(term: sp.Expr, var: sp.Symbol) -> bool:
    """``P(var) exp(-a var + c)`` with ``a > 0`` proved: absolutely integrable on [0, oo)."""
    split = _exp_poly(term, [var])
    if split is None:
        return False
    exponent, poly = split
    return poly == 0 or _decay(exponent, var) is not None


def converges(integral: sp.Integral, integrable: bool) -> bool:
    """Is ``integral`` provably (absolutely) convergent?  See the module docstring."""
    limits = integral.limits
    if any(len(lim) != 3 for lim in limits):
        return False
    body = integral.function
    if body.has(sp.Integral):
        return False
    variables = [lim[0] for lim in limits]
    whole_line = all(lim[1] == -sp.oo and lim[2] == sp.oo for lim in limits)
    half_line = _half_line(limits)
    definite: dict[sp.Expr, bool] = {}
    for term in sp.Add.make_args(sp.expand(body, power_exp=False, mul=False)):
        if integrable and _is_density_term(term, set(variables)):
            continue
        if half_line:
            if not _half_line_term(term, variables[0]):
                return False
            continue
        if not whole_line:
            if not _bounded_polynomial(term, limits):
                return False
            continue
        split = _exp_poly(term, variables)
        if split is None:
            return False
        exponent, poly = split
        if poly == 0:
            continue
        if exponent not in definite:
            definite[exponent] = negative_definite(exponent, variables)
        if not definite[exponent]:
            return False
    return True


@dataclass
class Reducer:
    """Evaluate integrals by the moves above, recording the facts used.

    Parameters
    ----------
    rewrite : callable, optional
        The cited rules, applied to each piece that linearity splits off, so
        that "q integrates to 1" can close it.
    integrable : bool
        Whether the derivation states the integrability side condition.
    """

    rewrite: Callable[[sp.Expr], sp.Expr] | None = None
    integrable: bool = False
    used: list[str] = field(default_factory=list)

    def reduce(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every integral evaluated as far as the moves allow."""
        if not expr.has(sp.Integral):
            return expr
        return expr.replace(lambda e: isinstance(e, sp.Integral), self._integral)

    def _note(self, *items: str) -> None:
        for item in items:
            if item not in self.used:
                self.used.append(item)

    def _integral(self, integral: sp.Integral) -> sp.Expr:
        limits = list(integral.limits)
        if any(len(lim) != 3 for lim in limits) or not converges(integral, self.integrable):
            return integral
        variables = [lim[0] for lim in limits]
        body = integral.function
        if all(lim[1] == -sp.oo and lim[2] == sp.oo for lim in limits):
            closed = self._gaussian(body, variables)
            if closed is not None:
                return closed
        if _half_line(integral.limits):
            closed = self._gamma(body, variables[0])
            if closed is not None:
                return closed
        if body.is_polynomial(*variables) and not any(
            b.has(sp.oo, -sp.oo) for lim in limits for b in lim[1:]
        ):
            self._note(FTC)
            for var, lo, hi in limits:
                antiderivative = sp.Poly(body, var).integrate().as_expr()
                body = sp.expand(
                    antiderivative.xreplace({var: hi}) - antiderivative.xreplace({var: lo})
                )
            return body
        if len(limits) == 1:
            return self._linear(integral)
        return integral

    def _linear(self, integral: sp.Integral) -> sp.Expr:
        """Split a one-variable integral into convergent pieces, constants pulled out."""
        (var, lo, hi) = integral.limits[0]
        terms = sp.Add.make_args(sp.expand(sp.expand_log(integral.function), power_exp=False))
        pieces = []
        for term in terms:
            const, dep = term.as_independent(var, as_Add=False)
            piece = sp.Integral(dep, (var, lo, hi))
            if not converges(piece, self.integrable):
                return integral
            if self.rewrite is not None:
                piece = self.rewrite(piece)
                # a cited rule may bring in new integrals: each must converge too
                if not all(converges(i, self.integrable) for i in piece.atoms(sp.Integral)):
                    return integral
            pieces.append(const * piece)
        out = sp.Add(*pieces)
        if out == integral:
            return integral
        self._note(LINEARITY)
        if self.integrable and any(_is_density_term(t, {var}) for t in terms):
            self._note(INTEGRABLE)
        return out

    def _gamma(self, integrand: sp.Expr, var: sp.Symbol) -> sp.Expr | None:
        """``∫_0^∞ Σ P(u) exp(-a u + c) du`` term by term: ``exp(c) Σ coeff_n n!/a^(n+1)``."""
        pairs = _pairs(integrand, [var])
        if pairs is None:
            return None
        out = []
        for exponent, poly in pairs.items():
            if poly == 0:
                continue
            decay = _decay(exponent, var)
            if decay is None:
                return None
            a, c = decay
            p = sp.Poly(poly, var)
            if p.degree() > MAX_DEGREE:
                return None
            moments = sp.Add(*(coeff * sp.factorial(n) / a ** (n + 1) for (n,), coeff in p.terms()))
            out.append(sp.exp(c) * moments)
        self._note(HALF_LINE, LINEARITY)
        return sp.Add(*out)

    def _gaussian(self, integrand: sp.Expr, variables: list[sp.Symbol]) -> sp.Expr | None:
        pairs = _pairs(integrand, variables)
        if pairs is None:
            return None
        for var in list(variables):
            step: dict[sp.Expr, sp.Expr] = {}
            for exponent, poly in pairs.items():
                closed = self._gaussian_1d(exponent, poly, var)
                if closed is None:
                    return None
                step[closed[0]] = step.get(closed[0], sp.Integer(0)) + closed[1]
            pairs = {e: sp.expand(p) for e, p in step.items()}
        self._note(GAUSSIAN, LINEARITY)
        if len(variables) > 1:
            self._note(FUBINI)
        return sp.Add(*(sp.exp(e) * p for e, p in pairs.items()))

    def _gaussian_1d(
        self, exponent: sp.Expr, poly: sp.Expr, var: sp.Symbol
    ) -> tuple[sp.Expr, sp.Expr] | None:
        pivot = _pivot(exponent, var)
        if pivot is None:
            return None
        a, centre, rest = pivot
        p = sp.Poly(poly, var)
        if p.degree() > MAX_DEGREE:
            return None
        variance = 1 / (2 * a)
        expectation = sp.Add(
            *(
                coeff
                * sp.Add(
                    *(
                        sp.binomial(n, j)
                        * centre ** (n - j)
                        * variance ** (j // 2)
                        * normal_moment(j)
                        for j in range(0, n + 1, 2)
                    )
                )
                for (n,), coeff in p.terms()
            )
        )
        return rest, sp.sqrt(sp.pi / a) * expectation
