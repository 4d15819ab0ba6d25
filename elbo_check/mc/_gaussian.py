"""The ``scipy.stats.multivariate_normal`` adapter (Cholesky sampling, whitening, Hermite controls)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg

from elbo_check.errors import EvidenceError
from elbo_check.mc._base import _LOG_2PI, FloatArray, _Adapter, _rows_times
from elbo_check.mc._controls import _hermite_controls, _hermite_means

__all__: list[str] = []


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
