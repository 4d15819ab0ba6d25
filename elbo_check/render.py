"""Renderers: result objects to text tables and JSON.  Renderers never check anything.

>>> from elbo_check.render import format_seconds
>>> format_seconds(0.01234)
'0.012s'
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from typing import Any

import sympy as sp

from elbo_check._printing import safe_print
from elbo_check.results import JSON_SCHEMA, DerivationResult, StepResult
from elbo_check.verdict import Verdict

__all__ = [
    "colourize",
    "format_seconds",
    "render_json",
    "render_quiet",
    "render_text",
    "summary_counts",
    "to_json_dict",
    "use_colour",
]


def format_seconds(seconds: float) -> str:
    """Seconds with three decimals and a unit."""
    return f"{seconds:.3f}s"


def summary_counts(results: Sequence[DerivationResult]) -> dict[str, int]:
    """How many steps got each verdict."""
    counts = {v.value: 0 for v in Verdict}
    for result in results:
        for step in result.steps:
            counts[step.verdict.value] += 1
    return counts


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(
    results: Sequence[DerivationResult],
    evidence: dict[str, list[Any]] | None = None,
    *,
    math: bool = False,
) -> str:
    """A table per derivation, counterexamples, evidence lines, then the axiom ledger.

    With ``math``, each derivation is its chain of formulas instead (sympy's
    unicode pretty printer, one compact line for long expressions) and the
    ledger names the Gaussian densities it knows.
    """
    if math:
        from elbo_check.report.terminal import render_math_text

        return render_math_text(results, evidence)
    lines: list[str] = []
    for result in results:
        d = result.derivation
        lines.append(
            f"{d.name}: {d.title}  [{result.verdict.value}, {format_seconds(result.seconds)}]"
        )
        lines.append(f"  {'step':>4}  {'rel':<3}  {'verdict':<12}  {'time':>8}  justification")
        for r in result.steps:
            lines.append(
                f"  {r.step.index:>4}  {r.step.relation:<3}  {r.verdict.value:<12}  "
                f"{format_seconds(r.seconds):>8}  {_shorten(r.step.by, 70)}"
            )
            if r.counterexample is not None:
                lines.append(f"        counterexample {r.counterexample}")
            if r.verdict is not Verdict.PROVED and r.message:
                lines.append(f"        note: {r.message}")
        for line in (evidence or {}).get(d.name, []):
            lines.append(f"  evidence: {line.format_text()}")
        lines.append("")
    lines.append("Axiom ledger")
    for result in results:
        lines.append(f"  {result.name}:")
        for entry in result.ledger:
            source = f" (derivation {entry.derivation})" if entry.derivation else ""
            lines.append(f"    [{entry.kind}] {entry.name}: {entry.statement}{source}")
    counts = summary_counts(results)
    total = sum(counts.values())
    lines.append("")
    lines.append(
        f"{len(results)} derivation(s), {total} step(s): "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
    )
    return "\n".join(lines) + "\n"


def to_json_dict(
    results: Sequence[DerivationResult], evidence: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """``{"schema": 1, "derivations": [...], "summary": {...}}``; with evidence, each derivation
    has ``evidence``."""
    derivations = []
    for result in results:
        item = result.to_dict()
        item["steps"] = [
            _with_latex(d, r) for d, r in zip(item["steps"], result.steps, strict=True)
        ]
        if evidence is not None:
            item["evidence"] = [line.to_dict() for line in evidence.get(result.name, [])]
        derivations.append(item)
    return {"schema": JSON_SCHEMA, "derivations": derivations, "summary": summary_counts(results)}


_LATEX_REL = {"=": "=", "<=": r"\leq", ">=": r"\geq"}


def _with_latex(item: dict[str, Any], result: StepResult) -> dict[str, Any]:
    """The step's dict with the pinned ``latex`` key after ``rhs``."""
    s = result.step
    tex = f"{safe_print(sp.latex, s.lhs)} {_LATEX_REL[s.relation]} {safe_print(sp.latex, s.rhs)}"
    out: dict[str, Any] = {}
    for key, value in item.items():
        out[key] = value
        if key == "rhs":
            out["latex"] = tex
    out.setdefault("latex", tex)
    return out


def render_json(
    results: Sequence[DerivationResult], evidence: dict[str, list[Any]] | None = None
) -> str:
    """The JSON document as text (strict JSON: non-finite numbers are written as ``null``).

    >>> json.loads(render_json([]))["summary"]["refuted"]
    0
    >>> _finite({"z": float("nan"), "xs": [1.0, float("inf")]})
    {'z': None, 'xs': [1.0, None]}
    """
    doc = _finite(to_json_dict(results, evidence))
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    """Strict JSON: NaN and infinities become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def render_quiet(results: Sequence[DerivationResult], *, strict: bool = False) -> str:
    """``prove -q``: one line per step that did not pass (with its note), then the summary.

    With ``strict``, a step passes only when it is proved.

    >>> render_quiet([])
    '0 derivation(s), 0 step(s): 0 proved, 0 corroborated, 0 undecided, 0 refuted\\n'
    """
    lines = []
    for result in results:
        for r in result.steps:
            if r.verdict.is_proof if strict else r.verdict.passes:
                continue
            note = f": {_shorten(r.message, 500)}" if r.message else ""
            lines.append(f"{result.name} step {r.step.index}: {r.verdict.value}{note}")
    counts = summary_counts(results)
    lines.append(
        f"{len(results)} derivation(s), {sum(counts.values())} step(s): "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
    )
    return "\n".join(lines) + "\n"


#: ANSI colours of the verdicts on a terminal
_COLOURS = {"proved": "32", "corroborated": "33", "undecided": "35", "refuted": "31"}
_VERDICT = "(proved|corroborated|undecided|refuted)"
#: where a verdict word is a verdict: a step line, a derivation header, the summary line
_VERDICT_SPOTS = re.compile(
    rf"(?m)(^\s+\(\d+\) \S )({_VERDICT}\b)"  # math text:  (1) ✔ proved
    rf"|(^\s+\d+\s+\S+\s+)({_VERDICT}\b)"  # --no-math table:  1  =  proved
    rf"|(\[)({_VERDICT})(?=, )"  # header: [proved, 0.1s]
    rf"|(\d+ )({_VERDICT})(?=,|$)"  # summary: 3 proved, 0 refuted
)


def use_colour(stream: object) -> bool:
    """Colour when ``stream`` is a terminal, unless ``NO_COLOR`` is set or ``TERM=dumb``.

    >>> import io
    >>> use_colour(io.StringIO())
    False
    """
    isatty = getattr(stream, "isatty", None)
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return bool(isatty is not None and isatty())


def colourize(text: str) -> str:
    """The verdicts in a text report, in ANSI colour.

    >>> colourize("  (1) ✔ proved  0.1s  by")
    '  (1) ✔ \\x1b[32mproved\\x1b[0m  0.1s  by'
    """

    def paint(match: re.Match[str]) -> str:
        groups = match.groups()
        for i in range(0, len(groups), 3):
            if groups[i + 1] is not None:
                word = groups[i + 1]
                return f"{groups[i]}\x1b[{_COLOURS[word]}m{word}\x1b[0m"
        return match.group(0)  # pragma: no cover - every alternative has its groups

    return _VERDICT_SPOTS.sub(paint, text)
