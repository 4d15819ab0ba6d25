r"""Special values of ψ and log Γ at positive integers and half-integers, as instance axioms.

sympy evaluates ``digamma(2)`` to ``1 - EulerGamma`` and ``loggamma(3)`` to
``log(2)`` when it builds an expression, so a closed form shown (or claimed)
at numeric parameters holds those values, while the derivation ends at the
core's opaque ``Digamma(2)`` and ``LogGamma(3)``.  These axioms connect the
two, by the recurrences and the values at 1 and 1/2:

.. math::

   \psi(a + 1) = \psi(a) + \frac1a, \quad \psi(\tfrac12) = \psi(1) - 2\log 2,
   \quad \log\Gamma(a + 1) = \log\Gamma(a) + \log a, \quad
   \log\Gamma(1) = 0, \quad \log\Gamma(\tfrac12) = \log\sqrt\pi.

``ψ(1)`` itself stays opaque (``EulerGamma`` is written ``-Digamma(1)``).
Other rationals (Gauss's digamma theorem) are not covered: they stay
undecided.

>>> [rule.name for rule in special_values(Digamma(sp.Integer(3)) + LogGamma(sp.Rational(3, 2)))]
['digamma(3) = digamma(1) + 3/2', 'LogGamma(3/2) = log(sqrt(pi)/2)']
"""

from __future__ import annotations

import sympy as sp

from elbo_check.klformula._moments import Digamma, LogGamma
from elbo_check.rules import Rule, axiom

__all__ = ["special_values"]

#: a bound on the recurrence (and on the size of what it writes out)
MAX_ARGUMENT = 100

_WHY = {
    Digamma: "ψ(a + 1) = ψ(a) + 1/a (from Γ(a + 1) = a Γ(a)) and ψ(1/2) = ψ(1) - 2 log 2 "
    "(Legendre's duplication formula)",
    LogGamma: "log Γ(a + 1) = log Γ(a) + log a (Γ(a + 1) = a Γ(a) > 0 for a > 0), "
    "log Γ(1) = 0 and log Γ(1/2) = log √π",
}


def _value(atom: sp.Expr) -> sp.Expr | None:
    """The special value of ``atom`` = Digamma(a) or LogGamma(a), or None."""
    a = atom.args[0]
    if not (isinstance(a, sp.Rational) and 0 < a <= MAX_ARGUMENT and a.q in (1, 2)):
        return None
    start = sp.Integer(1) if a.q == 1 else sp.Rational(1, 2)
    steps = [start + j for j in range(int(a - start))]  # a = start + len(steps)
    if isinstance(atom, Digamma):
        base = Digamma(sp.Integer(1)) - (2 * sp.log(2) if a.q == 2 else 0)
        return base + sp.Add(*(1 / t for t in steps))
    # one log of the exact value, as sympy writes loggamma(a) (log(15*sqrt(pi)/8) at 7/2):
    # the core's canonical forms do not factor integers inside logs
    return sp.log((sp.sqrt(sp.pi) if a.q == 2 else 1) * sp.Mul(*steps))


def special_values(expr: sp.Expr) -> list[Rule]:
    """One instance axiom ``ψ(a) = ...`` or ``log Γ(a) = ...`` per numeric atom of ``expr``."""
    rules = []
    atoms = expr.atoms(Digamma, LogGamma)
    for atom in sorted(atoms, key=sp.default_sort_key):
        value = _value(atom)
        if value is None or value == atom:
            continue
        name = f"{sp.sstr(atom)} = {sp.sstr(value)}"
        rules.append(axiom(name, atom, value, f"a special value: {_WHY[type(atom)]}"))
    return rules
