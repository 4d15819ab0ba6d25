r"""``bayes``: Bayes' theorem from the product rule.

.. math::

   p(z \mid x) = \frac{p(x, z)}{p(x)} = \frac{p(x \mid z)\, p(z)}{p(x)}
              = \frac{p(x \mid z)\, p(z)}{\int p(x \mid z')\, p(z')\, dz'}

Ledger: the definition of a conditional density, the product rule, and
marginalisation (the sum rule).
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    CONDITIONAL_DENSITY,
    INTEGRABILITY,
    MARGINALISATION,
    PRODUCT_RULE,
    p_joint,
    p_lik,
    p_post,
    p_prior,
    p_x,
    x,
    z,
)

__all__ = ["DERIVATION"]

_t = sp.Symbol("t", real=True)

DERIVATION = Derivation(
    "bayes",
    title="Bayes' theorem: p(z|x) = p(x|z) p(z) / ∫ p(x|z') p(z') dz'",
    description="The posterior from the product rule and the sum rule.",
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY],
)
DERIVATION.start(p_post(z, x))
DERIVATION.equals(p_joint(x, z) / p_x(x), by=CONDITIONAL_DENSITY)
DERIVATION.equals(p_lik(x, z) * p_prior(z) / p_x(x), by=PRODUCT_RULE)
DERIVATION.equals(
    p_lik(x, z) * p_prior(z) / sp.Integral(p_lik(x, _t) * p_prior(_t), (_t, -sp.oo, sp.oo)),
    by=[MARGINALISATION, PRODUCT_RULE],
)
