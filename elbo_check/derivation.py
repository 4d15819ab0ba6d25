"""Derivations: chains of justified steps, written the way a tutorial writes them.

A :class:`Derivation` is one or more chains ``e0 = e1 <= e2 = ...``.  Each link
claims a relation between the previous expression and the new one and cites
its justification: free text, one or more :class:`~elbo_check.rules.Rule`
objects, or both.  Nothing is checked while authoring, except the shape of the
input; :func:`elbo_check.checker.check_derivation` does the checking.

>>> import sympy as sp
>>> from elbo_check import Derivation
>>> m = sp.Symbol("m", real=True); s = sp.Symbol("s", positive=True)
>>> d = Derivation("seed-closed-form", title="The seed's closed form")
>>> d.start(-sp.Rational(1, 2) * (1 + sp.log(s**2) - m**2 - s**2))
Derivation('seed-closed-form', steps=0)
>>> d.equals(sp.log(1 / s) + (s**2 + m**2 - 1) / 2, by="expand and regroup")
Derivation('seed-closed-form', steps=1)
>>> [step.relation for step in d.steps]
['=']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import sympy as sp

from elbo_check.errors import DerivationError
from elbo_check.rules import Rule, is_slug, make_lemma

__all__ = ["Citation", "Derivation", "Relation", "Step"]

Relation = Literal["=", "<=", ">="]
Citation = str | Rule | Sequence[str | Rule]


@dataclass(frozen=True, eq=False)
class Step:
    """One link of a chain: ``lhs <relation> rhs``, justified by ``by``."""

    index: int  # 1-based, across all chains of the derivation
    chain: int  # 0-based chain number
    relation: Relation
    lhs: sp.Expr
    rhs: sp.Expr
    by: str
    rules: tuple[Rule, ...]
    note: str = ""

    @property
    def label(self) -> str:
        """``step-N``, as used in test ids."""
        return f"step-{self.index}"


class Derivation:
    """A named chain (or several) of justified steps.

    Parameters
    ----------
    name : str
        A slug: lower-case words joined by hyphens.
    title : str
        One line for tables and reports.
    description : str
        Free text (Markdown) for reports.
    assumptions : iterable of Rule
        Rules available to every step (they enter the ledger even if unused).

    A derivation is frozen (no more steps or assumptions) once it is checked
    or cited as a lemma, so what was proved is what stays written.
    """

    def __init__(
        self,
        name: str,
        title: str = "",
        *,
        description: str = "",
        assumptions: Iterable[Rule] = (),
    ) -> None:
        if not isinstance(name, str) or not is_slug(name):
            raise DerivationError(
                f"a derivation name must be a slug like 'gaussian-kl-diagonal', got name={name!r}"
            )
        self.name = name
        self.title = title or name
        self.description = description
        self._assumptions: tuple[Rule, ...] = tuple(_rules(assumptions, name))
        self._steps: tuple[Step, ...] = ()
        self._chains: tuple[sp.Expr, ...] = ()  # start expression of each chain
        self._current: sp.Expr | None = None
        self._frozen = False

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every link, in order (read-only)."""
        return self._steps

    @property
    def assumptions(self) -> tuple[Rule, ...]:
        """Rules available to every step (read-only; add with :meth:`assume`)."""
        return self._assumptions

    @property
    def chains(self) -> tuple[sp.Expr, ...]:
        """The start expression of each chain (read-only)."""
        return self._chains

    def freeze(self) -> None:
        """Refuse further changes (called when the derivation is checked or cited)."""
        self._frozen = True

    def _mutable(self, what: str) -> None:
        if self._frozen:
            raise DerivationError(
                f"derivation {self.name!r} was already checked or cited; cannot {what}"
            )

    # -- authoring ----------------------------------------------------------
    def start(self, expr: object) -> Derivation:
        """Begin a chain at ``expr``.  A derivation may hold several chains."""
        self._mutable("start a chain")
        expr = self._coerce(expr, f"start of chain {len(self.chains) + 1}")
        self._chains = (*self._chains, expr)
        self._current = expr
        return self

    def equals(self, expr: object, by: Citation, *, note: str = "") -> Derivation:
        """Claim that the previous expression equals ``expr``."""
        return self._link("=", expr, by, note)

    def leq(self, expr: object, by: Citation, *, note: str = "") -> Derivation:
        """Claim previous ``<=`` ``expr``; to be proved it must cite an inequality rule or lemma."""
        return self._link("<=", expr, by, note)

    def geq(self, expr: object, by: Citation, *, note: str = "") -> Derivation:
        """Claim previous ``>=`` ``expr``; to be proved it must cite an inequality rule or lemma."""
        return self._link(">=", expr, by, note)

    def assume(self, *rules: Rule) -> Derivation:
        """Make ``rules`` available to every step (and list them in the ledger)."""
        self._mutable("add assumptions")
        self._assumptions += tuple(_rules(rules, self.name))
        return self

    # -- reading ------------------------------------------------------------
    @property
    def conclusions(self) -> list[tuple[sp.Expr, Relation | None, sp.Expr]]:
        """``(start, relation, end)`` of each chain; relation None when ``<=`` and ``>=`` mix."""
        out: list[tuple[sp.Expr, Relation | None, sp.Expr]] = []
        for chain, begin in enumerate(self.chains):
            links = [s for s in self.steps if s.chain == chain]
            if not links:
                continue
            relations = {s.relation for s in links} - {"="}
            rel: Relation | None
            if not relations:
                rel = "="
            elif len(relations) == 1:
                rel = "<=" if "<=" in relations else ">="
            else:
                rel = None
            out.append((begin, rel, links[-1].rhs))
        return out

    def as_lemma(self, name: str | None = None, *, chain: int = 0) -> Rule:
        """This derivation's conclusion as a citable lemma.

        An equality chain gives the rewrite ``start -> end``; an inequality
        chain gives ``start - end >= 0`` (or ``end - start``).  The checker
        proves the derivation before trusting the lemma.
        """
        conclusions = self.conclusions
        if not isinstance(chain, int) or not 0 <= chain < len(conclusions):
            raise DerivationError(
                f"derivation {self.name!r} has no chain {chain} with steps to use as a lemma"
            )
        begin, rel, end = conclusions[chain]
        if rel is None:
            raise DerivationError(
                f"derivation {self.name!r} chain {chain} mixes <= and >=: it proves no relation"
            )
        self.freeze()
        label = name or f"lemma {self.name}"
        return make_lemma(label, self, chain, f"{begin} {rel} {end} (derivation {self.name})")

    def validate(self) -> None:
        """Raise :class:`DerivationError` unless the chains are well formed.

        There must be at least one step, and each link's left side must be the
        previous link's right side (or its chain's start).
        """
        if not self.steps:
            raise DerivationError(f"derivation {self.name!r} has no steps")
        for chain, begin in enumerate(self.chains):
            current = begin
            for step in (s for s in self.steps if s.chain == chain):
                if step.lhs != current:
                    raise DerivationError(
                        f"derivation {self.name!r}, step {step.index}: its left side is not "
                        "the previous link's right side (the chain was altered)"
                    )
                current = step.rhs

    def __repr__(self) -> str:
        return f"Derivation({self.name!r}, steps={len(self.steps)})"

    def _repr_html_(self) -> str:
        """Jupyter: the chain in MathML with its justifications (not checked)."""
        from elbo_check.report.notebook import derivation_html_preview

        return derivation_html_preview(self)

    def _repr_latex_(self) -> str:
        """Jupyter: the chain as one LaTeX ``aligned`` display."""
        from elbo_check.report.notebook import derivation_latex

        return derivation_latex(self)

    # -- internals ----------------------------------------------------------
    def _link(self, relation: Relation, expr: object, by: Citation, note: str) -> Derivation:
        self._mutable("add a step")
        index = len(self.steps) + 1
        where = f"step {index}"
        if self._current is None:
            raise DerivationError(
                f"derivation {self.name!r}, {where}: call start(expr) before adding steps"
            )
        rhs = self._coerce(expr, where)
        text, rules = _citation(by, self.name, where)
        self._steps = (
            *self._steps,
            Step(index, len(self.chains) - 1, relation, self._current, rhs, text, rules, note),
        )
        self._current = rhs
        return self

    def _coerce(self, expr: object, where: str) -> sp.Expr:
        if isinstance(expr, (bool, float)):
            raise DerivationError(
                f"derivation {self.name!r}, {where}: expected an exact sympy expression, "
                f"got {type(expr).__name__} {expr!r}"
            )
        if isinstance(expr, int):
            return sp.Integer(expr)
        if isinstance(expr, Fraction):
            return sp.Rational(expr.numerator, expr.denominator)
        if not isinstance(expr, sp.Expr):
            raise DerivationError(
                f"derivation {self.name!r}, {where}: expected a sympy expression, "
                f"got {type(expr).__name__} {expr!r}"
            )
        return expr


def _rules(rules: Iterable[object], name: str) -> list[Rule]:
    out = []
    for r in rules:
        if not isinstance(r, Rule):
            raise DerivationError(f"derivation {name!r}: expected a Rule, got {r!r}")
        out.append(r)
    return out


def _citation(by: object, name: str, where: str) -> tuple[str, tuple[Rule, ...]]:
    items: Sequence[object]
    if isinstance(by, (str, Rule)):
        items = [by]
    elif isinstance(by, Sequence):
        items = list(by)
    else:
        raise DerivationError(
            f"derivation {name!r}, {where}: by= must be text, a Rule or a list of them, got {by!r}"
        )
    texts: list[str] = []
    rules: list[Rule] = []
    for item in items:
        if isinstance(item, Rule):
            rules.append(item)
            texts.append(item.name)
        elif isinstance(item, str) and item.strip():
            texts.append(item.strip())
        else:
            raise DerivationError(
                f"derivation {name!r}, {where}: each citation must be non-empty text or a Rule, "
                f"got {item!r}"
            )
    if not texts:
        raise DerivationError(f"derivation {name!r}, {where}: by= must name a justification")
    return "; ".join(texts), tuple(rules)
