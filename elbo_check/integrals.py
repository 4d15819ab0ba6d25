"""Reduce unevaluated ``Integral`` objects: linearity, Gaussian moments, fallback.

The checker never trusts a raw antiderivative blindly.  Integrals over the
whole real line are reduced by three sound moves:

* **linearity**: the integrand is expanded and split term by term, and factors
  free of the integration variable are pulled out.  A term that is a Gaussian
  times a polynomial is absolutely integrable, so splitting it off is exact.
  Terms built from abstract densities are split only under the ledger's side
  condition that every expectation in the derivation is finite.
* **Gaussian integrals** by completing the square: for ``a > 0`` (proved from
  the symbols' assumptions, never assumed),

  .. math::

     \\int_{-\\infty}^{\\infty} P(z)\\, e^{-a z^2 + b z + c}\\, dz
       = e^{c + b^2/(4a)} \\sqrt{\\pi/a}\\; \\mathbb{E}_{u\\sim N(0,1)}
         \\left[P\\left(\\tfrac{b}{2a} + \\tfrac{u}{\\sqrt{2a}}\\right)\\right],

  and the standard-normal moments :math:`E[u^n] = (n-1)!!` come from the
  ``gaussian-moments`` lemma, itself proved by direct integration.
  Several integration variables are handled one at a time (Fubini), choosing
  at each stage a variable whose quadratic coefficient is provably negative.
* **fallback**: ``sympy.integrate`` under the step's time limit, only for
  integrands free of parameters (or polynomial ones over a bounded range): an
  antiderivative can be wrong on part of a parameter domain (a pole that moves
  into the range), which no finite set of checked points rules out.  Its answer
  is accepted only if it is free of ``Piecewise``/``nan``/``Integral`` and
  agrees with ``mpmath.quad`` at special parameter values (all means 0, all
  scales 1) and at a random point: sympy's generic Gaussian-KL antiderivative
  is ``nan`` at ``m2 = 0``, which is exactly the VAE case.

>>> import sympy as sp
>>> from elbo_check.integrals import IntegralReducer
>>> z = sp.Symbol("z", real=True); s = sp.Symbol("s", positive=True)
>>> density = sp.exp(-z**2 / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
>>> IntegralReducer().reduce(sp.Integral(z**2 * density, (z, -sp.oo, sp.oo)))
s**2
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from elbo_check._timeout import Deadline

__all__ = [
    "MAX_MOMENT",
    "IntegralReducer",
    "gaussian_converges",
    "standard_normal_moment",
]

#: Highest standard-normal moment the ``gaussian-moments`` lemma proves.
MAX_MOMENT = 4

LEDGER_LINEARITY = "linearity of the integral"
LEDGER_INTEGRABLE = "integrability"
LEDGER_MOMENTS = "Gaussian moments"
LEDGER_SQUARE = "completing the square"
LEDGER_FUBINI = "Fubini-Tonelli"
LEDGER_INTEGRATE = "checked sympy integrate"

#: what each engine fact states, for the axiom ledger: (kind, statement, derivation)
ENGINE_FACTS: dict[str, tuple[str, str, str | None]] = {
    LEDGER_LINEARITY: ("axiom", "∫(a f + b g) = a ∫f + b ∫g for integrable f, g", None),
    LEDGER_INTEGRABLE: ("side-condition", "every expectation in the derivation is finite", None),
    LEDGER_MOMENTS: (
        "lemma",
        f"E[u^n] = (n-1)!! for u ~ N(0, 1), n <= {MAX_MOMENT} (odd moments vanish)",
        "gaussian-moments",
    ),
    LEDGER_SQUARE: (
        "axiom",
        "∫ P(z) exp(-a z² + b z + c) dz = exp(c + b²/4a) √(π/a) E[P(b/2a + u/√(2a))], "
        "u ~ N(0, 1), for a > 0 proved from the assumptions (affine change of variables)",
        None,
    ),
    LEDGER_FUBINI: (
        "axiom",
        "absolutely convergent iterated integrals may be taken in any order",
        None,
    ),
    LEDGER_INTEGRATE: (
        "method",
        "an antiderivative from sympy.integrate, accepted only when free of nan/Piecewise and "
        "equal to mpmath.quad at special and random parameter values",
        None,
    ),
}


def standard_normal_moment(n: int) -> sp.Integer:
    """``E[u**n]`` for ``u ~ N(0, 1)``: ``(n-1)!!`` for even ``n``, else 0.

    >>> [int(standard_normal_moment(n)) for n in range(7)]
    [1, 0, 1, 0, 3, 0, 15]
    """
    if n < 0:
        raise ValueError(f"moment order must be >= 0, got n={n}")
    if n % 2:
        return sp.Integer(0)
    return sp.factorial2(n - 1) if n else sp.Integer(1)


@dataclass
class IntegralReducer:
    """Reduce every ``Integral`` in an expression, recording what it used.

    Parameters
    ----------
    rewrite : callable, optional
        Applied to each abstract integral that remains after linearity, so that
        cited rules such as "densities integrate to 1" can close it.
    deadline : Deadline, optional
        Checked between integrals; the fallback ``integrate`` is skipped once
        the budget is spent.
    allow_gaussian : bool
        Use the completing-the-square engine.  The ``gaussian-moments`` lemma
        turns it off, so that the lemma is proved by direct integration.
    allow_integrate : bool
        Allow the ``sympy.integrate`` fallback.
    """

    rewrite: Callable[[sp.Expr], sp.Expr] | None = None
    deadline: Deadline | None = None
    allow_gaussian: bool = True
    allow_integrate: bool = True
    used: list[str] = field(default_factory=list)
    seed: int = 0

    # -- public -------------------------------------------------------------
    def reduce(self, expr: sp.Expr) -> sp.Expr:
        """Return ``expr`` with every integral reduced as far as possible."""
        if not expr.has(sp.Integral):
            return expr
        return expr.replace(lambda e: isinstance(e, sp.Integral), self._reduce_integral)

    # -- helpers ------------------------------------------------------------
    def _note(self, item: str) -> None:
        if item not in self.used:
            self.used.append(item)

    def _reduce_integral(self, integral: sp.Integral) -> sp.Expr:
        integrand = self.reduce(integral.function)
        limits = list(integral.limits)
        if any(len(lim) != 3 for lim in limits):
            return sp.Integral(integrand, *limits)  # indefinite: not ours to reduce
        whole_line = all(lim[1] == -sp.oo and lim[2] == sp.oo for lim in limits)
        if whole_line and self.allow_gaussian:
            result = self._whole_line(integrand, [lim[0] for lim in limits])
            if result is not None:
                return result
        if len(limits) == 1:
            return self._one_dim(integrand, limits[0])
        # iterated integral over finite limits: innermost first
        inner = self._one_dim(integrand, limits[0])
        if inner.has(sp.Integral):
            return sp.Integral(integrand, *limits)
        return self._reduce_integral(sp.Integral(inner, *limits[1:]))

    def _one_dim(self, integrand: sp.Expr, limit: tuple[sp.Basic, ...]) -> sp.Expr:
        var, lo, hi = limit
        if lo == -sp.oo and hi == sp.oo and self.allow_gaussian:
            result = self._whole_line(integrand, [var])
            if result is not None:
                return result
        split = self._split_linear(integrand, var, (lo, hi))
        if split is not None:
            return split
        fallback = self._integrate(integrand, limit)
        return fallback if fallback is not None else sp.Integral(integrand, limit)

    def _split_linear(
        self, integrand: sp.Expr, var: sp.Symbol, bounds: tuple[sp.Basic, sp.Basic]
    ) -> sp.Expr | None:
        """Linearity for abstract integrands; the cited rewrite closes the pieces.

        A piece built only from explicit functions must reduce to a closed form,
        or the split is abandoned: such a piece might diverge, and divergent
        pieces must never be left to cancel.  (Pieces with abstract densities are
        covered by the derivation's integrability side condition.)
        """
        expanded = sp.expand(sp.expand_log(integrand), power_exp=False)
        terms = sp.Add.make_args(expanded)
        pieces: list[sp.Expr] = []
        changed = len(terms) > 1
        for term in terms:
            const, dep = term.as_independent(var, as_Add=False)
            if dep == 1 and (bounds[0].is_infinite or bounds[1].is_infinite):
                return None  # a constant over an infinite range diverges: no split
            changed = changed or const != 1
            piece: sp.Expr = sp.Integral(dep, (var, *bounds))
            if self.rewrite is not None:
                piece = self.rewrite(piece)
            if piece.has(sp.Integral) and not _has_undefined(dep):
                closed = self._integrate(dep, (var, *bounds))
                if closed is None:
                    return None
                piece = closed
            pieces.append(const * piece)
        if not changed and all(p.has(sp.Integral) for p in pieces):
            return None
        if len(terms) > 1:
            self._note(LEDGER_LINEARITY)
            self._note(LEDGER_INTEGRABLE)
        return sp.Add(*pieces)

    def _whole_line(self, integrand: sp.Expr, variables: list[sp.Symbol]) -> sp.Expr | None:
        """Gaussian times polynomial over R^k, one variable at a time.

        The integrand is kept as ``{exponent: polynomial}`` so that the
        exponentials are never distributed over the polynomial's terms.
        """
        pairs = _exp_poly_pairs(integrand, variables)
        if pairs is None:
            return None
        remaining = list(variables)
        while remaining:
            if self.deadline is not None:
                self.deadline.check()
            # integrate first the variable whose quadratic coefficient is simplest
            current = pairs
            for var in sorted(remaining, key=lambda v: _square_cost(current, v)):
                step = self._gaussian_1d(current, var)
                if step is not None:
                    pairs = step
                    remaining.remove(var)
                    break
            else:
                return None
        if len(variables) > 1:
            self._note(LEDGER_FUBINI)
        self._note(LEDGER_LINEARITY)
        self._note(LEDGER_SQUARE)
        self._note(LEDGER_MOMENTS)
        return sp.Add(*(sp.exp(e) * poly for e, poly in pairs.items()))

    def _gaussian_1d(
        self, pairs: dict[sp.Expr, sp.Expr], var: sp.Symbol
    ) -> dict[sp.Expr, sp.Expr] | None:
        out: dict[sp.Expr, sp.Expr] = {}
        for exponent, poly in pairs.items():
            if not exponent.has(var):
                return None  # a polynomial alone diverges over the real line
            powers: dict[int, list[sp.Expr]] = {}
            for term in sp.Add.make_args(poly):
                const, dep = term.as_independent(var, as_Add=False)
                base, power = dep.as_base_exp()
                if dep == 1:
                    k = 0
                elif base == var and power.is_Integer and power >= 0:
                    k = int(power)
                else:
                    return None
                powers.setdefault(k, []).append(const)
            closed = self._complete_square(exponent, powers, var)
            if closed is None:
                return None
            rest, factor = closed
            out[rest] = out.get(rest, sp.Integer(0)) + factor
        return {e: sp.expand(p) for e, p in out.items()}

    def _complete_square(
        self, exponent: sp.Expr, powers: dict[int, list[sp.Expr]], var: sp.Symbol
    ) -> tuple[sp.Expr, sp.Expr] | None:
        """``(rest, P')`` with the integral over ``var`` equal to ``exp(rest) * P'``."""
        if not exponent.is_polynomial(var) or max(powers) > MAX_MOMENT:
            return None
        p = sp.Poly(exponent, var)
        if p.degree() != 2:
            return None
        a2, a1, a0 = (p.coeff_monomial(var**k) for k in (2, 1, 0))
        a = _provably_positive(-a2)
        if a is None:
            return None
        centre = sp.cancel(a1 / (2 * a))
        rest = sp.expand(sp.cancel(a0 + a1**2 / (4 * a)))
        variance = 1 / (2 * a)
        expectation = sp.Add(
            *(
                sp.Add(*coeffs) * _normal_raw_moment(n, centre, variance)
                for n, coeffs in powers.items()
            )
        )
        return rest, sp.sqrt(sp.pi / a) * expectation

    def _integrate(self, integrand: sp.Expr, limit: tuple[sp.Basic, ...]) -> sp.Expr | None:
        """``sympy.integrate`` as a last resort, re-checked at special values."""
        if not self.allow_integrate or _has_undefined(integrand):
            return None
        var, lo, hi = limit
        parameters = (integrand.free_symbols | lo.free_symbols | hi.free_symbols) - {var}
        if parameters and not (integrand.is_polynomial(var) and lo.is_finite and hi.is_finite):
            # sympy's antiderivative can be wrong on part of the parameter domain
            # (a pole that moves into the range for some parameter values), and
            # checking a few parameter points cannot rule that out: decline
            return None
        if self.deadline is not None and self.deadline.remaining() < 0.05:
            return None
        try:
            result = sp.integrate(integrand, limit)
        except (NotImplementedError, ValueError, TypeError, ZeroDivisionError):
            return None
        if result.has(sp.Integral, sp.Piecewise, sp.nan, sp.zoo) or result.is_infinite:
            return None
        if not _agrees_with_quadrature(integrand, limit, result, self.seed):
            return None
        self._note(LEDGER_INTEGRATE)
        return result


def _has_undefined(expr: sp.Basic) -> bool:
    return bool(expr.atoms(sp.core.function.AppliedUndef))


def _provably_positive(expr: sp.Expr) -> sp.Expr | None:
    """Return a form of ``expr`` that sympy's assumptions prove positive, else None."""
    for form in (expr, sp.cancel(expr), sp.factor(expr)):
        if form.is_positive is True:
            return form
    return None


def _special_points(symbols: list[sp.Symbol], seed: int) -> list[dict[sp.Symbol, sp.Rational]]:
    rng = random.Random(seed)
    special = {s: sp.Integer(1) if s.is_positive else sp.Integer(0) for s in symbols}
    ones = {s: sp.Integer(1) for s in symbols}
    rand = {
        s: sp.Rational(rng.randint(3, 29), 10) * (1 if s.is_positive or rng.random() < 0.5 else -1)
        for s in symbols
    }
    return [special, ones, rand]


def _agrees_with_quadrature(
    integrand: sp.Expr, limit: tuple[sp.Basic, ...], result: sp.Expr, seed: int
) -> bool:
    import mpmath

    var, lo, hi = limit
    params = sorted((integrand.free_symbols | result.free_symbols) - {var}, key=str)
    points = _special_points(params, seed)
    unique = [p for i, p in enumerate(points) if p not in points[:i]]
    for point in unique:
        try:
            closed = complex(result.subs(point).evalf(20))
            f = sp.lambdify(var, integrand.subs(point), "mpmath")
            with mpmath.workdps(20):
                numeric = complex(
                    mpmath.quad(
                        f,
                        [float(lo), 0, float(hi)]
                        if lo == -sp.oo and hi == sp.oo
                        else [lo.evalf(30), hi.evalf(30)],
                    )
                )
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return False
        if not (abs(closed - numeric) <= 1e-9 * max(1.0, abs(numeric))):
            return False
    return True


def _normal_raw_moment(n: int, centre: sp.Expr, variance: sp.Expr) -> sp.Expr:
    """``E[(centre + sqrt(variance) u)**n]``, ``u ~ N(0, 1)``, by the binomial theorem.

    Only even powers of ``u`` survive, so ``sqrt(variance)`` never appears.
    """
    return sp.Add(
        *(
            sp.binomial(n, j) * centre ** (n - j) * variance ** (j // 2) * standard_normal_moment(j)
            for j in range(0, n + 1, 2)
        )
    )


def _square_cost(pairs: dict[sp.Expr, sp.Expr], var: sp.Symbol) -> int:
    """Operation count of the coefficient of ``var**2`` in the exponents."""
    return sum(sp.count_ops(e.coeff(var, 2)) for e in pairs if e.has(var))


def _exp_poly_pairs(
    integrand: sp.Expr, variables: list[sp.Symbol]
) -> dict[sp.Expr, sp.Expr] | None:
    """Write ``integrand`` as ``sum(exp(E) * P)``, E quadratic, P polynomial in ``variables``."""
    pairs: dict[sp.Expr, sp.Expr] = {}
    for term in sp.Add.make_args(sp.expand(integrand, power_exp=False, mul=False)):
        exponent = sp.Integer(0)
        rest = []
        for factor in sp.Mul.make_args(term):
            base, power = factor.as_base_exp()
            if isinstance(factor, sp.exp):
                exponent += factor.exp
            elif base is sp.E:
                exponent += power
            else:
                rest.append(factor)
        poly = sp.expand(sp.expand_log(sp.Mul(*rest)), power_exp=False)
        if not all(poly.is_polynomial(v) for v in variables):
            return None
        exponent = sp.expand(exponent)
        if not all(exponent.is_polynomial(v) for v in variables):
            return None
        pairs[exponent] = pairs.get(exponent, sp.Integer(0)) + poly
    return pairs


def gaussian_converges(integrand: sp.Expr, variables: list[sp.Symbol]) -> bool:
    """True when ``integrand`` is a sum of polynomials times ``exp`` of quadratics
    that are provably negative definite in ``variables``: then its integral over
    R^k converges absolutely.

    Definiteness is proved by eliminating one variable at a time, each with a
    quadratic coefficient that sympy's assumptions prove negative (completing
    the square; what remains must again be negative definite).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> gaussian_converges(x**2 * sp.exp(-x**2 - y**2 + x*y), [x, y])
    True
    >>> gaussian_converges(sp.exp(-x**2 - y**2 + 4*x*y), [x, y])
    False
    >>> gaussian_converges(x, [x])
    False
    """
    pairs = _exp_poly_pairs(integrand, variables)
    if pairs is None:
        return False
    return all(poly == 0 or _negative_definite(e, variables) for e, poly in pairs.items())


def _negative_definite(exponent: sp.Expr, variables: list[sp.Symbol]) -> bool:
    remaining = list(variables)
    current = exponent
    while remaining:
        for var in sorted(remaining, key=lambda v: sp.count_ops(current.coeff(v, 2))):
            if not current.is_polynomial(var):
                return False
            p = sp.Poly(current, var)
            if p.degree() != 2:
                continue
            a2, a1, a0 = (p.coeff_monomial(var**k) for k in (2, 1, 0))
            a = _provably_positive(-a2)
            if a is None:
                continue
            current = sp.expand(sp.cancel(a0 + a1**2 / (4 * a)))
            remaining.remove(var)
            break
        else:
            return False
    return True
