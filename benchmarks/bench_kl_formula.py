"""Benchmark of ``elbo-check kl-formula``: per-pair time of the whole command path.

Usage::

    python benchmarks/bench_kl_formula.py            # every pair
    python benchmarks/bench_kl_formula.py --quick    # a few pairs

For each pair, ``run_kl(q, p)`` runs what ``elbo-check kl-formula --q Q --p P``
runs (parse, derive, check the derivation with the trusted checker, judge the
closed form numerically at 8 points) and the table splits its wall-clock time
into those stages.  The issue's target is derivation under 5 s per pair
(the ``derive`` + ``check`` columns).  A pair that is not derived shows
``undecided`` and only its parse time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from elbo_check.klformula.command import run_kl

#: same-family pairs with symbolic parameters, then the cross-family pairs of the docs
PAIRS = [
    ("Normal(m1, s1)", "Normal(m2, s2)"),
    ("Exponential(r1)", "Exponential(r2)"),
    ("Laplace(mu1, b1)", "Laplace(mu2, b2)"),
    ("Gamma(k1, t1)", "Gamma(k2, t2)"),
    ("Beta(a1, b1)", "Beta(a2, b2)"),
    ("Uniform(a1, b1)", "Uniform(a2, b2)"),
    ("LogNormal(m1, s1)", "LogNormal(m2, s2)"),
    ("Bernoulli(p1)", "Bernoulli(p2)"),
    ("Poisson(l1)", "Poisson(l2)"),
    ("Geometric(p1)", "Geometric(p2)"),
    ("Binomial(n, p1)", "Binomial(n, p2)"),
    ("Categorical(p1, p2, p3)", "Categorical(r1, r2, r3)"),
    ("Laplace(0, b)", "Normal(0, 1)"),
    ("Uniform(a, b)", "Normal(m, s)"),
    ("Normal(m, s)", "Uniform(a, b)"),
]
QUICK = [PAIRS[0], PAIRS[7], PAIRS[12]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only a few pairs")
    ns = parser.parse_args()
    rows = []
    for q, p in QUICK if ns.quick else PAIRS:
        start = time.perf_counter()
        report = run_kl(q, p)
        total = time.perf_counter() - start
        stages = dict(report.timings)
        rows.append((f"{q} || {p}", stages, total, report.status.name.lower()))
    width = max(len(r[0]) for r in rows)
    print(f"{'pair':<{width}}  {'derive':>8}  {'check':>8}  {'judge':>8}  {'total':>8}  verdict")
    for name, stages, total, verdict in rows:
        cells = "  ".join(f"{stages.get(k, 0.0):>7.3f}s" for k in ("derive", "check", "judge"))
        print(f"{name:<{width}}  {cells}  {total:>7.3f}s  {verdict}")


if __name__ == "__main__":
    main()
