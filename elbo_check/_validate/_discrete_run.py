"""Validating a Bernoulli or Categorical KL: call, judge, diagnose, shrink.

>>> import numpy as np
>>> from elbo_check._validate._discrete_conv import parse_discrete
>>> from elbo_check._validate._runner import ThreadRunner
>>> from scipy.special import xlogy
>>> def kl(q):  # KL(Cat(q) ‖ Uniform)
...     return np.sum(xlogy(q, q) + q * np.log(q.shape[-1]), axis=-1)
>>> runner = ThreadRunner(kl, "numpy")
>>> run(runner, parse_discrete("probs_q", "none", "N K"), "numpy", "float64", 60, 0, 5.0).ok
True
>>> runner.close()
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import mpmath
import numpy as np

from elbo_check._validate._core import _BoundedText, looks_like_axis_error
from elbo_check._validate._diagnose import Diagnosis
from elbo_check._validate._discrete_conv import DiscreteConvention
from elbo_check._validate._discrete_diag import diagnose
from elbo_check._validate._discrete_judge import judge, reduce_units
from elbo_check._validate._discrete_plan import DBatch, make_dbatch, plan
from elbo_check._validate._discrete_ref import expected_units_mp
from elbo_check._validate._result import ConventionInfo, Counterexample, ValidationResult
from elbo_check._validate._runner import Runner
from elbo_check._validate._types import BugClass, CallStatus

__all__ = ["run"]

_EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}
#: the most one-row, one-unit batches a shrink tries
_MAX_TRIES = 48
_FAILED = {
    CallStatus.RAISED: BugClass.RAISES,
    CallStatus.TIMEOUT: BugClass.TIMEOUT,
    CallStatus.CRASHED: BugClass.CRASHED,
    CallStatus.BAD_RETURN: BugClass.BAD_RETURN,
    CallStatus.TOO_LARGE: BugClass.WRONG_SHAPE,
    CallStatus.MUTATION: BugClass.MUTATES_INPUTS,
}


class _Caller:
    """Calls the function on a batch's role arrays, in their layouts.

    After one hang every further call is answered ``timeout`` at once (a
    shrink must not wait for the timeout again and again).
    """

    def __init__(self, runner: Runner, conv: DiscreteConvention, timeout: float) -> None:
        self.runner, self.conv, self.timeout = runner, conv, timeout
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.dtypes: set[str] = set()
        self.printed = 0
        self.printed_head = ""
        self.hung: str | None = None

    def arrays(self, b: DBatch) -> list[np.ndarray]:
        """The role arrays as the function receives them."""
        return [self.conv.to_function(r, b.raw[r]) for r in self.conv.roles]

    def __call__(self, b: DBatch) -> tuple[np.ndarray | None, BugClass | None, str | None]:
        """(result, None, None), or (None, the bug class, the message) when the call failed."""
        if self.hung is not None:
            return None, BugClass.TIMEOUT, self.hung
        limit = 16 * b.n * b.d * b.k + 64
        outcome = self.runner.call(self.arrays(b), self.conv.roles, limit, self.timeout)
        for w in outcome.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        if outcome.note and outcome.note not in self.notes:
            self.notes.append(outcome.note)
        self.printed += outcome.printed
        self.printed_head = self.printed_head or outcome.printed_head
        if outcome.status is CallStatus.OK and outcome.value is not None:
            self.dtypes.add(outcome.dtype)
            return outcome.value, None, None
        bug = _FAILED.get(outcome.status, BugClass.BAD_RETURN)
        prefix = {
            CallStatus.RAISED: "the function raises ",
            CallStatus.TIMEOUT: "timeout: the function ",
        }
        message = prefix.get(outcome.status, "the function ") + str(outcome.message)
        if outcome.status in (CallStatus.BAD_RETURN, CallStatus.MUTATION):
            message = str(outcome.message)
        if bug is BugClass.TIMEOUT:
            self.hung = message
        return None, bug, message

    def printed_warning(self) -> str | None:
        """One warning about what the function printed (truncated), if it printed."""
        if not self.printed:
            return None
        head = " ".join(self.printed_head.split())
        shown = head[:120] + ("…" if len(head) > 120 else "")
        return f"the function printed {self.printed} characters (captured; it began: {shown!r})"

    def report_warnings(self) -> list[str]:
        """Notes on returned values, what the function printed, and its Python warnings."""
        printed = self.printed_warning()
        return (
            self.notes
            + ([printed] if printed else [])
            + [f"the function warned: {w}" for w in self.warnings[:3]]
        )


def _pyval(x: Any) -> Any:
    arr = np.asarray(x)
    if arr.ndim == 0:
        v = float(str(arr[()])) if arr.dtype == np.float32 else float(arr)
        return v if np.isfinite(v) else str(v)
    return [_pyval(a) for a in arr]


def _expected(conv: DiscreteConvention, b: DBatch) -> Any:
    q_role, p_role = conv.role("q"), conv.role("p")
    assert q_role is not None
    rows = expected_units_mp(
        (conv.side("q") or "probs", conv.side("p")),
        b.raw[q_role],
        None if p_role is None else b.raw[p_role],
        conv.categorical,
    )
    flat = [v for row in rows for v in row]
    red = conv.reduction
    if red == "none":
        units = np.array([[float(v) for v in row] for row in rows]).reshape(b.n, *b.event)
        axes = ("N", *conv.event_axes)
        return _pyval(np.transpose(units, [axes.index(a) for a in conv.output_axes()]))
    if red == "batch":  # non-finite values as strings, so the JSON stays valid
        return _pyval(np.array([float(mpmath.fsum(row)) for row in rows]))
    scale = {"sum": 1, "batchmean": b.n, "mean": b.n * b.d}[red]
    return _pyval(float(mpmath.fsum(flat) / scale))


def _sub(conv: DiscreteConvention, b: DBatch, rows: list[int], unit: int, dtype: str) -> DBatch:
    """The rows ``rows`` of ``b`` with only latent unit ``unit`` (event sizes all 1)."""
    m = len(conv.event_axes)
    targets = {}
    for side in ("q", "p"):
        role = conv.role(side)
        if role is None:
            continue
        x = b.raw[role].astype(np.float64)
        x = x.reshape(b.n, b.d, -1)[rows][:, unit]
        targets[side] = x.reshape(
            (len(rows),) + (1,) * m + ((x.shape[-1],) if conv.categorical else ())
        )
    return make_dbatch(conv, b.label, targets, dtype, (1,) * m)


def _round_candidates(kind: str, x: np.ndarray, categorical: bool, prior: bool) -> list[np.ndarray]:
    """Rounder versions of a side's array that stay valid (a prior's probabilities stay > 0)."""
    cands = []
    for digits in (0, 1, 2, 3):
        r = np.round(x, digits) + 0.0  # no -0.0
        if kind == "probs":
            if categorical:
                r[..., -1] = np.round(1.0 - np.sum(r[..., :-1], axis=-1), 12)
            if np.any(r < 0) or np.any(r > 1):
                continue
            if prior and (np.any(r <= 0) or (not categorical and np.any(r >= 1))):
                continue
        cands.append(r)
    return cands


def _shrink(
    conv: DiscreteConvention, b: DBatch, fails: Any, hint: tuple[int, int | None], dtype: str
) -> DBatch:
    """A smaller batch that still fails: one row and one unit, then rounder numbers."""
    row, unit = hint
    units = range(b.d) if unit is None else [unit]
    rows_first = [row] + [r for r in range(b.n) if r != row]
    tries = [([r], u) for r in rows_first for u in units][:_MAX_TRIES]
    tries += [([row, (row + 1) % b.n], u) for u in units][:_MAX_TRIES]
    for rows, u in tries:
        if len(set(rows)) < len(rows):
            continue
        small = _sub(conv, b, rows, u, dtype)
        if fails(small):
            b = small
            break
    for side in ("q", "p"):
        role, kind = conv.role(side), conv.side(side)
        if role is None or kind is None:
            continue
        for cand in _round_candidates(
            kind, b.raw[role].astype(np.float64), conv.categorical, side == "p"
        ):
            if np.array_equal(cand, b.raw[role]):
                break
            targets = {s: b.raw[r].astype(np.float64) for s in ("q", "p") if (r := conv.role(s))}
            targets[side] = cand
            trial = make_dbatch(conv, b.label, targets, dtype, b.event)
            if fails(trial):
                b = trial
                break
    return b


def _counterexample(
    conv: DiscreteConvention, call: _Caller, b: DBatch, out: Any, err: str | None
) -> Counterexample:
    arrays = call.arrays(b)
    try:
        expected = _expected(conv, b)
    except (ValueError, ZeroDivisionError, OverflowError):
        expected = None
    q_role = conv.role("q")
    assert q_role is not None
    return Counterexample(
        args=list(conv.roles),
        reduction=conv.reduction,
        shape=[int(s) for s in conv.to_function(q_role, b.raw[q_role]).shape],
        inputs={r: _pyval(a) for r, a in zip(conv.roles, arrays, strict=True)},
        expected=expected,
        returned=None if out is None else _pyval(out),
        error=err,
    )


def _layout_hint(conv: DiscreteConvention) -> str:
    """The hint to pass ``--layout`` after an axis error."""
    return (
        f'hint: the arrays were passed in the layout "{conv.layout.text}"; for another one, pass '
        '--layout (with "K" for the class axis of a Categorical: "N K", "N D K", "K N"; '
        "--args logits_q,logits_p:K for a prior shared by the batch)"
    )


def _failure_counterexample(
    conv: DiscreteConvention, call: _Caller, b: DBatch, bug: BugClass, err: str | None, dtype: str
) -> Counterexample:
    """The counterexample of a call that raised, hung, crashed or returned garbage."""
    if bug in (BugClass.TIMEOUT, BugClass.CRASHED):
        return _counterexample(conv, call, b, None, err)
    small = _shrink(conv, b, lambda t: call(t)[1] is bug, (0, None), dtype)
    return _counterexample(conv, call, small, None, call(small)[2])


def _info(conv: DiscreteConvention, backend: str, dtype: str) -> ConventionInfo:
    return ConventionInfo(
        args=list(conv.roles),
        reduction=conv.reduction,
        family=conv.dist.value,
        layout=conv.layout.text,
        role_layouts={r: lay.text for r, lay in conv.role_layouts},
        backend=backend,
        dtype=dtype,
    )


def _judge_eps(dtype: str, dtypes: set[str], warnings: list[str]) -> float:
    if dtype == "float64" and "float32" in dtypes:
        warnings.append("returned float32 for float64 inputs; judged at float32 precision")
        return _EPS["float32"]
    return _EPS[dtype]


def run(
    runner: Runner,
    conv: DiscreteConvention,
    backend: str,
    dtype: str,
    examples: int,
    seed: int,
    timeout: float,
) -> ValidationResult:
    """Validate the runner's function under a discrete convention."""
    batches = plan(conv, examples, np.random.default_rng(seed), dtype)
    call = _Caller(runner, conv, timeout)
    if runner.kind == "process":  # the worker captures output at the fd level
        return _run(conv, batches, call, backend, dtype)
    sink = _BoundedText()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        result = _run(conv, batches, call, backend, dtype)
    if sink.count:
        call.printed += sink.count
        call.printed_head = call.printed_head or sink.head
        printed = call.printed_warning()
        result = dataclasses.replace(result, warnings=[*result.warnings, str(printed)])
    return result


def _run(
    conv: DiscreteConvention, batches: list[DBatch], call: _Caller, backend: str, dtype: str
) -> ValidationResult:
    warnings: list[str] = []
    outs: list[np.ndarray] = []
    seen = 0
    for b in batches:
        seen += b.n
        out, bug, err = call(b)
        if out is None:
            assert bug is not None
            cex = _failure_counterexample(conv, call, b, bug, err, dtype)
            if bug is BugClass.RAISES and looks_like_axis_error(err or ""):
                err = f"{err}; {_layout_hint(conv)}"
            return _done(
                False,
                conv,
                backend,
                dtype,
                seen,
                Diagnosis(bug, err or bug.value),
                cex,
                call,
                warnings,
            )
        outs.append(out)
    eps = _judge_eps(dtype, call.dtypes, warnings)
    judged = [judge(conv, b, o, conv.reduction, eps) for b, o in zip(batches, outs, strict=True)]
    max_rel = _max_rel(judged)
    if all(j is not None and j.ok for j in judged):
        return _done(True, conv, backend, dtype, seen, None, None, call, warnings, max_rel)
    diag = diagnose(conv, batches, outs, eps)
    if not conv.categorical and diag.bug_class in (BugClass.WRONG_SHAPE, BugClass.WRONG_VALUE):
        diag = dataclasses.replace(
            diag,
            message=f"{diag.message}; hint: the arrays were read as one Bernoulli per entry "
            f'(layout "{conv.layout.text}"); for a Categorical over the last axis pass --layout "N K" '
            '(or "N D K")',
        )
    k, hint = _worst(conv, batches, judged)
    # a reduction bug shows under the declared reduction; a formula bug behind
    # another reduction shows under the reduction the function performs
    name = conv.reduction if diag.bug_class is BugClass.WRONG_REDUCTION else diag.variant
    name = name or conv.reduction

    def fails(t: DBatch) -> bool:
        o, _, _ = call(t)
        if o is None:
            return False
        j = judge(conv, t, o, name, eps)
        return j is None or not j.ok

    small = _shrink(conv, batches[k], fails, hint, dtype)
    out, _, err = call(small)
    cex = _counterexample(conv, call, small, out, err)
    return _done(False, conv, backend, dtype, seen, diag, cex, call, warnings, max_rel)


def _max_rel(judged: list[Any]) -> float:
    worst = float("nan")
    for j in judged:
        if j is None:
            continue
        with np.errstate(all="ignore"):
            rel = np.abs(j.obs - j.ref) / np.maximum(np.abs(j.ref), j.allowed)
        rel = rel[np.isfinite(rel)]
        if rel.size:
            worst = float(np.nanmax([worst, float(np.max(rel))]))
    return worst


def _worst(
    conv: DiscreteConvention, batches: list[DBatch], judged: list[Any]
) -> tuple[int, tuple[int, int | None]]:
    """The smallest failing batch and, for a per-unit or per-row result, its first failing unit."""
    bad = [i for i, j in enumerate(judged) if j is None or not j.ok]
    k = min(bad, key=lambda i: (batches[i].n * batches[i].d, i))
    j = judged[k]
    b = batches[k]
    if j is None or j.fail.size == 1:
        return k, (0, None)
    first = int(np.flatnonzero(j.fail)[0])
    if j.fail.size == b.n * b.d:
        index = reduce_units(
            conv, b, np.arange(b.n * b.d, dtype=np.float64).reshape(b.n, b.d), "none"
        )
        row, unit = divmod(int(index[first]), b.d)
        return k, (row, unit)
    return k, (first % b.n, None)


def _done(
    ok: bool,
    conv: DiscreteConvention,
    backend: str,
    dtype: str,
    examples: int,
    diag: Diagnosis | None,
    cex: Counterexample | None,
    call: _Caller,
    warnings: list[str],
    max_rel: float = float("nan"),
) -> ValidationResult:
    warnings = warnings + call.report_warnings()
    return ValidationResult(
        ok=ok,
        diagnosis=diag.message if diag else None,
        counterexample=cex,
        max_rel_error=max_rel,
        examples=examples,
        convention=_info(conv, backend, dtype),
        warnings=warnings,
        bug_class=diag.bug_class if diag else None,
    )
