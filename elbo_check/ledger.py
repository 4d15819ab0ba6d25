"""The axiom ledger: everything a result depends on, closed over every cited lemma.

Like Lean's ``#print axioms``: a derivation's ledger lists the rules it cites
(with what each actually does, ``lhs → rhs`` or ``expr ≥ 0``), the core's
own facts its proofs used, the declared assumptions of its symbols and
functions, and, transitively, the ledger of every lemma it cites, however
deep, each marked with the lemma it comes through.

>>> from elbo_check.ledger import fact_entry
>>> fact_entry("Fubini-Tonelli").kind
'axiom'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp
from sympy.core.function import AppliedUndef

from elbo_check.core import Decision
from elbo_check.core.algebra import MONOTONE
from elbo_check.core.decide import EQUAL_INTEGRANDS
from elbo_check.core.integrals import FACTS, INTEGRABLE
from elbo_check.derivation import Derivation
from elbo_check.results import DerivationResult, LedgerEntry, StepResult

__all__ = ["derivation_ledger", "fact_entry", "step_ledger"]

_CORE_FACTS = {
    **FACTS,
    MONOTONE: "f ≥ 0 on [a, b] with a ≤ b implies ∫_a^b f ≥ 0",
    EQUAL_INTEGRANDS: "integrals over the same range of equal integrands are equal (both converge)",
}


def fact_entry(name: str) -> LedgerEntry:
    """The ledger line of one of the core's own facts."""
    kind = "side-condition" if name == INTEGRABLE else "axiom"
    statement = _CORE_FACTS.get(name, name)
    return LedgerEntry(name, kind, statement, shows="fact of the trusted core")


def step_ledger(decision: Decision) -> tuple[LedgerEntry, ...]:
    """The core facts one proved step used."""
    return tuple(fact_entry(f) for f in dict.fromkeys(decision.facts))


def derivation_ledger(
    derivation: Derivation,
    results: Sequence[StepResult],
    lemmas: Iterable[DerivationResult],
) -> tuple[LedgerEntry, ...]:
    """The complete ledger of ``derivation``: see the module docstring."""
    entries: dict[str, LedgerEntry] = {}
    for rule in [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]:
        d = rule.ledger_entry()
        entries.setdefault(
            rule.name,
            LedgerEntry(d["name"], d["kind"], d["statement"], d.get("derivation"), d["shows"]),
        )
    for result in results:
        for entry in result.ledger:
            entries.setdefault(entry.name, entry)
    for name, text in sorted(_declarations(derivation).items()):
        entries.setdefault(name, LedgerEntry(name, "assumption", text))
    for lemma in lemmas:
        for entry in lemma.ledger:
            if entry.name not in entries:
                via = entry.via or f"lemma {lemma.name}"
                entries[entry.name] = LedgerEntry(
                    entry.name, entry.kind, entry.statement, entry.derivation, entry.shows, via
                )
    return tuple(entries.values())


def _declarations(derivation: Derivation) -> dict[str, str]:
    out: dict[str, str] = {}
    for step in derivation.steps:
        for side in (step.lhs, step.rhs):
            for sym in side.free_symbols:
                if isinstance(sym, sp.Symbol) and not sym.name.startswith("_"):
                    out.setdefault(f"symbol {sym.name}", _describe(sym.name, sym))
            for app in side.atoms(AppliedUndef):
                out.setdefault(f"function {app.func}", _describe(str(app.func), app))
    return out


def _describe(name: str, obj: sp.Basic) -> str:
    for attr, text in (
        ("is_positive", "positive"),
        ("is_nonnegative", "non-negative"),
        ("is_negative", "negative"),
        ("is_nonpositive", "non-positive"),
        ("is_integer", "an integer"),
        ("is_real", "real"),
    ):
        if getattr(obj, attr):
            return f"{name} is {text} (declared)"
    return f"{name} is complex (no assumption declared)"
