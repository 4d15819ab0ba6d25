"""Lemma instances: re-derived by the core, never taken on trust.

A lemma is the conclusion of a derivation's chain.  A cited lemma (made by
``Derivation.as_lemma``, possibly through ``instantiate``) carries its
origin: the derivation, the chain, and the substitution.  The core recomputes
the statement from the derivation's validated chain and the substitution, and
refuses the citation unless it reproduces the rule exactly.  So a hand-made
rule cannot pass a false statement off as a lemma.

A substitution replaces universally quantified symbols (or undefined function
classes) of the lemma.  :func:`instance_violation` checks that each value
provably has every assumption declared on what it replaces, at every place
the lemma applies it, and that nothing is captured by a bound variable.

>>> import sympy as sp
>>> a = sp.Symbol("a", positive=True); m = sp.Symbol("m", real=True)
>>> instance_violation(a, m, [sp.log(a)])
'a is declared positive, but its replacement m is not provably positive'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from elbo_check.core.fragment import ASSUMPTION_KEYS, fact

__all__ = [
    "bound_variables",
    "concrete",
    "describe_mapping",
    "instance_violation",
    "lemma_statement",
    "substitute",
]

Mapping = Sequence[tuple[Any, Any]]


def bound_variables(exprs: Sequence[sp.Expr]) -> set[sp.Symbol]:
    """Integration variables and differentiation variables: both are binders."""
    out = {lim[0] for e in exprs for i in e.atoms(sp.Integral) for lim in i.limits}
    return out | {v for e in exprs for d in e.atoms(sp.Derivative) for v in d.variables}


def _declared(obj: Any) -> list[str]:
    """The whitelisted facts declared on a symbol or known of an application."""
    return [k for k in ASSUMPTION_KEYS if getattr(obj, f"is_{k}", None) is True]


def _lacks(old: Any, value: Any) -> str | None:
    if not isinstance(value, sp.Expr):
        return f"{old} must be replaced by a sympy expression, got {value!r}"
    for key in _declared(old):
        if fact(value, key) is not True:
            return f"{old} is declared {key}, but its replacement {value} is not provably {key}"
    return None


def instance_violation(old: Any, new: Any, exprs: Sequence[sp.Expr]) -> str | None:
    """Why replacing ``old`` by ``new`` in the lemma ``exprs`` is unsound, or ``None``."""
    bound = bound_variables(exprs)
    if isinstance(new, sp.Basic) and (new.atoms(sp.Wild) or new.has(sp.Integral)):
        return f"the value {new} for {old} holds a pattern variable or an integral"
    if isinstance(old, sp.Symbol) and not isinstance(old, sp.Wild):
        if old in bound:
            return f"{old} is a bound (integration or differentiation) variable; it cannot be instantiated"
        value = sp.Integer(new) if isinstance(new, int) and not isinstance(new, bool) else new
        if isinstance(value, sp.Basic) and value.free_symbols & bound:
            caught = sorted(map(str, value.free_symbols & bound))
            return f"the value {value} for {old} would be captured by the integration variable(s) {caught}"
        return _lacks(old, value)
    if not (isinstance(old, type) and issubclass(old, AppliedUndef)):
        return f"can only instantiate symbols or undefined functions, got {old!r}"
    if not isinstance(new, (sp.Lambda, UndefinedFunction)):
        # a Python callable could answer differently on each call: only sympy's own
        # Lambda (or another undefined function) is a fixed function
        return f"{old} must be replaced by a sympy Lambda or function, got {new!r}"
    applications = {a for e in exprs for a in e.atoms(old)} or {old(sp.Dummy("t"))}
    for app in applications:
        try:
            value = new(*app.args)
        except TypeError as exc:
            return f"cannot apply {new!r} to {app.args}: {exc}"
        if isinstance(value, sp.Basic) and (value.free_symbols - app.free_symbols) & bound:
            return f"the value {value} for {app} would be captured by an integration variable"
        reason = _lacks(app, value)
        if reason is not None:
            return reason
    return None


def substitute(expr: sp.Expr, mapping: Mapping) -> sp.Expr:
    """Apply the substitution: symbols by ``xreplace``, function classes by ``replace``."""
    for old, new in mapping:
        if isinstance(old, type):
            expr = expr.replace(old, new)
        else:
            value = sp.Integer(new) if isinstance(new, int) else new
            expr = expr.xreplace({old: value})
    return expr


def concrete(exprs: Sequence[sp.Expr], mapping: Mapping) -> list[tuple[Any, Any]] | str:
    """The substitution as plain ``{expression: value}`` pairs, each checked, or a reason.

    A callable is called once per application: a function that answers
    differently on a second call cannot pass one value to the check and
    another to the substitution.
    """
    out: list[tuple[Any, Any]] = []
    for old, new in mapping:
        reason = instance_violation(old, new, exprs)
        if reason is not None:
            return reason
        if isinstance(old, type):
            apps = {a for e in exprs for a in e.atoms(old)}
            if any(a.args and any(b.has(old) for b in a.args) for a in apps):
                return f"{old} is applied to itself; nested applications cannot be instantiated"
            values = {a: new(*a.args) for a in apps}
            for app, value in values.items():
                reason = _lacks(app, value)
                if reason is not None:
                    return reason
            out.append(("apps", values))
        else:
            value = sp.Integer(new) if isinstance(new, int) and not isinstance(new, bool) else new
            out.append(("symbol", {old: value}))
        exprs = [e.xreplace(out[-1][1]) for e in exprs]
    return out


def lemma_statement(
    conclusion: tuple[sp.Expr, str | None, sp.Expr], mapping: Mapping
) -> tuple[str, sp.Expr, sp.Expr | None] | str:
    """``(relation, lhs, rhs)`` or ``(">=0", nonneg, None)`` of the instance, or a reason.

    The conclusion ``(start, relation, end)`` comes from a validated chain.
    """
    begin, relation, end = conclusion
    if relation is None:
        return "the chain mixes <= and >=: it proves no relation"
    pairs = concrete([begin, end], mapping)
    if isinstance(pairs, str):
        return pairs
    for _, table in pairs:
        begin, end = begin.xreplace(table), end.xreplace(table)
    if relation == "=":
        return ("=", begin, end)
    return (">=0", begin - end if relation == ">=" else end - begin, None)


def describe_mapping(mapping: Mapping) -> str:
    """``a := b, f := <function>`` for the ledger."""
    parts = []
    for old, new in mapping:
        shown = new if isinstance(new, sp.Basic) else _callable_text(old, new)
        parts.append(f"{old} := {shown}")
    return ", ".join(parts)


def _callable_text(old: Any, new: Callable[..., Any] | Any) -> str:
    if not callable(new):
        return repr(new)
    for arity in (1, 2, 3):
        args = sp.symbols(f"t1:{arity + 1}")
        try:
            value = new(*args)
        except Exception:  # any arity error: try the next
            continue
        return f"({', '.join(map(str, args))}) ↦ {value}"
    return "<function>"
