"""Minimal ``Dist`` for the proof half (the integrator keeps the parser's version).

>>> from elbo_check.klformula.families import FAMILIES
>>> Dist(FAMILIES["Exponential"], (sp.Integer(2),)).args
(2,)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from elbo_check.klformula.families import Family

__all__ = ["Dist"]


@dataclass(frozen=True)
class Dist:
    """A distribution: its family and one argument per parameter."""

    family: Family
    args: tuple[sp.Expr, ...]
