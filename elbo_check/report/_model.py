"""What every report format shares: metadata, figures, badges and the ledger's usage.

>>> from elbo_check.verdict import Verdict
>>> BADGES[Verdict.REFUTED].symbol, BADGES[Verdict.REFUTED].label
('✘', 'refuted')
"""

from __future__ import annotations

import datetime as _dt
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elbo_check.results import DerivationResult, LedgerEntry, StepResult
from elbo_check.verdict import Verdict

__all__ = [
    "BADGES",
    "NOTATION",
    "Badge",
    "Figure",
    "ReportMeta",
    "chain_starts",
    "ledger_usage",
    "source_note",
    "step_counts",
    "used_by_text",
]


@dataclass(frozen=True)
class Badge:
    """How a verdict looks: colour (background, text) plus a symbol and a word."""

    label: str
    symbol: str
    background: str
    foreground: str


#: colour + text: each badge also differs in symbol and word, so it reads in grey scale
BADGES: dict[Verdict, Badge] = {
    Verdict.PROVED: Badge("proved", "✔", "#d3f0dc", "#0b5d27"),
    Verdict.CORROBORATED: Badge("corroborated", "≈", "#dde8fb", "#123f87"),
    Verdict.UNDECIDED: Badge("undecided", "?", "#fbefc9", "#6b4a00"),
    Verdict.REFUTED: Badge("refuted", "✘", "#fbd9d7", "#8a1010"),
}


#: what the display notation means (formulas are rewritten for reading, never for checking)
NOTATION = (
    "Notation: N(z; m, s²) is the Gaussian density exp(−(z − m)²/(2s²))/√(2π s²); "
    "KL(q ‖ p) = ∫ q log(q/p); p(x | z) is a conditional density. "
    "This naming is for reading only; the checker works on the full expressions."
)


@dataclass(frozen=True)
class ReportMeta:
    """Title, date, tool version and the command line that made the report.

    >>> ReportMeta.create(["elbo-check", "report", "--out", "my dir"], date="2026-01-02").command
    "elbo-check report --out 'my dir'"
    """

    title: str
    date: str
    version: str
    command: str

    @classmethod
    def create(
        cls,
        argv: Sequence[str],
        *,
        date: str | None = None,
        title: str = "elbo-check derivation report",
    ) -> ReportMeta:
        """Metadata for a run of ``argv`` (``date`` defaults to now, UTC, ISO 8601)."""
        from elbo_check import __version__

        when = date or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return cls(title, when, __version__, shlex.join(argv))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "title": self.title,
            "date": self.date,
            "version": self.version,
            "command": self.command,
        }


@dataclass(frozen=True)
class Figure:
    """One evidence figure: file stem, caption, and its SVG and PDF bytes."""

    key: str
    title: str
    caption: str
    svg: str
    pdf: bytes = field(repr=False, default=b"")

    @property
    def svg_path(self) -> str:
        """Path relative to the report directory."""
        return f"figures/{self.key}.svg"

    @property
    def pdf_path(self) -> str:
        """Path relative to the report directory (for LaTeX)."""
        return f"figures/{self.key}.pdf"


def step_counts(result: DerivationResult) -> dict[str, int]:
    """Steps per verdict of one derivation.

    >>> from elbo_check.results import DerivationResult
    >>> from elbo_check.derivation import Derivation
    >>> step_counts(DerivationResult(Derivation("empty"), (), 0.0))["proved"]
    0
    """
    counts = {v.value: 0 for v in Verdict}
    for r in result.steps:
        counts[r.verdict.value] += 1
    return counts


def chain_starts(result: DerivationResult) -> set[int]:
    """Indices of the steps that open a chain (their left side is shown first)."""
    seen: set[int] = set()
    starts: set[int] = set()
    for r in result.steps:
        if r.step.chain not in seen:
            seen.add(r.step.chain)
            starts.add(r.step.index)
    return starts


def _uses(r: StepResult, entry: LedgerEntry) -> bool:
    cited = {part.strip() for part in r.step.by.split(";")}
    return entry.name in cited or any(e.name == entry.name for e in r.ledger)


def ledger_usage(result: DerivationResult) -> list[tuple[LedgerEntry, list[int]]]:
    """Each ledger entry with the indices of the steps that use it (empty: declared globally)."""
    return [
        (entry, [r.step.index for r in result.steps if _uses(r, entry)]) for entry in result.ledger
    ]


def used_by_text(steps: list[int]) -> str:
    """``steps 2, 3`` or ``all steps (declared)``.

    >>> used_by_text([2, 3]), used_by_text([])
    ('steps 2, 3', 'all steps (declared)')
    """
    if not steps:
        return "all steps (declared)"
    return ("step " if len(steps) == 1 else "steps ") + ", ".join(map(str, steps))


def source_note(entry: LedgerEntry) -> str:
    """`` (derivation SLUG)`` unless the name or statement already says so.

    >>> source_note(LedgerEntry("lemma x (derivation d)", "lemma", "s", "d"))
    ''
    >>> source_note(LedgerEntry("lemma x", "lemma", "s", "d"))
    ' (derivation d)'
    """
    if not entry.derivation:
        return ""
    note = f"(derivation {entry.derivation})"
    return "" if note in entry.name or note in entry.statement else f" {note}"
