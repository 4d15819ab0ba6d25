r"""``gaussian-kl-full-covariance-general``: the full-covariance Gaussian KL for every k.

.. math::

   \mathrm{KL}\left(N(\mu_0, \Sigma_0) \,\|\, N(\mu_1, \Sigma_1)\right)
     = \tfrac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)
       + (\mu_1 - \mu_0)^\top \Sigma_1^{-1} (\mu_1 - \mu_0) - k
       + \ln\det\Sigma_1 - \ln\det\Sigma_0\right)

for every dimension k ≥ 1 and all k-vectors μ0, μ1 and symmetric
positive-definite k × k matrices Σ0, Σ1.

**What is proved**: the *assembly* of the closed form from the matrix facts
below, for every k (k is a positive integer symbol, never a number).  The
matrix-valued quantities appear only as arguments of opaque real-valued atoms,
which the core treats as uninterpreted symbols:

* ``KLN(m0, S0, m1, S1)`` = KL(N(m0, S0) ‖ N(m1, S1)) on R^k;
* ``ELogN(m0, S0, m1, S1)`` = E_{z∼N(m0,S0)}[log N(z; m1, S1)];
* ``EQuad(m, S, a, A)`` = E_{z∼N(m,S)}[(z − a)ᵀ A⁻¹ (z − a)];
* ``Quad(a, b, A)`` = (a − b)ᵀ A⁻¹ (a − b);
* ``Tr(A, B)`` = tr(A⁻¹ B);
* ``LogDet(S)`` = ln det S.

**What is cited** (axiom schemas in the ledger, each for every k-vector and
every symmetric positive-definite k × k matrix; checked numerically in
``tests/test_derivations_fullcov_general.py``, never proved):

1. KL as a difference of expectations: KLN(m0, S0, m1, S1) =
   ELogN(m0, S0, m0, S0) − ELogN(m0, S0, m1, S1);
2. the Gaussian log-density in matrix form, inside the expectation (with
   linearity of E): ELogN(m0, S0, m1, S1) = −(k/2) ln 2π − ½ LogDet(S1) −
   ½ EQuad(m0, S0, m1, S1);
3. the expected quadratic form: EQuad(m, S, a, A) = Tr(A, S) + Quad(m, a, A);
4. tr(S⁻¹S) = tr(I_k) = k: Tr(S, S) = k;
5. a zero vector's quadratic form is 0: Quad(m, m, A) = 0.

The core proves the scalar regrouping.  Matrix and vector names are real
symbols only so that the fragment admits them; read each as the code of its
matrix under a fixed bijection between R and the k-vectors (or the SPD
matrices), so every real is the code of one.  They occur only as arguments of
the atoms, never in scalar algebra (the tests check this invariant on every
step).  ``Quad(μ0, μ1, Σ1)`` is the formula's (μ1 − μ0)ᵀΣ1⁻¹(μ1 − μ0), since
(−d)ᵀA⁻¹(−d) = dᵀA⁻¹d.  The tests tie the result to the explicit ``k ≤ 3``
derivation (``gaussian-kl-full-covariance``) numerically, with the atoms
evaluated by numpy on Cholesky-parametrised matrices.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.evidence.gaussian_kl import FULL_COVARIANCE_GAUSSIAN_KL_K8
from elbo_check.rules import axiom, side_condition

__all__ = [
    "ATOMS",
    "AXIOMS",
    "DERIVATION",
    "EVIDENCE",
    "KLN",
    "MATRICES",
    "SPD",
    "VECTORS",
    "ELogN",
    "EQuad",
    "LogDet",
    "Quad",
    "Tr",
    "closed_form",
    "k",
]

#: the dimension: an arbitrary positive integer, never a number
k = sp.Symbol("k", integer=True, positive=True)

KLN = sp.Function("KLN", real=True)
ELogN = sp.Function("ELogN", real=True)
EQuad = sp.Function("EQuad", real=True)
Quad = sp.Function("Quad", real=True)
Tr = sp.Function("Tr", real=True)
LogDet = sp.Function("LogDet", real=True)
#: the opaque atoms, and which argument slots hold a vector ("v") or a matrix ("M")
ATOMS: dict[sp.FunctionClass, str] = {
    KLN: "vMvM",
    ELogN: "vMvM",
    EQuad: "vMvM",
    Quad: "vvM",
    Tr: "MM",
    LogDet: "M",
}

mu0, mu1 = sp.symbols("mu0 mu1", real=True)
Sigma0, Sigma1 = sp.symbols("Sigma0 Sigma1", real=True)
#: the names that denote vectors and matrices (never scalars)
VECTORS = (mu0, mu1)
MATRICES = (Sigma0, Sigma1)

_m0, _m1, _m, _a = (sp.Wild(n, real=True) for n in ("m0", "m1", "m", "a"))
_S0, _S1, _S, _A = (sp.Wild(n, real=True) for n in ("S0", "S1", "S", "A"))

_FOR_ALL = "for all k-vectors {v} and symmetric positive-definite k×k matrices {M}"

KL_AS_EXPECTATIONS = axiom(
    "KL of k-dim Gaussians as a difference of expectations",
    KLN(_m0, _S0, _m1, _S1),
    ELogN(_m0, _S0, _m0, _S0) - ELogN(_m0, _S0, _m1, _S1),
    "KL(N(m0,S0) ‖ N(m1,S1)) = E_q[log q] − E_q[log p], q = N(m0,S0), p = N(m1,S1), "
    "both expectations finite, " + _FOR_ALL.format(v="m0, m1", M="S0, S1"),
)
LOG_DENSITY = axiom(
    "the Gaussian log-density in matrix form, inside E (linearity of E)",
    ELogN(_m0, _S0, _m1, _S1),
    -k / 2 * sp.log(2 * sp.pi) - LogDet(_S1) / 2 - EQuad(_m0, _S0, _m1, _S1) / 2,
    "E_{z∼N(m0,S0)}[log N(z; m1, S1)] = −(k/2) log 2π − ½ log det S1 "
    "− ½ E_{z∼N(m0,S0)}[(z − m1)ᵀ S1⁻¹ (z − m1)], " + _FOR_ALL.format(v="m0, m1", M="S0, S1"),
)
EXPECTED_QUADRATIC_FORM = axiom(
    "E[(z − a)ᵀA⁻¹(z − a)] = tr(A⁻¹S) + (m − a)ᵀA⁻¹(m − a), z ∼ N(m, S)",
    EQuad(_m, _S, _a, _A),
    Tr(_A, _S) + Quad(_m, _a, _A),
    "E_{z∼N(m,S)}[(z − a)ᵀ A⁻¹ (z − a)] = tr(A⁻¹ S) + (m − a)ᵀ A⁻¹ (m − a), "
    + _FOR_ALL.format(v="m, a", M="S, A"),
)
TRACE_OF_IDENTITY = axiom(
    "tr(S⁻¹S) = tr(I_k) = k",
    Tr(_S, _S),
    k,
    "tr(S⁻¹ S) = tr(I_k) = k, for every symmetric positive-definite k×k matrix S",
)
ZERO_QUADRATIC_FORM = axiom(
    "a zero vector's quadratic form is 0",
    Quad(_m, _m, _A),
    sp.Integer(0),
    "(m − m)ᵀ A⁻¹ (m − m) = 0ᵀ A⁻¹ 0 = 0, " + _FOR_ALL.format(v="m", M="A"),
)
#: every cited matrix fact
AXIOMS = (
    KL_AS_EXPECTATIONS,
    LOG_DENSITY,
    EXPECTED_QUADRATIC_FORM,
    TRACE_OF_IDENTITY,
    ZERO_QUADRATIC_FORM,
)
SPD = side_condition(
    "Σ0, Σ1 symmetric positive definite",
    "k ≥ 1 is an integer; μ0, μ1 are k-vectors and Σ0, Σ1 symmetric positive-definite "
    "k×k matrices, each named by a real code (fixed bijections of R with the k-vectors and "
    "with those matrices); the names occur only as arguments of the opaque atoms",
)


def closed_form() -> sp.Expr:
    """½(Tr(Σ1, Σ0) + Quad(μ0, μ1, Σ1) − k + LogDet(Σ1) − LogDet(Σ0)), in the atoms.

    >>> closed_form().has(Tr(Sigma1, Sigma0))
    True
    """
    return (Tr(Sigma1, Sigma0) + Quad(mu0, mu1, Sigma1) - k + LogDet(Sigma1) - LogDet(Sigma0)) / 2


def _log_density(s: sp.Symbol, m: sp.Symbol, a: sp.Symbol, cov: sp.Symbol) -> sp.Expr:
    return -k / 2 * sp.log(2 * sp.pi) - LogDet(cov) / 2 - EQuad(m, s, a, cov) / 2


DERIVATION = Derivation(
    "gaussian-kl-full-covariance-general",
    title="Full-covariance Gaussians, every k: KL = ½(tr(Σ1⁻¹Σ0) + Δμᵀ Σ1⁻¹ Δμ - k + ln det Σ1 - ln det Σ0)",
    description=(
        "The closed form assembled for every dimension k from cited matrix facts "
        "(opaque atoms Tr, Quad, EQuad, ELogN, LogDet)."
    ),
    assumptions=[SPD],
)
DERIVATION.start(KLN(mu0, Sigma0, mu1, Sigma1))
DERIVATION.equals(
    ELogN(mu0, Sigma0, mu0, Sigma0) - ELogN(mu0, Sigma0, mu1, Sigma1), by=KL_AS_EXPECTATIONS
)
DERIVATION.equals(
    _log_density(Sigma0, mu0, mu0, Sigma0) - _log_density(Sigma0, mu0, mu1, Sigma1),
    by=LOG_DENSITY,
)
DERIVATION.equals(
    (Tr(Sigma1, Sigma0) + Quad(mu0, mu1, Sigma1) - Tr(Sigma0, Sigma0) - Quad(mu0, mu0, Sigma0)) / 2
    + (LogDet(Sigma1) - LogDet(Sigma0)) / 2,
    by=EXPECTED_QUADRATIC_FORM,
)
DERIVATION.equals(closed_form(), by=[TRACE_OF_IDENTITY, ZERO_QUADRATIC_FORM])

#: numeric evidence: the general-k closed form at k = 8 vs plain Monte Carlo
EVIDENCE = FULL_COVARIANCE_GAUSSIAN_KL_K8
