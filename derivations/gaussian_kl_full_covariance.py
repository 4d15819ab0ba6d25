r"""``gaussian-kl-full-covariance``: the KL between multivariate Gaussians.

.. math::

   \mathrm{KL}\left(N(\mu_0, \Sigma_0) \,\|\, N(\mu_1, \Sigma_1)\right)
     = \tfrac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)
       + (\mu_1 - \mu_0)^\top \Sigma_1^{-1} (\mu_1 - \mu_0) - k
       + \ln\frac{\det\Sigma_1}{\det\Sigma_0}\right)

Proved for explicit k = 1, 2, 3, with each covariance given by its Cholesky
factor :math:`\Sigma = L L^\top` (lower-triangular, positive diagonal: every
symmetric positive-definite matrix has one, so nothing is lost).  Each chain:
the definition of KL; the change of variables :math:`z = \mu_0 + L_0 u`
(affine, Jacobian :math:`\det L_0 > 0`); then the Gaussian engine integrates a
quadratic in u against the standard normal.  A last chain substitutes
diagonal :math:`L_0 = \operatorname{diag}(\sigma)`, :math:`L_1 = I`,
:math:`\mu_1 = 0` and recovers the ``gaussian-kl-diagonal`` formula.

The general-k statement is not proved here (sympy has no symbolic-dimension
Gaussian integral); k = 1, 2, 3 are.
"""

from __future__ import annotations

import sympy as sp

from derivations import gaussian_kl_diagonal as diag
from elbo_check import Derivation
from elbo_check.evidence.gaussian_kl import FULL_COVARIANCE_GAUSSIAN_KL
from elbo_check.rules import change_of_variables
from elbo_check.vocab import KL, KL_DEFINITION, mvn_pdf

__all__ = ["DERIVATION", "EVIDENCE", "cholesky_symbols", "closed_form"]


def cholesky_symbols(name: str, k: int) -> sp.Matrix:
    """A k x k lower-triangular matrix of symbols with a positive diagonal."""
    rows = [
        [
            sp.Symbol(f"{name}{i + 1}{j + 1}", positive=True)
            if i == j
            else (sp.Symbol(f"{name}{i + 1}{j + 1}", real=True) if j < i else sp.Integer(0))
            for j in range(k)
        ]
        for i in range(k)
    ]
    return sp.Matrix(rows)


def _parameters(k: int) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix, sp.Matrix]:
    mu0 = sp.Matrix(sp.symbols(f"m1:{k + 1}", real=True))
    mu1 = sp.Matrix(sp.symbols(f"n1:{k + 1}", real=True))
    return mu0, cholesky_symbols("a", k), mu1, cholesky_symbols("b", k)


def closed_form(mu0: sp.Matrix, l0: sp.Matrix, mu1: sp.Matrix, l1: sp.Matrix) -> sp.Expr:
    """½(tr(Σ1⁻¹Σ0) + (μ1−μ0)ᵀΣ1⁻¹(μ1−μ0) − k + ln(det Σ1 / det Σ0)), Σ = L Lᵀ."""
    k = mu0.shape[0]
    s0 = l0 * l0.T
    s1 = l1 * l1.T
    s1_inv = s1.inv()
    delta = mu1 - mu0
    return (
        (s1_inv * s0).trace() + (delta.T * s1_inv * delta)[0] - k + sp.log(s1.det() / s0.det())
    ) / 2


DERIVATION = Derivation(
    "gaussian-kl-full-covariance",
    title="Full-covariance Gaussians: KL = ½(tr(Σ1⁻¹Σ0) + Δμᵀ Σ1⁻¹ Δμ - k + ln det Σ1/det Σ0), k = 1, 2, 3",
    description="Proved for explicit k with Cholesky-parametrised covariances; reduces to the diagonal case.",
)
for k in (1, 2, 3):
    mu0, l0, mu1, l1 = _parameters(k)
    zs = sp.symbols(f"z1:{k + 1}", real=True)
    us = sp.symbols(f"u1:{k + 1}", real=True)
    zvec, uvec = sp.Matrix(zs), sp.Matrix(us)
    q, p = mvn_pdf(zvec, mu0, l0), mvn_pdf(zvec, mu1, l1)
    mapped = mu0 + l0 * uvec
    q_at, p_at = mvn_pdf(mapped, mu0, l0), mvn_pdf(mapped, mu1, l1)
    std_normal = mvn_pdf(uvec, sp.zeros(k, 1), sp.eye(k))
    whitening = change_of_variables(f"z = μ0 + L0 u (k = {k})", zs, us, tuple(mapped))
    DERIVATION.start(KL(q, p, sp.Tuple(*zs)))
    DERIVATION.equals(
        sp.Integral(q * sp.log(q / p), *[(v, -sp.oo, sp.oo) for v in zs]), by=KL_DEFINITION
    )
    DERIVATION.equals(
        sp.Integral(std_normal * sp.log(q_at / p_at), *[(v, -sp.oo, sp.oo) for v in us]),
        by=[whitening, "q(μ0 + L0 u) det L0 is the standard normal density"],
    )
    DERIVATION.equals(
        closed_form(mu0, l0, mu1, l1),
        by="Gaussian moments: E[u] = 0, E[u uᵀ] = I; tr and quadratic-form identities",
    )

# the diagonal case: L0 = diag(σ), μ1 = 0, L1 = I
_mu0, _l0, _mu1, _l1 = _parameters(3)
_sigma = sp.symbols("sigma1:4", positive=True)
_mu = sp.symbols("mu1:4", real=True)
DERIVATION.start(closed_form(sp.Matrix(_mu), sp.diag(*_sigma), sp.zeros(3, 1), sp.eye(3)))
DERIVATION.equals(diag.closed_form(3), by="diagonal covariances and the standard-normal prior")

#: numeric evidence (numpy closed form vs plain Monte Carlo; tests/test_evidence.py ties it to closed_form)
EVIDENCE = FULL_COVARIANCE_GAUSSIAN_KL
