r"""``kl-nonnegative``: the definition of KL and Gibbs' inequality.

.. math::

   \mathrm{KL}(q \,\|\, p) = \int q \log\frac{q}{p}
     = -\int q \log\frac{p}{q}
     \;\ge\; -\int q \left(\frac{p}{q} - 1\right)
     = \int q - \int p = 0 .

The inequality is the pointwise bound :math:`\log w \le w - 1` (cited as an
axiom: the tangent line of the concave logarithm; Jensen's inequality gives
the same), integrated against :math:`q \ge 0`.  A second chain shows that
:math:`\mathrm{KL}(p \,\|\, p) = 0`.  Equality *only if* q = p (almost
everywhere) is the equality case of :math:`\log w \le w - 1`, recorded in the
ledger as an axiom, not proved.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.rules import axiom, side_condition
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    INTEGRABILITY,
    KL,
    KL_DEFINITION,
    LOG_BOUND,
    z,
)

__all__ = ["DERIVATION", "GIBBS", "p", "q"]

q = sp.Function("q", positive=True)
p = sp.Function("p", positive=True)

_oo = sp.oo
Q_NORMALISED = axiom(
    "q integrates to 1", sp.Integral(q(z), (z, -_oo, _oo)), sp.Integer(1), "∫ q = 1"
)
P_NORMALISED = axiom(
    "p integrates to 1", sp.Integral(p(z), (z, -_oo, _oo)), sp.Integer(1), "∫ p = 1"
)
EQUALITY_CASE = side_condition(
    "equality case of log w <= w - 1",
    "log w = w - 1 only at w = 1, so KL(q || p) = 0 only if q = p almost everywhere (assumed)",
)

DERIVATION = Derivation(
    "kl-nonnegative",
    title="Gibbs' inequality: KL(q || p) >= 0, with equality iff q = p",
    description="From the definition of KL and log w <= w - 1.",
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY, EQUALITY_CASE],
)
DERIVATION.start(KL(q(z), p(z), z))
DERIVATION.equals(sp.Integral(q(z) * sp.log(q(z) / p(z)), (z, -_oo, _oo)), by=KL_DEFINITION)
DERIVATION.equals(-sp.Integral(q(z) * sp.log(p(z) / q(z)), (z, -_oo, _oo)), by="log(1/w) = -log w")
DERIVATION.geq(
    -sp.Integral(q(z) * (p(z) / q(z) - 1), (z, -_oo, _oo)),
    by=[LOG_BOUND, "q >= 0 (monotonicity of the integral)"],
)
DERIVATION.equals(
    sp.Integral(q(z), (z, -_oo, _oo)) - sp.Integral(p(z), (z, -_oo, _oo)),
    by="linearity of the integral",
)
DERIVATION.equals(sp.Integer(0), by=[Q_NORMALISED, P_NORMALISED])
# the equality case, "if": KL(p || p) = 0
DERIVATION.start(KL(p(z), p(z), z))
DERIVATION.equals(sp.Integral(p(z) * sp.log(p(z) / p(z)), (z, -_oo, _oo)), by=KL_DEFINITION)
DERIVATION.equals(sp.Integer(0), by="log 1 = 0")

#: Gibbs' inequality as a citable lemma: KL(q || p) - 0 >= 0
GIBBS = DERIVATION.as_lemma("Gibbs' inequality (lemma kl-nonnegative)")
