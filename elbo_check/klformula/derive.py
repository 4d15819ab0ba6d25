"""PLACEHOLDER, to be replaced at merge by the proof half (helper klproof): derives nothing.

It only fixes the interface the CLI and the judge code against:
``derive(q, p) -> Derived`` never raises for supported families.

>>> from elbo_check.klformula.spec import parse_dist
>>> derive(parse_dist("Normal(0, 1)"), parse_dist("Normal(0, 1)")).closed_form is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from elbo_check.derivation import Derivation
from elbo_check.klformula.spec import Dist

__all__ = ["Derived", "conclude", "derive", "to_core", "to_sympy"]


@dataclass(frozen=True)
class Derived:
    """KL(q || p) in closed form with its derivation, or why there is none."""

    closed_form: sp.Expr | None
    derivation: Derivation | None
    reason: str


def derive(q: Dist, p: Dist) -> Derived:
    """Placeholder: nothing is derived yet."""
    return Derived(None, None, "not derived yet")


def conclude(derivation: Derivation, claim: sp.Expr) -> Derivation:
    """A copy of ``derivation`` with one more step: its closed form ``= claim``.

    Placeholder for the proof half's version (which also cites the axioms the
    claim's own logarithms need).  The copy keeps every step, citation and
    assumption, so it is proved exactly when the derivation is and the core
    shows the claim equal to the closed form.
    """
    copy = Derivation(
        derivation.name,
        title=derivation.title,
        description=derivation.description,
        assumptions=derivation.assumptions,
    )
    copy.start(derivation.steps[0].lhs)
    for step in derivation.steps:
        names = {r.name for r in step.rules}
        texts = [t for t in step.by.split("; ") if t not in names]
        copy.equals(step.rhs, by=[*texts, *step.rules])
    final = derivation.steps[-1].rules
    copy.equals(to_core(claim), by=["the claimed closed form (regroup)", *final])
    return copy


def to_core(expr: sp.Expr) -> sp.Expr:
    """Placeholder (identity): a claim written in the derivation's representation.

    The proof half's version writes sympy's ``digamma``/``loggamma`` as the
    core's opaque functions, so the checker can compare the claim with the
    derivation's last expression.
    """
    return expr


def to_sympy(expr: sp.Expr) -> sp.Expr:
    """Placeholder (identity): the derivation's representation back in sympy's functions."""
    return expr
