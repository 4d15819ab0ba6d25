r"""The loss kernel: an exact, fast, array-API VAE loss.

:func:`gaussian_kl` computes :math:`\mathrm{KL}(\mathcal N(\mu, e^{\ell}) \,\|\,
\mathcal N(\mu_p, e^{\ell_p}))` elementwise over diagonal Gaussians, in the
stable form

.. math::

    \mathrm{KL} = \tfrac12\left[f(d) + (\mu - \mu_p)^2 e^{-\ell_p}\right],
    \qquad d = \ell - \ell_p,\quad f(d) = e^{d} - 1 - d \ \ge 0 .

The textbook line ``-0.5*(1 + lv - mu**2 - exp(lv))`` cancels catastrophically
when :math:`q \approx p`.  Here :math:`f` is evaluated without cancellation: a
near-minimax polynomial for :math:`f(d)/d^2` where :math:`|d|` is small, and
``expm1(d) - d`` elsewhere.  Overflow is avoided where the true value fits the
dtype, the rounding error of ``d`` itself is compensated when a prior is given,
and the result is never negative.  :func:`elbo_loss` builds the negative ELBO
on top of it, and :func:`gaussian_kl_grad` / :func:`elbo_loss_grad` give
analytic gradients.

All functions take the namespace from their inputs (numpy, CuPy, torch, JAX,
dask, ``array_api_strict``...) or from ``xp=``; the result is in the input's
library, on its device, in its dtype.  The package's modules:

* ``_numerics``: the one definition of the numerics (thresholds, coefficients,
  both branches, the slopes), called by every path;
* ``_kl``: :func:`gaussian_kl`, :func:`gaussian_kl_grad` and the dispatch
  (plain numpy arrays take an exact-type fast path before any generic work);
* ``_jit``: plain numpy arrays as one compiled, vectorised numba loop (the
  optional ``fast`` extra; from a program's 16th call, see ``ELBO_CHECK_JIT``);
* ``_tiles``: large numpy arrays, cache-blocked and multi-threaded (without numba);
* ``_torch``: a :class:`torch.autograd.Function` with an analytic backward
  (imported only when a torch tensor arrives);
* ``_torch_elbo``: the negative ELBO of eager CPU tensors as one autograd node,
  with an exact Bernoulli NLL (imported only when a torch tensor arrives);
* ``_jax``: a ``jax.custom_jvp`` (imported only when a JAX array arrives);
* ``_elbo``: :func:`elbo_loss` and :func:`elbo_loss_grad`.

>>> import numpy as np
>>> from elbo_check.kernel import gaussian_kl
>>> mu = np.array([[0.0, 1e-9], [1.0, 0.0]])
>>> logvar = np.array([[0.0, 1e-9], [0.0, -1.0]])
>>> gaussian_kl(mu, logvar)
array([7.50000000e-19, 6.83939721e-01])
>>> -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)  # the textbook line
array([-0.        ,  0.68393972])
"""

from __future__ import annotations

from elbo_check.kernel._elbo import ELBOGrad, ELBOTerms, elbo_loss, elbo_loss_grad
from elbo_check.kernel._kl import KLGrad, gaussian_kl, gaussian_kl_grad, numpy_engine

__all__ = [
    "ELBOGrad",
    "ELBOTerms",
    "KLGrad",
    "elbo_loss",
    "elbo_loss_grad",
    "gaussian_kl",
    "gaussian_kl_grad",
    "numpy_engine",
]
