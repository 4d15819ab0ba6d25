"""The validation run: call the function on every batch, judge, diagnose, shrink.

>>> import numpy as np
>>> from elbo_check._validate._core import run
>>> from elbo_check._validate._roles import parse_convention
>>> from elbo_check._validate._runner import ThreadRunner
>>> runner = ThreadRunner(lambda mu, logvar: -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar)), "numpy")
>>> run(runner, parse_convention("mu,logvar", "sum"), "numpy", "float64", 40, 0, 5.0).ok
True
>>> runner.close()
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from elbo_check._validate._diagnose import Comparison, Diagnosis, compare, diagnose
from elbo_check._validate._fitted import Sampling
from elbo_check._validate._layout import Layout
from elbo_check._validate._reference import expected_mp
from elbo_check._validate._result import ConventionInfo, Counterexample, ValidationResult
from elbo_check._validate._roles import Convention
from elbo_check._validate._runner import Runner
from elbo_check._validate._search import Batch, canon_from_raw, plan, replicated_batch
from elbo_check._validate._shrink import shrink
from elbo_check._validate._types import BugClass, CallStatus

__all__ = ["Session", "convention_info", "layout_hint", "looks_like_axis_error", "run"]

_EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}
_LOW = ("float16", "bfloat16", "int8", "uint8", "int16")


_KIND = {
    CallStatus.OK: None,
    CallStatus.RAISED: "raised",
    CallStatus.TIMEOUT: "timeout",
    CallStatus.CRASHED: "crashed",
    CallStatus.BAD_RETURN: "bad_return",
    CallStatus.TOO_LARGE: "too_large",
    CallStatus.MUTATION: "mutation",
}
#: a result may hold at most this many times the elements of the largest expected shape
SIZE_FACTOR = 16


@dataclasses.dataclass
class Call:
    """One call's judged outcome."""

    kind: str | None  # None (fine), raised, timeout, crashed, bad_return, too_large, mutation
    output: np.ndarray | None = None
    dtype: str = ""
    message: str | None = None
    notes: list[str] = dataclasses.field(default_factory=list)


class _BoundedText(io.TextIOBase):
    """A text sink for the thread runner: counts everything, keeps only the beginning."""

    def __init__(self, keep: int = 2000) -> None:
        super().__init__()
        self.keep = keep
        self.head = ""
        self.count = 0

    def writable(self) -> bool:
        """Always writable."""
        return True

    def write(self, text: str) -> int:
        """Count ``text`` and keep it while the beginning is short."""
        self.count += len(text)
        if len(self.head) < self.keep:
            self.head += text[: self.keep - len(self.head)]
        return len(text)


class Session:
    """Calls one function under one convention through a :class:`Runner`."""

    def __init__(self, runner: Runner, conv: Convention, timeout: float) -> None:
        self.runner = runner
        self.conv = conv
        self.timeout = timeout
        self.printed = _BoundedText()
        self.printed_count = 0
        self.printed_head = ""
        self.py_warnings: list[str] = []
        self.hung = False
        #: event sizes used when a call gives none (set to the batch being shrunk)
        self.event: tuple[int, ...] = ()

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Thread runner: send what the function prints to a buffer, not to the terminal."""
        if self.runner.kind == "process":  # the worker captures at the fd level
            yield
            return
        with contextlib.redirect_stdout(self.printed), contextlib.redirect_stderr(self.printed):
            yield

    def arrays(
        self, raw: dict[str, np.ndarray], event: tuple[int, ...] = ()
    ) -> tuple[np.ndarray, ...]:
        """The role arrays as the function receives them (in their layouts)."""
        conv = self.conv
        if conv.family == "full" or (conv.layout.is_default and not conv.role_layouts):
            return tuple(raw[r] for r in conv.roles)
        d = raw[conv.roles[conv.slots.index(("q", "mu"))]].shape[1]
        event = event if int(np.prod(event or (0,))) == d else conv.layout.event_shape(d)
        return tuple(conv.layout_of(r).to_function(raw[r], conv.layout, event) for r in conv.roles)

    def call(self, raw: dict[str, np.ndarray], event: tuple[int, ...] = ()) -> Call:
        """Call the function on raw (N, D) role arrays and read the result back into (N, D)."""
        conv = self.conv
        event = event or self.event
        arrays = self.arrays(raw, event)
        n, d = raw[conv.roles[conv.slots.index(("q", "mu"))]].shape[:2]
        limit = SIZE_FACTOR * n * d + 64
        outcome = self.runner.call(arrays, self.conv.roles, limit, self.timeout)
        if outcome.value is not None and not conv.layout.is_default and conv.family == "diag":
            event = event if int(np.prod(event or (0,))) == d else conv.layout.event_shape(d)
            outcome.value = conv.layout.from_function(outcome.value, n, event)
        for w in outcome.warnings:
            if w not in self.py_warnings:
                self.py_warnings.append(w)
        if outcome.printed:
            self.printed_count += outcome.printed
            self.printed_head = self.printed_head or outcome.printed_head
        kind = _KIND[outcome.status]
        if kind == "timeout":
            return Call("timeout", message=f"timeout: the function {outcome.message}")
        if kind == "raised":
            return Call("raised", message=f"the function raises {outcome.message}")
        if kind in ("crashed", "too_large"):
            return Call(kind, message=f"the function {outcome.message}")
        if kind is not None:
            return Call(kind, dtype=outcome.dtype, message=outcome.message)
        return Call(
            None, outcome.value, outcome.dtype, notes=[outcome.note] if outcome.note else []
        )

    def printed_warning(self) -> str | None:
        """One warning about what the function printed (truncated), if it printed."""
        text = self.printed.head
        count = self.printed_count + self.printed.count
        if not count:
            return None
        head = " ".join((self.printed_head or text).split())
        shown = head[:120] + ("…" if len(head) > 120 else "")
        return f"the function printed {count} characters (captured; it began: {shown!r})"


_AXIS_WORDS = re.compile(
    r"IndexError|AxisError|axis|dimension|dim |out of range|out of bounds|broadcast|shape|size of tensor|must match",
    re.IGNORECASE,
)


def looks_like_axis_error(message: str) -> bool:
    """True when an exception's text reads like an axis or shape error.

    >>> looks_like_axis_error("AxisError: axis 2 is out of bounds for array of dimension 2")
    True
    """
    return bool(_AXIS_WORDS.search(message))


def layout_hint(conv: Convention) -> str:
    """The hint to pass ``--layout`` after an axis error."""
    return (
        f'hint: the arrays were passed in the layout "{conv.layout.text}"; for another one, pass '
        '--layout (e.g. --layout "N C H W" or --layout "D N"; --args mu,logvar:D for a '
        "parameter shared by the batch)"
    )


def _judge_eps(dtype: str, dtypes: set[str], warnings: list[str]) -> float:
    eps = _EPS[dtype]
    for name in sorted(dtypes):
        if name in ("float64", "list", dtype):
            continue
        if name == "float32" and dtype == "float64":
            warnings.append("returned float32 for float64 inputs; judged at float32 precision")
            eps = _EPS["float32"]
        elif name in _LOW:
            warnings.append(f"returned {name} for {dtype} inputs; judged at {dtype} precision")
        elif name.startswith(("int", "uint")):
            warnings.append(f"returned integers ({name}) for {dtype} inputs")
    return eps


def _pyval(x: Any) -> Any:
    arr = np.asarray(x)
    if arr.ndim == 0:
        v = float(str(arr[()])) if arr.dtype == np.float32 else float(arr)
        return v if np.isfinite(v) else str(v)
    return [_pyval(a) for a in arr]


def _fails_like(
    session: Session, kind: str, eps: float, variant: str | None = None
) -> Callable[[dict[str, np.ndarray]], bool]:
    conv = session.conv

    def fails(raw: dict[str, np.ndarray]) -> bool:
        if session.hung:  # one hang while shrinking: stop calling
            return False
        call = session.call(raw)
        if call.kind == "timeout":
            session.hung = True
            return False
        if kind in ("raised", "bad_return", "mutation", "too_large"):
            return call.kind == kind
        if call.kind is not None or call.output is None:
            return False
        mu = raw[conv.roles[conv.slots.index(("q", "mu"))]]
        batch = Batch("shrink", mu.shape, raw, canon_from_raw(conv, raw, mu.shape))
        try:
            layout = Layout(conv, [batch])
        except np.linalg.LinAlgError:
            return False
        name = layout.declared if variant is None else variant
        obs = layout.flatten([call.output], name)
        if kind == "shape":
            return obs is None
        if obs is None:
            return False
        return not compare(layout, obs, eps, name).ok

    return fails


def _counterexample(
    session: Session,
    batch: Batch,
    kind: str,
    eps: float,
    dtype: str,
    hint: tuple[int, int] | None,
    variant: str | None = None,
) -> Counterexample:
    conv = session.conv
    raw = batch.raw
    session.event = batch.event
    if kind not in ("timeout", "crashed"):
        raw = shrink(conv, raw, _fails_like(session, kind, eps, variant), dtype, hint=hint)
    mu = raw[conv.roles[conv.slots.index(("q", "mu"))]]
    try:
        expected = expected_mp(conv, raw)
    except Exception:  # a singular or invalid input has no reference value
        expected = None
    returned: Any = None
    error = None
    if kind in ("timeout", "crashed"):
        error = "did not return" if kind == "timeout" else "crashed"
    else:
        call = session.call(raw)
        if call.output is not None:
            returned = _pyval(call.output)
        error = call.message
    return Counterexample(
        args=list(conv.roles),
        reduction=conv.reduction,
        shape=[int(x) for x in mu.shape],
        inputs={
            role: _pyval(arr)
            for role, arr in zip(conv.roles, session.arrays(raw, session.event), strict=True)
        },
        expected=expected,
        returned=returned,
        error=error,
    )


def _describe_unit(layout: Layout, unit: int) -> str:
    el = int(layout.unit_element(layout.declared)[unit])
    k = int(layout.e_batch[el])
    b = layout.batches[k]
    if layout.family == "diag":
        vals = ", ".join(f"{r}={layout.raw[r][el]:.3g}" for r in layout.conv.roles)
        return f"{vals} ({b.label} batch)"
    return f"a {b.label} batch of shape (N, D) = {b.shape}"


def convention_info(conv: Convention, backend: str, dtype: str) -> ConventionInfo:
    """The typed, JSON-ready form of a convention."""
    return ConventionInfo(
        args=list(conv.roles),
        reduction=conv.reduction,
        family=conv.family,
        layout=conv.layout.text,
        role_layouts={r: lay.text for r, lay in conv.role_layouts},
        backend=backend,
        dtype=dtype,
    )


def _result(
    ok: bool,
    conv: Convention,
    backend: str,
    dtype: str,
    examples: int,
    diagnosis: Diagnosis | None = None,
    counterexample: Counterexample | None = None,
    max_rel: float = float("nan"),
    warnings: list[str] | None = None,
) -> ValidationResult:
    return ValidationResult(
        ok=ok,
        diagnosis=diagnosis.message if diagnosis else None,
        counterexample=counterexample,
        max_rel_error=float(max_rel),
        examples=int(examples),
        convention=convention_info(conv, backend, dtype),
        warnings=list(warnings or []),
        bug_class=diagnosis.bug_class if diagnosis else None,
    )


def _call_all(session: Session, batches: list[Batch]) -> tuple[list[Call], int | None]:
    calls: list[Call] = []
    for k, b in enumerate(batches):
        c = session.call(b.raw, b.event)
        calls.append(c)
        if c.kind is not None:
            return calls, k
    return calls, None


def run(
    runner: Runner,
    conv: Convention,
    backend: str,
    dtype: str,
    examples: int,
    seed: int,
    timeout: float,
    batches: list[Batch] | None = None,
) -> ValidationResult:
    """Validate the runner's function under one convention."""
    if batches is None:
        batches = plan(conv, examples, np.random.default_rng(seed), dtype)
    layout = Layout(conv, batches)
    session = Session(runner, conv, timeout)
    warnings: list[str] = []
    with session.capturing():
        out = _run(session, layout, batches, dtype, warnings)
    printed = session.printed_warning()
    if printed:
        warnings.append(printed)
    warnings += [f"the function warned: {w}" for w in session.py_warnings[:3]]
    return dataclasses.replace(
        out, warnings=warnings, convention=convention_info(conv, backend, dtype)
    )


def _run(
    session: Session, layout: Layout, batches: list[Batch], dtype: str, warnings: list[str]
) -> ValidationResult:
    conv = session.conv
    n_rows = layout.n_rows
    calls, bad = _call_all(session, batches)
    if bad is not None:
        c = calls[bad]
        kind = c.kind or "raised"
        bug = {
            "raised": BugClass.RAISES,
            "timeout": BugClass.TIMEOUT,
            "crashed": BugClass.CRASHED,
            "bad_return": BugClass.BAD_RETURN,
            "too_large": BugClass.WRONG_SHAPE,
            "mutation": BugClass.MUTATES_INPUTS,
        }[kind]
        cex = _counterexample(session, batches[bad], kind, _EPS[dtype], dtype, None)
        seen = sum(b.shape[0] for b in batches[: bad + 1])
        message = c.message or kind
        if kind == "raised" and looks_like_axis_error(message):
            message += f"; {layout_hint(conv)}"
        return _result(False, conv, "", dtype, seen, Diagnosis(bug, message), cex)
    outputs = [c.output for c in calls if c.output is not None]
    for c in calls:
        for note in c.notes:
            if note not in warnings:
                warnings.append(note)
    eps = _judge_eps(dtype, {c.dtype for c in calls}, warnings)
    obs = layout.flatten(outputs, layout.declared)
    if obs is None:
        diag = diagnose(
            layout, outputs, None, eps, dtype, _sampling(session, batches, calls, dtype)
        )
        if diag.variant is not None and diag.bug_class != BugClass.WRONG_REDUCTION:
            # a wrong formula behind the wrong shape: show the formula bug, read
            # the outputs with the reduction the function actually performs
            alt = layout.flatten(outputs, diag.variant)
            if alt is not None:
                cmp_alt = compare(layout, alt, eps, diag.variant)
                if not cmp_alt.ok:
                    cex = _value_counterexample(session, layout, cmp_alt, eps, dtype, diag.variant)
                    finite = np.isfinite(cmp_alt.rel)
                    worst = float(np.max(cmp_alt.rel[finite])) if finite.any() else float("nan")
                    return _result(False, conv, "", dtype, n_rows, diag, cex, worst)
        v = layout.variant(layout.declared)
        k = next(i for i, (o, s) in enumerate(zip(outputs, v.shapes, strict=True)) if o.shape != s)
        cex = _counterexample(session, batches[k], "shape", eps, dtype, None)
        return _result(False, conv, "", dtype, n_rows, diag, cex)
    cmp = compare(layout, obs, eps)
    finite = np.isfinite(cmp.rel)
    max_rel = float(np.max(cmp.rel[finite])) if finite.any() else float("nan")
    if cmp.ok:
        _instability_warning(layout, cmp, warnings)
        return _result(True, conv, "", dtype, n_rows, None, None, max_rel)
    diag = diagnose(layout, outputs, cmp, eps, dtype, _sampling(session, batches, calls, dtype))
    cex = _value_counterexample(session, layout, cmp, eps, dtype)
    return _result(False, conv, "", dtype, n_rows, diag, cex, max_rel)


def _sampling(session: Session, batches: list[Batch], calls: list[Call], dtype: str) -> Sampling:
    """Two extra calls: the first batch again, and one batch of 64 identical rows."""
    gap = None
    again = session.call(batches[0].raw, batches[0].event)
    first = calls[0].output
    if again.output is not None and first is not None and again.output.shape == first.shape:
        with np.errstate(all="ignore"):
            diff = np.abs(again.output - first).ravel()
            diff = np.where(np.isfinite(diff), diff, 0.0)
            if np.any(diff > 1e-9 * (1.0 + np.abs(first.ravel()))):
                gap = float(np.max(diff))
    conv = session.conv
    twin = replicated_batch(conv, np.random.default_rng(7), dtype)
    call = session.call(twin.raw, twin.event)
    out = call.output
    if out is None or out.ndim == 0 or out.shape[0] != twin.shape[0]:
        return Sampling(gap)
    rows = out.reshape(out.shape[0], -1).sum(axis=1)
    ref = float(np.sum(Layout(conv, [twin]).ref[: twin.shape[1]]))
    if not np.isfinite(rows).all():
        return Sampling(gap)
    spread = float(np.max(rows) - np.min(rows))
    if not spread > 1e-9 * (1.0 + abs(ref)):
        return Sampling(gap)
    err = rows - ref
    se = float(np.std(err, ddof=1) / np.sqrt(err.size))
    return Sampling(gap, spread, float(np.mean(err)), se, int(err.size))


def _value_counterexample(
    session: Session,
    layout: Layout,
    cmp: Comparison,
    eps: float,
    dtype: str,
    variant: str | None = None,
) -> Counterexample:
    name = layout.declared if variant is None else variant
    v = layout.variant(name)
    failing = np.flatnonzero(cmp.fail)
    # the worst unit of the smallest failing batch
    sizes = np.array([b.shape[0] * b.shape[1] for b in layout.batches])
    k = int(min(set(v.unit_batch[failing].tolist()), key=lambda j: (sizes[j], j)))
    in_k = failing[v.unit_batch[failing] == k]
    with np.errstate(all="ignore"):
        score = np.where(
            np.isfinite(cmp.obs[in_k]),
            np.abs(cmp.obs[in_k] - cmp.ref[in_k]) / cmp.terms[in_k],
            np.inf,
        )
    unit = int(in_k[int(np.argmax(score))])
    el = int(layout.unit_element(name)[unit])
    row0 = sum(b.shape[0] for b in layout.batches[:k])
    hint = (
        int(layout.e_row[el]) - row0,
        int(layout.e_col[el]) - sum(b.shape[1] for b in layout.batches[:k]),
    )
    if layout.family == "full":
        hint = (hint[0], 0)
    return _counterexample(session, layout.batches[k], "value", eps, dtype, hint, variant)


def _instability_warning(layout: Layout, cmp: Comparison, warnings: list[str]) -> None:
    """One note on lost digits, only when more than 4 are lost (passing results only)."""
    digits = -np.log10(cmp.eps)
    with np.errstate(all="ignore"):
        rel = np.where(cmp.ref > 0, np.abs(cmp.obs - cmp.ref) / np.abs(cmp.ref), 0.0)
        lost = np.log10(np.maximum(rel / cmp.eps, 1.0))
    if not rel.size or not float(np.max(lost)) > 4.0:
        return
    unit = int(np.argmax(lost))
    warnings.append(
        f"note: {min(float(lost[unit]), digits):.0f} of {digits:.0f} significant digits are lost at "
        f"{_describe_unit(layout, unit)}, where KL = {float(cmp.ref[unit]):.3g} (q ≈ p: the textbook "
        "formula cancels there; within the allowed rounding error)"
    )


def _with(layout: Layout, conv: Convention) -> Layout:
    """The same layout judged under another reduction of the same roles."""
    clone = object.__new__(Layout)
    clone.__dict__.update(layout.__dict__)
    clone.conv = conv
    return clone
