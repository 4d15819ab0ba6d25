"""The Markdown report: GitHub-flavoured, ``$$`` display math, figures as relative links.

>>> from elbo_check.report._model import ReportMeta
>>> render_markdown([], ReportMeta("T", "2026-01-01", "0.1.0", "elbo-check report")).splitlines()[0]
'# T'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elbo_check.report._model import (
    BADGES,
    NOTATION,
    Figure,
    ReportMeta,
    chain_starts,
    ledger_usage,
    source_note,
    step_counts,
    used_by_text,
)
from elbo_check.report.notation import RELATION_LATEX, latex, name_densities
from elbo_check.results import DerivationResult, StepResult
from elbo_check.verdict import Verdict

__all__ = ["badge_markdown", "derivation_markdown", "render_markdown"]


def badge_markdown(verdict: Verdict) -> str:
    """Symbol and bold word (GitHub strips colour from Markdown).

    >>> badge_markdown(Verdict.UNDECIDED)
    '? **undecided**'
    """
    b = BADGES[verdict]
    return f"{b.symbol} **{b.label}**"


def _cell(text: str) -> str:
    """Text safe in a GFM table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _math(tex: str) -> list[str]:
    return ["$$", tex, "$$", ""]


def _summary(results: Sequence[DerivationResult]) -> list[str]:
    head = ["derivation", "steps", *(v.value for v in Verdict), "verdict", "time"]
    lines = ["## Summary", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        counts = step_counts(r)
        cells = [
            f"[{r.name}](#{r.name})",
            str(len(r.steps)),
            *(str(counts[v.value]) for v in Verdict),
            badge_markdown(r.verdict),
            f"{r.seconds:.3f} s",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _link(r: StepResult) -> list[str]:
    s = r.step
    out = [f"**({s.index})** {badge_markdown(r.verdict)}: {s.by}", ""]
    out += _math(f"{RELATION_LATEX[s.relation]} {latex(s.rhs)}")
    if r.method:
        out += [f"<sub>method: {r.method}</sub>", ""]
    if r.verdict is not Verdict.PROVED and r.message:
        out += [f"> note: {r.message}", ""]
    if r.counterexample is not None:
        out += [f"> **Counterexample** {r.counterexample}", ""]
    return out


def derivation_markdown(result: DerivationResult, evidence: Sequence[Any] = ()) -> list[str]:
    """One derivation's lines: heading, chain, evidence, ledger."""
    d = result.derivation
    lines = [
        f'<a id="{d.name}"></a>',
        "",
        f"## {d.title}",
        "",
        f"`{d.name}` · {badge_markdown(result.verdict)} · {len(result.steps)} steps · "
        f"{result.seconds:.3f} s",
        "",
    ]
    if d.description:
        lines += [d.description, ""]
    starts = chain_starts(result)
    for r in result.steps:
        if r.step.index in starts:
            lines += _math(latex(r.step.lhs))
        lines += _link(r)
    if evidence:
        lines += ["### Numeric evidence", ""]
        lines += [f"- `{line.format_text()}`" for line in evidence] + [""]
    lines += ["### Axiom & side-condition ledger", ""]
    lines += ["| kind | name | statement | used by |", "|---|---|---|---|"]
    for entry, steps in ledger_usage(result):
        shows = getattr(entry, "shows", "") or ""
        statement = name_densities(entry.statement)
        if shows:
            statement += f" (shows `{name_densities(shows)}`)"
        source = source_note(entry)
        lines.append(
            f"| {entry.kind} | **{_cell(entry.name)}**{_cell(source)} | {_cell(statement)} "
            f"| {used_by_text(steps)} |"
        )
    return [*lines, ""]


def render_markdown(
    results: Sequence[DerivationResult],
    meta: ReportMeta,
    *,
    evidence: dict[str, list[Any]] | None = None,
    figures: Sequence[Figure] = (),
) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    lines = [
        f"# {meta.title}",
        "",
        f"{meta.date} · elbo-check {meta.version}",
        "",
        f"Made by `{meta.command}`",
        "",
        f"<sub>{NOTATION}</sub>",
        "",
    ]
    if results:
        lines += _summary(results)
    for r in results:
        lines += derivation_markdown(r, (evidence or {}).get(r.name, []))
    if figures:
        lines += ["## Evidence figures", ""]
        for f in figures:
            lines += [f"![{f.title}]({f.svg_path})", "", f"**{f.title}.** {f.caption}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
