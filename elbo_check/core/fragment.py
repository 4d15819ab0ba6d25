"""The closed fragment: the only expressions the trusted core reasons about.

A step can be ``proved`` only when both of its sides, after the cited rules
are applied, are built from the node types below.  Anything else (``Sum``,
``Product``, ``Limit``, ``Subs``, ``Piecewise``, ``Float``, ``I``,
``DiracDelta``, special functions, ...) makes the step at best
``corroborated``, and :func:`fragment_violation` names the reason.

* numbers: ``Integer`` and ``Rational`` only (never ``Float``), ``pi``, ``E``;
* ``Symbol`` (declared real) and ``Dummy`` (the core's own bound names);
* ``Add``, ``Mul``, ``Pow``, ``exp``, ``log``, ``Abs``;
* ``Integral`` with definite real limits; ``oo``/``-oo`` only as limits;
* applied undefined functions (abstract densities), declared real-valued, and
  *opaque* function classes (``opaque = True``, real-valued, no methods but
  printing hooks), such as ``KL``: uninterpreted symbols whose meaning comes
  only from cited definitions;
* ``Derivative``: evaluated by ``diff`` before the gate; one that does not
  evaluate (of an abstract function) is outside the fragment.

Assumption keys are whitelisted too (:data:`ASSUMPTION_KEYS`): a symbol or an
undefined function declared with any other key is a usage error, and so are
two different symbols (or function classes) that share a name.

>>> import sympy as sp
>>> s = sp.Symbol("s", positive=True)
>>> fragment_violation(sp.log(s**2)) is None
True
>>> fragment_violation(sp.Float("0.5") * s)
'a Float (0.500000000000000) is not exact'
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from elbo_check.errors import DerivationError

__all__ = [
    "ASSUMPTION_KEYS",
    "check_names_and_assumptions",
    "fact",
    "fragment_violation",
    "is_real_valued",
    "short",
]

#: the only assumption keys a symbol or an undefined function may be declared with
ASSUMPTION_KEYS = ("real", "positive", "nonnegative", "negative", "nonpositive", "nonzero", "integer")

_OPERATORS = (sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.Abs)
_CONSTANTS = (sp.Integer, sp.Rational)
#: the exact classes of the fragment (a subclass, even one claiming a sympy module, is refused)
_EXACT = frozenset(
    {
        *_OPERATORS,
        sp.Integral,
        sp.Derivative,
        sp.Symbol,
        sp.Dummy,
        sp.Wild,
        sp.Tuple,
        *(type(n) for n in (sp.Integer(5), sp.Integer(1), sp.Integer(0), sp.Integer(-1))),
        *(type(n) for n in (sp.Rational(3, 4), sp.Rational(1, 2))),
        *(type(n) for n in (sp.pi, sp.E, sp.oo, -sp.oo, sp.zoo, sp.nan)),
    }
)
#: nodes refused with their own reason below, whatever their class
_REFUSED_ANYWAY = (sp.Float,)
#: the sympy classes every undefined-function application inherits: trusted by identity
_TRUSTED_BASES = frozenset(type(sp.Function("f")(sp.Symbol("t"))).__mro__[1:])


def fragment_violation(expr: sp.Basic, *, bound: frozenset[sp.Symbol] = frozenset()) -> str | None:
    """The first reason ``expr`` lies outside the fragment, or ``None``.

    Iterative (no recursion), so arbitrarily deep expressions are safe.
    """
    stack: list[tuple[sp.Basic, frozenset[sp.Symbol]]] = [(expr, bound)]
    while stack:
        node, scope = stack.pop()
        reason = _node_violation(node, scope)
        if reason is not None:
            return reason
        if isinstance(node, sp.Integral):
            inner = scope | {lim[0] for lim in node.limits}
            stack.append((node.function, inner))
            for i, lim in enumerate(node.limits):
                outer = scope | {later[0] for later in node.limits[i + 1 :]}
                stack.extend((b, outer) for b in lim[1:] if b not in (sp.oo, -sp.oo))
        elif isinstance(node, sp.Derivative):
            stack.append((node.expr, scope))
        elif not isinstance(node, (sp.Symbol, AppliedUndef)):
            stack.extend((a, scope) for a in node.args)
        else:
            stack.extend((a, scope) for a in node.args)
    return None


def _node_violation(node: sp.Basic, scope: frozenset[sp.Symbol]) -> str | None:
    if isinstance(node, AppliedUndef) or _is_opaque(node):
        why = _class_violation(type(node))
        if why is not None:
            return why
    elif type(node) not in _EXACT and not isinstance(node, _REFUSED_ANYWAY):
        # a subclass of a sympy class could override __eq__, expansion, ...
        return f"{type(node).__name__} is not one of the fragment's sympy classes"
    if isinstance(node, sp.Float):
        return f"a Float ({node}) is not exact"
    if isinstance(node, _CONSTANTS) or node in (sp.pi, sp.E):
        return None
    if isinstance(node, sp.Wild):
        return f"an unmatched pattern variable {node} is left"
    if isinstance(node, sp.Symbol):
        if node.is_real is not True and node not in scope:
            return f"the symbol {node} is not declared real"
        return None
    if isinstance(node, AppliedUndef):
        if node.is_real is not True:
            return f"the function {node.func} is not declared real-valued"
        return None
    if isinstance(node, _OPERATORS):
        return None
    if _is_opaque(node):
        return None  # checked above
    if isinstance(node, sp.Integral):
        for i, lim in enumerate(node.limits):
            if len(lim) != 3:
                return f"the integral over {lim[0]} has no limits"
            if not isinstance(lim[0], sp.Symbol):
                return f"the integration variable {lim[0]} is not a symbol"
            outer = scope | {later[0] for later in node.limits[i + 1 :]}
            for bound in lim[1:]:
                if bound not in (sp.oo, -sp.oo) and not is_real_valued(bound, outer):
                    return f"the limit {short(bound)} is not provably real"
        return None
    if isinstance(node, sp.Derivative):
        return f"the derivative {short(node)} does not evaluate to a closed form"
    if node in (sp.oo, -sp.oo, sp.zoo, sp.nan):
        return f"{node} occurs outside an integral's limits"
    return f"{type(node).__name__} ({short(node)}) is outside the fragment"


#: what a function class of the fragment may define itself besides ``is_*`` facts:
#: printing hooks and the class bookkeeping sympy adds, nothing sympy would run
_CLASS_ALLOWED = {
    "_latex",
    "_sympystr",
    "_pretty",
    "_mathml",
    "_mathml_presentation",
    "as_integral",
    "nargs",
    "_nargs",
    "opaque",
    "name",
    "_kwargs",
    "_explicit_class_assumptions",
    "default_assumptions",
    "_prop_handler",
    "_sage_",
    "__module__",
    "__doc__",
    "__qualname__",
    "__annotations__",
    "__dict__",
    "__weakref__",
}


def _is_opaque(node: sp.Basic) -> bool:
    return isinstance(node, sp.Function) and getattr(type(node), "opaque", False) is True


def _class_violation(cls: type) -> str | None:
    """A function class of the fragment is an uninterpreted real-valued symbol.

    Undefined functions (``sp.Function("q", positive=True)``) and *opaque*
    classes (``opaque = True``, such as ``KL``) qualify when they are declared
    real-valued and define nothing sympy could run while canonicalising
    (``eval``, ``doit``, ``_eval_*``, ``__eq__``, ...): only printing hooks and
    assumption facts.  Their meaning comes only from cited definitions.
    """
    if getattr(cls, "is_real", None) is not True:
        return f"the function {cls.__name__} is not declared real-valued"
    for klass in cls.__mro__:
        if klass in _TRUSTED_BASES:
            continue  # sympy's own base classes, by identity; every other class is audited
        for name, value in vars(klass).items():
            fact = name.startswith("is_") and (value is None or isinstance(value, bool))
            if not fact and name not in _CLASS_ALLOWED:
                return f"the function {cls.__name__} defines {name}, which sympy may run"
    return None


def fact(expr: sp.Basic, key: str) -> bool | None:
    """``expr.is_<key>``, unless deciding it would take numerics.

    sympy decides the sign of a numeric constant such as ``exp(pi*sqrt(163)) -
    262537412640768744`` by evaluating it.  Numbers never prove, so wherever a
    constant occurs whose sign is not evident from its structure (a rational,
    pi, E, exp of a real, a positive base to a real power, products, sums of
    one sign, the log of a rational), the answer is "unknown" (None).

    >>> fact(sp.pi, "positive"), fact(sp.E - 2, "positive")
    (True, None)
    >>> fact(sp.log(sp.exp(sp.pi) / 23), "negative") is None
    True
    """
    if _unevident_constant(expr):
        return None
    value = getattr(expr, f"is_{key}", None)
    return value if isinstance(value, bool) else None


def _unevident_constant(expr: sp.Basic) -> bool:
    """Does ``expr`` hold a constant (no free symbols) whose sign its structure does not show?"""
    stack = [expr]
    while stack:
        node = stack.pop()
        if not isinstance(node, sp.Basic) or isinstance(node, (sp.Symbol, sp.Tuple)):
            continue
        if isinstance(node, sp.Expr) and not node.free_symbols and not node.is_Rational:
            if _sign(node) is None:
                return True
            continue
        stack.extend(node.args)
    return False


def _sign(n: sp.Expr) -> int | None:
    """-1, 0 or 1 for a constant whose sign its structure shows; None otherwise."""
    if n.is_Rational:
        return int(bool(n > 0)) - int(bool(n < 0))
    if n in (sp.pi, sp.E, sp.oo):
        return 1
    if n == -sp.oo:
        return -1
    if isinstance(n, sp.exp):
        return 1 if _sign(n.args[0]) is not None else None
    if isinstance(n, sp.Pow):
        base, power = n.args
        sb, sp_ = _sign(base), _sign(power)
        if sb == 1 and sp_ is not None:
            return 1
        if sb is not None and power.is_Integer:
            return sb ** int(power) if sb != 0 or power > 0 else None
        return None
    if isinstance(n, sp.Mul):
        factors = [_sign(a) for a in n.args]
        if any(s is None for s in factors):
            return None
        out = 1
        for s in factors:
            out *= s  # type: ignore[operator]
        return out
    if isinstance(n, sp.Add):
        signs = {_sign(a) for a in n.args}
        if None in signs or (1 in signs and -1 in signs):
            return None
        return 1 if 1 in signs else (-1 if -1 in signs else 0)
    if isinstance(n, sp.log) and n.args[0].is_Rational and n.args[0] > 0:
        a = n.args[0]
        return int(bool(a > 1)) - int(bool(a < 1))
    if isinstance(n, sp.Abs):
        s = _sign(n.args[0])
        return None if s is None else abs(s)
    return None


def is_real_valued(expr: sp.Basic, scope: frozenset[sp.Symbol] = frozenset()) -> bool:
    """Is ``expr`` (a fragment expression) real for every value of its real symbols?

    Structural, so it needs no assumption query on integrals: an integral of a
    real integrand over real limits is real, a power is real when the base is
    real and the exponent an integer or the base non-negative, a log is real
    when its argument is positive.

    >>> x = sp.Symbol("x", real=True)
    >>> is_real_valued(x**2 + sp.exp(x)), is_real_valued(x ** sp.Rational(1, 3))
    (True, False)
    """
    if isinstance(expr, sp.Integral):
        inner = scope | {lim[0] for lim in expr.limits}
        limits_real = all(
            b in (sp.oo, -sp.oo) or is_real_valued(b, inner) for lim in expr.limits for b in lim[1:]
        )
        return limits_real and is_real_valued(expr.function, inner)
    if isinstance(expr, sp.Symbol):
        return expr in scope or expr.is_real is True
    if isinstance(expr, (sp.Integer, sp.Rational)) or expr in (sp.pi, sp.E):
        return True
    if isinstance(expr, (sp.Add, sp.Mul, sp.exp, sp.Abs)):
        return all(is_real_valued(a, scope) for a in expr.args)
    if isinstance(expr, sp.Pow):
        base, power = expr.args
        if not (is_real_valued(base, scope) and is_real_valued(power, scope)):
            return False
        return fact(power, "integer") is True or fact(base, "nonnegative") is True
    if isinstance(expr, sp.log):
        return is_real_valued(expr.args[0], scope) and fact(expr.args[0], "positive") is True
    if isinstance(expr, AppliedUndef) or _is_opaque(expr):
        return expr.is_real is True
    return False


def short(node: sp.Basic, width: int = 40) -> str:
    """``node`` printed on one line, elided past ``width`` characters (never raises)."""
    try:
        text = sp.sstr(node)
    except RecursionError:
        return type(node).__name__
    return text if len(text) <= width else text[: width - 1] + "…"


def _declared(keys: dict[str, bool]) -> dict[str, bool]:
    return {k: v for k, v in keys.items() if v is not None and k != "commutative"}


def _closure(keys: dict[str, bool]) -> dict[str, bool]:
    """Every fact that follows from ``keys`` (sympy's own deduction)."""
    try:
        return _declared(sp.Dummy("probe", **keys).assumptions0)
    except Exception as exc:  # InconsistentAssumptions
        raise DerivationError(f"inconsistent assumptions {sorted(keys)}: {exc}") from None


def _check_symbol(sym: sp.Symbol) -> None:
    given = getattr(sym, "_assumptions_orig", {})
    bad = sorted(k for k in given if k not in ASSUMPTION_KEYS and k != "commutative")
    if bad or given.get("commutative", True) is not True:
        key = bad[0] if bad else "commutative"
        raise DerivationError(
            f"symbol {sym.name!r} is declared {key}={given[key]!r}; "
            f"supported assumption keys: {', '.join(ASSUMPTION_KEYS)}"
        )


def _check_function(func: UndefinedFunction) -> None:
    facts = _declared(
        {k[3:]: v for k, v in vars(func).items() if k.startswith("is_") and isinstance(v, bool)}
    )
    facts.pop("commutative", None)
    keys = {k: v for k, v in facts.items() if k in ASSUMPTION_KEYS}
    if facts and _closure(keys) != facts:
        extra = sorted(set(facts) - set(_closure(keys))) or sorted(facts)
        raise DerivationError(
            f"function {func} is declared with an unsupported assumption ({extra[0]}); "
            f"supported assumption keys: {', '.join(ASSUMPTION_KEYS)}"
        )


def check_names_and_assumptions(exprs: Iterable[sp.Basic]) -> None:
    """Raise :class:`DerivationError` for unsupported assumption keys or name clashes.

    Two different symbols (or undefined function classes) with the same name
    would let an assumption declared on one be used for the other.  Pattern
    variables (``Wild``) are local to their rule and ``Dummy`` symbols are
    distinct by construction, so neither takes part.

    >>> import sympy as sp
    >>> check_names_and_assumptions([sp.Symbol("x", real=True) + sp.Symbol("x", positive=True)])
    Traceback (most recent call last):
    ...
    elbo_check.errors.DerivationError: two different symbols are named 'x' (x: positive; x: real)
    """
    symbols: dict[str, sp.Symbol] = {}
    functions: dict[str, UndefinedFunction] = {}
    for expr in exprs:
        for sym in _atoms(expr, sp.Symbol):
            if isinstance(sym, sp.Wild):
                continue
            _check_symbol(sym)
            if isinstance(sym, sp.Dummy):
                continue
            seen = symbols.setdefault(sym.name, sym)
            if seen != sym:
                shown = "; ".join(sorted([_describe(seen), _describe(sym)]))
                raise DerivationError(f"two different symbols are named {sym.name!r} ({shown})")
        for app in _atoms(expr, sp.Function):
            if not (isinstance(app, AppliedUndef) or _is_opaque(app)):
                continue
            func = app.func
            _check_function(func)
            other = functions.setdefault(str(func), func)
            if other != func:
                raise DerivationError(
                    f"two different functions are named {str(func)!r} "
                    "(declared with different assumptions)"
                )


def _describe(sym: sp.Symbol) -> str:
    keys = getattr(sym, "_assumptions_orig", {})
    shown = ", ".join(k for k, v in keys.items() if v and k != "commutative")
    return f"{sym.name}: {shown or 'no assumptions'}"


def _atoms(expr: sp.Basic, kind: type) -> list[sp.Basic]:
    """``expr.atoms(kind)`` without recursion (safe on very deep expressions)."""
    out: dict[sp.Basic, None] = {}
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, kind):
            out[node] = None
        if isinstance(node, sp.Basic):
            stack.extend(node.args)
    return list(out)
