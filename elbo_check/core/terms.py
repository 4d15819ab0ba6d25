"""Bound variables and rule application, without capture.

Three operations, each small enough to audit on its own:

* :func:`alpha_normalize` renames integration variables to canonical names,
  top-down, so that two integrals that differ only in bound names become
  structurally equal.  A bound variable gets ``real`` and a sign **only from
  its own range**, computed with the already-renamed outer variables (never
  from what the author declared on the symbol).
* :func:`rewrite` applies an equality schema ``lhs -> rhs`` everywhere.  Every
  pattern match is verified by substituting it back into ``lhs``; each
  ``Wild``'s declared assumptions are enforced on the value it matched; a
  ``Wild`` under a binder of ``lhs`` never matches that binder's variable; the
  binders of ``rhs`` get fresh names before substitution; and a rewrite never
  puts a free symbol of the rule under a binder of the target.
* :func:`change_variables` applies a real affine substitution to integrals over
  all of R^k whose variables are exactly the declared ones.

>>> import sympy as sp
>>> t, z = sp.symbols("t z", real=True)
>>> alpha_normalize(sp.Integral(sp.exp(-t**2), (t, -sp.oo, sp.oo))) == \\
...     alpha_normalize(sp.Integral(sp.exp(-z**2), (z, -sp.oo, sp.oo)))
True
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from elbo_check.core.fragment import ASSUMPTION_KEYS, fact

__all__ = [
    "alpha_normalize",
    "bound_prefix",
    "change_variables",
    "match_instance",
    "rewrite",
    "wild_violation",
]


def bound_prefix(exprs: Iterable[sp.Basic]) -> str:
    """A prefix for canonical bound names that no symbol of ``exprs`` starts with."""
    taken = {s.name for e in exprs for s in e.atoms(sp.Symbol)}
    prefix = "_b"
    while any(name.startswith(prefix) for name in taken):
        prefix += "b"
    return prefix


def _height(node: sp.Basic, memo: dict[sp.Basic, int]) -> int:
    """How many integrals nest inside ``node`` (itself included)."""
    if node in memo:
        return memo[node]
    inner = max((_height(a, memo) for a in node.args), default=0)
    value = inner + 1 if isinstance(node, sp.Integral) else inner
    memo[node] = value
    return value


def range_assumptions(lo: sp.Expr, hi: sp.Expr) -> dict[str, bool]:
    """Assumptions a variable integrated between ``lo`` and ``hi`` may carry.

    >>> range_assumptions(sp.Integer(0), sp.oo)
    {'real': True, 'nonnegative': True}
    >>> range_assumptions(sp.Integer(-1), sp.Integer(1))
    {'real': True}
    """
    out = {"real": True}
    for key in ("positive", "nonnegative", "negative", "nonpositive"):
        if fact(lo, f"extended_{key}") and fact(hi, f"extended_{key}"):
            out[key] = True
            break
    return out


def alpha_normalize(expr: sp.Expr, prefix: str | None = None) -> sp.Expr:
    """Rename every integration variable canonically (``{prefix}{height}_{i}``).

    The name depends on the integral's height (how many integrals nest inside
    it, itself included) and the limit's position, so a rule's pattern matches
    wherever the integral occurs.  Limits are free in the enclosing scope:
    limit ``i`` sees only the variables of limits after it.
    """
    if not expr.has(sp.Integral):
        return expr
    prefix = prefix or bound_prefix([expr])
    memo: dict[sp.Basic, int] = {}

    def walk(node: sp.Basic, env: dict[sp.Symbol, sp.Symbol]) -> sp.Basic:
        if isinstance(node, sp.Symbol):
            return env.get(node, node)
        if not node.args or not (node.has(sp.Integral) or node.free_symbols & set(env)):
            return node
        if not isinstance(node, sp.Integral):
            return _rebuild(node, [walk(a, env) for a in node.args])
        height = _height(node, memo)
        inner = dict(env)
        limits: list[tuple[sp.Basic, ...]] = [()] * len(node.limits)
        for i in reversed(range(len(node.limits))):  # outermost limit first
            var, *bounds = node.limits[i]
            if len(bounds) != 2 or isinstance(var, sp.Wild):
                return node  # indefinite, or a pattern binder: not renamed
            lo, hi = (walk(b, inner) for b in bounds)
            new = sp.Symbol(f"{prefix}{height}_{i}", **range_assumptions(lo, hi))
            inner[var] = new
            limits[i] = (new, lo, hi)
        return sp.Integral(walk(node.function, inner), *limits)

    return walk(expr, {})


def _rebuild(node: sp.Basic, args: list[sp.Basic]) -> sp.Basic:
    """``node`` itself when no argument changed, else the node rebuilt from ``args``."""
    if all(a is b for a, b in zip(args, node.args, strict=True)):
        return node
    return node.func(*args)


def _declared_keys(wild: sp.Wild) -> list[tuple[str, bool]]:
    given = getattr(wild, "_assumptions_orig", {})
    return [(k, given[k]) for k in ASSUMPTION_KEYS if isinstance(given.get(k), bool)]


def wild_violation(wild: sp.Wild) -> str | None:
    """Why the core refuses ``wild`` as a pattern variable, or ``None``.

    Property closures cannot be audited or shown in the ledger; assumption
    keywords can, and the core enforces them on every match.
    """
    if wild.properties:
        return (
            f"pattern variable {wild.name} uses property functions, which cannot be audited; "
            f"declare assumptions instead, e.g. Wild({wild.name!r}, positive=True)"
        )
    given = getattr(wild, "_assumptions_orig", {})
    bad = [k for k in given if k not in ASSUMPTION_KEYS and k != "commutative"]
    if bad:
        return f"pattern variable {wild.name} is declared {bad[0]}, which is not a supported key"
    return None


def _fresh_binders(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every non-pattern integration variable renamed to a fresh Dummy."""

    def walk(node: sp.Basic, env: dict[sp.Symbol, sp.Symbol]) -> sp.Basic:
        if isinstance(node, sp.Symbol):
            return env.get(node, node)
        if not node.args:
            return node
        if not isinstance(node, sp.Integral):
            return node.func(*(walk(a, env) for a in node.args))
        inner = dict(env)
        limits: list[tuple[sp.Basic, ...]] = [()] * len(node.limits)
        for i in reversed(range(len(node.limits))):
            var, *bounds = node.limits[i]
            bounds = [walk(b, inner) for b in bounds]
            if not isinstance(var, sp.Wild):
                inner[var] = sp.Dummy(var.name, **range_assumptions(*bounds))
            limits[i] = (inner.get(var, var), *bounds)
        return sp.Integral(walk(node.function, inner), *limits)

    return walk(expr, {})


def _lhs_bound(lhs: sp.Expr) -> set[sp.Symbol]:
    return {lim[0] for i in lhs.atoms(sp.Integral) for lim in i.limits}


def match_instance(node: sp.Expr, pattern: sp.Expr) -> dict | None:
    """A match of ``pattern`` (with ``Wild`` symbols) at ``node``, re-checked, or None.

    >>> w = sp.Wild("w", positive=True); x = sp.Symbol("x", real=True)
    >>> match_instance(sp.log(x**2), sp.log(w)) is None
    True
    """
    return _verified_match(node, pattern, _lhs_bound(pattern))


def _verified_match(node: sp.Expr, lhs: sp.Expr, bound_in_lhs: set[sp.Symbol]) -> dict | None:
    """A match of ``lhs`` at ``node`` that the core has re-checked, or None."""
    found = node.match(lhs)
    if found is None:
        return None
    wilds = lhs.atoms(sp.Wild)
    if set(found) != wilds:
        return None
    for wild, value in found.items():
        if value.free_symbols & bound_in_lhs:
            return None  # the value would escape its binder
        for key, wanted in _declared_keys(wild):
            if fact(value, key) is not wanted:
                return None
    if lhs.xreplace(found) != node:
        return None  # the matcher's answer does not reproduce the node
    return found


def rewrite(expr: sp.Expr, lhs: sp.Expr, rhs: sp.Expr, prefix: str) -> sp.Expr:
    """Replace every instance of ``lhs`` in ``expr`` by the instance of ``rhs``.

    ``expr``, ``lhs`` and ``rhs`` are alpha-normalized with the same
    ``prefix``.  Instances are found top-down; an instance under a target
    binder whose variable is free in the instantiated ``rhs`` (but not in the
    instance itself) is left alone, so nothing is captured.

    Under a derivative, a rewrite must hold as an identity in the
    differentiation variable: a schema whose fixed (non-pattern) part
    mentions that variable is not applied there (``a = x`` says nothing
    about d/da).  Definitions unfold inside derivatives, so ``K := log s``
    gives ``dK/ds = 1/s``.
    """
    wild = bool(lhs.atoms(sp.Wild))
    bound_in_lhs = _lhs_bound(lhs)
    fixed = {s for s in lhs.free_symbols if not isinstance(s, sp.Wild)}
    rhs_fresh = _fresh_binders(rhs) if rhs.has(sp.Integral) else rhs

    def walk(node: sp.Basic, scope: frozenset[sp.Symbol], dvars: frozenset[sp.Symbol]) -> sp.Basic:
        if not isinstance(node, (sp.Expr, sp.Tuple)):
            return node
        if not (node.has(lhs.func) if wild else node.has(lhs)):
            return node
        if (node.func == lhs.func or not wild) and not (fixed & dvars):
            found = _verified_match(node, lhs, bound_in_lhs) if wild else (
                {} if node == lhs else None
            )
            if found is not None:
                new = rhs_fresh.xreplace(found)
                if not ((new.free_symbols - node.free_symbols) & scope):
                    return new
        if not node.args:
            return node
        if isinstance(node, sp.Derivative):
            inner = walk(node.expr, scope, dvars | set(node.variables))
            return node if inner is node.expr else sp.Derivative(inner, *node.variable_count)
        if isinstance(node, sp.Integral):
            inner_scope = scope | {lim[0] for lim in node.limits}
            body = walk(node.function, inner_scope, dvars)
            limits = [
                (
                    lim[0],
                    *(walk(b, scope | {x[0] for x in node.limits[i + 1 :]}, dvars) for b in lim[1:]),
                )
                for i, lim in enumerate(node.limits)
            ]
            return sp.Integral(body, *limits)
        return _rebuild(node, [walk(a, scope, dvars) for a in node.args])

    if not wild and not expr.has(lhs):
        return expr
    return alpha_normalize(walk(expr, frozenset(), frozenset()), prefix)


def change_variables(
    expr: sp.Expr,
    olds: tuple[sp.Symbol, ...],
    news: tuple[sp.Symbol, ...],
    maps: tuple[sp.Expr, ...],
    jacobian: sp.Expr,
) -> sp.Expr:
    """Substitute ``olds = maps(news)`` in each integral over exactly ``olds`` on R^k.

    The caller (:mod:`elbo_check.core.decide`) has checked that the map is
    real, affine in ``news`` and has ``jacobian = |det J| > 0``.  An integral
    in which a new variable already occurs, or that rebinds an old or new
    variable inside, is left alone.
    """
    wanted = {(o, -sp.oo, sp.oo) for o in olds}

    def swap(node: sp.Integral) -> sp.Expr:
        if len(node.limits) != len(olds) or set(node.limits) != wanted:
            return node
        body = node.function
        inner_bound = {lim[0] for i in body.atoms(sp.Integral) for lim in i.limits}
        if node.atoms(sp.Symbol) & set(news) or inner_bound & (set(olds) | set(news)):
            return node
        moved = body.xreplace(dict(zip(olds, maps, strict=True)))
        return sp.Integral(jacobian * moved, *[(v, -sp.oo, sp.oo) for v in news])

    return expr.replace(lambda e: isinstance(e, sp.Integral), swap)
