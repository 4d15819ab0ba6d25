"""A user derivation: the KL between two unit-variance Gaussians, from the integral.

Run ``elbo-check prove --file examples/my_derivation.py``.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.vocab import KL, KL_DEFINITION, normal_pdf, z

m1, m2 = sp.symbols("m1 m2", real=True)
q, p = normal_pdf(z, m1, 1), normal_pdf(z, m2, 1)

unit_variance = Derivation(
    "my-unit-variance-kl",
    title="KL(N(m1, 1) || N(m2, 1)) = (m1 - m2)^2 / 2",
)
unit_variance.start(KL(q, p, z))
unit_variance.equals(sp.Integral(q * sp.log(q / p), (z, -sp.oo, sp.oo)), by=KL_DEFINITION)
unit_variance.equals((m1 - m2) ** 2 / 2, by="Gaussian moments")
