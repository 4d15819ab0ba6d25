r"""``gaussian-kl-gradient``: the KL term's gradients, analytically, without sampling.

In the log-variance parametrisation :math:`\ell = \log\sigma^2` (what a VAE
encoder outputs), with :math:`K(\mu, \ell) := -\tfrac12(1 + \ell - \mu^2 - e^\ell)`
and, for a general diagonal prior,
:math:`G(\mu, \ell, \mu_p, \ell_p) := \tfrac12\left(\ell_p - \ell + (e^\ell + (\mu - \mu_p)^2) e^{-\ell_p} - 1\right)`:

.. math::

   \mathrm{KL}\left(N(\mu, e^\ell) \,\|\, N(0, 1)\right) = K(\mu, \ell), \qquad
   \frac{\partial K}{\partial\mu} = \mu, \qquad
   \frac{\partial K}{\partial\ell} = \tfrac12\left(e^\ell - 1\right)

   \mathrm{KL}\left(N(\mu, e^\ell) \,\|\, N(\mu_p, e^{\ell_p})\right) = G, \qquad
   \frac{\partial G}{\partial\mu} = (\mu - \mu_p)\, e^{-\ell_p}, \qquad
   \frac{\partial G}{\partial\ell} = \tfrac12\left(e^{\ell - \ell_p} - 1\right)

The closed forms are instances of the ``gaussian-kl-standard-prior`` and
``gaussian-kl-univariate`` lemmas at :math:`\sigma = e^{\ell/2}`; the
derivatives are the core's ``diff`` of the defined K and G.  The chains
prove "KL = K for every (μ, ℓ)" and "∂K/∂μ = μ"; that equal functions have
equal partial derivatives (so ∂KL/∂μ = μ) is the one inference made outside
the chains.  The core never differentiates a KL or an integral itself.
"""

from __future__ import annotations

import sympy as sp

from derivations import gaussian_kl_standard_prior as std
from derivations import gaussian_kl_univariate as uni
from elbo_check import Derivation
from elbo_check.rules import definition, instantiate
from elbo_check.vocab import KL, normal_pdf, z

__all__ = [
    "DERIVATION",
    "GRAD_GENERAL",
    "GRAD_STANDARD",
    "KL_GENERAL",
    "KL_STANDARD",
    "LOGVAR",
    "LOGVAR_P",
    "MU",
    "MU_P",
]

MU, MU_P = sp.symbols("mu mu_p", real=True)
#: ℓ = log σ² and ℓ_p = log σ_p²
LOGVAR, LOGVAR_P = sp.symbols("ell ell_p", real=True)

#: the closed forms as functions of (μ, ℓ) and (μ, ℓ, μ_p, ℓ_p)
KL_STANDARD = -sp.Rational(1, 2) * (1 + LOGVAR - MU**2 - sp.exp(LOGVAR))
KL_GENERAL = (LOGVAR_P - LOGVAR + (sp.exp(LOGVAR) + (MU - MU_P) ** 2) * sp.exp(-LOGVAR_P) - 1) / 2
#: the proved gradients, (∂/∂μ, ∂/∂ℓ)
GRAD_STANDARD = (MU, (sp.exp(LOGVAR) - 1) / 2)
GRAD_GENERAL = ((MU - MU_P) * sp.exp(-LOGVAR_P), (sp.exp(LOGVAR - LOGVAR_P) - 1) / 2)

K = sp.Function("K_std", real=True)
G = sp.Function("K_diag", real=True)
_wm, _wl, _wmp, _wlp = (sp.Wild(n, real=True) for n in ("wm", "wl", "wmp", "wlp"))
K_DEFINITION = definition(
    "K_std(μ, ℓ): the standard-prior KL in (μ, log σ²)",
    K(_wm, _wl),
    KL_STANDARD.xreplace({MU: _wm, LOGVAR: _wl}),
    "K_std(μ, ℓ) := -½(1 + ℓ - μ² - e^ℓ)",
)
G_DEFINITION = definition(
    "K_diag(μ, ℓ, μp, ℓp): the diagonal-prior KL in (μ, log σ², μp, log σp²)",
    G(_wm, _wl, _wmp, _wlp),
    KL_GENERAL.xreplace({MU: _wm, LOGVAR: _wl, MU_P: _wmp, LOGVAR_P: _wlp}),
    "K_diag(μ, ℓ, μp, ℓp) := ½(ℓp - ℓ + (e^ℓ + (μ - μp)²) e^(-ℓp) - 1)",
)

_SD, _SD_P = sp.exp(LOGVAR / 2), sp.exp(LOGVAR_P / 2)
_STD_AT_LOGVAR = instantiate(
    std.DERIVATION.as_lemma("standard-prior Gaussian KL (lemma gaussian-kl-standard-prior)"),
    {std.MU: MU, std.SIGMA: _SD},
    name="standard-prior Gaussian KL at σ = exp(ℓ/2) (lemma gaussian-kl-standard-prior)",
)
_UNI_AT_LOGVAR = instantiate(
    uni.LEMMA,
    {uni.M1: MU, uni.S1: _SD, uni.M2: MU_P, uni.S2: _SD_P},
    name="univariate Gaussian KL at s1 = exp(ℓ/2), s2 = exp(ℓp/2) (lemma gaussian-kl-univariate)",
)

DERIVATION = Derivation(
    "gaussian-kl-gradient",
    title="∂KL/∂μ = (μ - μp) e^(-ℓp), ∂KL/∂ℓ = ½(e^(ℓ-ℓp) - 1), ℓ = log σ² (μ and ½(e^ℓ - 1) at N(0, 1))",
    description=(
        "The standard-prior and diagonal-prior closed forms in the log-variance parametrisation, "
        "and their partial derivatives."
    ),
)
# the standard prior
DERIVATION.start(KL(normal_pdf(z, MU, _SD), normal_pdf(z, 0, 1), z))
DERIVATION.equals(KL_STANDARD, by=[_STD_AT_LOGVAR, "log e^ℓ = ℓ"])
DERIVATION.equals(K(MU, LOGVAR), by=K_DEFINITION)
DERIVATION.start(sp.Derivative(K(MU, LOGVAR), MU))
DERIVATION.equals(GRAD_STANDARD[0], by=[K_DEFINITION, "differentiate"])
DERIVATION.start(sp.Derivative(K(MU, LOGVAR), LOGVAR))
DERIVATION.equals(GRAD_STANDARD[1], by=[K_DEFINITION, "differentiate"])
# a general diagonal prior N(μp, e^ℓp)
DERIVATION.start(KL(normal_pdf(z, MU, _SD), normal_pdf(z, MU_P, _SD_P), z))
DERIVATION.equals(KL_GENERAL, by=[_UNI_AT_LOGVAR, "log(e^(ℓp/2) / e^(ℓ/2)) = (ℓp - ℓ)/2"])
DERIVATION.equals(G(MU, LOGVAR, MU_P, LOGVAR_P), by=G_DEFINITION)
DERIVATION.start(sp.Derivative(G(MU, LOGVAR, MU_P, LOGVAR_P), MU))
DERIVATION.equals(GRAD_GENERAL[0], by=[G_DEFINITION, "differentiate"])
DERIVATION.start(sp.Derivative(G(MU, LOGVAR, MU_P, LOGVAR_P), LOGVAR))
DERIVATION.equals(GRAD_GENERAL[1], by=[G_DEFINITION, "differentiate"])
