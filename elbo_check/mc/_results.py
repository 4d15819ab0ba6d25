"""Result types and the z-test: :class:`MCEstimate`, :class:`ZTest`, :func:`z_test`."""

from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any

import numpy as np
import scipy.stats

from elbo_check.errors import EvidenceError

__all__ = ["ALTERNATIVES", "RESOLUTION", "DistributionTypeError", "MCEstimate", "ZTest", "z_test"]

#: The alternatives :func:`z_test` offers: what a rejection says about the estimate.
ALTERNATIVES = ("two-sided", "less", "greater")

#: Relative floating-point resolution below which z-tests do not resolve.
RESOLUTION = 1e-12


class DistributionTypeError(EvidenceError, TypeError):
    """An argument is not a distribution :func:`kl_mc` can use."""


@dataclasses.dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo estimate with its standard error.

    Attributes
    ----------
    estimate : float
        The estimate; ``inf`` when KL is infinite (see ``note``).
    se : float
        Its standard error (0.0 when the value is exact, e.g. an infinite KL).
    n : int
        Draws of ``q`` (log-density evaluations of each distribution).
    seed : int
        The root seed of the draws.
    method : str
        One of :data:`METHODS`.
    note : str or None
        Why the estimate is special (infinite KL), else None.

    >>> e = MCEstimate(estimate=1.0, se=0.1, n=100, seed=0, method="plain")
    >>> round(e.z_score(0.8), 9)
    2.0
    >>> str(e)
    '1 ± 0.1 (n=100, seed=0, plain)'
    """

    estimate: float
    se: float
    n: int
    seed: int
    method: str
    note: str | None = None

    def z_score(self, value: float) -> float:
        """``(estimate - value) / se``, with the SE floored at :data:`RESOLUTION`.

        Two infinities of the same sign give 0; an infinite estimate against a
        finite value gives an infinite score.

        >>> MCEstimate(estimate=2.0, se=0.0, n=10, seed=0, method="plain").z_score(2.0)
        0.0
        """
        return _z(self.estimate, self.se, value)

    @property
    def variance_per_sample(self) -> float:
        """``se**2 * n``: the variance one draw of ``q`` contributes.

        Comparing it across methods gives the effective-sample ratio.

        >>> MCEstimate(estimate=0.0, se=0.1, n=100, seed=0, method="plain").variance_per_sample
        1.0...
        """
        return self.se * self.se * self.n

    def __str__(self) -> str:
        text = f"{self.estimate:.6g} ± {self.se:.2g} (n={self.n}, seed={self.seed}, {self.method})"
        return text if self.note is None else f"{text}: {self.note}"


@dataclasses.dataclass(frozen=True)
class ZTest:
    """The outcome of :func:`z_test`.

    Attributes
    ----------
    z : float
        The z-score of the estimate against the closed form.
    p_value : float
        Two-sided p-value of ``z`` under the standard normal.
    alpha : float
        Family-wise false-alarm rate requested.
    n_tests : int
        Number of tests in the family (Bonferroni divisor).
    alpha_per_test : float
        ``alpha / n_tests``, the rate this one test runs at.
    critical : float
        The critical value at ``alpha_per_test``: of ``|z|`` (two-sided) or
        of ``z`` in the direction of the alternative (one-sided).
    passed : bool
        ``|z| <= critical`` (two-sided), ``z >= -critical`` (``"less"``) or
        ``z <= critical`` (``"greater"``).
    alternative : str
        One of :data:`ALTERNATIVES`.
    """

    z: float
    p_value: float
    alpha: float
    n_tests: int
    alpha_per_test: float
    critical: float
    passed: bool
    alternative: str = "two-sided"

    def __str__(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        bound = {
            "two-sided": f"|z| <= {self.critical:.2f}",
            "less": f"z >= {-self.critical:.2f}",
            "greater": f"z <= {self.critical:.2f}",
        }[self.alternative]
        return f"z={self.z:+.3f} ({bound} at α={self.alpha_per_test:.2g}): {verdict}"


def _z(estimate: float, se: float, value: float) -> float:
    """The floored z-score shared by :class:`MCEstimate` and :func:`z_test`."""
    if math.isnan(value) or math.isnan(estimate):
        raise EvidenceError(f"cannot z-test a nan: estimate={estimate!r}, value={value!r}")
    if math.isinf(estimate) or math.isinf(value):
        if estimate == value:
            return 0.0
        return math.copysign(math.inf, estimate - value)
    floor = RESOLUTION * max(1.0, abs(estimate), abs(value))
    return (estimate - value) / math.hypot(se, floor)


def z_test(
    estimate: MCEstimate,
    closed_form: float,
    *,
    alpha: float,
    n_tests: int = 1,
    alternative: str = "two-sided",
) -> ZTest:
    """Test an estimate against a closed form at family-wise rate ``alpha``.

    A correct closed form fails with probability at most ``alpha / n_tests``
    per test (asymptotically, by the central limit theorem), hence at most
    ``alpha`` over a family of ``n_tests`` tests (Bonferroni).

    Parameters
    ----------
    estimate : MCEstimate
        The Monte Carlo estimate.
    closed_form : float
        The value it should agree with.
    alpha : float
        Family-wise false-alarm rate, in (0, 1).
    n_tests : int
        Number of tests in the family, at least 1.
    alternative : {"two-sided", "less", "greater"}
        ``"two-sided"`` tests equality.  ``"less"`` tests the bound
        ``estimate >= closed_form`` and rejects only when the estimate lies
        significantly below it; ``"greater"`` tests ``estimate <= closed_form``.

    Returns
    -------
    ZTest

    >>> est = MCEstimate(estimate=0.5, se=0.01, n=10_000, seed=0, method="plain")
    >>> t = z_test(est, 0.52, alpha=1e-6, n_tests=10)
    >>> round(t.z, 6), round(t.critical, 2), t.passed
    (-2.0, 5.33, True)
    >>> z_test(est, 0.6, alpha=1e-6).passed
    False
    >>> z_test(est, 0.6, alpha=1e-6, alternative="greater").passed  # 0.5 <= 0.6 holds
    True
    >>> z_test(est, 0.6, alpha=1e-6, alternative="less").passed  # 0.5 >= 0.6 is refuted
    False
    """
    if not isinstance(estimate, MCEstimate):
        raise DistributionTypeError(f"Expected an MCEstimate but got estimate={estimate!r}")
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise EvidenceError(f"alpha must lie in (0, 1), got alpha={alpha!r}")
    if alternative not in ALTERNATIVES:
        raise EvidenceError(
            f"alternative must be one of {ALTERNATIVES}, got alternative={alternative!r}"
        )
    tests = _as_count(n_tests, "n_tests", minimum=1)
    value = float(closed_form)
    z = _z(estimate.estimate, estimate.se, value)
    per_test = float(alpha) / tests
    if alternative == "two-sided":
        critical = float(scipy.stats.norm.isf(per_test / 2.0))
        p_value = float(2.0 * scipy.stats.norm.sf(abs(z)))
        passed = abs(z) <= critical
    else:
        critical = float(scipy.stats.norm.isf(per_test))
        toward = -z if alternative == "less" else z
        p_value = float(scipy.stats.norm.sf(toward))
        passed = toward <= critical
    return ZTest(
        z=z,
        p_value=p_value,
        alpha=float(alpha),
        n_tests=tests,
        alpha_per_test=per_test,
        critical=critical,
        passed=bool(passed),
        alternative=alternative,
    )


def _as_count(value: Any, name: str, *, minimum: int) -> int:
    """Validate an integer argument (no floats, no bools)."""
    if isinstance(value, (bool, float, np.floating)):
        raise EvidenceError(f"{name} must be an integer, got {name}={value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise EvidenceError(f"{name} must be an integer, got {name}={value!r}") from None
    if out < minimum:
        raise EvidenceError(f"{name} must be at least {minimum}, got {name}={out!r}")
    return out
