"""Benchmark of ``elbo-check validate``: time per implementation, and the zoo's mutation score.

Budgets (issue 5): one implementation with the default number of examples
under 3 s; ``--args auto --reduction auto`` under 15 s.  Run from the
repository root::

    PYTHONPATH=.:tests python benchmarks/bench_validate.py [--repeat 5]

Prints the median wall time of each case (cold imports excluded by a warm-up
run), its ratio to the budget, and the mutation score (killed / total, and how
many diagnoses name the expected bug class).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from kl_zoo import numpy_impls

from elbo_check import validate

__all__ = ["main"]


def _median_time(run: Callable[[], Any], repeat: int) -> float:
    run()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cases() -> list[tuple[str, Callable[[], Any], float]]:
    cases: list[tuple[str, Callable[[], Any], float]] = [
        ("numpy VAE line, sum", lambda: validate(numpy_impls.vae_sum, "mu,logvar", "sum"), 3.0),
        ("numpy VAE line, none", lambda: validate(numpy_impls.vae_none, "mu,logvar", "none"), 3.0),
        (
            "numpy general std, batch",
            lambda: validate(numpy_impls.general_std_expanded, "mu_q,std_q,mu_p,std_p", "none"),
            3.0,
        ),
        (
            "numpy full cov, none",
            lambda: validate(numpy_impls.full_cov, "mu_q,cov_q,mu_p,cov_p", "none"),
            3.0,
        ),
        (
            "numpy mutant (sign flip), sum",
            lambda: validate(numpy_impls.sign_flip, "mu,logvar", "sum"),
            3.0,
        ),
        (
            "numpy auto/auto, 2 args",
            lambda: validate(numpy_impls.keras_batchmean, "auto", "auto"),
            15.0,
        ),
        (
            "numpy auto/auto, 4 args",
            lambda: validate(numpy_impls.general_var_ratio, "auto", "auto"),
            15.0,
        ),
    ]
    try:
        import torch  # noqa: F401
    except ImportError:
        return cases
    from kl_zoo import torch_impls

    cases += [
        (
            "torch VAE line, sum",
            lambda: validate(torch_impls.pytorch_examples_vae, "mu,logvar", "sum", backend="torch"),
            3.0,
        ),
        (
            "torch Normal kl_divergence, batchmean",
            lambda: validate(
                torch_impls.normal_kl_batchmean_general,
                "mu_q,std_q,mu_p,std_p",
                "batchmean",
                backend="torch",
            ),
            3.0,
        ),
        (
            "torch MultivariateNormal, none",
            lambda: validate(
                torch_impls.mvn_scale_tril,
                "mu_q,scale_tril_q,mu_p,scale_tril_p",
                "none",
                backend="torch",
            ),
            3.0,
        ),
        (
            "torch auto/auto, 2 args",
            lambda: validate(torch_impls.keras_style, "auto", "auto", backend="torch"),
            15.0,
        ),
        (
            "torch auto/auto, 4 args",
            lambda: validate(torch_impls.independent_kl, "auto", "auto", backend="torch"),
            15.0,
        ),
    ]
    return cases


def _mutation_score() -> None:
    zoos: list[tuple[str, Any, str]] = [("numpy", numpy_impls, "numpy")]
    try:
        import torch  # noqa: F401
        from kl_zoo import torch_impls

        zoos.append(("torch", torch_impls, "torch"))
    except ImportError:
        pass
    total = killed = named = 0
    survivors: list[str] = []
    misnamed: list[str] = []
    false_alarms: list[str] = []
    for label, zoo, backend in zoos:
        for fn, args, reduction, bug in zoo.MUTANTS:
            result = validate(fn, args, reduction, backend=backend)
            total += 1
            if result.ok:
                survivors.append(f"{label}:{fn.__name__}")
                continue
            killed += 1
            if result.bug_class == bug:
                named += 1
            else:
                misnamed.append(f"{label}:{fn.__name__} ({result.bug_class}, expected {bug})")
        for fn, args, reduction in zoo.CORRECT:
            if not validate(fn, args, reduction, backend=backend).ok:
                false_alarms.append(f"{label}:{fn.__name__}")
    n_correct = sum(len(z.CORRECT) for _, z, _ in zoos)
    print(f"\nmutation score: {killed}/{total} killed, {named}/{total} with the expected bug class")
    print(f"survivors: {', '.join(survivors) or 'none'}")
    print(f"misnamed: {', '.join(misnamed) or 'none'}")
    print(
        f"false alarms on correct forms: {len(false_alarms)}/{n_correct} {', '.join(false_alarms)}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print medians, budget ratios and the mutation score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    ns = parser.parse_args(argv)
    print(f"{'case':45s} {'median s':>9s} {'budget s':>9s} {'ratio':>7s}")
    for name, run, budget in _cases():
        t = _median_time(run, ns.repeat)
        print(f"{name:45s} {t:9.3f} {budget:9.1f} {t / budget:7.3f}")
    _mutation_score()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
