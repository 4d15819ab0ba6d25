"""Result objects: what the checker found, ready for renderers and the CLI.

Data flows one way: derivation -> check -> these objects -> renderers.  The
objects are plain frozen dataclasses with a ``to_dict()`` that gives the
pinned JSON shape.

>>> from elbo_check.results import Counterexample
>>> Counterexample({"s": "1/2"}, "0.3", "0.4").to_dict()["point"]
{'s': '1/2'}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from elbo_check._printing import safe_print
from elbo_check.derivation import Derivation, Step
from elbo_check.verdict import Verdict

__all__ = ["JSON_SCHEMA", "Counterexample", "DerivationResult", "LedgerEntry", "StepResult"]

#: the version of the JSON documents of ``prove``, ``validate`` and ``report``
JSON_SCHEMA = 1


@dataclass(frozen=True)
class Counterexample:
    """A point where the two sides disagree, with both values (as decimal strings)."""

    point: dict[str, str]
    lhs_value: str
    rhs_value: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"point": dict(self.point), "lhs": self.lhs_value, "rhs": self.rhs_value}

    def __str__(self) -> str:
        from elbo_check._printing import is_full

        items = [f"{k}={v}" for k, v in self.point.items()]
        if len(items) > 12 and not is_full():
            items = [*items[:12], f"… ({len(items) - 12:,} more; --full to show)"]
        where = ", ".join(items) or "(no free symbols)"
        return f"at {where}: lhs = {self.lhs_value}, rhs = {self.rhs_value}"


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the axiom ledger."""

    name: str
    kind: str  # axiom, definition, lemma, inequality, side-condition, assumption
    statement: str
    derivation: str | None = None
    #: what the rule actually does, as the core reads it (``lhs → rhs``, ``expr ≥ 0``)
    shows: str = ""
    #: the lemma this entry comes through, when it is not cited directly
    via: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "statement": self.statement}
        if self.derivation is not None:
            out["derivation"] = self.derivation
        out["shows"] = self.shows
        if self.via is not None:
            out["via"] = self.via
        return out


@dataclass(frozen=True)
class StepResult:
    """The verdict on one step, and how it was reached."""

    step: Step
    verdict: Verdict
    method: str
    seconds: float
    message: str = ""
    counterexample: Counterexample | None = None
    ledger: tuple[LedgerEntry, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape, plus ``index``, ``relation``, ``method``, ``message``.

        The pinned ``latex`` key is added by :func:`elbo_check.render.to_json_dict`.
        """
        s = self.step
        return {
            "index": s.index,
            "verdict": self.verdict.value,
            "by": s.by,
            "relation": s.relation,
            "lhs": safe_print(sp.sstr, s.lhs),
            "rhs": safe_print(sp.sstr, s.rhs),
            "seconds": round(self.seconds, 4),
            "counterexample": None
            if self.counterexample is None
            else self.counterexample.to_dict(),
            "method": self.method,
            "message": self.message,
        }


@dataclass(frozen=True)
class DerivationResult:
    """Every step's verdict, the weakest verdict, and the ledger."""

    derivation: Derivation
    steps: tuple[StepResult, ...]
    seconds: float
    ledger: tuple[LedgerEntry, ...] = field(default=())

    @property
    def name(self) -> str:
        """The derivation's slug."""
        return self.derivation.name

    @property
    def verdict(self) -> Verdict:
        """The weakest step verdict: a derivation is only as strong as its weakest link."""
        return Verdict.weakest(r.verdict for r in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """The pinned JSON shape: name, title, steps, axioms (plus verdict, seconds)."""
        return {
            "name": self.derivation.name,
            "title": self.derivation.title,
            "verdict": self.verdict.value,
            "seconds": round(self.seconds, 4),
            "steps": [r.to_dict() for r in self.steps],
            "axioms": [e.to_dict() for e in self.ledger],
        }

    def _repr_html_(self) -> str:
        """Jupyter: the report's MathML chain, badges and ledger."""
        from elbo_check.report.notebook import result_html

        return result_html(self)

    def _repr_latex_(self) -> str:
        """Jupyter: the chain as LaTeX, each link with its verdict."""
        from elbo_check.report.notebook import result_latex

        return result_latex(self)
