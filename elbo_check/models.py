"""Latent-variable models where log p(x) is known, to check ELBO claims numerically.

:class:`LinearGaussianModel`
    ``p(z) = N(0, I_k)``, ``p(x | z) = N(W z + b, σ² I_n)``.  Everything is
    exact: ``log p(x) = log N(x; b, W Wᵀ + σ² I)``, the posterior is Gaussian,
    and the ELBO of any Gaussian ``q(z) = N(m, S)`` has a closed form, so

    .. math::

       \\log p(x) = \\mathrm{ELBO}(q) + \\mathrm{KL}(q \\,\\|\\, p(z \\mid x))

    can be checked to round-off.
:class:`BernoulliLogisticModel`
    ``p(z) = N(0, I_k)`` with ``k`` in {1, 2} and ``p(x_i = 1 | z) = σ(w_iᵀ z + c_i)``.
    ``log p(x)`` comes from adaptive cubature (:func:`scipy.integrate.cubature`)
    with a stated error bound; the ELBO from Monte Carlo or Gauss–Hermite.

Also here: reference closed forms for the Gaussian KL (:func:`normal_kl`,
:func:`normal_kl_grad`, :func:`mvn_kl`), written in plain numpy, independent
of the proof engine and the kernel.

Continuous log-densities can be positive, and so can an ELBO: nothing here
treats a positive value as an error.

>>> import numpy as np
>>> from elbo_check.models import LinearGaussianModel
>>> model = LinearGaussianModel.random(latent_dim=2, obs_dim=5, seed=0)
>>> x = model.sample(seed=1)[1]
>>> m, S = np.zeros(2), np.eye(2)
>>> lhs = model.log_marginal(x)
>>> rhs = model.elbo(x, m, S) + model.kl_to_posterior(x, m, S)
>>> bool(abs(lhs - rhs) <= 1e-10 * abs(lhs))
True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.optimize
from numpy.typing import ArrayLike, NDArray

from elbo_check.errors import EvidenceError
from elbo_check.mc import LogDensity, MCEstimate, _rows_times, kl_mc

__all__ = [
    "BernoulliLogisticModel",
    "LinearGaussianModel",
    "QuadratureResult",
    "mvn_kl",
    "normal_kl",
    "normal_kl_grad",
]

FloatArray = NDArray[np.float64]

_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------
# reference closed forms


def normal_kl(m1: ArrayLike, s1: ArrayLike, m2: ArrayLike, s2: ArrayLike) -> Any:
    """KL(N(m1, s1²) || N(m2, s2²)), elementwise; scales are standard deviations.

    .. math::

       \\log\\frac{s_2}{s_1} + \\frac{s_1^2 + (m_1 - m_2)^2}{2 s_2^2} - \\frac12

    >>> float(normal_kl(0.0, 1.0, 1.0, 2.0))
    0.4431471805599453
    """
    m1, s1, m2, s2 = (np.asarray(a, dtype=float) for a in (m1, s1, m2, s2))
    ratio = s1 / s2
    return -np.log(ratio) + 0.5 * (ratio * ratio + ((m1 - m2) / s2) ** 2) - 0.5


def normal_kl_grad(
    m1: ArrayLike, s1: ArrayLike, m2: ArrayLike, s2: ArrayLike
) -> tuple[Any, Any, Any, Any]:
    """Partial derivatives of :func:`normal_kl` in ``(m1, s1, m2, s2)``.

    >>> [float(g) for g in normal_kl_grad(0.0, 1.0, 1.0, 2.0)]
    [-0.25, -0.75, 0.25, 0.25]
    """
    m1, s1, m2, s2 = (np.asarray(a, dtype=float) for a in (m1, s1, m2, s2))
    d = m1 - m2
    v2 = s2 * s2
    dm1 = d / v2
    ds1 = -1.0 / s1 + s1 / v2
    ds2 = 1.0 / s2 - (s1 * s1 + d * d) / (v2 * s2)
    return dm1, ds1, -dm1, ds2


def mvn_kl(mean_q: ArrayLike, cov_q: ArrayLike, mean_p: ArrayLike, cov_p: ArrayLike) -> float:
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) for full covariances.

    .. math::

       \\tfrac12\\left[\\operatorname{tr}(\\Sigma_p^{-1}\\Sigma_q)
       + (\\mu_p - \\mu_q)^\\top \\Sigma_p^{-1} (\\mu_p - \\mu_q) - k
       + \\log\\det\\Sigma_p - \\log\\det\\Sigma_q\\right]

    >>> import numpy as np
    >>> mvn_kl(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))
    0.0
    >>> round(mvn_kl([0.0], [[1.0]], [1.0], [[4.0]]), 12)
    0.44314718056
    """
    mq, mp = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (mean_q, mean_p))
    k = mq.shape[0]
    sq = np.asarray(cov_q, dtype=float).reshape(k, k)
    sp = np.asarray(cov_p, dtype=float).reshape(k, k)
    lq = _cholesky(sq, "cov_q")
    lp = _cholesky(sp, "cov_p")
    # tr(Sp^-1 Sq) = ||Lp^-1 Lq||_F^2 ; quadratic form = ||Lp^-1 (mp - mq)||^2
    a = scipy.linalg.solve_triangular(lp, lq, lower=True)
    r = scipy.linalg.solve_triangular(lp, mp - mq, lower=True)
    logdet = 2.0 * (np.sum(np.log(np.diag(lp))) - np.sum(np.log(np.diag(lq))))
    return float(0.5 * (np.sum(a * a) + np.sum(r * r) - k + logdet))


def _cholesky(matrix: FloatArray, name: str) -> FloatArray:
    """Lower Cholesky factor, with a one-line error for non-SPD input."""
    if not np.all(np.isfinite(matrix)):
        raise EvidenceError(f"{name} must be finite, got {name}={matrix.tolist()!r}")
    try:
        return np.asarray(np.linalg.cholesky(matrix), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise EvidenceError(
            f"{name} must be symmetric positive definite, got {name}={matrix.tolist()!r}"
        ) from None


def _gaussian_q(m: ArrayLike, S: ArrayLike, k: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate ``q = N(m, S)`` in ``k`` dimensions; return ``(m, S, chol(S))``."""
    mean = np.atleast_1d(np.asarray(m, dtype=float))
    cov = np.atleast_2d(np.asarray(S, dtype=float))
    if mean.shape != (k,) or cov.shape != (k, k):
        raise EvidenceError(
            f"q must have mean of shape ({k},) and covariance ({k}, {k}), "
            f"got m.shape={mean.shape}, S.shape={cov.shape}"
        )
    return mean, cov, _cholesky(cov, "S")


def _gaussian_entropy(chol: FloatArray) -> float:
    k = chol.shape[0]
    return 0.5 * k * (_LOG_2PI + 1.0) + float(np.sum(np.log(np.diag(chol))))


def _prior_cross_entropy(mean: FloatArray, cov: FloatArray) -> float:
    """E_q[log N(z; 0, I)] for q = N(mean, cov)."""
    k = mean.shape[0]
    return -0.5 * k * _LOG_2PI - 0.5 * (float(mean @ mean) + float(np.trace(cov)))


# --------------------------------------------------------------------------
# linear-Gaussian


@dataclasses.dataclass(frozen=True, eq=False)
class LinearGaussianModel:
    """``p(z) = N(0, I_k)``, ``p(x | z) = N(W z + b, σ² I_n)``.

    Parameters
    ----------
    W : array of shape (n, k)
        Loadings.
    b : array of shape (n,)
        Offset.
    sigma : float
        Observation noise standard deviation, positive.

    >>> import numpy as np
    >>> model = LinearGaussianModel(W=np.ones((3, 1)), b=np.zeros(3), sigma=0.5)
    >>> x = np.array([0.1, 0.2, 0.3])
    >>> mean, cov = model.posterior(x)
    >>> bool(abs(model.elbo(x, mean, cov) - model.log_marginal(x)) < 1e-12)
    True
    """

    W: FloatArray
    b: FloatArray
    sigma: float

    def __post_init__(self) -> None:
        W = np.atleast_2d(np.asarray(self.W, dtype=float))
        b = np.atleast_1d(np.asarray(self.b, dtype=float))
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise EvidenceError(
                f"W must be (n, k) and b (n,), got W.shape={W.shape}, b.shape={b.shape}"
            )
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise EvidenceError("W and b must be finite")
        sigma = float(self.sigma)
        if not (math.isfinite(sigma) and sigma > 0.0):
            raise EvidenceError(f"sigma must be positive and finite, got sigma={self.sigma!r}")
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "sigma", sigma)

    @classmethod
    def random(
        cls, latent_dim: int, obs_dim: int, seed: int, sigma: float | None = None
    ) -> LinearGaussianModel:
        """A random instance: ``W`` standard normal / sqrt(k), ``b`` normal, σ in [0.3, 1.5]."""
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((obs_dim, latent_dim)) / math.sqrt(latent_dim)
        b = rng.normal(0.0, 1.0, obs_dim)
        s = float(rng.uniform(0.3, 1.5)) if sigma is None else sigma
        return cls(W=W, b=b, sigma=s)

    @property
    def latent_dim(self) -> int:
        """``k``."""
        return int(self.W.shape[1])

    @property
    def obs_dim(self) -> int:
        """``n``."""
        return int(self.W.shape[0])

    def _x(self, x: ArrayLike) -> FloatArray:
        arr = np.atleast_1d(np.asarray(x, dtype=float))
        if arr.shape != (self.obs_dim,):
            raise EvidenceError(f"x must have shape ({self.obs_dim},), got x.shape={arr.shape}")
        return arr

    def sample(self, seed: int) -> tuple[FloatArray, FloatArray]:
        """Draw ``(z, x)`` from the joint."""
        rng = np.random.default_rng(seed)
        z = rng.standard_normal(self.latent_dim)
        x = self.W @ z + self.b + self.sigma * rng.standard_normal(self.obs_dim)
        return z, x

    def log_marginal(self, x: ArrayLike) -> float:
        """Exact ``log p(x) = log N(x; b, W Wᵀ + σ² I)``."""
        xv = self._x(x)
        cov = self.W @ self.W.T + self.sigma**2 * np.eye(self.obs_dim)
        chol = np.linalg.cholesky(cov)
        r = scipy.linalg.solve_triangular(chol, xv - self.b, lower=True)
        return float(
            -0.5 * self.obs_dim * _LOG_2PI
            - float(np.sum(np.log(np.diag(chol))))
            - 0.5 * float(r @ r)
        )

    def _precision(self) -> FloatArray:
        """Posterior precision ``I + Wᵀ W / σ²``."""
        return np.eye(self.latent_dim) + (self.W.T @ self.W) / self.sigma**2

    def posterior(self, x: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and covariance of ``z`` given ``x``."""
        xv = self._x(x)
        factor = scipy.linalg.cho_factor(self._precision(), lower=True)
        mean = scipy.linalg.cho_solve(factor, self.W.T @ (xv - self.b) / self.sigma**2)
        cov = scipy.linalg.cho_solve(factor, np.eye(self.latent_dim))
        return mean, 0.5 * (cov + cov.T)

    def elbo(self, x: ArrayLike, m: ArrayLike, S: ArrayLike) -> float:
        """Closed-form ELBO of ``q(z) = N(m, S)``.

        ``E_q[log p(x|z)] + E_q[log p(z)] + H(q)`` with
        ``E_q[log p(x|z)] = -n/2 log(2πσ²) - (||x - W m - b||² + tr(W S Wᵀ)) / (2σ²)``.
        """
        xv = self._x(x)
        mean, cov, chol = _gaussian_q(m, S, self.latent_dim)
        resid = xv - self.W @ mean - self.b
        spread = float(np.sum((self.W @ chol) ** 2))  # tr(W S Wᵀ)
        var = self.sigma**2
        expected_loglik = (
            -0.5 * self.obs_dim * (_LOG_2PI + math.log(var))
            - 0.5 * (float(resid @ resid) + spread) / var
        )
        return expected_loglik + _prior_cross_entropy(mean, cov) + _gaussian_entropy(chol)

    def kl_to_posterior(self, x: ArrayLike, m: ArrayLike, S: ArrayLike) -> float:
        """Closed-form KL(q || p(z | x)) for ``q = N(m, S)``, via the posterior precision."""
        mean, cov, chol = _gaussian_q(m, S, self.latent_dim)
        post_mean, _ = self.posterior(x)
        precision = self._precision()
        d = post_mean - mean
        logdet_precision = 2.0 * float(np.sum(np.log(np.diag(np.linalg.cholesky(precision)))))
        logdet_s = 2.0 * float(np.sum(np.log(np.diag(chol))))
        return 0.5 * (
            float(np.sum(precision * cov))
            + float(d @ precision @ d)
            - self.latent_dim
            - logdet_precision
            - logdet_s
        )

    def log_joint(self, x: ArrayLike, z: ArrayLike) -> FloatArray:
        """``log p(x, z)`` for a batch ``z`` of shape ``(m, k)``."""
        xv = self._x(x)
        zz = np.asarray(z, dtype=float).reshape(-1, self.latent_dim)
        resid = xv - _rows_times(zz, self.W) - self.b
        var = self.sigma**2
        loglik = (
            -0.5 * self.obs_dim * (_LOG_2PI + math.log(var))
            - 0.5 * np.sum(resid * resid, axis=1) / var
        )
        logprior = -0.5 * self.latent_dim * _LOG_2PI - 0.5 * np.sum(zz * zz, axis=1)
        return np.asarray(loglik + logprior, dtype=float)

    def elbo_mc(
        self, x: ArrayLike, m: ArrayLike, S: ArrayLike, n: int, seed: int, **kwargs: Any
    ) -> MCEstimate:
        """Monte Carlo ELBO of ``q = N(m, S)``; keyword arguments go to :func:`kl_mc`."""
        return _elbo_mc(self, x, m, S, n, seed, **kwargs)


def _elbo_mc(
    model: LinearGaussianModel | BernoulliLogisticModel,
    x: ArrayLike,
    m: ArrayLike,
    S: ArrayLike,
    n: int,
    seed: int,
    **kwargs: Any,
) -> MCEstimate:
    """ELBO = -KL(q || p(x, ·)): :func:`kl_mc` against the unnormalized joint."""
    import scipy.stats

    k = model.latent_dim
    mean, cov, _ = _gaussian_q(m, S, k)
    xv = np.asarray(x, dtype=float)
    joint = LogDensity(lambda z: model.log_joint(xv, z), dim=k, name="log p(x, z)")
    est = kl_mc(scipy.stats.multivariate_normal(mean, cov), joint, n, seed, **kwargs)
    return dataclasses.replace(est, estimate=-est.estimate)


# --------------------------------------------------------------------------
# Bernoulli decoder


@dataclasses.dataclass(frozen=True)
class QuadratureResult:
    """``log p(x)`` by adaptive cubature, with its error bound.

    Attributes
    ----------
    value : float
        ``log p(x)``.
    error_bound : float
        Bound on ``|value - log p(x)|`` implied by the cubature's Gauss–Kronrod
        error estimate ``e`` on the integral ``I``: ``-log(1 - e/I)``.  It is an
        estimate (the standard one for adaptive quadrature), not a
        machine-checked enclosure.
    posterior_mean : ndarray
        Posterior mean of ``z``, by the same cubature.
    posterior_cov : ndarray
        Posterior covariance of ``z``.
    """

    value: float
    error_bound: float
    posterior_mean: FloatArray
    posterior_cov: FloatArray


@dataclasses.dataclass(frozen=True, eq=False)
class BernoulliLogisticModel:
    """``p(z) = N(0, I_k)``, ``x_i | z ~ Bernoulli(σ(w_iᵀ z + c_i))``, ``k`` in {1, 2}.

    >>> import numpy as np
    >>> model = BernoulliLogisticModel.random(latent_dim=1, obs_dim=8, seed=0)
    >>> x = model.sample(seed=1)[1]
    >>> res = model.log_marginal(x)
    >>> res.error_bound < 1e-8
    True
    >>> bool(model.elbo_quadrature(x, res.posterior_mean, res.posterior_cov) <= res.value)
    True
    """

    W: FloatArray
    c: FloatArray

    def __post_init__(self) -> None:
        W = np.atleast_2d(np.asarray(self.W, dtype=float))
        c = np.atleast_1d(np.asarray(self.c, dtype=float))
        if W.ndim != 2 or c.shape != (W.shape[0],):
            raise EvidenceError(
                f"W must be (n, k) and c (n,), got W.shape={W.shape}, c.shape={c.shape}"
            )
        if W.shape[1] not in (1, 2):
            raise EvidenceError(
                f"the quadrature model supports 1 or 2 latent dimensions, got k={W.shape[1]}"
            )
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(c))):
            raise EvidenceError("W and c must be finite")
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "c", c)

    @classmethod
    def random(cls, latent_dim: int, obs_dim: int, seed: int) -> BernoulliLogisticModel:
        """A random instance with standard-normal weights and offsets."""
        rng = np.random.default_rng(seed)
        return cls(W=rng.standard_normal((obs_dim, latent_dim)), c=rng.standard_normal(obs_dim))

    @property
    def latent_dim(self) -> int:
        """``k``."""
        return int(self.W.shape[1])

    @property
    def obs_dim(self) -> int:
        """``n``."""
        return int(self.W.shape[0])

    def _x(self, x: ArrayLike) -> FloatArray:
        arr = np.atleast_1d(np.asarray(x, dtype=float))
        if arr.shape != (self.obs_dim,) or not np.all((arr == 0.0) | (arr == 1.0)):
            raise EvidenceError(
                f"x must be a 0/1 vector of shape ({self.obs_dim},), got x={arr.tolist()!r}"
            )
        return arr

    def sample(self, seed: int) -> tuple[FloatArray, FloatArray]:
        """Draw ``(z, x)`` from the joint."""
        rng = np.random.default_rng(seed)
        z = rng.standard_normal(self.latent_dim)
        prob = 1.0 / (1.0 + np.exp(-(self.W @ z + self.c)))
        return z, (rng.random(self.obs_dim) < prob).astype(float)

    def log_likelihood(self, x: ArrayLike, z: ArrayLike) -> FloatArray:
        """``log p(x | z)`` for a batch ``z`` of shape ``(m, k)``, computed stably."""
        xv = self._x(x)
        zz = np.asarray(z, dtype=float).reshape(-1, self.latent_dim)
        logits = _rows_times(zz, self.W) + self.c
        # log σ(a) = -log(1 + e^{-a}); log σ(-a) = -log(1 + e^{a})
        signed = np.where(xv == 1.0, logits, -logits)
        return np.asarray(-np.sum(np.logaddexp(0.0, -signed), axis=1), dtype=float)

    def log_joint(self, x: ArrayLike, z: ArrayLike) -> FloatArray:
        """``log p(x, z)`` for a batch ``z`` of shape ``(m, k)``."""
        zz = np.asarray(z, dtype=float).reshape(-1, self.latent_dim)
        logprior = -0.5 * self.latent_dim * _LOG_2PI - 0.5 * np.sum(zz * zz, axis=1)
        return self.log_likelihood(x, zz) + logprior

    def log_marginal(self, x: ArrayLike, *, rtol: float = 1e-10) -> QuadratureResult:
        """``log p(x)`` by adaptive cubature over ``R^k``, with an error bound.

        The log-joint is strictly concave, so it has one mode ``z*``.  The
        integrand is recentred and rescaled there (``z = z* + L u`` with ``L Lᵀ``
        the inverse Hessian), ``exp(log p(x, z) - log p(x, z*))`` is integrated
        over ``u`` with :func:`scipy.integrate.cubature` (Gauss–Kronrod, infinite
        limits), and the posterior mean and covariance come from the same rule.
        """
        xv = self._x(x)
        k = self.latent_dim

        def negative(z: FloatArray) -> float:
            return -float(self.log_joint(xv, z)[0])

        def gradient(z: FloatArray) -> FloatArray:
            logits = self.W @ z + self.c
            prob = 1.0 / (1.0 + np.exp(-logits))
            return np.asarray(-(self.W.T @ (xv - prob)) + z, dtype=float)

        found = scipy.optimize.minimize(
            negative, np.zeros(k), jac=gradient, method="BFGS", options={"gtol": 1e-10}
        )
        mode = np.asarray(found.x, dtype=float)
        logits = self.W @ mode + self.c
        prob = 1.0 / (1.0 + np.exp(-logits))
        hessian = np.eye(k) + (self.W.T * (prob * (1.0 - prob))) @ self.W
        scale = np.linalg.cholesky(np.linalg.inv(hessian))
        peak = -negative(mode)

        def integrand(u: FloatArray) -> FloatArray:
            z = mode + u @ scale.T
            weight = np.exp(self.log_joint(xv, z) - peak)
            outer = (z[:, :, None] * z[:, None, :]).reshape(z.shape[0], k * k)
            return np.concatenate(
                [weight[:, None], weight[:, None] * z, weight[:, None] * outer], axis=1
            )

        res = scipy.integrate.cubature(
            integrand, np.full(k, -np.inf), np.full(k, np.inf), rtol=rtol, atol=0.0
        )
        estimate = np.asarray(res.estimate, dtype=float)
        error = np.asarray(res.error, dtype=float)
        mass, abserr = float(estimate[0]), float(error[0])
        if not (mass > 0.0 and abserr < mass):
            raise EvidenceError(
                f"cubature of p(x) failed: integral {mass!r} with error estimate {abserr!r}"
            )
        log_det = float(np.sum(np.log(np.diag(scale))))
        value = peak + log_det + math.log(mass)
        mean = estimate[1 : 1 + k] / mass
        second = estimate[1 + k :].reshape(k, k) / mass
        cov = second - np.outer(mean, mean)
        return QuadratureResult(
            value=value,
            error_bound=-math.log1p(-abserr / mass),
            posterior_mean=mean,
            posterior_cov=0.5 * (cov + cov.T),
        )

    def elbo_quadrature(
        self, x: ArrayLike, m: ArrayLike, S: ArrayLike, *, order: int = 48
    ) -> float:
        """ELBO of ``q = N(m, S)`` with ``E_q[log p(x | z)]`` by Gauss–Hermite.

        The prior term and the entropy are closed forms.  ``log p(x | z)`` is
        smooth and grows at most linearly, so a tensor Gauss–Hermite rule of
        ``order`` nodes per dimension converges fast.
        """
        mean, cov, chol = _gaussian_q(m, S, self.latent_dim)
        nodes, weights = np.polynomial.hermite_e.hermegauss(order)
        weights = weights / math.sqrt(2.0 * math.pi)
        grids = np.meshgrid(*([nodes] * self.latent_dim), indexing="ij")
        u = np.stack([g.reshape(-1) for g in grids], axis=1)
        w = np.ones(u.shape[0])
        for g in np.meshgrid(*([weights] * self.latent_dim), indexing="ij"):
            w = w * g.reshape(-1)
        z = mean + u @ chol.T
        expected = float(w @ self.log_likelihood(x, z))
        return expected + _prior_cross_entropy(mean, cov) + _gaussian_entropy(chol)

    def elbo_mc(
        self, x: ArrayLike, m: ArrayLike, S: ArrayLike, n: int, seed: int, **kwargs: Any
    ) -> MCEstimate:
        """Monte Carlo ELBO of ``q = N(m, S)``; keyword arguments go to :func:`kl_mc`."""
        self._x(x)
        return _elbo_mc(self, x, m, S, n, seed, **kwargs)
