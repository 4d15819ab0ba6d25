r"""The ``kl-formula`` command path: parse, derive, check, judge, and one verdict.

With a claim, the verdict is

* ``proved`` (exit 0) only when the proof half derived KL(q || p) in closed
  form and the trusted checker proved every step of that derivation extended
  by one more step, ``closed_form = claim`` (:func:`conclude`), so the chain
  reads KL(q || p) = ... = closed form = claim;
* ``refuted`` (exit 1) when the numeric judge finds a parameter point where
  the claim and the KL differ (or the checker refutes the last step after
  proving all the others), with the point and both values;
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from elbo_check._timeout import Deadline
from elbo_check.checker import CheckConfig, check_derivation
from elbo_check.klformula.derive import Derived, conclude, derive, to_sympy
from elbo_check.klformula.judge import Finding, Outcome, PointValue, judge
from elbo_check.klformula.parse import parse_claim
from elbo_check.klformula.spec import Pair, parse_pair
from elbo_check.results import DerivationResult, StepResult
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


def _usable(derived: Derived) -> str | None:
    """Why the derivation cannot be used (None when it can): it must end at the closed form."""
    d, closed = derived.derivation, derived.closed_form
    if closed is None:
        return f"not derived: {derived.reason}"
    if d is None:
        return f"a closed form without a derivation to check: {derived.reason}"
    if not d.steps or closed not in (d.steps[-1].rhs, to_sympy(d.steps[-1].rhs)):
        return "the derivation does not end at the reported closed form: not used"
    return None


def _body_note(body: Sequence[StepResult], derived: Derived) -> str:
    if all(r.verdict is Verdict.PROVED for r in body):
        return f"closed form proved by the checker ({derived.reason})".replace(" ()", "")
    weakest = Verdict.weakest(r.verdict for r in body)
    return f"the derivation of the closed form is {weakest.value}, not proved"


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
    problem = _usable(derived)
    checked = None
    if problem is None:
        assert derived.derivation is not None
        # with a claim: the derivation plus one step, closed form = claim (every step re-checked)
        d = derived.derivation if claim is None else conclude(derived.derivation, claim)
        checked = check_derivation(d, config, on_step=guard)
    guard()
    clock.append(time.perf_counter())
    target = claim if claim is not None else derived.closed_form
    finding = None
    if target is not None:
        finding = judge(pair, target, points=points, seed=seed, on_point=guard)
    clock.append(time.perf_counter())
    if claim is None:
        report = _without_claim(pair, derived, checked, problem, finding)
    else:
        assert finding is not None
        report = _with_claim(pair, claim, derived, checked, problem, finding)
    guard()
    return _timed(report, clock)


def _without_claim(
    pair: Pair,
    derived: Derived,
    checked: DerivationResult | None,
    problem: str | None,
    finding: Finding | None,
) -> KlReport:
    notes = [problem or _body_note(checked.steps if checked else (), derived)]
    status = Status.PROVED if _proved(checked) else Status.UNDECIDED
    if finding is not None and finding.outcome is Outcome.REFUTED:
        status = Status.REFUTED
        notes.append("the numeric KL contradicts the derived closed form: a bug in derive")
    cex = finding.counterexample if finding is not None else None
    results = () if checked is None else (checked,)
    return KlReport(pair, None, status, derived, results, finding, cex, tuple(notes))


def _with_claim(
    pair: Pair,
    claim: sp.Expr,
    derived: Derived,
    checked: DerivationResult | None,
    problem: str | None,
    finding: Finding,
) -> KlReport:
    status, cex = Status.UNDECIDED, finding.counterexample
    notes = [problem] if problem else []
    equal = False
    if checked is not None:
        body, last = checked.steps[:-1], checked.steps[-1]
        notes.append(_body_note(body, derived))
        body_proved = all(r.verdict is Verdict.PROVED for r in body)
        equal = body_proved and last.verdict is Verdict.PROVED
        notes.append(
            "the checker proved closed form = claim" if equal else "claim not proved equal"
        )
        if body_proved and last.verdict is Verdict.REFUTED and cex is None:
            status, cex = Status.REFUTED, _from_step(last)
    if finding.outcome is Outcome.REFUTED:
        status = Status.REFUTED
        if equal:
            notes.append("WARNING: proved yet numerically refuted: a bug in the checker or judge")
    elif equal:
        status = Status.PROVED
    results = () if checked is None else (checked,)
    return KlReport(pair, claim, status, derived, results, finding, cex, tuple(notes))


def _from_step(result: StepResult) -> PointValue | None:
    """The checker's counterexample to ``closed_form = claim`` as a point."""
    c = result.counterexample
    if c is None:
        return None
    return PointValue(tuple((str(k), str(v)) for k, v in c.point.items()), c.lhs_value, c.rhs_value)


def _timed(report: KlReport, clock: list[float]) -> KlReport:
    """``report`` with the stage times."""
    stages = ("derive", "check", "judge")
    spans = [b - a for a, b in itertools.pairwise(clock)]
    return dataclasses.replace(report, timings=tuple(zip(stages, spans, strict=True)))
