"""GPU check of the loss kernel for torch CUDA and JAX GPU: accuracy, no host syncs, speed.

Usage (on a machine with a GPU, from the repository root)::

    python benchmarks/gpu_check.py           # a minute or two
    python benchmarks/gpu_check.py --quick   # fewer repeats
    python benchmarks/gpu_check.py --cpu     # a dry run of the script itself, on the CPU

For each library that sees a GPU, the script

1. evaluates ``gaussian_kl`` and its gradient on the GPU at the edge points of
   ``tests/_oracle.py`` (q ≈ p, extreme log-variances, the overflow windows),
   float32 and float64, standard and general prior, and checks values and
   every partial against the 60-digit mpmath oracle: relative error at most
   1e-14 (float64) and 1e-5 (float32), the same assertions as
   ``tests/test_kernel_autodiff.py`` on the CPU;
2. torch: runs forward and backward under ``torch.cuda.set_sync_debug_mode
   ("error")``, which raises on any synchronising call: the CUDA path must not
   sync with the host;
3. prints forward + backward time against the textbook line with autograd (and
   ``jax.jit`` of the textbook line for JAX) at 128×32, 256×512 and 4096×512,
   as medians of paired per-repeat ratios.

CuPy has its own script, ``benchmarks/gpu_cupy_check.py``.  It exits 0 when
every check passes, 1 when one fails, and 0 with a message when neither library
sees a GPU (so it is safe to run anywhere).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from _oracle import edge_columns, edge_failures  # noqa: E402  (tests/_oracle.py)

from elbo_check.kernel import gaussian_kl  # noqa: E402

SHAPES = [(128, 32), (256, 512), (4096, 512)]
TORCH_DEVICE, JAX_PLATFORM = "cuda", "gpu"  # --cpu: a dry run of this script on the CPU


def paired_ratio(
    ours: Callable[[], Any], theirs: Callable[[], Any], sync: Callable[[], Any], repeats: int
) -> tuple[float, float]:
    """(median seconds of ours, median of the per-repeat ratios ours/theirs)."""
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    fns = {"ours": ours, "theirs": theirs}
    for fn in fns.values():
        fn()
        sync()
    for r in range(repeats):
        for name in ["ours", "theirs"] if r % 2 == 0 else ["theirs", "ours"]:
            sync()
            start = time.perf_counter()
            for _ in range(10):
                fns[name]()
            sync()
            times[name].append((time.perf_counter() - start) / 10)
    ratio = float(np.median(np.asarray(times["ours"]) / np.asarray(times["theirs"])))
    return float(np.median(times["ours"])), ratio


# --------------------------------------------------------------------------
# torch CUDA
# --------------------------------------------------------------------------


def torch_cuda() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch if TORCH_DEVICE == "cpu" or torch.cuda.is_available() else None


def torch_accuracy(torch: Any) -> list[str]:
    failures = []
    for dtype in (np.float64, np.float32):
        cols = edge_columns(dtype)
        for prior in (False, True):
            tensors = [torch.tensor(c, device=TORCH_DEVICE, requires_grad=True) for c in cols]
            args = tensors if prior else tensors[:2]
            cuda = TORCH_DEVICE == "cuda"
            if cuda:
                torch.cuda.set_sync_debug_mode("error")  # any host sync raises
            try:
                values = gaussian_kl(*args, reduction="none")
                gaussian_kl(*args, reduction="sum").backward()
            finally:
                if cuda:
                    torch.cuda.set_sync_debug_mode("default")
            grads = [t.grad.cpu().numpy() for t in args]
            misses = edge_failures(values.detach().cpu().numpy(), grads, cols, prior)
            failures += [
                f"torch {TORCH_DEVICE} {np.dtype(dtype).name} prior={prior}: {m}" for m in misses
            ]
    return failures


def torch_speed(torch: Any, repeats: int) -> None:
    print("torch CUDA, forward + backward (reduction='sum'):")
    for dtype in (torch.float32, torch.float64):
        for shape in SHAPES:
            mu = torch.randn(shape, dtype=dtype, device=TORCH_DEVICE, requires_grad=True)
            lv = torch.randn(shape, dtype=dtype, device=TORCH_DEVICE, requires_grad=True)

            def ours(mu: Any = mu, lv: Any = lv) -> None:
                gaussian_kl(mu, lv, reduction="sum").backward()

            def textbook(mu: Any = mu, lv: Any = lv) -> None:
                (-0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())).backward()

            sync = torch.cuda.synchronize if TORCH_DEVICE == "cuda" else (lambda: None)
            seconds, ratio = paired_ratio(ours, textbook, sync, repeats)
            print(
                f"  {dtype!s:14} {shape!s:12} ours {seconds * 1e6:9.1f} us   ours/textbook {ratio:5.2f}  (target <= 1.5)"
            )


# --------------------------------------------------------------------------
# JAX GPU
# --------------------------------------------------------------------------


def jax_gpu() -> Any:
    try:
        import jax
    except ImportError:
        return None
    try:
        gpus = jax.devices(JAX_PLATFORM)
    except RuntimeError:  # no GPU backend
        return None
    return jax if gpus else None


def jax_accuracy(jax: Any) -> list[str]:
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    gpu = jax.devices(JAX_PLATFORM)[0]
    failures = []
    for dtype in (np.float64, np.float32):
        cols = edge_columns(dtype)
        for prior in (False, True):
            args = [jax.device_put(jnp.asarray(c), gpu) for c in (cols if prior else cols[:2])]
            values = jax.jit(lambda *a: gaussian_kl(*a, reduction="none"))(*args)
            total = jax.jit(lambda *a: gaussian_kl(*a, reduction="sum"))
            grads = jax.jit(jax.grad(total, argnums=tuple(range(len(args)))))(*args)
            misses = edge_failures(np.asarray(values), [np.asarray(g) for g in grads], cols, prior)
            failures += [
                f"jax {JAX_PLATFORM} {np.dtype(dtype).name} prior={prior}: {m}" for m in misses
            ]
    return failures


def jax_speed(jax: Any, repeats: int) -> None:
    jnp = jax.numpy
    gpu = jax.devices(JAX_PLATFORM)[0]
    ours_vg = jax.jit(
        jax.value_and_grad(lambda m, l: gaussian_kl(m, l, reduction="sum"), argnums=(0, 1))
    )
    text_vg = jax.jit(
        jax.value_and_grad(lambda m, l: -0.5 * jnp.sum(1 + l - m**2 - jnp.exp(l)), argnums=(0, 1))
    )
    rng = np.random.default_rng(0)
    print("JAX GPU under jit, value_and_grad:")
    for dtype in (np.float32, np.float64):
        for shape in SHAPES:
            mu, lv = (
                jax.device_put(jnp.asarray(rng.standard_normal(shape).astype(dtype)), gpu)
                for _ in range(2)
            )
            seconds, ratio = paired_ratio(
                lambda mu=mu, lv=lv: jax.block_until_ready(ours_vg(mu, lv)),
                lambda mu=mu, lv=lv: jax.block_until_ready(text_vg(mu, lv)),
                lambda: None,
                repeats,
            )
            print(
                f"  {np.dtype(dtype).name:14} {shape!s:12} ours {seconds * 1e6:9.1f} us   ours/textbook {ratio:5.2f}  (target <= 1.5)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--cpu", action="store_true", help="dry run on the CPU (checks the script)")
    args = parser.parse_args(argv)
    global TORCH_DEVICE, JAX_PLATFORM
    if args.cpu:
        TORCH_DEVICE, JAX_PLATFORM = "cpu", "cpu"
    repeats = 5 if args.quick else 21
    torch, jax = torch_cuda(), jax_gpu()
    if torch is None and jax is None:
        print("no GPU seen by torch or JAX: nothing to check")
        return 0
    failures: list[str] = []
    if torch is not None:
        name = torch.cuda.get_device_name() if TORCH_DEVICE == "cuda" else "the CPU"
        print(f"torch {torch.__version__} on {name}")
        failures += torch_accuracy(torch)
        torch_speed(torch, repeats)
    if jax is not None:
        print(f"jax {jax.__version__} on {jax.devices(JAX_PLATFORM)[0]}")
        failures += jax_accuracy(jax)
        jax_speed(jax, repeats)
    print()
    if failures:
        print(f"{len(failures)} accuracy check(s) failed:")
        for line in failures:
            print("  " + line)
        return 1
    where = "on the CPU (dry run)" if args.cpu else "on the GPU"
    print(f"every accuracy check passed (values and gradients, float32 and float64, {where})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
