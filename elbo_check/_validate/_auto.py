"""Auto mode: search argument orders, role families, layouts and reductions for the one that fits.

The function is called only a few times: once per probe batch for each *call
pattern* (a layout, and which positions hold matrices).  Every probe array is
positive, so each reading of it is a valid input: a mean, a log-variance, a
standard deviation, a variance, a log-std, and (diagonal, positive) matrices
are both a covariance and a Cholesky factor.  Every candidate convention (the
2 or 4 roles in any order, every scale, (N, D) or (D, N), every reduction)
then reads the same outputs against its own reference, which costs numpy
arithmetic, not calls.  The best fitting convention is validated in full; the
result says when more than one fits.

>>> import numpy as np
>>> from elbo_check._validate._runner import ThreadRunner
>>> def kl(logvar, mu):  # logvar first
...     return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
>>> runner = ThreadRunner(kl, "numpy")
>>> r = run_auto(runner, (2, 2), None, ["auto"], None, "numpy", "float64", 100, 0, 5.0)
>>> r.ok, r.convention.args, r.convention.reduction
(True, ['logvar', 'mu'], 'batch')
>>> runner.close()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from elbo_check._validate._axes import DEFAULT
from elbo_check._validate._core import (
    _EPS,
    Session,
    _call_all,
    _result,
    _with,
    layout_hint,
    looks_like_axis_error,
    run,
)
from elbo_check._validate._diagnose import Diagnosis, compare, match_mutants
from elbo_check._validate._layout import Layout
from elbo_check._validate._result import ValidationResult
from elbo_check._validate._roles import (
    FULL_SCALES,
    REDUCTIONS,
    Convention,
    auto_candidates,
    parse_convention,
)
from elbo_check._validate._runner import Runner
from elbo_check._validate._search import Batch, canon_from_raw
from elbo_check._validate._types import BugClass
from elbo_check.errors import ValidationError

__all__ = ["run_auto"]

#: probe batches: (N, event sizes); N ≠ D everywhere, so reductions differ in shape
_PROBES = ((4, 3), (2, 5), (3, 2))
#: how many probe-fitting conventions are validated in full before giving up
_FULL_TRIES = 3
#: how many near conventions (most common first) are read against the known bugs
_EXPLAIN_TRIES = 60


def _pattern(conv: Convention) -> tuple[bool, ...]:
    """Which positions hold matrices."""
    return tuple(q in FULL_SCALES for _, q in conv.slots)


def _probe_arrays(
    conv: Convention, rng: np.random.Generator
) -> list[tuple[tuple[int, int], list[np.ndarray]]]:
    """Per probe batch: its (N, D) and one positive array per argument position."""
    out = []
    for n, d in _PROBES:
        arrays = []
        for role, is_matrix in zip(conv.roles, _pattern(conv), strict=True):
            if is_matrix:
                m = np.zeros((n, d, d))
                idx = np.arange(d)
                m[:, idx, idx] = rng.uniform(0.5, 2.0, size=(n, d))
                arrays.append(m)
                continue
            a = rng.uniform(0.3, 2.2, size=(n, d))
            if conv.broadcast(role):
                a = np.broadcast_to(a[:1], a.shape).copy()
            arrays.append(a)
        out.append(((n, d), arrays))
    return out


def _batches(
    conv: Convention, probes: list[tuple[tuple[int, int], list[np.ndarray]]], dtype: str
) -> list[Batch] | None:
    """The probe arrays read as ``conv``'s roles (None when a reading is invalid)."""
    batches = []
    for shape, arrays in probes:
        raw = {r: a.astype(dtype) for r, a in zip(conv.roles, arrays, strict=True)}
        try:
            canon = canon_from_raw(conv, raw, shape)
        except np.linalg.LinAlgError:
            return None
        batches.append(Batch("moderate", shape, raw, canon))
    return batches


@dataclasses.dataclass
class _Search:
    """What the probe calls found."""

    matches: list[Convention] = dataclasses.field(default_factory=list)
    closest: tuple[float, float, int, Convention] | None = None
    #: non-fitting candidates whose output shapes fit: (rank, reduction index, conv, layout, outputs)
    near: list[tuple[int, int, Convention, Layout, list[np.ndarray], float]] = dataclasses.field(
        default_factory=list
    )
    first_error: str | None = None
    first_kind: str | None = None
    hung: bool = False


def _score(
    search: _Search,
    conv: Convention,
    rank: int,
    layout: Layout,
    outputs: list[np.ndarray],
    dtype: str,
    reductions: Sequence[str],
) -> None:
    tried: set[str] = set()
    for r_index, red in enumerate(reductions):
        cand = dataclasses.replace(conv, reduction=red)
        if cand.effective_reduction in tried:
            continue
        tried.add(cand.effective_reduction)
        obs = layout.flatten(outputs, cand.effective_reduction)
        if obs is None:
            continue
        cmp = compare(_with(layout, cand), obs, _EPS[dtype])
        if cmp.ok:
            search.matches.append(cand)
            continue
        with np.errstate(all="ignore"):
            key = (
                float(np.mean(cmp.fail)),
                float(np.nanmedian(np.where(np.isfinite(cmp.rel), cmp.rel, np.inf))),
            )
        search.near.append((rank, r_index, cand, _with(layout, cand), outputs, key[0]))
        if search.closest is None or (key[0], key[1], rank) < search.closest[:3]:
            search.closest = (key[0], key[1], rank, cand)


def _search(
    runner: Runner,
    candidates: list[Convention],
    reductions: Sequence[str],
    dtype: str,
    seed: int,
    timeout: float,
) -> _Search:
    search = _Search()
    groups: dict[tuple[str, tuple[bool, ...]], list[tuple[int, Convention]]] = {}
    for rank, conv in enumerate(candidates):
        groups.setdefault((conv.layout.text, _pattern(conv)), []).append((rank, conv))
    for members in groups.values():
        first = members[0][1]
        probes = _probe_arrays(first, np.random.default_rng(seed))
        call_batches = _batches(first, probes, dtype)
        assert call_batches is not None  # positive arrays are valid for every role
        session = Session(runner, first, timeout)
        with session.capturing():
            calls, bad = _call_all(session, call_batches)
        if bad is not None:
            search.first_error = search.first_error or calls[bad].message
            search.first_kind = search.first_kind or calls[bad].kind
            if calls[bad].kind in ("timeout", "crashed"):
                search.hung = True
                return search
            continue
        outputs = [c.output for c in calls if c.output is not None]
        for rank, conv in members:
            batches = _batches(conv, probes, dtype)
            if batches is not None:
                _score(search, conv, rank, Layout(conv, batches), outputs, dtype, reductions)
    search.matches.sort(key=lambda c: candidates.index(dataclasses.replace(c, reduction="none")))
    return search


def _conventions(
    arity: tuple[int, int] | None, roles: str | None, layout: str | None
) -> list[Convention]:
    layouts = [layout] if layout is not None else [DEFAULT.text, "D N"]
    out: list[Convention] = []
    for lay in layouts:
        for order in auto_candidates(arity, roles):
            try:
                out.append(parse_convention(order, "none", lay))
            except ValidationError:  # full covariance in a non-default layout: not a candidate
                continue
    return out


def run_auto(
    runner: Runner,
    arity: tuple[int, int] | None,
    roles: str | None,
    reductions: Sequence[str],
    layout: str | None,
    backend: str,
    dtype: str,
    examples: int,
    seed: int,
    timeout: float,
) -> ValidationResult:
    """Find the convention that fits the probe calls, then validate it in full."""
    reductions = list(REDUCTIONS) if list(reductions) == ["auto"] else list(reductions)
    candidates = _conventions(arity, roles, layout)
    search = _search(runner, candidates, reductions, dtype, seed, timeout)
    if search.matches and not search.hung:
        return _validate_matches(runner, search.matches, backend, dtype, examples, seed, timeout)
    if search.closest is not None and not search.hung:
        conv = _explained(search, dtype) or _most_common_close(search)
        res = run(runner, conv, backend, dtype, examples, seed, timeout)
        if res.ok:  # fits on the full run though not on the probes: say so, but pass
            return dataclasses.replace(
                res, warnings=[*res.warnings, "the convention was found only on the full run"]
            )
        return dataclasses.replace(
            res, diagnosis=f"no convention matches; the closest is {conv.flags}: {res.diagnosis}"
        )
    conv = dataclasses.replace(candidates[0], reduction=reductions[0])
    message = f"no convention matches: every candidate call failed (first: {search.first_error})"
    if search.first_kind == "raised" and looks_like_axis_error(search.first_error or ""):
        message += f"; {layout_hint(conv)}"
    bug = {"timeout": BugClass.TIMEOUT, "crashed": BugClass.CRASHED}.get(
        search.first_kind or "", BugClass.RAISES
    )
    return _result(False, conv, backend, dtype, 0, Diagnosis(bug, message))


def _explained(search: _Search, dtype: str) -> Convention | None:
    """The most common convention under which a known bug explains the probe outputs."""
    for _, _, conv, layout, outputs, _ in sorted(search.near, key=lambda t: t[:2])[:_EXPLAIN_TRIES]:
        if match_mutants(layout, outputs, _EPS[dtype]) is not None:
            return conv
    return None


def _most_common_close(search: _Search) -> Convention:
    """Among the conventions that fail least often (within 25 points), the most common one."""
    assert search.closest is not None
    best = search.closest[0]
    close = [t for t in search.near if t[5] <= best + 0.25]
    return min(close, key=lambda t: t[:2])[2] if close else search.closest[3]


def _validate_matches(
    runner: Runner,
    matches: list[Convention],
    backend: str,
    dtype: str,
    examples: int,
    seed: int,
    timeout: float,
) -> ValidationResult:
    failed: tuple[Convention, ValidationResult] | None = None
    for conv in matches[:_FULL_TRIES]:
        res = run(runner, conv, backend, dtype, examples, seed, timeout)
        if res.ok:
            others = [m for m in matches if m is not conv]
            if not others:
                return res
            also = "; ".join(m.flags for m in others[:3]) + (" ..." if len(others) > 3 else "")
            note = f"more than one convention fits: {conv.flags} (reported), and also {also}"
            return dataclasses.replace(res, warnings=[*res.warnings, note])
        failed = failed or (conv, res)
    assert failed is not None
    conv, res = failed
    return dataclasses.replace(
        res, diagnosis=f"the convention {conv.flags} fits simple inputs, but: {res.diagnosis}"
    )
