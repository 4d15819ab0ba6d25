"""``prove``'s text output with the mathematics shown: each link as ``= formula``.

Short expressions use sympy's unicode pretty printer; long ones one compact
line, elided in the middle, so output stays bounded.  ``prove --no-math``
gives the compact table of :func:`elbo_check.render.render_text` instead.

>>> from elbo_check.report.terminal import render_math_text
>>> render_math_text([]).splitlines()[-1]
'0 derivation(s), 0 step(s): 0 proved, 0 corroborated, 0 undecided, 0 refuted'
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import Any

from elbo_check.render import format_seconds, summary_counts
from elbo_check.report._model import (
    BADGES,
    chain_starts,
    ledger_usage,
    source_note,
    used_by_text,
)
from elbo_check.report.notation import RELATION_TEXT, name_densities, terminal
from elbo_check.results import DerivationResult, StepResult
from elbo_check.verdict import Verdict

__all__ = ["render_math_text"]

#: widest formula before the compact one-line form (the terminal's width, capped)
MAX_WIDTH = 110
#: tallest 2-D formula before the compact one-line form
MAX_HEIGHT = 7


def _width() -> int:
    return max(40, min(MAX_WIDTH, shutil.get_terminal_size((100, 24)).columns - 6))


def _step(r: StepResult, width: int) -> list[str]:
    s = r.step
    badge = BADGES[r.verdict]
    out = [f"  ({s.index}) {badge.symbol} {r.verdict.value}  {format_seconds(r.seconds)}  {s.by}"]
    rel = RELATION_TEXT[s.relation]
    out += ["      " + line for line in terminal(s.rhs, f"{rel} ", width, MAX_HEIGHT)]
    if r.counterexample is not None:
        out.append(f"      counterexample {r.counterexample}")
    if r.verdict is not Verdict.PROVED and r.message:
        out.append(f"      note: {r.message}")
    return out


def render_math_text(
    results: Sequence[DerivationResult], evidence: dict[str, list[Any]] | None = None
) -> str:
    """Each derivation as its chain of formulas, evidence lines, then the ledger."""
    width = _width()
    lines: list[str] = []
    for result in results:
        d = result.derivation
        lines.append(
            f"{d.name}: {d.title}  [{result.verdict.value}, {format_seconds(result.seconds)}]"
        )
        starts = chain_starts(result)
        for r in result.steps:
            if r.step.index in starts:
                lines += ["      " + line for line in terminal(r.step.lhs, "", width, MAX_HEIGHT)]
            lines += _step(r, width)
        for line in (evidence or {}).get(d.name, []):
            lines.append(f"  evidence: {line.format_text()}")
        lines.append("")
    lines.append("Axiom ledger")
    for result in results:
        lines.append(f"  {result.name}:")
        for entry, steps in ledger_usage(result):
            source = source_note(entry)
            shows = getattr(entry, "shows", "") or ""
            lines.append(
                f"    [{entry.kind}] {entry.name}: {name_densities(entry.statement)}{source}"
                f"  — {used_by_text(steps)}"
            )
            if shows:
                text = name_densities(shows)
                limit = max(width - 15, 40)
                text = text if len(text) <= limit else text[: limit - 1] + "…"
                lines.append(f"        shows: {text}")
    counts = summary_counts(results)
    lines.append("")
    lines.append(
        f"{len(results)} derivation(s), {sum(counts.values())} step(s): "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
    )
    return "\n".join(lines) + "\n"
