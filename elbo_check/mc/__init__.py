"""Monte Carlo estimates of KL(q || p) with honest error bars.

:func:`kl_mc` estimates

.. math::

   \\mathrm{KL}(q \\,\\|\\, p) = \\mathbb{E}_{z \\sim q}[\\log q(z) - \\log p(z)]

from ``n`` draws of ``q`` and returns an :class:`MCEstimate`: the estimate, its
standard error (SE), ``n`` and the seed.  :func:`z_test` compares an estimate
with a closed form at a stated false-alarm rate, with a Bonferroni correction
when several tests run together.

Distributions
-------------
``q`` must sample and give a log-density; ``p`` only needs a log-density.
Accepted are scipy.stats frozen continuous distributions (``norm(0, 1)``),
``scipy.stats.multivariate_normal(mean, cov)``, :class:`Independent` products
of univariate coordinates, :class:`LogDensity` (a bare, possibly unnormalized,
log-density for ``p``) and any object with ``rvs(size=, random_state=)`` and
``logpdf(x)``.  Samples of a one-dimensional distribution are passed to
``logpdf`` as a 1-D array of shape ``(m,)``, those of a d-dimensional one as
``(m, d)``.

Methods
-------
``"plain"``
    The sample mean of ``log q - log p``.
``"antithetic"``
    Mirrored pairs: ``z = mu + L e`` and ``z' = mu - L e`` for Gaussian
    coordinates, ``ppf(u)`` and ``isf(u)`` for other univariate ones.  The odd
    part of the log-ratio cancels exactly within a pair.
``"control_variate"``
    Regression on control variates with known means.  Their sum is ``log q``,
    whose mean ``-H(q)`` is known in closed form.  For a Gaussian ``q``
    (univariate normal, ``multivariate_normal``, or an :class:`Independent`
    product of normals) they are the second-order Hermite terms of the
    whitened draw ``e = L^{-1}(z - mu)``: ``log φ(e_i)`` (mean
    ``-log(2πe)/2``) and, up to :data:`MAX_CROSS_DIM` dimensions, ``e_i e_j``
    (mean 0).  For other ``q`` they are the log-densities of its independent
    factors, with means from their ``entropy()``.  The coefficients are fitted
    on the same draws (the regression estimator), which leaves a bias of order
    1/n, far below the SE.
``"antithetic_cv"``
    Both at once: the controls are regressed on the pair means.

For a Gaussian ``q`` against a Gaussian ``p`` the log-ratio is a quadratic in
the standard draws; antithetic pairs remove its linear part and the controls
its quadratic part, so ``"antithetic_cv"`` is exact for such pairs (below
:data:`MAX_CROSS_DIM` dimensions): its SE is at the round-off level of a
variance, about ``1e-8`` times the plain SE.  :func:`z_test` floors the SE at a floating-point
resolution of ``1e-12`` relative, so such an estimate is compared at round-off
precision rather than divided by zero.

Seeds, chunks and dask
----------------------
Draws come in chunks of ``chunk_size`` samples; chunk ``i`` uses its own
generator, ``numpy.random.SeedSequence(seed, spawn_key=(i,))``.  Memory stays
flat in ``n``, and the result depends only on ``(seed, chunk_size)``.  With
``chunks=`` the chunks become the blocks of a lazy dask array, evaluated on
whatever dask scheduler is active; the per-chunk statistics are merged in the
same order, so the dask path gives the numpy path's estimate and SE.

Layout
------
``_results`` (:class:`MCEstimate`, :class:`ZTest`, :func:`z_test`, argument
checks); ``_base`` (the internal adapter interface); the adapters ``_univariate``
(scipy.stats univariate, generic densities, :class:`LogDensity`), ``_gaussian``
(``multivariate_normal``) and ``_product`` (:class:`Independent`), chosen by
``_dispatch``; ``_controls`` (Gaussian control variates); ``_plan`` (chunking,
streaming moments, density checks, the regression); ``_runners`` (numpy and
dask); ``_kl`` (:func:`kl_mc`) and ``_expectation`` (:func:`expectation_mc`,
the plain mean of any ``f`` with the same seed stream).

>>> from scipy import stats
>>> from elbo_check.mc import kl_mc, z_test
>>> est = kl_mc(stats.norm(0.0, 1.0), stats.norm(1.0, 2.0), 20_000, seed=0)
>>> closed = 0.5 * (0.25 + 0.25 - 1.0) + 0.6931471805599453
>>> abs(est.estimate - closed) < 6 * est.se
True
>>> z_test(est, closed, alpha=1e-6).passed
True
"""

from elbo_check.mc._base import _rows_times as _rows_times  # used by elbo_check.models
from elbo_check.mc._controls import MAX_CROSS_DIM
from elbo_check.mc._expectation import expectation_mc
from elbo_check.mc._kl import kl_mc
from elbo_check.mc._plan import DEFAULT_CHUNK_SIZE, METHODS
from elbo_check.mc._product import Independent
from elbo_check.mc._results import (
    ALTERNATIVES,
    RESOLUTION,
    DistributionTypeError,
    MCEstimate,
    ZTest,
    z_test,
)
from elbo_check.mc._univariate import LogDensity

__all__ = [
    "ALTERNATIVES",
    "DEFAULT_CHUNK_SIZE",
    "MAX_CROSS_DIM",
    "METHODS",
    "RESOLUTION",
    "DistributionTypeError",
    "Independent",
    "LogDensity",
    "MCEstimate",
    "ZTest",
    "expectation_mc",
    "kl_mc",
    "z_test",
]
