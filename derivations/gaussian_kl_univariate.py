r"""``gaussian-kl-univariate``: the KL between two univariate Gaussians, from the integral.

.. math::

   \mathrm{KL}\left(N(m_1, s_1^2) \,\|\, N(m_2, s_2^2)\right)
     = \log\frac{s_2}{s_1} + \frac{s_1^2 + (m_1 - m_2)^2}{2 s_2^2} - \frac12

The integrand's log-ratio is a quadratic in z; the Gaussian engine integrates
it against N(m1, s1²) with the ``gaussian-moments`` lemma.  ``CLOSED_FORM``
(in ``M1, M2`` real and ``S1, S2`` positive) is exported for the kernel's and
the evidence suite's tests.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.evidence.gaussian_kl import UNIVARIATE_GAUSSIAN_KL
from elbo_check.vocab import KL, KL_DEFINITION, normal_pdf, z

__all__ = ["CLOSED_FORM", "DERIVATION", "EVIDENCE", "M1", "M2", "S1", "S2"]

M1, M2 = sp.symbols("m1 m2", real=True)
S1, S2 = sp.symbols("s1 s2", positive=True)

CLOSED_FORM = sp.log(S2 / S1) + (S1**2 + (M1 - M2) ** 2) / (2 * S2**2) - sp.Rational(1, 2)

_q = normal_pdf(z, M1, S1)
_p = normal_pdf(z, M2, S2)

DERIVATION = Derivation(
    "gaussian-kl-univariate",
    title="KL(N(m1, s1²) || N(m2, s2²)) = log(s2/s1) + (s1² + (m1 - m2)²)/(2 s2²) - 1/2",
    description="Derived from the defining integral; valid at m2 = 0, where raw integrate fails.",
)
DERIVATION.start(KL(_q, _p, z))
DERIVATION.equals(sp.Integral(_q * sp.log(_q / _p), (z, -sp.oo, sp.oo)), by=KL_DEFINITION)
DERIVATION.equals(
    sp.Integral(
        _q * (sp.log(S2 / S1) - (z - M1) ** 2 / (2 * S1**2) + (z - M2) ** 2 / (2 * S2**2)),
        (z, -sp.oo, sp.oo),
    ),
    by="log of the Gaussian densities",
)
DERIVATION.equals(
    sp.log(S2 / S1) - sp.Rational(1, 2) + (S1**2 + (M1 - M2) ** 2) / (2 * S2**2),
    by="Gaussian moments: E[z - m1] = 0, E[(z - m1)²] = s1²; q integrates to 1",
)
DERIVATION.equals(CLOSED_FORM, by="regroup")

#: the closed form as a lemma: KL(N(M1,S1²) || N(M2,S2²)) -> CLOSED_FORM
LEMMA = DERIVATION.as_lemma("closed-form univariate Gaussian KL (lemma gaussian-kl-univariate)")

#: numeric evidence (numpy closed form vs plain Monte Carlo; tests/test_evidence.py ties it to CLOSED_FORM)
EVIDENCE = UNIVARIATE_GAUSSIAN_KL
