"""CuPy check of the loss kernel: results against numpy, then GPU throughput.

Usage (on a machine with a GPU and CuPy)::

    python benchmarks/gpu_cupy_check.py           # about a minute
    python benchmarks/gpu_cupy_check.py --quick   # 2^22 elements only

CuPy takes the same portable array-API path as torch and dask.  The script

1. checks ``gaussian_kl`` (all five reductions, standard and general prior),
   ``gaussian_kl_grad``, ``elbo_loss`` and ``elbo_loss_grad`` on CuPy against the
   numpy results, in float32 and float64, including the edge cases
   (logvar = 800 -> inf, nan propagation, float32 logvar = 89 finite);
2. prints the median time and throughput (elements/s) of ``gaussian_kl`` on
   the GPU next to the textbook line run with CuPy, for 2^22 and 2^25 elements.

It exits 0 when every check passes, 1 when one fails, and 0 with a message
when CuPy or a GPU is not available (so it is safe to run anywhere).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from elbo_check.kernel import (
    elbo_loss,
    elbo_loss_grad,
    gaussian_kl,
    gaussian_kl_grad,
)

RTOL = {np.float32: 2e-6, np.float64: 1e-13}


def load_cupy() -> Any:
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # no driver, no device
        return None
    return cupy


def check_against_numpy(cp: Any) -> list[str]:
    """Every public kernel function on CuPy vs numpy; returns the failures."""
    failures: list[str] = []
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        shape = (257, 33)
        mu = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-12, 2, shape)).astype(dtype)
        lv = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-12, 1, shape)).astype(dtype)
        mu_p = rng.standard_normal(shape[-1]).astype(dtype)
        lv_p = rng.standard_normal((shape[0], 1)).astype(dtype)
        lv[0, :4] = [800.0, np.nan, 89.0, -104.0]
        host = [mu, lv, mu_p, lv_p]
        dev = [cp.asarray(a) for a in host]
        rtol = RTOL[dtype]

        def compare(
            label: str, got: Any, want: Any, rtol: float = rtol, dtype: type = dtype
        ) -> None:
            if want is None:
                return
            got_h = cp.asnumpy(got) if isinstance(got, cp.ndarray) else np.asarray(got)
            if got_h.dtype != np.asarray(want).dtype:
                failures.append(f"{label} {dtype.__name__}: dtype {got_h.dtype}")
            try:
                np.testing.assert_allclose(got_h, want, rtol=rtol, atol=0)
            except AssertionError as error:
                failures.append(f"{label} {dtype.__name__}: {str(error).splitlines()[3:6]}")

        for prior in (False, True):
            n = 4 if prior else 2
            for reduction in ("none", "batch", "sum", "batchmean", "mean"):
                compare(
                    f"gaussian_kl prior={prior} {reduction}",
                    gaussian_kl(*dev[:n], reduction=reduction),
                    gaussian_kl(*host[:n], reduction=reduction),
                )
            for name, got, want in zip(
                ("mu", "logvar", "mu_p", "logvar_p"),
                gaussian_kl_grad(*dev[:n]),
                gaussian_kl_grad(*host[:n]),
                strict=True,
            ):
                compare(f"gaussian_kl_grad[{name}] prior={prior}", got, want)
        x = (rng.uniform(size=(257, 20)) > 0.5).astype(dtype)
        out = rng.standard_normal((257, 20)).astype(dtype)
        good = [a[1:] for a in (x, out, mu, np.nan_to_num(lv, posinf=0.0))]
        good_dev = [cp.asarray(a) for a in good]
        for likelihood in ("bernoulli", "gaussian"):
            for label, got, want in zip(
                ("loss", "reconstruction", "kl"),
                elbo_loss(*good_dev, likelihood=likelihood),
                elbo_loss(*good, likelihood=likelihood),
                strict=True,
            ):
                compare(f"elbo_loss {likelihood} {label}", got, want)
            for label, got, want in zip(
                ("decoder_out", "mu", "logvar", "obs_logvar"),
                elbo_loss_grad(*good_dev, likelihood=likelihood),
                elbo_loss_grad(*good, likelihood=likelihood),
                strict=True,
            ):
                compare(f"elbo_loss_grad {likelihood} {label}", got, want)
    return failures


def gpu_median(cp: Any, fun: Callable[[], Any], repeats: int) -> float:
    fun()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        cp.cuda.Device().synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def throughput(cp: Any, quick: bool) -> None:
    shapes = [(8192, 512)] if quick else [(8192, 512), (32768, 1024)]
    print(
        f"{'dtype':8} {'shape':>13} {'ours ms':>8} {'textbook ms':>12} {'ours/text':>10} {'Gelem/s':>8}"
    )
    for dtype in (cp.float32, cp.float64):
        for shape in shapes:
            rng = cp.random.default_rng(0)
            mu = rng.standard_normal(shape, dtype=dtype)
            lv = rng.standard_normal(shape, dtype=dtype)
            ours = gpu_median(cp, lambda mu=mu, lv=lv: gaussian_kl(mu, lv), 20)
            text = gpu_median(
                cp, lambda mu=mu, lv=lv: -0.5 * cp.sum(1 + lv - mu**2 - cp.exp(lv), axis=1), 20
            )
            size = shape[0] * shape[1]
            print(
                f"{cp.dtype(dtype).name:8} {shape!s:>13} {ours * 1e3:8.2f} {text * 1e3:12.2f} "
                f"{ours / text:10.2f} {size / ours / 1e9:8.2f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2^22 elements only")
    args = parser.parse_args(argv)
    cp = load_cupy()
    if cp is None:
        print("skipped: CuPy or a CUDA device is not available")
        return 0
    props = cp.cuda.runtime.getDeviceProperties(0)
    print(f"CuPy {cp.__version__} on {props['name'].decode()}")
    failures = check_against_numpy(cp)
    if failures:
        print("CuPy results differ from numpy:")
        for line in failures:
            print("  " + line)
    else:
        print("CuPy results match numpy (float32 and float64, all functions and reductions)")
    throughput(cp, args.quick)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
