"""The numpy fast path for large arrays: cache-blocked, in-place, multi-threaded.

It computes the function of :func:`elbo_check.kernel._numerics.kl_pieces`
with the same :class:`~elbo_check.kernel._numerics.Params`, tile by tile in L2
with in-place ufuncs, on a small thread pool.  Rows whose sum is not finite
(overflow of an intermediate, inf or nan inputs) are redone by ``kl_pieces``.

>>> import numpy as np
>>> from elbo_check.kernel._tiles import kl_tiled
>>> kl_tiled([np.zeros((2, 3)), np.full((2, 3), 1e-9), None, None], (2, 3), "batch")
array([7.5e-19, 7.5e-19])
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from elbo_check.kernel._numerics import kl_pieces, params_for

__all__ = ["FAST_MIN_SIZE", "finish_rows", "kl_single", "kl_tiled"]

# below it numpy takes the small-batch path (measured crossover: the tiles cost
# 1.2-1.5x the small-batch path at 2^13 elements, 0.9-1.3x at 2^14, 0.5-0.7x at 2^15)
FAST_MIN_SIZE = 1 << 15
# Up to this fraction of small-|d| elements in a tile, the polynomial runs on
# those elements alone (gather, evaluate, scatter); above it, on the whole tile
# with an exact 0/1 blend.  Measured crossover on this machine: about one half.
_GATHER_MAX = 0.5
_THREAD_MIN_SIZE = 1 << 18  # below it the fast path runs on the calling thread
_TILE_BYTES = 1 << 17  # 128 KiB per buffer: the buffers stay inside a 1 MiB L2
# With threads, bigger tiles: each ufunc call re-takes the GIL, and with 128 KiB
# calls the handoffs between two threads cost more than the second core brings
# (measured: 1.1x at 128 KiB, 1.7-2x at 512 KiB, which the L3 still holds).
_THREAD_TILE_BYTES = 1 << 19
_CHUNKS_PER_WORKER = 2
_MAX_WORKERS = min(
    4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's threads: start a fresh pool there."""
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix="elbo-check-kernel")
        return _POOL


def _half_kl_tile(np: Any, parts: list[Any], buf: dict[str, Any]) -> Any:
    """Unhalved f(d) + m² for one tile, into the tile buffers; returns the result view.

    Per tile: the large branch (exp/expm1) runs on the whole tile if any |d| is
    large; the polynomial runs on the whole tile if every |d| is small.  With a
    mix, when at most ``_GATHER_MAX`` of the tile is small, the polynomial runs on
    the small elements alone (gather, evaluate, scatter over the large branch's
    values); otherwise both branches run on the whole tile and are blended with
    exact 0/1 weights.  A branch's values on elements it does not own are finite
    garbage, or inf/nan that the caller's row fixup redoes exactly.  Every other
    step is one in-place ufunc pass over data in L2.
    """
    mu, lv, mu_p, lv_p = parts
    p = params_for(lv.dtype)
    a, mk, e, sq = buf["a"], buf["mask"], buf["e"], buf["sq"]
    if lv_p is None:
        d, d_lo = lv, None
    else:
        d, d_lo = buf["d"], buf["d_lo"]
        np.subtract(lv, lv_p, out=d)
        np.subtract(d, lv, out=d_lo)  # TwoSum error of lv + (−lv_p), five passes
        np.subtract(d, d_lo, out=a)
        np.subtract(lv, a, out=a)
        np.add(lv_p, d_lo, out=d_lo)
        np.subtract(a, d_lo, out=d_lo)
    np.abs(d, out=a)
    mb = buf["mb"]
    np.less(a, p.threshold, out=mb)
    n_small = int(np.count_nonzero(mb))
    # few small elements: evaluate the polynomial on those alone (gather/scatter)
    gather = 0 < n_small <= _GATHER_MAX * mb.size and d.flags.c_contiguous
    if n_small < mb.size:
        # large branch: expm1(d) - d (float32: numpy's expm1 is fast; float64: exp - 1)
        if p.use_expm1:
            np.expm1(d, out=e)
        else:
            np.exp(d, out=e)
            np.subtract(e, 1.0, out=e)  # exact (Sterbenz) where it matters
        if d_lo is not None:  # f(d_hi + d_lo) ≈ f(d_hi) + expm1(d_hi)·d_lo
            np.multiply(d_lo, e, out=d_lo)
        np.subtract(e, d, out=e)
    if gather:
        idx = mb.reshape(-1).nonzero()[0]  # np.flatnonzero, without its Python layers
        c = d.reshape(-1).take(idx)
        g = c * p.coeffs[-1]
        for coeff in p.coeffs[-2:0:-1]:
            g += coeff
            g *= c
        g += p.coeffs[0]
        g *= c * c
        e.reshape(-1)[idx] = g
    elif n_small:
        np.copyto(mk, mb)  # 1.0 where |d| is small, else 0.0
        # small branch: d²·G(d), G a polynomial (Horner)
        coeffs = p.coeffs
        np.multiply(d, coeffs[-1], out=a)
        for coeff in coeffs[-2:0:-1]:
            np.add(a, coeff, out=a)
            np.multiply(a, d, out=a)
        np.add(a, coeffs[0], out=a)
        np.square(d, out=sq)
        if n_small == mk.size:
            np.multiply(a, sq, out=e)
            if d_lo is not None:  # expm1(d)·d_lo with expm1(d) ≈ d here
                np.multiply(d_lo, d, out=d_lo)
        else:
            np.multiply(a, sq, out=a)
            # blend with exact weights: small·poly + (1 - small)·large
            np.multiply(a, mk, out=a)
            np.subtract(1.0, mk, out=mk)
            np.multiply(e, mk, out=e)
            np.add(e, a, out=e)
    if d_lo is not None:
        np.add(e, d_lo, out=e)
    m = mu
    if mu_p is not None:
        m = np.subtract(mu, mu_p, out=buf["m"])
    if lv_p is not None:
        w = np.multiply(lv_p, -0.5, out=buf["w"])
        np.exp(w, out=w)
        m = np.multiply(m, w, out=buf["m"])
    np.square(m, out=sq)
    return np.add(e, sq, out=e)


def _buffer_names(arrays: list[Any]) -> list[str]:
    """The tile buffers :func:`_half_kl_tile` writes for these inputs."""
    used = ["a", "mask", "e", "sq"]
    if arrays[2] is not None or arrays[3] is not None:
        used += ["m", "w"]
    if arrays[3] is not None:
        used += ["d", "d_lo"]
    return used


def kl_single(arrays: list[Any], reduction: str) -> Any:
    """:func:`kl_tiled` as one tile on the calling thread: small non-empty arrays of one shape.

    The plain-ndarray fast path below :data:`FAST_MIN_SIZE`: no pool, no
    tiling, the buffers allocated once per call.

    >>> import numpy as np
    >>> kl_single([np.zeros((2, 3)), np.full((2, 3), 1e-9), None, None], "batch")
    array([7.5e-19, 7.5e-19])
    """
    import numpy as np

    lv = arrays[1]
    shape = lv.shape
    width = shape[-1]
    rows = lv.size // width
    views = [None if x is None else x.reshape(rows, width) for x in arrays]
    buf = {name: np.empty((rows, width), dtype=lv.dtype) for name in _buffer_names(arrays)}
    buf["mb"] = np.empty((rows, width), dtype=bool)
    with np.errstate(all="ignore"):
        full = _half_kl_tile(np, views, buf)
        half_rows = np.sum(full, axis=1)
        half_rows *= 0.5
        elementwise = np.multiply(full, 0.5, out=full) if reduction == "none" else None
    return finish_rows(views, half_rows, elementwise, shape, reduction)


def finish_rows(
    views: list[Any], half_rows: Any, elementwise: Any, shape: tuple[int, ...], reduction: str
) -> Any:
    """Redo the rows that are not finite, then reduce the row sums (or the elements).

    ``half_rows`` holds the KL summed over each row (float64, or the inputs' dtype).
    """
    import numpy as np

    rows = len(half_rows)
    with np.errstate(all="ignore"):
        bad = np.flatnonzero(~np.isfinite(half_rows))
        if bad.size:  # overflow of an intermediate, or inf/nan inputs: redo exactly
            parts = [None if v is None else v[bad] for v in views]
            fixed = kl_pieces(np, *parts)[0]
            half_rows[bad] = np.sum(fixed, axis=1)
            if elementwise is not None:
                elementwise[bad] = fixed
    if reduction == "none":
        assert elementwise is not None
        return elementwise.reshape(shape)
    if reduction == "batch":
        return half_rows.reshape(shape[:-1])[()]  # 1-D input: a scalar, as np.sum gives
    total = half_rows.sum()
    if reduction == "sum":
        return total
    return total / (rows if reduction == "batchmean" else rows * shape[-1])


def kl_tiled(arrays: list[Any], shape: tuple[int, ...], reduction: str) -> Any:
    """The KL of numpy ``arrays`` (mu, logvar, mu_p, logvar_p; ``None`` for no prior), reduced.

    The same values as :func:`~elbo_check.kernel._numerics.kl_pieces`, blocked.
    """
    import numpy as np

    dtype = arrays[1].dtype
    width = shape[-1]
    rows = math.prod(shape[:-1])
    views = [None if x is None else np.broadcast_to(x, shape).reshape(rows, width) for x in arrays]
    size = rows * width
    workers = _MAX_WORKERS if size >= _THREAD_MIN_SIZE and rows >= _MAX_WORKERS else 1
    tile = max(1, (_THREAD_TILE_BYTES if workers > 1 else _TILE_BYTES) // dtype.itemsize)
    if width <= tile:
        tile_rows, tile_cols = max(1, tile // width), width
    else:
        tile_rows, tile_cols = 1, tile
    half_rows = np.zeros(rows, dtype=dtype)
    elementwise = np.empty((rows, width), dtype=dtype) if reduction == "none" else None
    used = _buffer_names(arrays)

    def work(start: int, stop: int) -> None:
        flat = {name: np.empty(tile_rows * tile_cols, dtype=dtype) for name in used}
        flat["mb"] = np.empty(tile_rows * tile_cols, dtype=bool)
        full_tile = {k: v.reshape(tile_rows, tile_cols) for k, v in flat.items()}
        sums = np.empty(tile_rows, dtype=dtype)
        with np.errstate(all="ignore"):
            for r0 in range(start, stop, tile_rows):
                r1 = min(r0 + tile_rows, stop)
                for c0 in range(0, width, tile_cols):
                    c1 = min(c0 + tile_cols, width)
                    if r1 - r0 == tile_rows and c1 - c0 == tile_cols:
                        buf = full_tile  # the common case: no per-tile reshaping
                    else:
                        size = (r1 - r0) * (c1 - c0)
                        buf = {k: v[:size].reshape(r1 - r0, c1 - c0) for k, v in flat.items()}
                    parts = [None if v is None else v[r0:r1, c0:c1] for v in views]
                    full = _half_kl_tile(np, parts, buf)
                    rows_sum = np.sum(full, axis=1, out=sums[: r1 - r0])
                    np.multiply(rows_sum, 0.5, out=rows_sum)
                    np.add(half_rows[r0:r1], rows_sum, out=half_rows[r0:r1])
                    if elementwise is not None:
                        np.multiply(full, 0.5, out=elementwise[r0:r1, c0:c1])

    if workers > 1:
        # a few chunks per worker, so that a worker slowed by other processes takes fewer
        step = max(tile_rows, -(-rows // (_CHUNKS_PER_WORKER * workers)))
        futures = [_pool().submit(work, s, min(s + step, rows)) for s in range(0, rows, step)]
        for future in futures:
            future.result()
    else:
        work(0, rows)

    return finish_rows(views, half_rows, elementwise, shape, reduction)
