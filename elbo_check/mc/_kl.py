"""The estimator :func:`kl_mc`."""

from __future__ import annotations

import math
from typing import Any

from elbo_check.errors import EvidenceError
from elbo_check.mc._dispatch import _adapt
from elbo_check.mc._plan import METHODS, _chunk_plan, _finish, _InfiniteKL, _Plan, _support_note
from elbo_check.mc._results import MCEstimate, _as_count
from elbo_check.mc._runners import _run_dask, _run_numpy

__all__ = ["kl_mc"]


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
