"""Adapters for scipy.stats univariate distributions and generic densities (:class:`LogDensity`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from elbo_check.errors import EvidenceError
from elbo_check.mc._base import (
    FloatArray,
    _call_logpdf,
    _describe,
    _EntropyControl,
    _is_scipy_univariate,
)
from elbo_check.mc._results import DistributionTypeError, _as_count

__all__ = ["LogDensity"]


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
