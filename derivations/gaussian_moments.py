r"""``gaussian-moments``: the standard-normal moments the Gaussian engine cites.

.. math::

   \int_{-\infty}^{\infty} u^n \frac{e^{-u^2/2}}{\sqrt{2\pi}}\,du = (n-1)!!

The derivation lives in :mod:`elbo_check.lemmas` (the engine needs it); it
is registered here so that ``elbo-check prove`` lists and proves it.
"""

from __future__ import annotations

from elbo_check.lemmas import gaussian_moments

__all__ = ["DERIVATION"]

DERIVATION = gaussian_moments()
