r"""``elbo-decomposition``: log p(x) = ELBO(q) + KL(q(z|x) || p(z|x)) >= ELBO(q).

.. math::

   \log p(x) = \int q \log p(x)
     = \int q \log\frac{p(x, z)}{p(z \mid x)}
     = \int q \log\frac{p(x, z)}{q} + \int q \log\frac{q}{p(z \mid x)}
     = \mathrm{ELBO}(q) + \mathrm{KL}(q \,\|\, p(z \mid x))
     \;\ge\; \mathrm{ELBO}(q)

The last link cites Gibbs' inequality, the ``kl-nonnegative`` derivation used
as a lemma (instantiated at p = p(z|x)).  A second chain shows the bound is
tight at q = p(z|x): ELBO(p(z|x)) = log p(x).  That it is tight *only* there
is the equality case of Gibbs' inequality, an axiom in that derivation's
ledger.
"""

from __future__ import annotations

import sympy as sp

from derivations import kl_nonnegative
from elbo_check import Derivation
from elbo_check.evidence.elbo_bounds import ELBO_DECOMPOSITION
from elbo_check.rules import instantiate
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    ELBO,
    ELBO_DEFINITION,
    INTEGRABILITY,
    KL,
    KL_DEFINITION,
    POSTERIOR_NORMALISED,
    PRODUCT_RULE_POSTERIOR,
    Q_NORMALISED,
    p_joint,
    p_post,
    p_x,
    q,
    x,
    z,
)

__all__ = ["DERIVATION", "EVIDENCE", "GIBBS_AT_POSTERIOR"]

_oo = sp.oo

#: Gibbs' inequality with q := q(z|x) and p := p(z|x)
GIBBS_AT_POSTERIOR = instantiate(
    kl_nonnegative.GIBBS,
    {kl_nonnegative.q: q, kl_nonnegative.p: lambda v: p_post(v, x)},
    name="Gibbs' inequality at p = p(z|x) (lemma kl-nonnegative)",
)

DERIVATION = Derivation(
    "elbo-decomposition",
    title="log p(x) = ELBO(q) + KL(q || p(z|x)) >= ELBO(q), tight iff q = p(z|x)",
    description="The evidence decomposes into the ELBO and the KL to the true posterior.",
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY],
)
DERIVATION.start(sp.log(p_x(x)))
DERIVATION.equals(sp.Integral(q(z) * sp.log(p_x(x)), (z, -_oo, _oo)), by=Q_NORMALISED)
DERIVATION.equals(
    sp.Integral(q(z) * sp.log(p_joint(x, z) / p_post(z, x)), (z, -_oo, _oo)),
    by=PRODUCT_RULE_POSTERIOR,
)
DERIVATION.equals(
    sp.Integral(q(z) * sp.log(p_joint(x, z) / q(z)), (z, -_oo, _oo))
    + sp.Integral(q(z) * sp.log(q(z) / p_post(z, x)), (z, -_oo, _oo)),
    by="multiply and divide by q(z|x); linearity of the integral",
)
DERIVATION.equals(ELBO + KL(q(z), p_post(z, x), z), by=[ELBO_DEFINITION, KL_DEFINITION])
DERIVATION.geq(ELBO, by=GIBBS_AT_POSTERIOR)
# tightness: at q = p(z|x) the bound is an equality
DERIVATION.start(sp.Integral(p_post(z, x) * sp.log(p_joint(x, z) / p_post(z, x)), (z, -_oo, _oo)))
DERIVATION.equals(
    sp.Integral(p_post(z, x) * sp.log(p_x(x)), (z, -_oo, _oo)), by=PRODUCT_RULE_POSTERIOR
)
DERIVATION.equals(sp.log(p_x(x)), by=POSTERIOR_NORMALISED)

#: numeric evidence (both sides of the decomposition on the exact linear-Gaussian model)
EVIDENCE = ELBO_DECOMPOSITION
