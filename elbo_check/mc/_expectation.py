"""Plain Monte Carlo expectations E_q[f(z)] with the same seed stream as :func:`kl_mc`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from elbo_check.errors import EvidenceError
from elbo_check.mc._base import FloatArray
from elbo_check.mc._dispatch import _adapt
from elbo_check.mc._plan import DEFAULT_CHUNK_SIZE, _merge, _moments
from elbo_check.mc._results import DistributionTypeError, MCEstimate, _as_count

__all__ = ["expectation_mc"]


def expectation_mc(
    f: Callable[[Any], Any],
    q: Any,
    n: int,
    seed: int,
    *,
    chunk_size: int | None = None,
) -> MCEstimate:
    """Estimate ``E_{z ~ q}[f(z)]`` from ``n`` draws of ``q``, with its standard error.

    Draws come in chunks exactly as in :func:`kl_mc` (chunk ``i`` uses
    ``SeedSequence(seed, spawn_key=(i,))``), so the result depends only on
    ``(seed, chunk_size)`` and memory stays flat in ``n``.

    Parameters
    ----------
    f : callable
        Maps a batch of draws to one float per draw.  A one-dimensional ``q``
        passes shape ``(m,)``, a d-dimensional one ``(m, d)`` (the convention
        of ``logpdf``).
    q : distribution
        Anything :func:`kl_mc` accepts as ``q``.
    n : int
        Number of draws, at least 2.
    seed : int
        Non-negative root seed.
    chunk_size : int, optional
        Draws per chunk (default :data:`DEFAULT_CHUNK_SIZE`).

    Returns
    -------
    MCEstimate
        Method ``"plain"``.

    Raises
    ------
    EvidenceError
        Bad ``n``, ``seed`` or ``chunk_size``; ``f`` returns the wrong shape or
        a non-finite value (the message names the draw).

    >>> from scipy import stats
    >>> est = expectation_mc(lambda z: z**2, stats.norm(0.5, 2.0), 100_000, seed=0)
    >>> abs(est.estimate - 4.25) < 6 * est.se  # E[z²] = μ² + σ²
    True
    """
    if not callable(f):
        raise DistributionTypeError(f"expectation_mc needs a callable f, got f={f!r}")
    draws = _as_count(n, "n", minimum=2)
    root = _as_count(seed, "seed", minimum=0)
    size = (
        DEFAULT_CHUNK_SIZE if chunk_size is None else _as_count(chunk_size, "chunk_size", minimum=1)
    )
    adapter = _adapt(q, "q")
    total = np.zeros(3)
    for index in range(-(-draws // size)):
        m = min(size, draws - index * size)
        rng = np.random.default_rng(np.random.SeedSequence(root, spawn_key=(index,)))
        z = adapter.sample(rng, m)
        values = _values(f, z, index * size, root)
        total = _merge(total, _moments(values.reshape(m, 1)), 1)
    variance = float(total[2]) / (total[0] - 1.0)
    se = math.sqrt(max(variance, 0.0) / total[0])
    return MCEstimate(estimate=float(total[1]), se=se, n=draws, seed=root, method="plain")


def _values(f: Callable[[Any], Any], z: FloatArray, start: int, seed: int) -> FloatArray:
    """``f`` on a chunk of draws, checked for shape and finiteness."""
    m = z.shape[0]
    arg = z[:, 0] if z.shape[1] == 1 else z
    with np.errstate(all="ignore"):
        out = np.asarray(f(arg), dtype=float).reshape(-1)
    if out.shape != (m,):
        raise EvidenceError(f"f returned {out.size} values for {m} draws; expected {m}")
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        point = float(z[i, 0]) if z.shape[1] == 1 else z[i].tolist()
        raise EvidenceError(
            f"f returned {float(out[i])!r} at sample z={point!r} (draw {start + i} of seed {seed})"
        )
    return out
