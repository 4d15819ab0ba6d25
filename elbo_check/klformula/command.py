r"""The ``kl-formula`` command path: parse, derive, check, judge, and one verdict.

With a claim, the verdict is

* ``proved`` (exit 0) only when the proof half derived KL(q || p) in closed
  form, the trusted checker proved every step of that derivation, *and* the
  checker proved the one-step derivation ``closed_form = claim`` (for an
  infinite KL: the claim is literally ``oo``);
* ``refuted`` (exit 1) when the numeric judge finds a parameter point where
  the claim and the KL differ (or the checker refutes ``closed_form =
  claim`` after proving the closed form), with the point and both values;
* ``undecided`` (exit 3) otherwise, with what numeric checking found.

Without a claim, the derived closed form and its checked derivation are the
result: ``proved`` when every step is, ``undecided`` when nothing was derived
or a step is not proved, ``refuted`` if the numeric KL contradicts the
derived closed form (which would be a bug in the derivation).

>>> report = run_kl("Laplace(0, b)", "Normal(0, 1)", "-log(sqrt(2)*b) + (2*b**2 - 1)/2")
>>> report.status
<Status.REFUTED: 1>
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from elbo_check._timeout import Deadline
from elbo_check.checker import CheckConfig, check_derivation
from elbo_check.derivation import Derivation
from elbo_check.klformula.derive import Derived, derive, to_core, to_sympy
from elbo_check.klformula.judge import Finding, Outcome, PointValue, judge
from elbo_check.klformula.parse import parse_claim
from elbo_check.klformula.spec import Pair, parse_pair
from elbo_check.results import DerivationResult
from elbo_check.verdict import Verdict

__all__ = ["KlReport", "Status", "run_kl"]


class Status(enum.Enum):
    """The command's verdict; the value is the exit code."""

    PROVED = 0
    REFUTED = 1
    UNDECIDED = 3


@dataclass(frozen=True)
class KlReport:
    """Everything ``kl-formula`` found, for the renderers."""

    pair: Pair
    claim: sp.Expr | None
    status: Status
    derived: Derived
    results: tuple[DerivationResult, ...]
    finding: Finding | None
    counterexample: PointValue | None
    notes: tuple[str, ...]
    #: seconds spent in each stage: ("derive", s), ("check", s), ("judge", s)
    timings: tuple[tuple[str, float], ...] = ()


def _proved(result: DerivationResult | None) -> bool:
    return result is not None and bool(result.steps) and result.verdict is Verdict.PROVED


def _guard(deadline: Deadline | None) -> Callable[..., None]:
    """A callback that raises :class:`StepTimeout` once ``deadline`` has passed.

    The checker turns a time-out inside a step into that step's verdict, so
    the whole command's limit is also enforced between steps and stages.
    """

    def check(*_: object) -> None:
        if deadline is not None:
            deadline.check()

    return check


def _check_derived(
    derived: Derived, config: CheckConfig, guard: Callable[..., None]
) -> tuple[DerivationResult | None, str]:
    """Check the derived derivation; it must end at the closed form it reports."""
    d, closed = derived.derivation, derived.closed_form
    if closed is None:
        return None, f"not derived: {derived.reason}"
    if d is None:
        return None, f"a closed form without a derivation to check: {derived.reason}"
    if not d.steps or closed not in (d.steps[-1].rhs, to_sympy(d.steps[-1].rhs)):
        return None, "the derivation does not end at the reported closed form: not used"
    result = check_derivation(d, config, on_step=guard)
    if _proved(result):
        return result, f"closed form proved by the checker ({derived.reason})".replace(" ()", "")
    return result, f"the derivation of the closed form is {result.verdict.value}, not proved"


def _equality(
    derived: DerivationResult, claim: sp.Expr, config: CheckConfig, guard: Callable[..., None]
) -> DerivationResult | None:
    """The checker's verdict on ``closed_form = claim`` (None when either is infinite).

    Both sides are in the derivation's own representation: its last
    expression, and the claim through :func:`to_core` (sympy's ``digamma``
    and ``loggamma`` as the core's opaque functions).
    """
    closed = derived.steps[-1].step.rhs
    if closed.has(sp.oo, -sp.oo) or claim.has(sp.oo, -sp.oo):
        return None
    eq = Derivation("kl-formula-claim", title="the derived closed form equals the claim")
    eq.start(closed).equals(to_core(claim), by="algebra: the derived closed form equals the claim")
    return check_derivation(eq, config, on_step=guard)


def run_kl(
    q_text: str,
    p_text: str,
    claim_text: str | None = None,
    *,
    points: int = 8,
    seed: int = 0,
    step_timeout: float = 5.0,
    deadline: Deadline | None = None,
) -> KlReport:
    """Run the whole ``kl-formula`` path; raise :class:`~elbo_check.errors.UsageError` on bad input.

    With ``deadline``, :class:`~elbo_check._timeout.StepTimeout` is raised
    between stages and steps once it has passed (the caller also arms
    :func:`~elbo_check._timeout.time_limit` for the work inside a stage).
    """
    guard = _guard(deadline)
    pair = parse_pair(q_text, p_text)
    claim = None if claim_text is None else parse_claim(claim_text, pair)
    if deadline is not None:
        step_timeout = min(step_timeout, max(deadline.remaining(), 1e-3))
    config = CheckConfig(step_timeout=step_timeout, seed=seed)
    clock = [time.perf_counter()]
    derived = derive(pair.q, pair.p)
    guard()
    clock.append(time.perf_counter())
    checked, note = _check_derived(derived, config, guard)
    guard()
    clock.append(time.perf_counter())
    results = [] if checked is None else [checked]
    target = claim if claim is not None else derived.closed_form
    finding = None
    if target is not None:
        finding = judge(pair, target, points=points, seed=seed, on_point=guard)
    clock.append(time.perf_counter())
    notes = [note]
    if claim is None:
        status = Status.PROVED if _proved(checked) else Status.UNDECIDED
        if finding is not None and finding.outcome is Outcome.REFUTED:
            status = Status.REFUTED
            notes.append("the numeric KL contradicts the derived closed form: a bug in derive")
        cex = finding.counterexample if finding is not None else None
        report = KlReport(pair, None, status, derived, tuple(results), finding, cex, tuple(notes))
        return _timed(report, clock)
    assert finding is not None
    status, cex = Status.UNDECIDED, finding.counterexample
    equal = False
    if checked is not None and _proved(checked) and derived.closed_form is not None:
        eq = _equality(checked, claim, config, guard)
        if eq is not None:
            results.append(eq)
            equal = _proved(eq)
            if eq.verdict is Verdict.REFUTED and cex is None:
                status, cex = Status.REFUTED, _from_step(eq)
        else:
            equal = derived.closed_form == sp.oo and claim == sp.oo
        notes.append(
            "the checker proved closed form = claim" if equal else "claim not proved equal"
        )
    if finding.outcome is Outcome.REFUTED:
        status = Status.REFUTED
        if equal:
            notes.append("WARNING: proved yet numerically refuted: a bug in the checker or judge")
    elif equal:
        status = Status.PROVED
    guard()
    report = KlReport(pair, claim, status, derived, tuple(results), finding, cex, tuple(notes))
    return _timed(report, clock)


def _timed(report: KlReport, clock: list[float]) -> KlReport:
    """``report`` with the stage times (the claim's equality check counts as "check")."""
    stages = ("derive", "check", "judge")
    spans = [b - a for a, b in itertools.pairwise(clock)]
    spans[1] += time.perf_counter() - clock[-1]
    return dataclasses.replace(report, timings=tuple(zip(stages, spans, strict=True)))


def _from_step(result: DerivationResult) -> PointValue | None:
    """The checker's counterexample to ``closed_form = claim`` as a point."""
    for step in result.steps:
        c = step.counterexample
        if c is not None:
            where = tuple((str(k), str(v)) for k, v in c.point.items())
            return PointValue(where, c.lhs_value, c.rhs_value)
    return None
