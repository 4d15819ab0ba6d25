r"""``gaussian-kl-standard-prior``: the seed's closed form against N(0, 1).

.. math::

   \mathrm{KL}\left(N(\mu, \sigma^2) \,\|\, N(0, 1)\right)
     = -\tfrac12\left(1 + \log\sigma^2 - \mu^2 - \sigma^2\right)

An instance of ``gaussian-kl-univariate`` (cited as a lemma at m2 = 0,
s2 = 1).  ``CLOSED_FORM`` is in ``MU`` (real) and ``SIGMA`` (positive).
"""

from __future__ import annotations

import sympy as sp

from derivations import gaussian_kl_univariate as uni
from elbo_check import Derivation
from elbo_check.evidence.gaussian_kl import STANDARD_PRIOR_GAUSSIAN_KL
from elbo_check.rules import instantiate
from elbo_check.vocab import KL, normal_pdf, z

__all__ = ["CLOSED_FORM", "DERIVATION", "EVIDENCE", "MU", "SIGMA"]

MU = sp.Symbol("mu", real=True)
SIGMA = sp.Symbol("sigma", positive=True)

CLOSED_FORM = -sp.Rational(1, 2) * (1 + sp.log(SIGMA**2) - MU**2 - SIGMA**2)

_AT_STANDARD_PRIOR = instantiate(
    uni.LEMMA,
    {uni.M1: MU, uni.S1: SIGMA, uni.M2: sp.Integer(0), uni.S2: sp.Integer(1)},
    name="univariate Gaussian KL at m2 = 0, s2 = 1 (lemma gaussian-kl-univariate)",
)

DERIVATION = Derivation(
    "gaussian-kl-standard-prior",
    title="KL(N(μ, σ²) || N(0, 1)) = -½(1 + log σ² - μ² - σ²)",
    description="The VAE's KL term for one latent coordinate.",
)
DERIVATION.start(KL(normal_pdf(z, MU, SIGMA), normal_pdf(z, 0, 1), z))
DERIVATION.equals(
    sp.log(1 / SIGMA) + (SIGMA**2 + MU**2) / 2 - sp.Rational(1, 2), by=_AT_STANDARD_PRIOR
)
DERIVATION.equals(CLOSED_FORM, by="log σ² = 2 log σ; regroup")

#: numeric evidence (numpy closed form vs plain Monte Carlo; tests/test_evidence.py ties it to CLOSED_FORM)
EVIDENCE = STANDARD_PRIOR_GAUSSIAN_KL
