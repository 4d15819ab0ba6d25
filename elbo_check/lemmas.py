r"""Lemmas the engine itself relies on, proved like any other derivation.

``gaussian-moments``: the moments of the standard normal,

.. math::

   \int_{-\infty}^{\infty} u^n \frac{e^{-u^2/2}}{\sqrt{2\pi}}\,du = (n-1)!!,
   \qquad n = 0, \dots, 4,

(zero for odd ``n``), proved by the trusted core's Gaussian-integral move
(completing the square; its statement, with Poisson's integral and
integration by parts as the argument, is in the ledger).

>>> from elbo_check.lemmas import gaussian_moments
>>> len(gaussian_moments().steps)
5
"""

from __future__ import annotations

import functools

import sympy as sp

from elbo_check.core.integrals import normal_moment
from elbo_check.derivation import Derivation

MAX_MOMENT = 4

__all__ = ["MAX_MOMENT", "gaussian_moments"]


@functools.cache
def gaussian_moments() -> Derivation:
    """The ``gaussian-moments`` lemma (one chain per moment order)."""
    u = sp.Symbol("u", real=True)
    phi = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    d = Derivation(
        "gaussian-moments",
        title=f"Moments of the standard normal, E[u^n] = (n-1)!! for n <= {MAX_MOMENT}",
        description="Each moment by the core's Gaussian integral (completing the square).",
    )
    for n in range(MAX_MOMENT + 1):
        d.start(sp.Integral(u**n * phi, (u, -sp.oo, sp.oo)))
        d.equals(
            normal_moment(n),
            by="the Gaussian integral",
        )
    return d
