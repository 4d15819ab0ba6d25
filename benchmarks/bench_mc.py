"""Variance reduction in :func:`elbo_check.mc.kl_mc`, measured side by side.

For each case, plain MC runs with ``n`` draws and every other method with
``n / 4`` draws, same run, same machine.  The claim checked: a variance-reduced
method reaches plain MC's standard error with at least 4x fewer draws.

Printed per method:

* ``SE``: standard error of that run;
* ``var ratio``: plain variance per draw / method variance per draw, i.e. how
  many plain draws one draw of the method is worth (effective-sample ratio);
* ``n for plain SE``: draws the method needs to match plain's SE at ``n``;
* ``median s``: median wall time over ``--repeats`` runs of ``n`` draws;
* ``work ratio``: the var ratio divided by the time ratio, i.e. the speed-up
  at equal SE once the method's extra cost per draw is paid.

Run::

    python benchmarks/bench_mc.py            # n = 2**18, 3 repeats
    python benchmarks/bench_mc.py --n 1048576 --repeats 5
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from typing import Any

import numpy as np
from scipy import stats

from elbo_check.mc import METHODS, Independent, MCEstimate, kl_mc

__all__ = ["main"]

# a variance below this fraction of plain's is round-off: the method is exact there
_ROUNDOFF = 1e-12


def _cases() -> dict[str, tuple[Any, Any]]:
    rng = np.random.default_rng(2024)
    d = 8
    mu = rng.normal(0.0, 1.0, d)
    sigma = np.exp(rng.normal(-0.5, 0.4, d))
    diag_q = Independent(*(stats.norm(m, s) for m, s in zip(mu, sigma, strict=True)))
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    cov_q, cov_p = a @ a.T / 4 + 0.3 * np.eye(4), b @ b.T / 4 + 0.5 * np.eye(4)
    full_q = stats.multivariate_normal(rng.normal(size=4), cov_q)
    return {
        "diag N(μ,σ²) d=8 vs N(0,I)": (diag_q, Independent.iid(stats.norm(), d)),
        "diag N(μ,σ²) d=8 vs Student-t(5) prior": (diag_q, Independent.iid(stats.t(5.0), d)),
        "diag N(μ,σ²) d=8 vs Laplace prior": (diag_q, Independent.iid(stats.laplace(), d)),
        "full-cov N d=4 vs full-cov N": (full_q, stats.multivariate_normal(np.zeros(4), cov_p)),
        "full-cov N d=4 vs multivariate t(4)": (
            full_q,
            stats.multivariate_t(np.zeros(4), cov_p, df=4),
        ),
    }


def _timed(q: Any, p: Any, n: int, method: str, repeats: int) -> tuple[MCEstimate, float]:
    times = []
    est = None
    for r in range(repeats):
        start = time.perf_counter()
        est = kl_mc(q, p, n, seed=r, method=method)
        times.append(time.perf_counter() - start)
    assert est is not None
    return est, statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 when the 4x claim holds on every non-exact case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1 << 18, help="plain MC draws (default 2**18)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    args = parser.parse_args(argv)
    n, quarter = args.n, args.n // 4
    best_ratios: list[float] = []
    print(f"plain MC: n={n}; other methods side by side at n/4={quarter}; {args.repeats} repeats")
    for name, (q, p) in _cases().items():
        print(f"\n== {name}")
        print(
            f"{'method':16s} {'n':>8s} {'estimate':>12s} {'SE':>10s} {'var ratio':>10s} "
            f"{'n for plain SE':>15s} {'median s':>9s} {'work ratio':>10s}  SE(n/4) <= plain SE(n)?"
        )
        plain_full, plain_time = _timed(q, p, n, "plain", args.repeats)
        plain_var = plain_full.variance_per_sample
        best = 0.0
        for method in METHODS:
            full, seconds = (
                (plain_full, plain_time)
                if method == "plain"
                else _timed(q, p, n, method, args.repeats)
            )
            side = plain_full if method == "plain" else kl_mc(q, p, quarter, seed=99, method=method)
            var = full.variance_per_sample
            ratio = math.inf if var <= _ROUNDOFF * plain_var else plain_var / var
            needed = n if method == "plain" else math.ceil(n / ratio) if ratio != math.inf else 0
            work = ratio / (seconds / plain_time)
            verdict = "-" if method == "plain" else ("yes" if side.se <= plain_full.se else "no")
            ratio_text = "exact" if ratio == math.inf else f"{ratio:.2f}x"
            work_text = "exact" if ratio == math.inf else f"{work:.2f}x"
            print(
                f"{method:16s} {side.n:8d} {side.estimate:12.6f} {side.se:10.2e} {ratio_text:>10s} "
                f"{needed:15d} {seconds:9.3f} {work_text:>10s}  {verdict}"
            )
            if method != "plain" and side.se <= plain_full.se:
                best = max(best, ratio)
        best_ratios.append(best)
        print(f"best effective-sample ratio: {'exact' if best == math.inf else f'{best:.1f}x'}")
    holds = all(r >= 4.0 for r in best_ratios)
    print(f"\n>= 4x fewer draws for the same SE on every case: {'PASS' if holds else 'FAIL'}")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
