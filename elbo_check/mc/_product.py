"""Products of independent univariate coordinates: :class:`Independent` and its adapter."""

from __future__ import annotations

from typing import Any

import numpy as np

from elbo_check.errors import EvidenceError
from elbo_check.mc._base import FloatArray, _Adapter, _describe, _is_multivariate_normal
from elbo_check.mc._controls import _hermite_controls, _hermite_means
from elbo_check.mc._results import DistributionTypeError, _as_count
from elbo_check.mc._univariate import _Univariate

__all__ = ["Independent"]


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
        return _Product(self, "q").sample(rng, m)

    def logpdf(self, x: Any) -> FloatArray:
        """Sum of the coordinate log-densities; ``x`` has shape ``(m, dim)`` or ``(dim,)``."""
        arr = np.asarray(x, dtype=float)
        z = arr.reshape(1, -1) if arr.ndim == 1 else arr
        out = _Product(self, "p").logpdf(z)
        return out if arr.ndim != 1 else out[:1]

    def entropy(self) -> float:
        """Sum of the coordinate entropies."""
        return float(sum(float(c.entropy()) for c in self.components))

    def __repr__(self) -> str:
        return f"Independent({', '.join(_describe(c) for c in self.components)})"


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
