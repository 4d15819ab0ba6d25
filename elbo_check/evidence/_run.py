"""Run :class:`NumericCheck` records: one z-test per point, honest skips, no fallback.

False alarms
------------
All evidence lines of one run form one family: :data:`EVIDENCE_ALPHA` is the
family-wise false-alarm rate (``1e-7``), split by Bonferroni over
:data:`EVIDENCE_LINES`, the planned number of lines in the whole library (a
test fails when the registered records exceed the plan).  A correct reference
value therefore fails a run with probability below ``1e-7``.  Seeds are fixed,
so runs are deterministic anyway; the rate says how unlucky a fixed seed could
be.

Skips
-----
A line that cannot produce two numbers to compare is *skipped*, with the
reason, and never passes: a required optional module is missing, the
reference value or the estimator raised, or either came out nan.  There is no
fallback: a record is run as declared or not at all.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterable
from typing import Any

from elbo_check.evidence._records import (
    EvidenceLine,
    NumericCheck,
    Status,
    describe_point,
)

__all__ = ["EVIDENCE_ALPHA", "EVIDENCE_LINES", "run_check", "run_checks"]

#: Family-wise false-alarm rate of one ``prove --evidence`` run.
EVIDENCE_ALPHA = 1e-7

#: Planned evidence lines over the whole library: the Bonferroni divisor.
EVIDENCE_LINES = 64


def _missing(requires: Iterable[str]) -> list[str]:
    """The required modules that cannot be imported."""
    out = []
    for name in requires:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def _failure(what: str, exc: BaseException) -> str:
    """A one-line reason naming the exception."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return (
        f"{what} raised {type(exc).__name__}: {text}"
        if text
        else f"{what} raised {type(exc).__name__}"
    )


def run_check(
    check: NumericCheck[Any],
    *,
    seed: int = 0,
    alpha: float = EVIDENCE_ALPHA,
    n_tests: int = EVIDENCE_LINES,
) -> list[EvidenceLine]:
    """The evidence lines of one record: one per point.

    Parameters
    ----------
    check : NumericCheck
        The record.
    seed : int
        Root seed of every line's draws.
    alpha : float
        Family-wise false-alarm rate.
    n_tests : int
        Size of the Bonferroni family.

    Returns
    -------
    list of EvidenceLine

    >>> from elbo_check.evidence import NumericCheck
    >>> from elbo_check.mc import MCEstimate
    >>> check = NumericCheck(
    ...     name="broken",
    ...     closed_form=lambda point: 1.0,
    ...     estimator=lambda point, n, seed: 1 / 0,
    ...     points=({"a": 1.0},),
    ... )
    >>> [line.format_text() for line in run_check(check)]
    ['broken at a=1: skipped (the estimator raised ZeroDivisionError: division by zero)']
    """
    missing = _missing(check.requires)
    return [_run_point(check, point, seed, alpha, n_tests, missing) for point in check.points]


def run_checks(
    checks: Iterable[NumericCheck[Any]],
    *,
    seed: int = 0,
    alpha: float = EVIDENCE_ALPHA,
    n_tests: int = EVIDENCE_LINES,
) -> list[EvidenceLine]:
    """The evidence lines of several records, in order; see :func:`run_check`."""
    return [
        line
        for check in checks
        for line in run_check(check, seed=seed, alpha=alpha, n_tests=n_tests)
    ]


def _run_point(
    check: NumericCheck[Any],
    point: Any,
    seed: int,
    alpha: float,
    n_tests: int,
    missing: list[str],
) -> EvidenceLine:
    """One line: reference value, estimate, z-test; skipped with a reason if impossible."""
    reason = ""
    try:
        named = describe_point(point)
    except Exception as exc:  # a record's own bug: reported, never passed
        named, reason = {}, _failure("describing the point", exc)
    per_test = alpha / n_tests
    nan = math.nan

    def skipped(why: str, closed: float = nan) -> EvidenceLine:
        return EvidenceLine(
            name=check.name,
            point=named,
            closed_form=closed,
            estimate=nan,
            se=nan,
            z=nan,
            status=Status.SKIPPED,
            alpha=per_test,
            n=check.draws,
            seed=seed,
            relation=check.relation,
            reason=why,
            source=check.source,
        )

    if reason:
        return skipped(reason)
    if missing:
        return skipped(f"needs {', '.join(missing)}, which cannot be imported")
    try:
        closed = float(check.closed_form(point))
    except Exception as exc:  # a record's own bug: reported, never passed
        return skipped(_failure("the reference value", exc))
    if math.isnan(closed):
        return skipped("the reference value is nan at this point")
    from elbo_check.mc import MCEstimate, z_test

    try:
        est: object = check.estimator(point, check.draws, seed)
    except Exception as exc:  # a record's own bug: reported, never passed
        return skipped(_failure("the estimator", exc), closed)
    if not isinstance(est, MCEstimate):
        return skipped(f"the estimator returned {type(est).__name__}, not an MCEstimate", closed)
    if math.isnan(est.estimate) or math.isnan(est.se):
        return skipped("the estimate or its standard error is nan", closed)
    test = z_test(est, closed, alpha=alpha, n_tests=n_tests, alternative=check.relation.alternative)
    return EvidenceLine(
        name=check.name,
        point=named,
        closed_form=closed,
        estimate=est.estimate,
        se=est.se,
        z=test.z,
        status=Status.PASSED if test.passed else Status.FAILED,
        alpha=test.alpha_per_test,
        n=est.n,
        seed=est.seed,
        relation=check.relation,
        source=check.source,
    )
