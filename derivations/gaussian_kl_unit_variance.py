r"""``gaussian-kl-unit-variance``: the tutorial review's settling check, from the integral.

.. math::

   \mathrm{KL}\left(N(m_1, 1) \,\|\, N(m_2, 1)\right)
     = \int N(z; m_1, 1) \log\frac{N(z; m_1, 1)}{N(z; m_2, 1)}\,dz
     = \int N(z; m_1, 1)\,\tfrac12\left((z - m_2)^2 - (z - m_1)^2\right) dz
     = \tfrac12 (m_1 - m_2)^2

Derived from the defining integral (not instantiated from
``gaussian-kl-univariate``): the log-ratio of two unit-variance densities is
affine in z, and the Gaussian engine integrates it.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.vocab import KL, KL_DEFINITION, normal_pdf, z

__all__ = ["CLOSED_FORM", "DERIVATION", "M1", "M2"]

M1, M2 = sp.symbols("m1 m2", real=True)

CLOSED_FORM = (M1 - M2) ** 2 / 2

_q = normal_pdf(z, M1, 1)
_p = normal_pdf(z, M2, 1)

DERIVATION = Derivation(
    "gaussian-kl-unit-variance",
    title="KL(N(m1, 1) || N(m2, 1)) = ½(m1 - m2)²",
    description="The unit-variance case, derived from the defining integral.",
)
DERIVATION.start(KL(_q, _p, z))
DERIVATION.equals(sp.Integral(_q * sp.log(_q / _p), (z, -sp.oo, sp.oo)), by=KL_DEFINITION)
DERIVATION.equals(
    sp.Integral(_q * ((z - M2) ** 2 - (z - M1) ** 2) / 2, (z, -sp.oo, sp.oo)),
    by="log of the Gaussian densities (the normalising constants cancel)",
)
DERIVATION.equals(
    sp.Integral(_q * ((M1 - M2) * (z - M1) + (M1 - M2) ** 2 / 2), (z, -sp.oo, sp.oo)),
    by="expand the squares around m1",
)
DERIVATION.equals(CLOSED_FORM, by="Gaussian moments: E[z - m1] = 0; q integrates to 1")
