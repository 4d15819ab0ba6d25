r"""``beta-vae``: for β ≥ 1 the β-VAE objective is a lower bound on log p(x).

.. math::

   \mathbb{E}_q[\log p(x \mid z)] - \beta\,\mathrm{KL}(q(z \mid x) \,\|\, p(z))
     \;\le\; \mathbb{E}_q[\log p(x \mid z)] - \mathrm{KL}(q(z \mid x) \,\|\, p(z))
     = \mathrm{ELBO}(q) \;\le\; \log p(x)

The first link is :math:`(\beta - 1)\,\mathrm{KL} \ge 0`, from Gibbs'
inequality (the ``kl-nonnegative`` lemma at p = p(z)); the equality is the
``elbo-reconstruction-kl`` lemma and the last link the ``elbo-decomposition``
lemma.  β > 1 is written β := 1 + δ with δ > 0 (a definition in the ledger):
the core proves a product non-negative from a positive factor, so δ is
declared positive.  β = 1 is the second chain (the objective *is* the ELBO).
For β < 1 the first link is false in general and is not proved.
"""

from __future__ import annotations

import sympy as sp

from derivations import elbo_decomposition, elbo_reconstruction_kl, kl_nonnegative
from elbo_check import Derivation
from elbo_check.rules import definition, instantiate
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    ELBO,
    INTEGRABILITY,
    KL,
    PRIOR_NORMALISED,
    RECONSTRUCTION,
    p_prior,
    p_x,
    q,
    x,
    z,
)

__all__ = ["BETA", "DELTA", "DERIVATION", "GIBBS_AT_PRIOR", "PRIOR_NORMALISED"]

BETA = sp.Symbol("beta", positive=True)
DELTA = sp.Symbol("delta", positive=True)

BETA_ABOVE_ONE = definition("β = 1 + δ, δ > 0", BETA, 1 + DELTA, "β := 1 + δ with δ > 0")
#: Gibbs' inequality with p := p(z), the prior
GIBBS_AT_PRIOR = instantiate(
    kl_nonnegative.GIBBS,
    {kl_nonnegative.q: q, kl_nonnegative.p: p_prior},
    name="Gibbs' inequality at p = p(z) (lemma kl-nonnegative)",
)
_ELBO_AS_RECONSTRUCTION = elbo_reconstruction_kl.DERIVATION.as_lemma(
    "ELBO = E_q[log p(x|z)] - KL(q || p(z)) (lemma elbo-reconstruction-kl)"
)
_ELBO_BOUND = elbo_decomposition.DERIVATION.as_lemma("log p(x) >= ELBO (lemma elbo-decomposition)")
_KL_PRIOR = KL(q(z), p_prior(z), z)

DERIVATION = Derivation(
    "beta-vae",
    title="β >= 1: E_q[log p(x|z)] - β KL(q || p(z)) <= ELBO <= log p(x)",
    description="The β-VAE objective is a lower bound on the evidence for every β >= 1.",
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY, PRIOR_NORMALISED],
)
# β > 1
DERIVATION.start(RECONSTRUCTION - BETA * _KL_PRIOR)
DERIVATION.leq(RECONSTRUCTION - _KL_PRIOR, by=[BETA_ABOVE_ONE, GIBBS_AT_PRIOR, "(β - 1) KL >= 0"])
DERIVATION.equals(ELBO, by=_ELBO_AS_RECONSTRUCTION)
DERIVATION.leq(sp.log(p_x(x)), by=_ELBO_BOUND)
# β = 1: the objective is the ELBO
DERIVATION.start(RECONSTRUCTION - _KL_PRIOR)
DERIVATION.equals(ELBO, by=_ELBO_AS_RECONSTRUCTION)
DERIVATION.leq(sp.log(p_x(x)), by=_ELBO_BOUND)
