"""Zero and non-negativity tests of the core, built on a few trusted sympy functions.

:func:`canonical_zero` decides ``expr == 0`` only through

* ``expand`` (with sympy's assumption-guarded power and log hints),
* ``expand_log`` (without ``force``: a log is split only where the factors
  are provably positive),
* ``together`` and ``cancel`` (rational-function arithmetic),
* ``Derivative.doit`` (differentiation), for integral-free derivatives only.

:class:`NonNegative` proves ``expr >= 0`` from the assumptions (sympy's
``is_nonnegative`` on integral-free expressions), cited inequality schemas
(matched by :func:`elbo_check.core.terms.rewrite`'s verified matcher), and
structure: a sum of non-negative terms, a positive factor times a
non-negative one, and the integral of a non-negative integrand over a range
whose lower limit is at most its upper one (monotonicity).

>>> import sympy as sp
>>> s = sp.Symbol("s", positive=True)
>>> canonical_zero(sp.log(s**2) - 2 * sp.log(s))
'expand(expand_log)'
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from elbo_check.core.fragment import fact

__all__ = ["MONOTONE", "NonNegative", "canonical_zero", "merge_integrals"]

MONOTONE = "monotonicity of the integral"


def canonical_zero(expr: sp.Expr) -> str | None:
    """How ``expr`` was shown to be 0 by the trusted canonical forms, or ``None``."""
    if expr == 0:
        return "structural"
    if expr.has(sp.Derivative):
        # differentiate only integral-free expressions: doit() would also evaluate
        # integrals (sympy.integrate) and differentiate under the integral sign
        expr = expr.replace(
            lambda e: isinstance(e, sp.Derivative) and not e.has(sp.Integral),
            lambda e: e.doit(deep=False),
        )
    e1 = sp.expand(sp.expand_log(expr))
    if e1 == 0:
        return "expand(expand_log)"
    if e1.has(sp.Integral, sp.nan, sp.zoo):
        return None  # cancel() would query the assumptions of integrals: no part of a proof
    if sp.cancel(sp.together(e1)) == 0:
        return "cancel(together)"
    return None


def merge_integrals(expr: sp.Expr) -> sp.Expr:
    """``c1 ∫f + c2 ∫g`` over the same limits as ``∫(c1 f + c2 g)``.

    Only coefficients free of the integration variables are moved inside.
    """
    if not isinstance(expr, sp.Add):
        return expr
    groups: dict[tuple[sp.Basic, ...], list[sp.Expr]] = {}
    others = []
    for term in expr.args:
        coeff, rest = term.as_independent(sp.Integral, as_Add=False)
        if isinstance(rest, sp.Integral) and not (
            coeff.free_symbols & {lim[0] for lim in rest.limits}
        ):
            groups.setdefault(rest.limits, []).append(coeff * rest.function)
        else:
            others.append(term)
    merged = [sp.Integral(sp.Add(*fs), *limits) for limits, fs in groups.items()]
    return sp.Add(*others, *merged)


class NonNegative:
    """Proves ``expr >= 0``; ``used`` collects the inequality schemas and facts it relied on.

    Parameters
    ----------
    schemas : list of (name, matcher)
        ``matcher(form)`` returns the remainder ``form - instance`` when
        ``form`` contains an instance of the schema ``instance >= 0`` (a
        verified match), else ``None``.
    """

    def __init__(self, schemas: list[tuple[str, Callable[[sp.Expr], sp.Expr | None]]]) -> None:
        self.schemas = schemas
        self.used: list[str] = []

    def prove(self, expr: sp.Expr, depth: int = 3) -> bool:
        """Is ``expr >= 0`` provable within ``depth`` nested structural steps?"""
        for form in _forms(expr):
            if form == 0 or (not form.has(sp.Integral) and fact(form, "nonnegative") is True):
                return True
            if self._by_schema(form, depth) or self._by_structure(form, depth):
                return True
        return False

    def _note(self, item: str) -> None:
        if item not in self.used:
            self.used.append(item)

    def _by_schema(self, form: sp.Expr, depth: int) -> bool:
        for name, matcher in self.schemas:
            rest = matcher(form)
            if rest is None:
                continue
            if canonical_zero(rest) is not None or (depth > 0 and self.prove(rest, depth - 1)):
                self._note(name)
                return True
        return False

    def _by_structure(self, form: sp.Expr, depth: int) -> bool:
        if depth <= 0:
            return False
        if isinstance(form, sp.Integral):
            ordered = all(
                len(lim) == 3 and fact(lim[2] - lim[1], "extended_nonnegative") is True
                for lim in form.limits
            )
            if ordered and self.prove(sp.factor_terms(form.function), depth - 1):
                self._note(MONOTONE)
                return True
            return False
        if isinstance(form, sp.Mul):
            positive = [a for a in form.args if not a.has(sp.Integral) and fact(a, "positive") is True]
            if positive:
                rest = sp.Mul(*(a for a in form.args if a not in positive))
                return self.prove(rest, depth - 1)
            return False
        if isinstance(form, sp.Add):
            return all(self.prove(t, depth - 1) for t in form.args)
        return False


def _forms(expr: sp.Expr) -> list[sp.Expr]:
    expanded = sp.expand(sp.expand_log(expr))
    forms = [expr, merge_integrals(expr), sp.factor_terms(expr), expanded, merge_integrals(expanded)]
    return list(dict.fromkeys(forms))
