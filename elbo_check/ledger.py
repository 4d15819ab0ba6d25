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
    entries: dict[tuple[object, ...], LedgerEntry] = {}

    def add(entry: LedgerEntry, key: object = None) -> None:
        # keyed by what an entry says, not only its name: a rule can never hide another
        entries.setdefault((entry.kind, entry.name, entry.statement, entry.shows, key), entry)

    for rule in [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]:
        d = rule.ledger_entry()
        add(LedgerEntry(d["name"], d["kind"], d["statement"], d.get("derivation"), d["shows"]))
    for result in results:
        for entry in result.ledger:
            add(entry)
    for obj, (name, text) in _declarations(derivation).items():
        add(LedgerEntry(name, "assumption", text), obj)
    for lemma in lemmas:
        for entry in lemma.ledger:
            via = entry.via or f"lemma {lemma.name}"
            add(LedgerEntry(entry.name, entry.kind, entry.statement, entry.derivation, entry.shows, via))
    return tuple(entries.values())


def _declarations(derivation: Derivation) -> dict[object, tuple[str, str]]:
    """Every symbol and function the steps and the cited rules mention, with what was declared."""
    exprs = [e for step in derivation.steps for e in (step.lhs, step.rhs)]
    for rule in [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]:
        exprs += [e for pair in rule.patterns for e in pair]
        exprs += [rule.nonneg] if rule.nonneg is not None else []
        exprs += list(rule.cov.maps) if rule.cov is not None else []
    out: dict[object, tuple[str, str]] = {}
    for expr in exprs:
        for sym in sorted(expr.free_symbols, key=str):
            if isinstance(sym, sp.Symbol) and not isinstance(sym, sp.Wild):
                label = f"symbol {sym.name}" + (" (a Dummy)" if isinstance(sym, sp.Dummy) else "")
                out.setdefault(sym, (label, _describe(sym.name, sym)))
        for app in expr.atoms(sp.Function):
            if isinstance(app, AppliedUndef) or getattr(type(app), "opaque", False) is True:
                out.setdefault(app.func, (f"function {app.func}", _describe(str(app.func), app)))
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
