"""A per-module Bonferroni budget for the suite's z-tests.

Each statistical test module declares its family-wise false-alarm rate and
how many z-tests it plans; every test counts against the plan, so the stated
rate (the per-test α is ``alpha / planned``) stays true as tests are added.
"""

from __future__ import annotations

from elbo_check.mc import MCEstimate, z_test


class ZBudget:
    """``planned`` z-tests sharing a family-wise false-alarm rate ``alpha``."""

    def __init__(self, alpha: float, planned: int) -> None:
        self.alpha = alpha
        self.planned = planned
        self.run = 0

    def z(self, est: MCEstimate, value: float) -> tuple[float, float]:
        """Count one z-test of the budget; return ``(z, critical)``."""
        self.run += 1
        assert self.run <= self.planned, "raise Z_TESTS_PLANNED: Bonferroni budget exceeded"
        result = z_test(est, value, alpha=self.alpha, n_tests=self.planned)
        return result.z, result.critical

    def assert_agrees(self, est: MCEstimate, value: float) -> None:
        """z-test ``est`` against ``value`` within the budget."""
        z, critical = self.z(est, value)
        assert abs(z) <= critical, f"{est} vs {value!r}: z={z:.2f}, critical {critical:.2f}"
