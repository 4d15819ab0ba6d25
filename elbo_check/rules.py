"""Named justifications: axioms, definitions, lemmas, inequalities, side conditions.

Every rule a derivation cites lands in its **axiom ledger**.  Equality rules
are rewrite rules ``lhs -> rhs`` that the checker applies to both sides of a
step before comparing them; a rule whose ``lhs`` contains ``sympy.Wild``
symbols rewrites every instance of the pattern.  Inequality rules state
``nonneg >= 0`` for every value of their wild symbols; a ``leq``/``geq`` link
must cite one.  Side conditions rewrite nothing: they only record an
assumption (``q > 0 where p > 0``, integrability) in the ledger.

A rule is only as sound as its statement: an axiom is *assumed*, and the
ledger says so.  Lemmas made from derivations (:meth:`Derivation.as_lemma`)
are proved by the checker first, and a step citing one is never stronger than
the lemma's own verdict.

>>> import sympy as sp
>>> from elbo_check.rules import axiom
>>> x = sp.Symbol("x", positive=True)
>>> f = sp.Function("f")
>>> r = axiom("f is the square", f(x), x**2)
>>> r.apply(f(x) + 1)
x**2 + 1
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import sympy as sp

from elbo_check.errors import DerivationError

if TYPE_CHECKING:
    from elbo_check.derivation import Derivation

__all__ = [
    "Rule",
    "RuleKind",
    "axiom",
    "change_of_variables",
    "definition",
    "inequality",
    "instantiate",
    "integrability",
    "side_condition",
]

RuleKind = Literal["axiom", "definition", "lemma", "inequality", "side-condition"]


@dataclass(frozen=True, eq=False)
class Rule:
    """One named justification.  Build rules with the factory functions."""

    name: str
    kind: RuleKind
    statement: str
    lhs: sp.Expr | None = None
    rhs: sp.Expr | None = None
    nonneg: sp.Expr | None = None
    transform: Callable[[sp.Expr], sp.Expr] | None = None
    derivation: Derivation | None = field(default=None, repr=False)
    #: the side condition "integrals of abstract densities are finite"
    integrability: bool = False

    @property
    def rewrites(self) -> bool:
        """True when applying the rule can change an expression."""
        return (self.lhs is not None and self.rhs is not None) or self.transform is not None

    def apply(self, expr: sp.Expr) -> sp.Expr:
        """Rewrite every instance of ``lhs`` in ``expr`` by ``rhs``."""
        if self.transform is not None:
            return self.transform(expr)
        if self.lhs is None or self.rhs is None:
            return expr
        if self.lhs.has(sp.Wild):
            return expr.replace(self.lhs, self.rhs)
        return expr.xreplace({self.lhs: self.rhs})

    def ledger_entry(self) -> dict[str, str]:
        """What the ledger shows for this rule."""
        entry = {"name": self.name, "kind": self.kind, "statement": self.statement}
        if self.derivation is not None:
            entry["derivation"] = self.derivation.name
        return entry

    def __str__(self) -> str:
        return self.name


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise DerivationError(f"a rule needs a non-empty name, got name={name!r}")
    return name.strip()


def _expr(value: object, what: str, name: str) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, (sp.Basic, int)):
        raise DerivationError(
            f"rule {name!r}: {what} must be a sympy expression, got {what}={value!r}"
        )
    return sp.Integer(value) if isinstance(value, int) else value


def axiom(name: str, lhs: sp.Expr, rhs: sp.Expr, statement: str | None = None) -> Rule:
    """An assumed equality, used as the rewrite ``lhs -> rhs``.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True); q = sp.Function("q", positive=True)
    >>> normalised = axiom("q integrates to 1", sp.Integral(q(z), (z, -sp.oo, sp.oo)), sp.Integer(1))
    >>> normalised.kind
    'axiom'
    """
    name = _check_name(name)
    lhs = _expr(lhs, "lhs", name)
    rhs = _expr(rhs, "rhs", name)
    return Rule(name, "axiom", statement or f"{lhs} = {rhs}", lhs=lhs, rhs=rhs)


def definition(name: str, symbol: sp.Expr, meaning: sp.Expr, statement: str | None = None) -> Rule:
    """A definition ``symbol := meaning``, unfolded wherever ``symbol`` occurs.

    >>> import sympy as sp
    >>> K = sp.Symbol("K"); a = sp.Symbol("a", positive=True)
    >>> definition("K", K, sp.log(a)).apply(2 * K)
    2*log(a)
    """
    name = _check_name(name)
    symbol = _expr(symbol, "symbol", name)
    meaning = _expr(meaning, "meaning", name)
    return Rule(name, "definition", statement or f"{symbol} := {meaning}", lhs=symbol, rhs=meaning)


def inequality(name: str, nonneg: sp.Expr, statement: str) -> Rule:
    """An assumed inequality ``nonneg >= 0``, for every value of its ``Wild`` symbols.

    >>> import sympy as sp
    >>> w = sp.Wild("w", properties=[lambda e: e.is_positive])
    >>> r = inequality("log x <= x - 1", w - 1 - sp.log(w), "log x <= x - 1 for x > 0")
    >>> r.kind
    'inequality'
    """
    name = _check_name(name)
    nonneg = _expr(nonneg, "nonneg", name)
    return Rule(name, "inequality", statement, nonneg=nonneg)


def side_condition(name: str, statement: str) -> Rule:
    """A recorded assumption that rewrites nothing (it only enters the ledger).

    >>> side_condition("absolute continuity", "q > 0 wherever p > 0").kind
    'side-condition'
    """
    return Rule(_check_name(name), "side-condition", statement)


def integrability(statement: str, name: str = "integrability") -> Rule:
    """The side condition that integrals of abstract (undefined) functions converge.

    Without it, the checker never splits, merges or cancels an integral it
    cannot show to converge (∞ − ∞ is not 0).  Integrals of explicit functions
    need no such assumption: their convergence is checked.

    >>> integrability("every expectation in the derivation is finite").kind
    'side-condition'
    """
    return Rule(_check_name(name), "side-condition", statement, integrability=True)


def change_of_variables(
    name: str,
    old: sp.Symbol | tuple[sp.Symbol, ...],
    new: sp.Symbol | tuple[sp.Symbol, ...],
    mapping: sp.Expr | tuple[sp.Expr, ...],
) -> Rule:
    """The substitution ``old = mapping(new)`` in integrals over all of R^k.

    The map must be affine in ``new`` with a Jacobian determinant that sympy
    proves positive from the symbols' assumptions; then it is a bijection of
    R^k and

    .. math:: \\int f(z)\\,dz = \\int f(g(u))\\,|\\det J_g|\\,du .

    Integrals over other variables are left alone.

    >>> import sympy as sp
    >>> z, u = sp.symbols("z u", real=True); s = sp.Symbol("s", positive=True)
    >>> r = change_of_variables("z = 1 + s u", z, u, 1 + s * u)
    >>> r.apply(sp.Integral(sp.exp(-z**2), (z, -sp.oo, sp.oo)))
    Integral(s*exp(-(s*u + 1)**2), (u, -oo, oo))
    """
    name = _check_name(name)
    olds = (old,) if isinstance(old, sp.Symbol) else tuple(old)
    news = (new,) if isinstance(new, sp.Symbol) else tuple(new)
    maps = (mapping,) if isinstance(mapping, sp.Basic) else tuple(mapping)
    if not (len(olds) == len(news) == len(maps)):
        raise DerivationError(
            f"rule {name!r}: old, new and mapping must have the same length, "
            f"got {len(olds)}, {len(news)} and {len(maps)}"
        )
    jac = sp.Matrix([[sp.diff(m, v) for v in news] for m in maps])
    if jac.has(*news):
        raise DerivationError(f"rule {name!r}: the map {maps} is not affine in {news}")
    det = sp.factor(jac.det())
    if det.is_positive is not True:
        raise DerivationError(
            f"rule {name!r}: cannot prove the Jacobian determinant {det} is positive"
        )
    whole_line = [(v, -sp.oo, sp.oo) for v in olds]

    def transform(expr: sp.Expr) -> sp.Expr:
        def swap(integral: sp.Integral) -> sp.Expr:
            if set(integral.limits) != set(whole_line) or len(integral.limits) != len(whole_line):
                return integral
            if integral.atoms(sp.Symbol) & set(news):
                return integral  # a new variable already occurs: substituting would capture it
            body = integral.function.xreplace(dict(zip(olds, maps, strict=False)))
            return sp.Integral(det * body, *[(v, -sp.oo, sp.oo) for v in news])

        return expr.replace(lambda e: isinstance(e, sp.Integral), swap)

    statement = (
        f"change of variables {', '.join(f'{o} = {m}' for o, m in zip(olds, maps, strict=False))} "
        f"(affine, Jacobian determinant {det} > 0)"
    )
    return Rule(name, "axiom", statement, transform=transform)


#: assumptions a value must share with the universally quantified symbol it replaces
_KEPT = (
    "real",
    "extended_real",
    "positive",
    "nonnegative",
    "negative",
    "nonpositive",
    "nonzero",
    "integer",
    "even",
    "odd",
    "rational",
    "finite",
)


def _check_instance(name: str, old: object, new: object, exprs: list[sp.Expr]) -> None:
    """Raise unless ``new`` provably has every assumption declared on ``old``.

    A lemma proved for positive ``a`` says nothing about ``a = -1``.  For an
    undefined function class, the replacement is checked at every argument the
    lemma applies the function to (so complex arguments are complex there).
    """
    if isinstance(old, sp.Symbol):
        value = sp.Integer(new) if isinstance(new, int) and not isinstance(new, bool) else new
        _require(name, old, new, value, old.assumptions0)
        return
    if not (isinstance(old, type) and issubclass(old, sp.core.function.AppliedUndef)):
        raise DerivationError(
            f"rule {name!r}: can only instantiate symbols or functions, got {old!r}"
        )
    if not callable(new):
        raise DerivationError(f"rule {name!r}: {old} must be replaced by a function, got {new!r}")
    applications = {a for e in exprs for a in e.atoms(old)}
    if not applications:  # never applied: probe at a point with no assumptions at all
        applications = {old(sp.Dummy("t"))}
    for app in applications:
        try:
            value = new(*app.args)
        except TypeError as exc:
            raise DerivationError(
                f"rule {name!r}: cannot apply {new!r} to {app.args}: {exc}"
            ) from None
        # the facts sympy knows about the application (from the class's assumptions)
        known = {key: True for key in _KEPT if getattr(app, f"is_{key}", None) is True}
        _require(name, app, new, value, known)


def _require(name: str, old: object, new: object, value: object, declared: dict[str, bool]) -> None:
    if not isinstance(value, sp.Basic):
        raise DerivationError(
            f"rule {name!r}: {old} must be replaced by a sympy expression, got {new!r}"
        )
    for key in _KEPT:
        if declared.get(key) is True and getattr(value, f"is_{key}") is not True:
            raise DerivationError(
                f"rule {name!r}: {old} is declared {key}, but its replacement {value} "
                f"is not provably {key}"
            )


def _bound_symbols(exprs: list[sp.Expr]) -> set[sp.Symbol]:
    return {lim[0] for e in exprs for i in e.atoms(sp.Integral) for lim in i.limits}


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def is_slug(name: str) -> bool:
    """True for lower-case words joined by hyphens (``gaussian-kl-diagonal``)."""
    return bool(_SLUG.match(name))


def instantiate(rule: Rule, mapping: dict[object, object], name: str | None = None) -> Rule:
    """``rule`` with universally quantified symbols or functions replaced.

    Keys may be symbols or undefined function classes; values are expressions
    or callables (``lambda z: p_post(z, x)``) for function classes.  A lemma
    stays linked to its derivation, so the checker still proves it first.

    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", positive=True)
    >>> r = instantiate(axiom("double", 2 * a, a + a), {a: b})
    >>> r.lhs
    2*b
    """

    exprs = [e for e in (rule.lhs, rule.rhs, rule.nonneg) if e is not None]
    bound = _bound_symbols(exprs)
    for old, new in mapping.items():
        if old in bound:
            raise DerivationError(
                f"rule {rule.name!r}: {old} is a bound (integration) variable; it cannot be instantiated"
            )
        if isinstance(new, sp.Basic) and new.free_symbols & bound:
            raise DerivationError(
                f"rule {rule.name!r}: the value {new} for {old} would be captured by the "
                f"integration variable(s) {sorted(map(str, new.free_symbols & bound))}"
            )
        _check_instance(rule.name, old, new, exprs)

    def sub(expr: sp.Expr | None) -> sp.Expr | None:
        if expr is None:
            return None
        for old, new in mapping.items():
            expr = expr.replace(old, new) if isinstance(old, type) else expr.xreplace({old: new})
        return expr

    shown = ", ".join(
        f"{k} := {v}" for k, v in mapping.items() if not callable(v) or isinstance(v, sp.Basic)
    )
    return Rule(
        name or rule.name,
        rule.kind,
        f"{rule.statement} [with {shown or 'functions instantiated'}]",
        lhs=sub(rule.lhs),
        rhs=sub(rule.rhs),
        nonneg=sub(rule.nonneg),
        transform=rule.transform,
        derivation=rule.derivation,
    )
