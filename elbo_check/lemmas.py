r"""Lemmas the engine itself relies on, proved like any other derivation.

``gaussian-moments``: the moments of the standard normal,

.. math::

   \int_{-\infty}^{\infty} u^n \frac{e^{-u^2/2}}{\sqrt{2\pi}}\,du = (n-1)!!,
   \qquad n = 0, \dots, 4,

(zero for odd ``n``), proved by direct integration (``sympy.integrate``, each
answer re-checked against ``mpmath.quad``), never by the Gaussian engine that
cites it.  Every step the engine closes is capped by this lemma's verdict.

>>> from elbo_check.lemmas import gaussian_moments
>>> len(gaussian_moments().steps)
5
"""

from __future__ import annotations

import functools

import sympy as sp

from elbo_check.derivation import Derivation
from elbo_check.integrals import MAX_MOMENT, standard_normal_moment

__all__ = ["gaussian_moments"]


@functools.cache
def gaussian_moments() -> Derivation:
    """The ``gaussian-moments`` lemma (one chain per moment order)."""
    u = sp.Symbol("u", real=True)
    phi = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    d = Derivation(
        "gaussian-moments",
        title=f"Moments of the standard normal, E[u^n] = (n-1)!! for n <= {MAX_MOMENT}",
        description="Proved by direct integration; the Gaussian-integral engine cites it.",
        direct_integration=True,
    )
    for n in range(MAX_MOMENT + 1):
        d.start(sp.Integral(u**n * phi, (u, -sp.oo, sp.oo)))
        d.equals(
            standard_normal_moment(n),
            by="direct integration (sympy integrate, checked by quadrature)",
        )
    return d
