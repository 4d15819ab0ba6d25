"""The numpy and dask runners: reduce a plan's chunks to merged moments."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from elbo_check.mc._base import FloatArray
from elbo_check.mc._plan import _merge, _moments, _Plan

__all__: list[str] = []


_PROGRESS_AFTER_S = 1.0


def _progress_wanted(progress: bool | None) -> bool:
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        return bool(isatty is not None and isatty())
    return bool(progress)


def _run_numpy(plan: _Plan, progress: bool | None) -> FloatArray:
    """Reduce the chunks one after the other; memory is one chunk."""
    width = plan.width
    total = np.zeros(1 + width + width * width)
    bar: Any = None
    started = time.perf_counter()
    try:
        for index in range(plan.n_chunks):
            total = _merge(total, plan.chunk_moments(index), width)
            if bar is not None:
                bar.update(1)
            elif index == 0 and plan.n_chunks > 1 and _progress_wanted(progress):
                projected = (time.perf_counter() - started) * plan.n_chunks
                if progress or projected > _PROGRESS_AFTER_S:
                    from tqdm.auto import tqdm

                    bar = tqdm(
                        total=plan.n_chunks, initial=1, unit="chunk", desc="kl_mc", file=sys.stderr
                    )
    finally:
        if bar is not None:
            bar.close()
    return total


def _run_dask(plan: _Plan, progress: bool | None) -> FloatArray:
    """Build the chunks as a lazy dask array and reduce on the active scheduler."""
    import dask.array as da
    from dask.base import compute

    width = plan.width
    sizes = tuple(plan.chunk_units(i) for i in range(plan.n_chunks))
    index = da.arange(plan.n_chunks, chunks=1)

    def draw_block(block: FloatArray) -> FloatArray:
        return plan.draw(int(block[0]))

    rows = index.map_blocks(
        draw_block, chunks=(sizes, (width,)), new_axis=1, dtype=float, meta=np.empty((0, width))
    )
    packed = 1 + width + width * width
    stats = rows.map_blocks(
        _moments,
        chunks=((packed,) * plan.n_chunks,),
        drop_axis=1,
        dtype=float,
        meta=np.empty((0,)),
    )
    if _progress_wanted(progress):
        from dask.diagnostics.progress import ProgressBar

        with ProgressBar(minimum=0.0 if progress else _PROGRESS_AFTER_S, out=sys.stderr):
            (flat,) = compute(stats)
    else:
        (flat,) = compute(stats)
    blocks = np.asarray(flat, dtype=float).reshape(plan.n_chunks, packed)
    total = np.zeros(packed)
    for block in blocks:
        total = _merge(total, block, width)
    return total
