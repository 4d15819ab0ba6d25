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

>>> from scipy import stats
>>> from elbo_check.mc import kl_mc, z_test
>>> est = kl_mc(stats.norm(0.0, 1.0), stats.norm(1.0, 2.0), 20_000, seed=0)
>>> closed = 0.5 * (0.25 + 0.25 - 1.0) + 0.6931471805599453
>>> abs(est.estimate - closed) < 6 * est.se
True
>>> z_test(est, closed, alpha=1e-6).passed
True
"""

from __future__ import annotations

import dataclasses
import math
import operator
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.stats
from numpy.typing import NDArray

from elbo_check.errors import EvidenceError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CROSS_DIM",
    "METHODS",
    "RESOLUTION",
    "DistributionTypeError",
    "Independent",
    "LogDensity",
    "MCEstimate",
    "ZTest",
    "kl_mc",
    "z_test",
]

FloatArray = NDArray[np.float64]

#: Samples of ``q`` per chunk unless ``chunk_size=``/``chunks=`` say otherwise.
DEFAULT_CHUNK_SIZE = 65_536

#: The estimators :func:`kl_mc` offers.
METHODS = ("plain", "antithetic", "control_variate", "antithetic_cv")

#: Gaussian control variates include cross products e_i e_j up to this dimension.
MAX_CROSS_DIM = 16

#: Relative floating-point resolution below which z-tests do not resolve.
RESOLUTION = 1e-12

_LOG_2PI = math.log(2.0 * math.pi)
_PROGRESS_AFTER_S = 1.0


class DistributionTypeError(EvidenceError, TypeError):
    """An argument is not a distribution :func:`kl_mc` can use."""


# --------------------------------------------------------------------------
# results


@dataclasses.dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo estimate with its standard error.

    Attributes
    ----------
    estimate : float
        The estimate; ``inf`` when KL is infinite (see ``note``).
    se : float
        Its standard error (0.0 when the value is exact, e.g. an infinite KL).
    n : int
        Draws of ``q`` (log-density evaluations of each distribution).
    seed : int
        The root seed of the draws.
    method : str
        One of :data:`METHODS`.
    note : str or None
        Why the estimate is special (infinite KL), else None.

    >>> e = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    >>> round(e.z_score(0.8), 9)
    2.0
    >>> str(e)
    '1 ± 0.1 (n=100, seed=0, plain)'
    """

    estimate: float
    se: float
    n: int
    seed: int
    method: str
    note: str | None = None

    def z_score(self, value: float) -> float:
        """``(estimate - value) / se``, with the SE floored at :data:`RESOLUTION`.

        Two infinities of the same sign give 0; an infinite estimate against a
        finite value gives an infinite score.

        >>> MCEstimate(estimate=2.0, se=0.0, n=10, seed=0, method="plain").z_score(2.0)
        0.0
        """
        return _z(self.estimate, self.se, value)

    @property
    def variance_per_sample(self) -> float:
        """``se**2 * n``: the variance one draw of ``q`` contributes.

        Comparing it across methods gives the effective-sample ratio.

        >>> MCEstimate(estimate=0.0, se=0.1, n=100, seed=0, method="plain").variance_per_sample
        1.0...
        """
        return self.se * self.se * self.n

    def __str__(self) -> str:
        text = f"{self.estimate:.6g} ± {self.se:.2g} (n={self.n}, seed={self.seed}, {self.method})"
        return text if self.note is None else f"{text}: {self.note}"


@dataclasses.dataclass(frozen=True)
class ZTest:
    """The outcome of :func:`z_test`.

    Attributes
    ----------
    z : float
        The z-score of the estimate against the closed form.
    p_value : float
        Two-sided p-value of ``z`` under the standard normal.
    alpha : float
        Family-wise false-alarm rate requested.
    n_tests : int
        Number of tests in the family (Bonferroni divisor).
    alpha_per_test : float
        ``alpha / n_tests``, the rate this one test runs at.
    critical : float
        The two-sided critical ``|z|`` at ``alpha_per_test``.
    passed : bool
        ``|z| <= critical``.
    """

    z: float
    p_value: float
    alpha: float
    n_tests: int
    alpha_per_test: float
    critical: float
    passed: bool

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"z={self.z:+.3f} (|z| <= {self.critical:.2f} at α={self.alpha_per_test:.2g}): {verdict}"


def _z(estimate: float, se: float, value: float) -> float:
    """The floored z-score shared by :class:`MCEstimate` and :func:`z_test`."""
    if math.isnan(value) or math.isnan(estimate):
        raise EvidenceError(f"cannot z-test a nan: estimate={estimate!r}, value={value!r}")
    if math.isinf(estimate) or math.isinf(value):
        if estimate == value:
            return 0.0
        return math.copysign(math.inf, estimate - value)
    floor = RESOLUTION * max(1.0, abs(estimate), abs(value))
    return (estimate - value) / math.hypot(se, floor)


def z_test(estimate: MCEstimate, closed_form: float, *, alpha: float, n_tests: int = 1) -> ZTest:
    """Test an estimate against a closed form at family-wise rate ``alpha``.

    A correct closed form fails with probability at most ``alpha / n_tests``
    per test (asymptotically, by the central limit theorem), hence at most
    ``alpha`` over a family of ``n_tests`` tests (Bonferroni).

    Parameters
    ----------
    estimate : MCEstimate
        The Monte Carlo estimate.
    closed_form : float
        The value it should agree with.
    alpha : float
        Family-wise false-alarm rate, in (0, 1).
    n_tests : int
        Number of tests in the family, at least 1.

    Returns
    -------
    ZTest

    >>> est = MCEstimate(estimate=0.5, se=0.01, n=10_000, seed=0, method="plain")
    >>> t = z_test(est, 0.52, alpha=1e-6, n_tests=10)
    >>> round(t.z, 6), round(t.critical, 2), t.passed
    (-2.0, 5.33, True)
    >>> z_test(est, 0.6, alpha=1e-6).passed
    False
    """
    if not isinstance(estimate, MCEstimate):
        raise DistributionTypeError(f"Expected an MCEstimate but got estimate={estimate!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise EvidenceError(f"alpha must lie in (0, 1), got alpha={alpha!r}")
    tests = _as_count(n_tests, "n_tests", minimum=1)
    value = float(closed_form)
    z = _z(estimate.estimate, estimate.se, value)
    per_test = float(alpha) / tests
    critical = float(scipy.stats.norm.isf(per_test / 2.0))
    p_value = float(2.0 * scipy.stats.norm.sf(abs(z)))
    return ZTest(
        z=z,
        p_value=p_value,
        alpha=float(alpha),
        n_tests=tests,
        alpha_per_test=per_test,
        critical=critical,
        passed=bool(abs(z) <= critical),
    )


# --------------------------------------------------------------------------
# public distribution helpers


class Independent:
    """A product of independent univariate coordinates.

    The components are scipy.stats frozen univariate distributions (or any
    object with ``rvs``, ``logpdf`` and, for control variates, ``entropy``).
    Samples have shape ``(m, d)``.

    >>> from scipy import stats
    >>> q = Independent(stats.norm(0, 1), stats.norm(1, 2))
    >>> q.dim
    2
    >>> x = q.rvs(size=3, random_state=0)
    >>> x.shape
    (3, 2)
    >>> bool(abs(q.logpdf(x)[0] - (stats.norm(0, 1).logpdf(x[0, 0]) + stats.norm(1, 2).logpdf(x[0, 1]))) < 1e-12)
    True
    >>> Independent.iid(stats.norm(0, 1), 4).dim
    4
    """

    __slots__ = ("components",)

    components: tuple[Any, ...]

    def __init__(self, *components: Any) -> None:
        if len(components) == 1 and isinstance(components[0], (list, tuple)):
            components = tuple(components[0])
        if not components:
            raise EvidenceError("Independent needs at least one component, got none")
        for j, comp in enumerate(components):
            if not (hasattr(comp, "rvs") and hasattr(comp, "logpdf")):
                raise DistributionTypeError(
                    f"Independent component {j} must have rvs and logpdf, got {comp!r}"
                )
            if _is_multivariate_normal(comp) or isinstance(comp, Independent):
                raise DistributionTypeError(
                    f"Independent components must be univariate, got component {j}={comp!r}"
                )
        self.components = tuple(components)

    @classmethod
    def iid(cls, dist: Any, dim: int) -> Independent:
        """``dim`` independent copies of ``dist``."""
        d = _as_count(dim, "dim", minimum=1)
        return cls(*([dist] * d))

    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return len(self.components)

    def rvs(self, size: int = 1, random_state: Any = None) -> FloatArray:
        """Draw ``size`` samples, shape ``(size, dim)``."""
        rng = np.random.default_rng(random_state)
        m = _as_count(size, "size", minimum=1)
        return _adapt(self, "q").sample(rng, m)

    def logpdf(self, x: Any) -> FloatArray:
        """Sum of the coordinate log-densities; ``x`` has shape ``(m, dim)`` or ``(dim,)``."""
        arr = np.asarray(x, dtype=float)
        z = arr.reshape(1, -1) if arr.ndim == 1 else arr
        out = _adapt(self, "p").logpdf(z)
        return out if arr.ndim != 1 else out[:1]

    def entropy(self) -> float:
        """Sum of the coordinate entropies."""
        return float(sum(float(c.entropy()) for c in self.components))

    def __repr__(self) -> str:
        return f"Independent({', '.join(_describe(c) for c in self.components)})"


class LogDensity:
    """A bare log-density for the ``p`` side of :func:`kl_mc`.

    ``p`` need not be normalized: against ``log p~ = log p + log Z`` the
    estimator returns ``KL(q || p) - log Z``.  With ``p~(z) = p(x, z)`` that is
    minus the ELBO.

    Parameters
    ----------
    fn : callable
        Maps samples of shape ``(m, dim)`` to log-densities of shape ``(m,)``.
    dim : int
        Dimension of the samples.
    name : str
        Used in error messages.

    >>> import numpy as np
    >>> p = LogDensity(lambda z: -0.5 * np.sum(z**2, axis=1), dim=2, name="unnormalized N(0, I)")
    >>> p.logpdf(np.zeros((1, 2)))
    array([-0.])
    """

    __slots__ = ("dim", "fn", "name")

    def __init__(self, fn: Callable[[FloatArray], Any], dim: int, name: str = "p") -> None:
        if not callable(fn):
            raise DistributionTypeError(f"LogDensity needs a callable, got fn={fn!r}")
        self.fn = fn
        self.dim = _as_count(dim, "dim", minimum=1)
        self.name = name

    def logpdf(self, x: Any) -> FloatArray:
        """Evaluate the log-density on samples of shape ``(m, dim)``."""
        return np.asarray(self.fn(np.asarray(x, dtype=float)), dtype=float)

    def __repr__(self) -> str:
        return f"LogDensity({self.name}, dim={self.dim})"


# --------------------------------------------------------------------------
# adapters: one internal interface over the accepted distribution types


class _Adapter:
    """Uniform access to a distribution: samples are always ``(m, dim)``."""

    dim: int | None
    label: str

    def sample(self, rng: np.random.Generator, m: int) -> FloatArray:
        raise DistributionTypeError(f"{self.label} cannot be sampled (it has no rvs)")

    def sample_antithetic(self, rng: np.random.Generator, m: int) -> tuple[FloatArray, FloatArray]:
        raise EvidenceError(
            f"antithetic sampling needs Gaussian or univariate coordinates, got q={self.label}"
        )

    def logpdf(self, z: FloatArray) -> FloatArray:
        raise NotImplementedError  # pragma: no cover - every adapter defines it

    def controls(self, z: FloatArray) -> FloatArray:
        raise EvidenceError(
            f"control variates need the entropy of q in closed form, got q={self.label}"
        )

    def control_means(self) -> FloatArray:
        raise EvidenceError(
            f"control variates need the entropy of q in closed form, got q={self.label}"
        )

    def support(self) -> list[tuple[float, float]] | None:
        return None

    def singular(self) -> bool:
        return False


def _rows_times(rows: FloatArray, matrix: FloatArray) -> FloatArray:
    """``rows @ matrix.T`` for tall, skinny ``rows`` (einsum: BLAS is slow on these shapes here)."""
    return np.asarray(np.einsum("ij,kj->ik", rows, matrix), dtype=float)


def _describe(obj: Any) -> str:
    """A short description of a distribution for messages."""
    dist = getattr(obj, "dist", None)
    if dist is not None and hasattr(dist, "name"):
        args = ", ".join(f"{a:.4g}" for a in getattr(obj, "args", ()))
        kwds = ", ".join(f"{k}={v:.4g}" for k, v in getattr(obj, "kwds", {}).items())
        return f"{dist.name}({', '.join(s for s in (args, kwds) if s)})"
    if _is_multivariate_normal(obj):
        return f"multivariate_normal(dim={obj.dim})"
    return repr(obj)


def _mvn_frozen_type() -> type:
    return type(scipy.stats.multivariate_normal(mean=[0.0]))


def _is_multivariate_normal(obj: Any) -> bool:
    return isinstance(obj, _mvn_frozen_type())


def _is_scipy_univariate(obj: Any) -> bool:
    return isinstance(getattr(obj, "dist", None), scipy.stats.rv_continuous)


def _call_logpdf(fn: Callable[[Any], Any], z: Any, m: int, label: str) -> FloatArray:
    """Call a user ``logpdf`` and check that it returns ``m`` floats."""
    with np.errstate(all="ignore"):
        out = np.asarray(fn(z), dtype=float)
    if out.shape != (m,):
        out = out.reshape(-1) if out.size == m else out
        if out.shape != (m,):
            raise EvidenceError(
                f"{label}.logpdf returned shape {out.shape} for {m} samples; expected ({m},)"
            )
    return out


class _EntropyControl(_Adapter):
    """Control variate log q(z), whose mean is -H(q) when q has a closed-form entropy."""

    dist: Any

    def controls(self, z: FloatArray) -> FloatArray:
        self.control_means()
        return self.logpdf(z).reshape(-1, 1)

    def control_means(self) -> FloatArray:
        entropy = getattr(self.dist, "entropy", None)
        if entropy is None:
            return super().control_means()
        h = float(np.asarray(entropy(), dtype=float))
        if not math.isfinite(h):
            raise EvidenceError(
                f"control variates need a finite entropy of q, got H({self.label})={h!r}"
            )
        return np.array([-h])


class _Univariate(_EntropyControl):
    """A scipy.stats frozen continuous distribution, or a univariate duck type."""

    def __init__(self, dist: Any, label: str) -> None:
        self.dist = dist
        self.dim = 1
        self.label = f"{label}={_describe(dist)}"
        self.is_normal = _is_scipy_univariate(dist) and dist.dist.name == "norm"

    def sample(self, rng: np.random.Generator, m: int) -> FloatArray:
        if self.is_normal:
            e = rng.standard_normal(m)
            return (float(self.dist.mean()) + float(self.dist.std()) * e).reshape(m, 1)
        if not hasattr(self.dist, "rvs"):
            return super().sample(rng, m)
        out = np.asarray(self.dist.rvs(size=m, random_state=rng), dtype=float)
        return out.reshape(m, 1)

    def sample_antithetic(self, rng: np.random.Generator, m: int) -> tuple[FloatArray, FloatArray]:
        if self.is_normal:
            loc, scale = float(self.dist.mean()), float(self.dist.std())
            e = rng.standard_normal(m)
            return (loc + scale * e).reshape(m, 1), (loc - scale * e).reshape(m, 1)
        if not (hasattr(self.dist, "ppf") and hasattr(self.dist, "isf")):
            return super().sample_antithetic(rng, m)
        u = rng.random(m)
        with np.errstate(all="ignore"):
            lo = np.asarray(self.dist.ppf(u), dtype=float)
            hi = np.asarray(self.dist.isf(u), dtype=float)
        return lo.reshape(m, 1), hi.reshape(m, 1)

    def logpdf(self, z: FloatArray) -> FloatArray:
        return _call_logpdf(self.dist.logpdf, z[:, 0], z.shape[0], self.label)

    def support(self) -> list[tuple[float, float]] | None:
        fn = getattr(self.dist, "support", None)
        if not _is_scipy_univariate(self.dist) or fn is None:
            return None
        lo, hi = fn()
        return [(float(lo), float(hi))]


def _hermite_controls(e: FloatArray) -> FloatArray:
    """Second-order Hermite controls of standard-normal draws ``e`` (rows).

    ``log φ(e_i)`` for every coordinate (mean ``-log(2πe)/2``; their sum is
    ``log q`` up to a constant) and, up to :data:`MAX_CROSS_DIM` dimensions,
    the cross products ``e_i e_j`` (mean 0).
    """
    d = e.shape[1]
    diagonal = -0.5 * e * e - 0.5 * _LOG_2PI
    if d == 1 or d > MAX_CROSS_DIM:
        return diagonal
    i, j = np.triu_indices(d, k=1)
    return np.concatenate([diagonal, e[:, i] * e[:, j]], axis=1)


def _hermite_means(d: int) -> FloatArray:
    """The known means of :func:`_hermite_controls` in ``d`` dimensions."""
    diagonal = np.full(d, -0.5 * (_LOG_2PI + 1.0))
    if d == 1 or d > MAX_CROSS_DIM:
        return diagonal
    return np.concatenate([diagonal, np.zeros(d * (d - 1) // 2)])


class _MultivariateNormal(_Adapter):
    """``scipy.stats.multivariate_normal``: sampled and evaluated via its Cholesky factor."""

    def __init__(self, dist: Any, label: str) -> None:
        self.mean = np.asarray(dist.mean, dtype=float).reshape(-1)
        cov = np.asarray(dist.cov, dtype=float)
        self.d = int(self.mean.shape[0])
        self.dim = self.d
        self.label = f"{label}=multivariate_normal(dim={self.d})"
        try:
            self.chol: FloatArray | None = np.linalg.cholesky(cov.reshape(self.d, self.d))
        except np.linalg.LinAlgError:
            self.chol = None
        if self.chol is not None:
            self.half_logdet = float(np.sum(np.log(np.diag(self.chol))))

    def singular(self) -> bool:
        return self.chol is None

    def _factor(self) -> FloatArray:
        if self.chol is None:
            raise EvidenceError(f"{self.label} has a singular covariance")
        return self.chol

    def sample(self, rng: np.random.Generator, m: int) -> FloatArray:
        e = rng.standard_normal((m, self.d))
        return self.mean + _rows_times(e, self._factor())

    def sample_antithetic(self, rng: np.random.Generator, m: int) -> tuple[FloatArray, FloatArray]:
        e = rng.standard_normal((m, self.d))
        step = _rows_times(e, self._factor())
        return self.mean + step, self.mean - step

    def _whiten(self, z: FloatArray) -> FloatArray:
        diff = (z - self.mean).T
        out = scipy.linalg.solve_triangular(self._factor(), diff, lower=True, check_finite=False)
        return np.asarray(out, dtype=float).T

    def logpdf(self, z: FloatArray) -> FloatArray:
        e = self._whiten(z)
        return -0.5 * np.sum(e * e, axis=1) - self.half_logdet - 0.5 * self.d * _LOG_2PI

    def controls(self, z: FloatArray) -> FloatArray:
        return _hermite_controls(self._whiten(z))

    def control_means(self) -> FloatArray:
        return _hermite_means(self.d)

    def support(self) -> list[tuple[float, float]] | None:
        return [(-math.inf, math.inf)] * self.d


class _Product(_Adapter):
    """An :class:`Independent` product."""

    def __init__(self, dist: Independent, label: str) -> None:
        self.parts = [_Univariate(c, f"{label}[{j}]") for j, c in enumerate(dist.components)]
        self.dim: int = len(self.parts)
        self.label = f"{label}={dist!r}"

    def sample(self, rng: np.random.Generator, m: int) -> FloatArray:
        return np.concatenate([part.sample(rng, m) for part in self.parts], axis=1)

    def sample_antithetic(self, rng: np.random.Generator, m: int) -> tuple[FloatArray, FloatArray]:
        pairs = [part.sample_antithetic(rng, m) for part in self.parts]
        return (
            np.concatenate([a for a, _ in pairs], axis=1),
            np.concatenate([b for _, b in pairs], axis=1),
        )

    def logpdf(self, z: FloatArray) -> FloatArray:
        total = np.zeros(z.shape[0])
        for j, part in enumerate(self.parts):
            total = total + part.logpdf(z[:, j : j + 1])
        return total

    def _gaussian(self) -> bool:
        return all(part.is_normal for part in self.parts)

    def controls(self, z: FloatArray) -> FloatArray:
        if self._gaussian():
            loc = np.array([float(part.dist.mean()) for part in self.parts])
            scale = np.array([float(part.dist.std()) for part in self.parts])
            return _hermite_controls((z - loc) / scale)
        return np.concatenate(
            [part.controls(z[:, j : j + 1]) for j, part in enumerate(self.parts)], axis=1
        )

    def control_means(self) -> FloatArray:
        if self._gaussian():
            return _hermite_means(self.dim)
        return np.concatenate([part.control_means() for part in self.parts])

    def support(self) -> list[tuple[float, float]] | None:
        boxes = [part.support() for part in self.parts]
        if any(b is None for b in boxes):
            return None
        return [b[0] for b in boxes if b is not None]


class _Generic(_EntropyControl):
    """Any object with ``logpdf`` (and ``rvs`` when it is ``q``)."""

    def __init__(self, dist: Any, label: str) -> None:
        self.dist = dist
        dim = getattr(dist, "dim", None)
        self.dim = dim if isinstance(dim, int) and not isinstance(dim, bool) else None
        self.label = f"{label}={_describe(dist)}"

    def sample(self, rng: np.random.Generator, m: int) -> FloatArray:
        if not hasattr(self.dist, "rvs"):
            return super().sample(rng, m)
        out = np.asarray(self.dist.rvs(size=m, random_state=rng), dtype=float)
        if out.ndim <= 1:
            if out.size != m:
                raise EvidenceError(
                    f"{self.label}.rvs(size={m}) returned shape {out.shape}; expected ({m},) or ({m}, d)"
                )
            out = out.reshape(m, 1)
        elif out.ndim != 2 or out.shape[0] != m:
            raise EvidenceError(
                f"{self.label}.rvs(size={m}) returned shape {out.shape}; expected ({m},) or ({m}, d)"
            )
        if self.dim is None:
            self.dim = int(out.shape[1])
        return out

    def logpdf(self, z: FloatArray) -> FloatArray:
        arg = z[:, 0] if z.shape[1] == 1 and not isinstance(self.dist, LogDensity) else z
        return _call_logpdf(self.dist.logpdf, arg, z.shape[0], self.label)


def _adapt(dist: Any, role: str) -> _Adapter:
    """Wrap ``dist`` in the adapter for its type; ``role`` is ``"q"`` or ``"p"``."""
    if isinstance(dist, _Adapter):
        return dist
    if isinstance(dist, Independent):
        return _Product(dist, role)
    if _is_multivariate_normal(dist):
        return _MultivariateNormal(dist, role)
    inner = getattr(dist, "dist", None)
    if isinstance(inner, scipy.stats.rv_discrete):
        raise DistributionTypeError(
            f"kl_mc needs continuous distributions, got discrete {role}={_describe(dist)}"
        )
    if _is_scipy_univariate(dist):
        return _Univariate(dist, role)
    if not hasattr(dist, "logpdf"):
        raise DistributionTypeError(
            f"Expected a distribution with logpdf for {role} but got {role}={dist!r}"
        )
    if role == "q" and not hasattr(dist, "rvs"):
        raise DistributionTypeError(
            f"q must be sampled: expected rvs(size=, random_state=) on q={dist!r}"
        )
    return _Generic(dist, role)


# --------------------------------------------------------------------------
# streaming moments (Chan et al.'s pairwise update)


def _moments(units: FloatArray) -> FloatArray:
    """Pack ``[count, mean (w), centred cross-products (w*w)]`` for rows ``units``."""
    count = units.shape[0]
    mean = units.mean(axis=0)
    centred = units - mean
    # einsum, not BLAS: multi-threaded gemm on tall, narrow arrays stalls on busy machines
    comoment = np.einsum("ij,ik->jk", centred, centred)
    return np.concatenate([[float(count)], mean, comoment.reshape(-1)])


def _merge(a: FloatArray, b: FloatArray, width: int) -> FloatArray:
    """Merge two packed moment vectors."""
    na, nb = a[0], b[0]
    if na == 0:
        return b
    n = na + nb
    ma, mb = a[1 : 1 + width], b[1 : 1 + width]
    delta = mb - ma
    mean = ma + delta * (nb / n)
    ca = a[1 + width :].reshape(width, width)
    cb = b[1 + width :].reshape(width, width)
    comoment = ca + cb + np.outer(delta, delta) * (na * nb / n)
    return np.concatenate([[n], mean, comoment.reshape(-1)])


# --------------------------------------------------------------------------
# the estimator


class _InfiniteKL(Exception):
    """Internal signal: a draw of q landed where p has density zero."""


def _as_count(value: Any, name: str, *, minimum: int) -> int:
    """Validate an integer argument (no floats, no bools)."""
    if isinstance(value, (bool, float, np.floating)):
        raise EvidenceError(f"{name} must be an integer, got {name}={value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise EvidenceError(f"{name} must be an integer, got {name}={value!r}") from None
    if out < minimum:
        raise EvidenceError(f"{name} must be at least {minimum}, got {name}={out!r}")
    return out


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything a chunk needs to draw and reduce its share, picklable for dask."""

    q: _Adapter
    p: _Adapter
    method: str
    seed: int
    units: int
    per_chunk: int
    draws_per_unit: int

    @property
    def n_chunks(self) -> int:
        return -(-self.units // self.per_chunk)

    def chunk_units(self, index: int) -> int:
        return min(self.per_chunk, self.units - index * self.per_chunk)

    @property
    def width(self) -> int:
        if self.method in ("plain", "antithetic"):
            return 1
        return 1 + int(self.q.control_means().shape[0])

    def draw(self, index: int) -> FloatArray:
        """The rows (one per unit) of chunk ``index``."""
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(index,)))
        m = self.chunk_units(index)
        start = index * self.per_chunk * self.draws_per_unit
        if self.method in ("plain", "control_variate"):
            z = self.q.sample(rng, m)
            f = self._log_ratio(z, start, 1)
            if self.method == "plain":
                return f.reshape(m, 1)
            return np.concatenate([f.reshape(m, 1), self.q.controls(z)], axis=1)
        z1, z2 = self.q.sample_antithetic(rng, m)
        f = 0.5 * (self._log_ratio(z1, start, 2) + self._log_ratio(z2, start + 1, 2))
        if self.method == "antithetic":
            return f.reshape(m, 1)
        g = 0.5 * (self.q.controls(z1) + self.q.controls(z2))
        return np.concatenate([f.reshape(m, 1), g], axis=1)

    def _log_ratio(self, z: FloatArray, start: int, stride: int) -> FloatArray:
        lq = self.q.logpdf(z)
        lp = self.p.logpdf(z)
        if not (np.all(np.isfinite(lq)) and np.all(np.isfinite(lp))):
            _check_densities(self, z, lq, lp, start, stride)
        return lq - lp

    def chunk_moments(self, index: int) -> FloatArray:
        return _moments(self.draw(index))


def _check_densities(
    plan: _Plan, z: FloatArray, lq: FloatArray, lp: FloatArray, start: int, stride: int
) -> None:
    """Raise for nan / impossible values; signal an infinite KL for log p = -inf."""

    def where(i: int) -> str:
        point = float(z[i, 0]) if z.shape[1] == 1 else z[i].tolist()
        return f"sample z={point!r} (draw {start + stride * i} of seed {plan.seed})"

    for i in np.flatnonzero(np.isnan(lq))[:1]:
        raise EvidenceError(f"{plan.q.label}: logpdf returned nan at {where(int(i))}")
    for i in np.flatnonzero(np.isnan(lp))[:1]:
        raise EvidenceError(f"{plan.p.label}: logpdf returned nan at {where(int(i))}")
    for i in np.flatnonzero(~np.isfinite(lq))[:1]:
        raise EvidenceError(f"{plan.q.label}: logpdf returned {lq[i]!r} at its own {where(int(i))}")
    for i in np.flatnonzero(lp == np.inf)[:1]:
        raise EvidenceError(f"{plan.p.label}: logpdf returned inf at {where(int(i))}")
    for i in np.flatnonzero(lp == -np.inf)[:1]:
        raise _InfiniteKL(
            f"KL(q || p) = +inf: p has density zero at {where(int(i))}, "
            f"a draw of q ({plan.p.label})"
        )


def _support_note(q: _Adapter, p: _Adapter) -> str | None:
    """A note when q's support is not inside p's (then KL = +inf), else None."""
    if q.singular() != p.singular():
        side = "q" if q.singular() else "p"
        return (
            f"KL(q || p) = +inf: {side} has a singular covariance, so q is not "
            "absolutely continuous with respect to p"
        )
    if q.singular():
        raise EvidenceError(
            f"both {q.label} and {p.label} have singular covariances; not supported"
        )
    sq, sp = q.support(), p.support()
    if sq is None or sp is None or len(sq) != len(sp):
        return None
    for j, ((qa, qb), (pa, pb)) in enumerate(zip(sq, sp, strict=True)):
        if qa < pa or qb > pb:
            coord = "" if len(sq) == 1 else f" on coordinate {j}"
            return (
                f"KL(q || p) = +inf: the support of q{coord} is [{qa:g}, {qb:g}] but p's is "
                f"[{pa:g}, {pb:g}], so q puts mass where p has density zero"
            )
    return None


def _chunk_plan(
    n: int, method: str, chunk_size: int | None, chunks: int | None
) -> tuple[int, int, int]:
    """Return ``(units, per_chunk, draws_per_unit)`` after validating ``n`` and chunking."""
    if chunks is not None:
        block = _as_count(chunks, "chunks", minimum=1)
        if chunk_size is not None and _as_count(chunk_size, "chunk_size", minimum=1) != block:
            raise EvidenceError(
                f"chunk_size={chunk_size!r} and chunks={chunks!r} disagree; give one of them"
            )
        size = block
    elif chunk_size is not None:
        size = _as_count(chunk_size, "chunk_size", minimum=1)
    else:
        size = DEFAULT_CHUNK_SIZE
    if method.startswith("antithetic"):
        if n % 2:
            raise EvidenceError(
                f"antithetic sampling draws mirrored pairs: n must be even, got n={n}"
            )
        if n < 4:
            raise EvidenceError(f"antithetic sampling needs n >= 4 (two pairs), got n={n}")
        return n // 2, max(1, size // 2), 2
    return n, size, 1


def _progress_wanted(progress: bool | None) -> bool:
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty is not None and isatty())
    return bool(progress)


def _run_numpy(plan: _Plan, progress: bool | None) -> FloatArray:
    """Reduce the chunks one after the other; memory is one chunk."""
    width = plan.width
    total = np.zeros(1 + width + width * width)
    bar: Any = None
    started = time.perf_counter()
    try:
        for index in range(plan.n_chunks):
            total = _merge(total, plan.chunk_moments(index), width)
            if bar is not None:
                bar.update(1)
            elif index == 0 and plan.n_chunks > 1 and _progress_wanted(progress):
                projected = (time.perf_counter() - started) * plan.n_chunks
                if progress or projected > _PROGRESS_AFTER_S:
                    from tqdm.auto import tqdm

                    bar = tqdm(
                        total=plan.n_chunks, initial=1, unit="chunk", desc="kl_mc", file=sys.stderr
                    )
    finally:
        if bar is not None:
            bar.close()
    return total


def _run_dask(plan: _Plan, progress: bool | None) -> FloatArray:
    """Build the chunks as a lazy dask array and reduce on the active scheduler."""
    import dask.array as da
    from dask.base import compute

    width = plan.width
    sizes = tuple(plan.chunk_units(i) for i in range(plan.n_chunks))
    index = da.arange(plan.n_chunks, chunks=1)

    def draw_block(block: FloatArray) -> FloatArray:
        return plan.draw(int(block[0]))

    rows = index.map_blocks(
        draw_block, chunks=(sizes, (width,)), new_axis=1, dtype=float, meta=np.empty((0, width))
    )
    packed = 1 + width + width * width
    stats = rows.map_blocks(
        _moments,
        chunks=((packed,) * plan.n_chunks,),
        drop_axis=1,
        dtype=float,
        meta=np.empty((0,)),
    )
    if _progress_wanted(progress):
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar(minimum=0.0 if progress else _PROGRESS_AFTER_S, out=sys.stderr):
            (flat,) = compute(stats)
    else:
        (flat,) = compute(stats)
    blocks = np.asarray(flat, dtype=float).reshape(plan.n_chunks, packed)
    total = np.zeros(packed)
    for block in blocks:
        total = _merge(total, block, width)
    return total


def _finish(plan: _Plan, total: FloatArray, n: int) -> MCEstimate:
    """Turn merged moments into the estimate and its SE."""
    width = plan.width
    count = total[0]
    mean = total[1 : 1 + width]
    comoment = total[1 + width :].reshape(width, width)
    if width == 1:
        estimate = float(mean[0])
        variance = float(comoment[0, 0]) / (count - 1.0)
    else:
        cgg = comoment[1:, 1:]
        cgf = comoment[1:, 0]
        beta, _, rank, _ = np.linalg.lstsq(cgg, cgf, rcond=1e-12)
        estimate = float(mean[0] - beta @ (mean[1:] - plan.q.control_means()))
        residual = float(comoment[0, 0] - beta @ cgf)
        dof = count - 1.0 - float(rank)
        variance = max(residual, 0.0) / dof
    se = math.sqrt(max(variance, 0.0) / count)
    return MCEstimate(estimate=estimate, se=se, n=n, seed=plan.seed, method=plan.method)


def kl_mc(
    q: Any,
    p: Any,
    n: int,
    seed: int,
    *,
    method: str = "plain",
    chunk_size: int | None = None,
    progress: bool | None = None,
    chunks: int | None = None,
) -> MCEstimate:
    """Estimate KL(q || p) from ``n`` draws of ``q``.

    Parameters
    ----------
    q : distribution
        Sampled; a scipy.stats frozen continuous distribution,
        ``multivariate_normal``, :class:`Independent`, or any object with
        ``rvs(size=, random_state=)`` and ``logpdf``.
    p : distribution
        Evaluated only: the same types, or a :class:`LogDensity`.
    n : int
        Number of draws of ``q``; at least 2 (antithetic: even, at least 4).
    seed : int
        Non-negative root seed.
    method : {"plain", "antithetic", "control_variate", "antithetic_cv"}
        The estimator; see the module documentation.
    chunk_size : int, optional
        Draws per chunk (default :data:`DEFAULT_CHUNK_SIZE`).  Memory is
        proportional to it, not to ``n``.
    progress : bool, optional
        Show a tqdm bar.  ``None`` (default): only when stderr is a terminal
        and the run is projected to last more than about a second.
    chunks : int, optional
        Run on dask: each chunk of ``chunks`` draws is one block of a lazy
        dask array, computed on the active dask scheduler.  Same seed stream
        as ``chunk_size=chunks`` on the numpy path.

    Returns
    -------
    MCEstimate
        ``estimate = inf`` (with ``se = 0`` and a ``note``) when q puts mass
        where p has density zero.

    Raises
    ------
    EvidenceError
        Bad ``n``, ``seed``, ``method`` or chunking; mismatched dimensions; a
        log-density that returns nan (the message names the sample and value).
    DistributionTypeError
        ``q`` or ``p`` is not a usable distribution.

    >>> from scipy import stats
    >>> est = kl_mc(stats.norm(0, 1), stats.norm(0, 1), 1000, seed=1)
    >>> est.estimate, est.se
    (0.0, 0.0)
    >>> kl_mc(stats.norm(0, 1), stats.expon(), 1000, seed=1).estimate
    inf
    >>> exact = kl_mc(stats.norm(0.3, 0.8), stats.norm(0, 1), 1000, seed=1, method="antithetic_cv")
    >>> round(exact.estimate, 9), exact.se < 1e-8
    (0.088143551, True)
    """
    if method not in METHODS:
        raise EvidenceError(f"method must be one of {METHODS}, got method={method!r}")
    draws = _as_count(n, "n", minimum=2)
    root = _as_count(seed, "seed", minimum=0)
    units, per_chunk, draws_per_unit = _chunk_plan(draws, method, chunk_size, chunks)
    qa, pa = _adapt(q, "q"), _adapt(p, "p")
    if qa.dim is not None and pa.dim is not None and qa.dim != pa.dim:
        raise EvidenceError(f"dimensions differ: {qa.label} has {qa.dim}, {pa.label} has {pa.dim}")
    plan = _Plan(qa, pa, method, root, units, per_chunk, draws_per_unit)
    if method in ("control_variate", "antithetic_cv") and units < plan.width + 1:
        raise EvidenceError(
            f"{method} with {plan.width - 1} control variates needs at least "
            f"{plan.width + 1} units, got n={draws}"
        )
    note = _support_note(qa, pa)
    if note is None:
        try:
            total = _run_numpy(plan, progress) if chunks is None else _run_dask(plan, progress)
        except _InfiniteKL as signal:
            note = str(signal)
        else:
            return _finish(plan, total, draws)
    return MCEstimate(estimate=math.inf, se=0.0, n=draws, seed=root, method=method, note=note)
