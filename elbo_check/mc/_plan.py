"""The chunk plan: draws per chunk, streaming moments, density checks and the final regression."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from elbo_check.errors import EvidenceError
from elbo_check.mc._base import FloatArray, _Adapter
from elbo_check.mc._results import MCEstimate, _as_count

__all__ = ["DEFAULT_CHUNK_SIZE", "METHODS"]


#: Samples of ``q`` per chunk unless ``chunk_size=``/``chunks=`` say otherwise.
DEFAULT_CHUNK_SIZE = 65_536

#: The estimators :func:`kl_mc` offers.
METHODS = ("plain", "antithetic", "control_variate", "antithetic_cv")


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
