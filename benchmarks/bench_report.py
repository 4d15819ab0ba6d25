"""Time ``elbo-check report`` on the whole library, without and with ``--evidence``.

Usage: ``python benchmarks/bench_report.py``.  Each run is a fresh process
(imports, proving, rendering and writing all four formats included), as a user
would run it.  Targets on this 2-core machine: under 15 s without evidence and
under 60 s with it.  Times vary with machine load.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

TARGETS = {"": 15.0, "--evidence": 60.0}


def _run(extra: str, out: str) -> float:
    argv = [sys.executable, "-m", "elbo_check", "report", "--out", out]
    argv += [extra] if extra else []
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"bench_report: {' '.join(argv)} exited {done.returncode}: {done.stderr[-500:]}")
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for extra, target in TARGETS.items():
            seconds = _run(extra, f"{tmp}/r{len(extra)}")
            label = f"report {extra or '(no evidence)'}"
            verdict = "ok" if seconds < target else "SLOW"
            print(f"{label:<28} {seconds:6.2f} s  [target < {target:.0f} s] {verdict}")


if __name__ == "__main__":
    main()
