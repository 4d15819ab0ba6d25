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
from elbo_check.rules import Rule, is_slug

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
    direct_integration : bool
        Prove integrals by ``sympy.integrate`` only (used by the
        ``gaussian-moments`` lemma, which the Gaussian engine itself relies on).
    """

    def __init__(
        self,
        name: str,
        title: str = "",
        *,
        description: str = "",
        assumptions: Iterable[Rule] = (),
        direct_integration: bool = False,
    ) -> None:
        if not isinstance(name, str) or not is_slug(name):
            raise DerivationError(
                f"a derivation name must be a slug like 'gaussian-kl-diagonal', got name={name!r}"
            )
        self.name = name
        self.title = title or name
        self.description = description
        self.assumptions: tuple[Rule, ...] = tuple(_rules(assumptions, name))
        self.direct_integration = direct_integration
        self.steps: list[Step] = []
        self.chains: list[sp.Expr] = []  # start expression of each chain
        self._current: sp.Expr | None = None
        self._lemma: Rule | None = None

    # -- authoring ----------------------------------------------------------
    def start(self, expr: object) -> Derivation:
        """Begin a chain at ``expr``.  A derivation may hold several chains."""
        expr = self._coerce(expr, f"start of chain {len(self.chains) + 1}")
        self.chains.append(expr)
        self._current = expr
        return self

    def equals(self, expr: object, by: Citation, *, note: str = "") -> Derivation:
        """Claim that the previous expression equals ``expr``."""
        return self._link("=", expr, by, note)

    def leq(self, expr: object, by: Citation, *, note: str = "") -> Derivation:
        """Claim previous ``<=`` ``expr``; ``by`` must cite an inequality rule or lemma."""
        return self._link("<=", expr, by, note)

    def geq(self, expr: object, by: Citation, *, note: str = "") -> Derivation:
        """Claim previous ``>=`` ``expr``; ``by`` must cite an inequality rule or lemma."""
        return self._link(">=", expr, by, note)

    def assume(self, *rules: Rule) -> Derivation:
        """Make ``rules`` available to every step (and list them in the ledger)."""
        self.assumptions += tuple(_rules(rules, self.name))
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
        if chain >= len(conclusions):
            raise DerivationError(
                f"derivation {self.name!r} has no chain {chain} with steps to use as a lemma"
            )
        begin, rel, end = conclusions[chain]
        label = name or f"lemma {self.name}"
        statement = f"{begin} {rel} {end} (derivation {self.name})"
        if rel == "=":
            return Rule(label, "lemma", statement, lhs=begin, rhs=end, derivation=self)
        if rel == ">=":
            return Rule(label, "lemma", statement, nonneg=begin - end, derivation=self)
        if rel == "<=":
            return Rule(label, "lemma", statement, nonneg=end - begin, derivation=self)
        raise DerivationError(
            f"derivation {self.name!r} chain {chain} mixes <= and >=: it proves no relation"
        )

    def validate(self) -> None:
        """Raise :class:`DerivationError` if the derivation has no steps."""
        if not self.steps:
            raise DerivationError(f"derivation {self.name!r} has no steps")

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
        index = len(self.steps) + 1
        where = f"step {index}"
        if self._current is None:
            raise DerivationError(
                f"derivation {self.name!r}, {where}: call start(expr) before adding steps"
            )
        rhs = self._coerce(expr, where)
        text, rules = _citation(by, self.name, where)
        if relation != "=" and not any(r.kind in ("inequality", "lemma") for r in rules):
            raise DerivationError(
                f"derivation {self.name!r}, {where}: an inequality link must cite an "
                f"inequality rule or a lemma, got by={by!r}"
            )
        self.steps.append(
            Step(index, len(self.chains) - 1, relation, self._current, rhs, text, rules, note)
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
