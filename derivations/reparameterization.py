r"""``reparameterization``: the reparameterisation trick, by an affine change of variables.

For an abstract integrable f, with :math:`\varphi` the standard normal density:

.. math::

   \mathbb{E}_{z \sim N(\mu, \sigma^2)}[f(z)]
     = \int N(z; \mu, \sigma^2) f(z)\,dz
     = \int \varphi(\varepsilon)\, f(\mu + \sigma\varepsilon)\,d\varepsilon
     = \mathbb{E}_{\varepsilon \sim N(0, 1)}[f(\mu + \sigma\varepsilon)]

by the change of variables :math:`z = \mu + \sigma\varepsilon` (affine,
Jacobian σ > 0), checked and applied by the core.  Then the gradients

.. math::

   \frac{\partial}{\partial\mu}\,\mathbb{E}_{N(\mu, \sigma^2)}[f(z)]
     = \mathbb{E}_\varepsilon[f'(\mu + \sigma\varepsilon)], \qquad
   \frac{\partial}{\partial\sigma}\,\mathbb{E}_{N(\mu, \sigma^2)}[f(z)]
     = \mathbb{E}_\varepsilon[\varepsilon\, f'(\mu + \sigma\varepsilon)]

follow from the change of variables (an identity in μ and σ, so it holds
under the derivative) and differentiation under the integral sign, which is
**cited**: it holds when f is C¹ and :math:`|f'(\mu + \sigma\varepsilon)|
(1 + |\varepsilon|)` is dominated, locally uniformly in (μ, σ), by an
integrable function of ε (dominated convergence).  That side condition is in
the ledger, and it is what lets the core show the differentiated integrals
converge: a step that drops it is not proved.  The core itself never
differentiates an integral.

Notation.  The core decides convergence of integrals of abstract functions
only for a density-like factor with the integration variable as an argument
(``g(..., ε, ...)``), not ``f(μ + σε)``.  So the composition is named:
``f_T(μ, σ, ε) := f(μ + σε)`` and ``fp_T(μ, σ, ε) := f'(μ + σε)``.  The
rewrite ``f(μ + σ·w) → f_T(μ, σ, w)`` is that definition read backwards, and
is cited as an axiom.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.evidence.reparameterization import (
    REPARAMETERIZATION,
    REPARAMETERIZATION_GRADIENT,
)
from elbo_check.rules import axiom, change_of_variables, integrability
from elbo_check.vocab import INTEGRABILITY, normal_pdf

__all__ = [
    "DERIVATION",
    "DOMINATED_CONVERGENCE",
    "EPS",
    "EVIDENCE",
    "MU",
    "SIGMA",
    "Z",
    "f",
    "f_T",
    "fp_T",
]

MU = sp.Symbol("mu", real=True)
SIGMA = sp.Symbol("sigma", positive=True)
Z = sp.Symbol("z", real=True)
EPS = sp.Symbol("epsilon", real=True)
_oo = sp.oo

#: the abstract integrand, and its reparameterised forms f(μ + σε), f'(μ + σε)
f = sp.Function("f", real=True)
f_T = sp.Function("f_T", real=True)
fp_T = sp.Function("fp_T", real=True)

_w = sp.Wild("w", real=True)
NAME_COMPOSITION = axiom(
    "f_T names f after the reparameterisation",
    f(MU + SIGMA * _w),
    f_T(MU, SIGMA, _w),
    "f_T(μ, σ, ε) := f(μ + σ ε), read right to left (a name for the composition)",
)
STANDARDISE = change_of_variables("z = μ + σ ε", Z, EPS, MU + SIGMA * EPS)
#: an integrability side condition: without it the core cannot show the differentiated
#: integrals converge, so a step that drops it is not proved
DOMINATED_CONVERGENCE = integrability(
    "f is C¹ with derivative f', and |f'(μ + σε)| (1 + |ε|) is bounded, locally uniformly in "
    "(μ, σ), by a function of ε integrable against N(0, 1); so f(z), f'(μ + σε) and "
    "ε f'(μ + σε) are integrable against the Gaussians here; fp_T(μ, σ, ε) := f'(μ + σε)",
    name="dominated convergence (differentiation under the integral)",
)

_phi = normal_pdf(EPS, 0, 1)
_expectation = sp.Integral(normal_pdf(Z, MU, SIGMA) * f(Z), (Z, -_oo, _oo))
_reparameterised = sp.Integral(_phi * f(MU + SIGMA * EPS), (EPS, -_oo, _oo))

#: d/dμ and d/dσ of E_ε[f(μ + σε)] under the integral sign (assumed, with the side condition)
DIFF_MU = axiom(
    "differentiation under the integral sign in μ",
    sp.Derivative(_reparameterised, MU),
    sp.Integral(_phi * fp_T(MU, SIGMA, EPS), (EPS, -_oo, _oo)),
    "d/dμ ∫ φ(ε) f(μ + σε) dε = ∫ φ(ε) f'(μ + σε) dε (dominated convergence, see its side condition)",
)
DIFF_SIGMA = axiom(
    "differentiation under the integral sign in σ",
    sp.Derivative(_reparameterised, SIGMA),
    sp.Integral(_phi * EPS * fp_T(MU, SIGMA, EPS), (EPS, -_oo, _oo)),
    "d/dσ ∫ φ(ε) f(μ + σε) dε = ∫ φ(ε) ε f'(μ + σε) dε (dominated convergence, see its side condition)",
)

DERIVATION = Derivation(
    "reparameterization",
    title="E_N(μ,σ²)[f(z)] = E_ε[f(μ + σε)], and ∂/∂μ E[f(z)] = E_ε[f'(μ + σε)]",
    description=(
        "The reparameterisation trick: an affine change of variables, then differentiation "
        "under the integral sign (cited, with its dominated-convergence side condition)."
    ),
)
DERIVATION.start(_expectation)
DERIVATION.equals(
    sp.Integral(_phi * f_T(MU, SIGMA, EPS), (EPS, -_oo, _oo)),
    by=[STANDARDISE, NAME_COMPOSITION, INTEGRABILITY, "σ N(μ + σε; μ, σ²) = φ(ε)"],
)
DERIVATION.start(sp.Derivative(_expectation, MU))
DERIVATION.equals(
    sp.Integral(_phi * fp_T(MU, SIGMA, EPS), (EPS, -_oo, _oo)),
    by=[STANDARDISE, DIFF_MU, DOMINATED_CONVERGENCE],
)
DERIVATION.start(sp.Derivative(_expectation, SIGMA))
DERIVATION.equals(
    sp.Integral(_phi * EPS * fp_T(MU, SIGMA, EPS), (EPS, -_oo, _oo)),
    by=[STANDARDISE, DIFF_SIGMA, DOMINATED_CONVERGENCE],
)

#: numeric checks: both sides by quadrature and Monte Carlo, for a few f
EVIDENCE = REPARAMETERIZATION + REPARAMETERIZATION_GRADIENT
