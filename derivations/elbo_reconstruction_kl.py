r"""``elbo-reconstruction-kl``: ELBO = E_q[log p(x|z)] − KL(q(z|x) || p(z)).

.. math::

   \mathrm{ELBO}(q) = \int q \log\frac{p(x, z)}{q}
     = \int q \log\frac{p(x \mid z)\, p(z)}{q}
     = \int q \log p(x \mid z) - \int q \log\frac{q}{p(z)}
     = \mathbb{E}_q[\log p(x \mid z)] - \mathrm{KL}(q \,\|\, p(z))
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    ELBO,
    ELBO_DEFINITION,
    INTEGRABILITY,
    KL,
    KL_DEFINITION,
    PRODUCT_RULE,
    RECONSTRUCTION,
    RECONSTRUCTION_DEFINITION,
    p_joint,
    p_lik,
    p_prior,
    q,
    x,
    z,
)

__all__ = ["DERIVATION"]

_oo = sp.oo

DERIVATION = Derivation(
    "elbo-reconstruction-kl",
    title="ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z))",
    description="The VAE loss: reconstruction term minus the KL to the prior.",
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY],
)
DERIVATION.start(ELBO)
DERIVATION.equals(
    sp.Integral(q(z) * sp.log(p_joint(x, z) / q(z)), (z, -_oo, _oo)), by=ELBO_DEFINITION
)
DERIVATION.equals(
    sp.Integral(q(z) * sp.log(p_lik(x, z) * p_prior(z) / q(z)), (z, -_oo, _oo)), by=PRODUCT_RULE
)
DERIVATION.equals(
    sp.Integral(q(z) * sp.log(p_lik(x, z)), (z, -_oo, _oo))
    - sp.Integral(q(z) * sp.log(q(z) / p_prior(z)), (z, -_oo, _oo)),
    by="log of a product; linearity of the integral",
)
DERIVATION.equals(
    RECONSTRUCTION - KL(q(z), p_prior(z), z), by=[RECONSTRUCTION_DEFINITION, KL_DEFINITION]
)
