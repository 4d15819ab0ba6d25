r"""``gaussian-kl-diagonal``: the KL over independent coordinates is a sum.

.. math::

   \mathrm{KL}\Big(\prod_j N(\mu_j, \sigma_j^2) \,\Big\|\, \prod_j N(0, 1)\Big)
     = \sum_j \mathrm{KL}\left(N(\mu_j, \sigma_j^2) \,\|\, N(0, 1)\right)
     = -\tfrac12 \sum_j \left(1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2\right)

Proved for explicit d = 1, 2, 3 (one chain each): the log of a product is a
sum of logs, each coordinate's factor integrates out (Fubini), and each term
is the ``gaussian-kl-standard-prior`` lemma.
"""

from __future__ import annotations

import sympy as sp

from derivations import gaussian_kl_standard_prior as std
from elbo_check import Derivation
from elbo_check.evidence.gaussian_kl import DIAGONAL_GAUSSIAN_KL
from elbo_check.rules import instantiate
from elbo_check.vocab import KL, KL_DEFINITION, normal_pdf, z

__all__ = ["DERIVATION", "DIMENSIONS", "EVIDENCE", "closed_form"]

DIMENSIONS = (1, 2, 3)
_MU = sp.symbols("mu1:4", real=True)
_SIGMA = sp.symbols("sigma1:4", positive=True)
_Z = sp.symbols("z1:4", real=True)
_STD_LEMMA = std.DERIVATION.as_lemma(
    "standard-prior Gaussian KL (lemma gaussian-kl-standard-prior)"
)


def closed_form(d: int) -> sp.Expr:
    """−½ Σ_j (1 + log σ_j² − μ_j² − σ_j²) over the first ``d`` coordinates."""
    return -sp.Rational(1, 2) * sp.Add(
        *(1 + sp.log(_SIGMA[j] ** 2) - _MU[j] ** 2 - _SIGMA[j] ** 2 for j in range(d))
    )


DERIVATION = Derivation(
    "gaussian-kl-diagonal",
    title="Diagonal Gaussians: KL = -½ Σ_j (1 + log σ_j² - μ_j² - σ_j²), d = 1, 2, 3",
    description="Additivity of KL over independent coordinates.",
)
for d in DIMENSIONS:
    zs = _Z[:d]
    qs = [normal_pdf(zs[j], _MU[j], _SIGMA[j]) for j in range(d)]
    ps = [normal_pdf(zs[j], 0, 1) for j in range(d)]
    per_coordinate = [
        instantiate(
            _STD_LEMMA,
            {z: zs[j], std.MU: _MU[j], std.SIGMA: _SIGMA[j]},
            name=f"standard-prior Gaussian KL, coordinate {j + 1} (lemma gaussian-kl-standard-prior)",
        )
        for j in range(d)
    ]
    DERIVATION.start(KL(sp.Mul(*qs), sp.Mul(*ps), sp.Tuple(*zs)))
    DERIVATION.equals(
        sp.Integral(
            sp.Mul(*qs) * sp.log(sp.Mul(*qs) / sp.Mul(*ps)), *[(v, -sp.oo, sp.oo) for v in zs]
        ),
        by=KL_DEFINITION,
    )
    DERIVATION.equals(
        sp.Add(
            *(sp.Integral(qs[j] * sp.log(qs[j] / ps[j]), (zs[j], -sp.oo, sp.oo)) for j in range(d))
        ),
        by="log of a product is a sum; Fubini; the other coordinates integrate to 1",
    )
    DERIVATION.equals(sp.Add(*(KL(qs[j], ps[j], zs[j]) for j in range(d))), by=KL_DEFINITION)
    DERIVATION.equals(closed_form(d), by=per_coordinate)

#: numeric evidence (numpy closed form vs plain Monte Carlo; tests/test_evidence.py ties it to closed_form(3))
EVIDENCE = DIAGONAL_GAUSSIAN_KL
