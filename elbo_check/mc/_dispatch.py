"""Wrap any accepted distribution in the adapter for its type."""

from __future__ import annotations

from typing import Any

import scipy.stats

from elbo_check.mc._base import _Adapter, _describe, _is_multivariate_normal, _is_scipy_univariate
from elbo_check.mc._gaussian import _MultivariateNormal
from elbo_check.mc._product import Independent, _Product
from elbo_check.mc._results import DistributionTypeError
from elbo_check.mc._univariate import _Generic, _Univariate

__all__: list[str] = []


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
