"""Time every shipped derivation in one run (sympy import included).

Usage: ``python benchmarks/bench_prove.py``.  Targets: the whole library in
under 15 s on a 2-core machine, no single step over 3 s (issue 14).  Times vary with
machine load: compare the printed figures within one run.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import derivations  # noqa: E402
from elbo_check import Checker  # noqa: E402

IMPORTED = time.perf_counter()


def main() -> None:
    checker = Checker()
    rows = []
    slowest = (0.0, "")
    for d in derivations.all_derivations():
        t0 = time.perf_counter()
        result = checker.check(d)
        rows.append((d.name, result.verdict.value, len(result.steps), time.perf_counter() - t0))
        for r in result.steps:
            if r.seconds > slowest[0]:
                slowest = (r.seconds, f"{d.name} step {r.step.index}")
    total = time.perf_counter() - START
    print(f"{'derivation':<30} {'verdict':<10} {'steps':>5} {'seconds':>8}")
    for name, verdict, steps, seconds in rows:
        print(f"{name:<30} {verdict:<10} {steps:>5} {seconds:>8.2f}")
    print(f"imports (sympy included): {IMPORTED - START:.2f} s")
    print(f"total (imports + every derivation): {total:.2f} s  [target < 15 s]")
    print(f"slowest step: {slowest[1]} at {slowest[0]:.2f} s  [target < 3 s]")


if __name__ == "__main__":
    main()
