"""Benchmark of ``elbo-check validate``: wall time per implementation, mutation score, held-out corpus.

Budgets (issue 9), on a 2-core machine: one torch validation under 3 s
*including* the torch import (a fresh ``elbo-check validate`` process), and
auto mode with the argument-order search (``--args auto --reduction auto``)
under 10 s.  Run from the repository root::

    python benchmarks/bench_validate.py [--repeat 5] [--quick]

Prints the median wall time of each case and its ratio to the budget, then
the zoo's mutation score (killed / total, and how many diagnoses name the
expected bug class), and the held-out corpus' count of specific diagnoses.
No assertion: the figures are for reading, the tests check behaviour.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from kl_zoo import heldout, numpy_impls  # noqa: E402

from elbo_check import validate  # noqa: E402

__all__ = ["main"]

TORCH_VAE = """
import torch
def kl(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)

def general(std_p, mu_p, std_q, mu_q):  # prior first, std before mean
    q = torch.distributions.Normal(mu_q, std_q)
    p = torch.distributions.Normal(mu_p, std_p)
    return torch.distributions.kl_divergence(q, p).sum(-1).mean()
"""


def _median_time(run: Callable[[], Any], repeat: int, warm: bool) -> float:
    if warm:
        run()  # warm-up: imports, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cli(target: str, *flags: str) -> Callable[[], Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "elbo_check", "validate", target, *flags, "--format", "json"]

    def run() -> None:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"exit {done.returncode}: {done.stderr[-500:]}")

    return run


def _cases(tmp: Path) -> list[tuple[str, Callable[[], Any], float, bool]]:
    """(name, run, budget in s, warm-up first?)"""
    cases: list[tuple[str, Callable[[], Any], float, bool]] = [
        ("numpy VAE line, sum (in process)", lambda: validate(numpy_impls.vae_sum, "mu,logvar", "sum"), 3.0, True),
        ("numpy full cov, none (in process)", lambda: validate(numpy_impls.full_cov, "mu_q,cov_q,mu_p,cov_p", "none"), 3.0, True),
        ("numpy mutant, sign flip (in process)", lambda: validate(numpy_impls.sign_flip, "mu,logvar", "sum"), 3.0, True),
        ("numpy auto/auto, 4 args (in process)", lambda: validate(numpy_impls.general_var_ratio, "auto", "auto"), 10.0, True),
        ("numpy CLI, fresh process", _cli(f"{ROOT}/tests/kl_zoo/numpy_impls.py:vae_batch", "--args", "mu,logvar", "--reduction", "batch"), 3.0, False),
    ]  # fmt: skip
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return cases
    except ImportError:
        return cases
    target = tmp / "torch_kl.py"
    target.write_text(TORCH_VAE)
    cases += [
        ("torch CLI, fresh process (torch import included)", _cli(f"{target}:kl", "--args", "mu,logvar", "--reduction", "batch", "--backend", "torch"), 3.0, False),
        ("torch CLI auto/auto, 4 args, prior first", _cli(f"{target}:general", "--args", "auto", "--reduction", "auto", "--backend", "torch"), 10.0, False),
    ]  # fmt: skip
    return cases


def _mutation_score() -> None:
    zoos: list[tuple[str, Any, str]] = [("numpy", numpy_impls, "numpy")]
    try:
        from kl_zoo import torch_impls

        zoos.append(("torch", torch_impls, "torch"))
    except ImportError:
        pass
    total = killed = named = 0
    misnamed: list[str] = []
    false_alarms: list[str] = []
    for label, zoo, backend in zoos:
        for fn, args, reduction, bug in zoo.MUTANTS:
            result = validate(fn, args, reduction, backend=backend)
            total += 1
            killed += not result.ok
            named += result.bug_class == bug
            if result.bug_class != bug:
                misnamed.append(f"{label}:{fn.__name__} ({result.bug_class}, expected {bug})")
        for fn, args, reduction in zoo.CORRECT:
            if not validate(fn, args, reduction, backend=backend).ok:
                false_alarms.append(f"{label}:{fn.__name__}")
    n_correct = sum(len(z.CORRECT) for _, z, _ in zoos)
    print(
        f"\nzoo mutation score: {killed}/{total} killed, {named}/{total} with the expected bug class"
    )
    print(f"misnamed: {', '.join(misnamed) or 'none'}")
    print(
        f"false alarms on correct forms: {len(false_alarms)}/{n_correct} {' '.join(false_alarms)}"
    )


def _heldout() -> None:
    named = sum(
        validate(fn, args, red, layout=lay).bug_class == bug
        for fn, args, red, lay, bug in heldout.BUGS
    )
    passing = sum(validate(fn, args, red, layout=lay).ok for fn, args, red, lay in heldout.CORRECT)
    print(f"held-out corpus: {named}/{len(heldout.BUGS)} real bugs with their specific bug class; "
          f"{passing}/{len(heldout.CORRECT)} correct implementations pass")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print medians, budget ratios and the scores."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="timings only, no scores")
    ns = parser.parse_args(argv)
    print(f"{'case':52s} {'median s':>9s} {'budget s':>9s} {'ratio':>7s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, run, budget, warm in _cases(Path(tmp)):
            t = _median_time(run, ns.repeat, warm)
            print(f"{name:52s} {t:9.3f} {budget:9.1f} {t / budget:7.3f}")
    if not ns.quick:
        _mutation_score()
        _heldout()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
