"""Gaussian control variates: second-order Hermite terms of the whitened draw."""

from __future__ import annotations

import numpy as np

from elbo_check.mc._base import _LOG_2PI, FloatArray

__all__ = ["MAX_CROSS_DIM"]


#: Gaussian control variates include cross products e_i e_j up to this dimension.
MAX_CROSS_DIM = 16


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
