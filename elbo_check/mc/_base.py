"""The internal adapter interface over the accepted distribution types, and shared helpers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats
from numpy.typing import NDArray

from elbo_check.errors import EvidenceError
from elbo_check.mc._results import DistributionTypeError

__all__: list[str] = []

FloatArray = NDArray[np.float64]

_LOG_2PI = math.log(2.0 * math.pi)


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
