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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import sympy as sp

from elbo_check.errors import DerivationError

if TYPE_CHECKING:
    from elbo_check.derivation import Derivation

__all__ = [
    "RULE_KINDS",
    "ChangeOfVariables",
    "LemmaOrigin",
    "Rule",
    "RuleKind",
    "axiom",
    "change_of_variables",
    "definition",
    "inequality",
    "instantiate",
    "integrability",
    "is_slug",
    "make_lemma",
    "side_condition",
]

RuleKind = Literal["axiom", "definition", "lemma", "inequality", "side-condition"]
RULE_KINDS: tuple[str, ...] = ("axiom", "definition", "lemma", "inequality", "side-condition")


@dataclass(frozen=True)
class ChangeOfVariables:
    """The data of a substitution ``olds = maps(news)``; the core checks and applies it."""

    olds: tuple[sp.Symbol, ...]
    news: tuple[sp.Symbol, ...]
    maps: tuple[sp.Expr, ...]

    def __post_init__(self) -> None:
        for field_name in ("olds", "news", "maps"):
            value = getattr(self, field_name)
            if not isinstance(value, tuple) or not all(isinstance(v, sp.Basic) for v in value):
                raise DerivationError(
                    f"a change of variables needs tuples of sympy expressions, got {field_name}={value!r}"
                )


@dataclass(frozen=True)
class LemmaOrigin:
    """Where a lemma comes from: a derivation's chain, and the substitution made since."""

    derivation: Derivation
    chain: int
    mapping: tuple[tuple[Any, Any], ...] = ()
    token: object = field(default=None, repr=False)


_LEMMA_TOKEN = object()


@dataclass(frozen=True, eq=False)
class Rule:
    """One named justification.  Build rules with the factory functions.

    A rule is data: equality schemas ``lhs -> rhs`` (``Wild`` symbols are
    pattern variables), an inequality schema ``nonneg >= 0``, a change of
    variables, or nothing at all (a side condition).  The trusted core reads
    the data and never runs code a rule carries.
    """

    name: str
    kind: RuleKind
    statement: str
    lhs: sp.Expr | None = None
    rhs: sp.Expr | None = None
    nonneg: sp.Expr | None = None
    cov: ChangeOfVariables | None = None
    origin: LemmaOrigin | None = field(default=None, repr=False)
    #: the side condition "integrals of abstract densities are finite"
    integrability: bool = False
    #: further equality schemas ``(lhs, rhs)`` of the same rule (one per arity, say)
    extra: tuple[tuple[sp.Expr, sp.Expr], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.statement, str):
            raise DerivationError(f"a rule needs a text name and statement, got {self.name!r}")
        for what in ("lhs", "rhs", "nonneg"):
            value = getattr(self, what)
            if value is not None and not isinstance(value, sp.Expr):
                raise DerivationError(
                    f"rule {self.name!r}: {what} must be a sympy expression, got {value!r}"
                )
        for pair in self.extra:
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(e, sp.Expr) for e in pair)):
                raise DerivationError(f"rule {self.name!r}: extra schemas must be (lhs, rhs) pairs")
        if self.cov is not None and not isinstance(self.cov, ChangeOfVariables):
            raise DerivationError(f"rule {self.name!r}: cov must be a ChangeOfVariables")
        if self.kind not in RULE_KINDS:
            raise DerivationError(f"rule {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "lemma" and not (
            isinstance(self.origin, LemmaOrigin) and self.origin.token is _LEMMA_TOKEN
        ):
            raise DerivationError(
                f"rule {self.name!r}: a lemma can only come from Derivation.as_lemma (or instantiate)"
            )
        if self.kind == "side-condition" and (self.patterns or self.nonneg is not None or self.cov):
            raise DerivationError(f"rule {self.name!r}: a side condition never rewrites")
        if self.kind == "definition" and (
            not self.patterns or self.nonneg is not None or self.cov is not None
        ):
            raise DerivationError(f"rule {self.name!r}: a definition holds equality schemas only")
        if self.integrability and self.kind != "side-condition":
            raise DerivationError(f"rule {self.name!r}: integrability is a side condition")

    @property
    def derivation(self) -> Derivation | None:
        """The derivation a lemma comes from (``None`` for other rules)."""
        return None if self.origin is None else self.origin.derivation

    @property
    def patterns(self) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
        """Every equality schema ``(lhs, rhs)`` of the rule."""
        first = () if self.lhs is None or self.rhs is None else ((self.lhs, self.rhs),)
        return (*first, *self.extra)

    @property
    def rewrites(self) -> bool:
        """True when applying the rule can change an expression."""
        return bool(self.patterns) or self.cov is not None

    @property
    def shows(self) -> str:
        """What the rule actually does, as the core reads it (for the ledger)."""
        parts = [f"{sp.sstr(a)} → {sp.sstr(b)}" for a, b in self.patterns]
        if self.nonneg is not None:
            parts.append(f"{sp.sstr(self.nonneg)} ≥ 0")
        if self.cov is not None:
            pairs = zip(self.cov.olds, self.cov.maps, strict=True)
            parts.append("substitute " + ", ".join(f"{o} = {sp.sstr(m)}" for o, m in pairs))
        if self.integrability:
            parts.append("integrals of density terms converge")
        return "; ".join(parts) or "(records an assumption; rewrites nothing)"

    def apply(self, expr: sp.Expr) -> sp.Expr:
        """Rewrite every instance of the rule's schemas in ``expr`` (a convenience).

        This is the core's own capture-avoiding rewrite; it proves nothing.
        """
        from elbo_check.core.terms import alpha_normalize, bound_prefix, change_variables, rewrite

        if self.cov is not None:
            from elbo_check.core.decide import jacobian

            jac = jacobian(self.cov)
            if isinstance(jac, str):
                return expr
            expr = change_variables(expr, self.cov.olds, self.cov.news, self.cov.maps, jac)
        prefix = bound_prefix([expr, *(e for p in self.patterns for e in p)])
        for lhs, rhs in self.patterns:
            expr = rewrite(
                alpha_normalize(expr, prefix),
                alpha_normalize(lhs, prefix),
                alpha_normalize(rhs, prefix),
                prefix,
            )
        return expr

    def ledger_entry(self) -> dict[str, str]:
        """What the ledger shows for this rule."""
        entry = {"name": self.name, "kind": self.kind, "statement": self.statement}
        entry["shows"] = self.shows
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
    expr = sp.Integer(value) if isinstance(value, int) else value
    from elbo_check.core.terms import wild_violation

    for wild in expr.atoms(sp.Wild):
        reason = wild_violation(wild)
        if reason is not None:
            raise DerivationError(f"rule {name!r}: {reason}")
    return expr


def _schema(name: str, lhs: sp.Expr, rhs: sp.Expr) -> None:
    if isinstance(lhs, sp.Wild):
        raise DerivationError(f"rule {name!r}: the left side cannot be a bare pattern variable")
    if not rhs.atoms(sp.Wild) <= lhs.atoms(sp.Wild):
        raise DerivationError(
            f"rule {name!r}: the right side uses pattern variables the left side does not bind"
        )


def axiom(name: str, lhs: sp.Expr, rhs: sp.Expr, statement: str | None = None) -> Rule:
    """An assumed equality, used as the rewrite ``lhs -> rhs``.

    ``Wild`` symbols are pattern variables; declare what they range over with
    assumption keywords (``Wild("w", positive=True)``), which the core enforces
    on every match.

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
    _schema(name, lhs, rhs)
    return Rule(name, "axiom", statement or f"{lhs} = {rhs}", lhs=lhs, rhs=rhs)


def definition(
    name: str,
    symbol: sp.Expr,
    meaning: sp.Expr,
    statement: str | None = None,
    *,
    more: tuple[tuple[sp.Expr, sp.Expr], ...] = (),
) -> Rule:
    """A definition ``symbol := meaning``, unfolded wherever ``symbol`` occurs.

    ``more`` adds further schemas of the same definition (for instance one per
    number of integration variables of a function symbol such as KL).

    >>> import sympy as sp
    >>> K = sp.Symbol("K"); a = sp.Symbol("a", positive=True)
    >>> definition("K", K, sp.log(a)).apply(2 * K)
    2*log(a)
    """
    name = _check_name(name)
    symbol = _expr(symbol, "symbol", name)
    meaning = _expr(meaning, "meaning", name)
    _schema(name, symbol, meaning)
    extra = []
    for lhs, rhs in more:
        lhs, rhs = _expr(lhs, "lhs", name), _expr(rhs, "rhs", name)
        _schema(name, lhs, rhs)
        extra.append((lhs, rhs))
    return Rule(
        name,
        "definition",
        statement or f"{symbol} := {meaning}",
        lhs=symbol,
        rhs=meaning,
        extra=tuple(extra),
    )


def inequality(name: str, nonneg: sp.Expr, statement: str) -> Rule:
    """An assumed inequality ``nonneg >= 0``, for every value of its ``Wild`` symbols.

    >>> import sympy as sp
    >>> w = sp.Wild("w", positive=True)
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
    """The side condition that integrals of density terms converge.

    It covers exactly the terms ``f(z) * g`` with an abstract density ``f`` of
    every integration variable as a factor: ``exp(f)``, ``1/f`` or a bare
    ``log f`` are not covered.  Without it, the checker never splits, merges or
    cancels an integral it cannot show to converge (∞ − ∞ is not 0).

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

    The map must be real and affine in ``new``, ``z = A u + b``, with ``A``
    and ``b`` provably real and ``det A`` provably non-zero; then it is a
    bijection of R^k and

    .. math:: \\int f(z)\\,dz = \\int f(A u + b)\\,|\\det A|\\,du .

    Integrals over other variables are left alone.

    >>> import sympy as sp
    >>> z, u = sp.symbols("z u", real=True); s = sp.Symbol("s", positive=True)
    >>> r = change_of_variables("z = 1 + s u", z, u, 1 + s * u)
    >>> r.apply(sp.Integral(sp.exp(-z**2), (z, -sp.oo, sp.oo)))
    Integral(s*exp(-(s*u + 1)**2), (u, -oo, oo))
    """
    from elbo_check.core.decide import jacobian

    name = _check_name(name)
    olds = (old,) if isinstance(old, sp.Symbol) else tuple(old)
    news = (new,) if isinstance(new, sp.Symbol) else tuple(new)
    maps = (mapping,) if isinstance(mapping, sp.Basic) else tuple(mapping)
    if not (len(olds) == len(news) == len(maps)):
        raise DerivationError(
            f"rule {name!r}: old, new and mapping must have the same length, "
            f"got {len(olds)}, {len(news)} and {len(maps)}"
        )
    cov = ChangeOfVariables(olds, news, tuple(_expr(m, "mapping", name) for m in maps))
    jac = jacobian(cov)
    if isinstance(jac, str):
        raise DerivationError(f"rule {name!r}: {jac}")
    statement = (
        f"change of variables {', '.join(f'{o} = {m}' for o, m in zip(olds, maps, strict=True))} "
        f"(real affine, |Jacobian determinant| = {jac} > 0)"
    )
    return Rule(name, "axiom", statement, cov=cov)


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def is_slug(name: str) -> bool:
    """True for lower-case words joined by hyphens (``gaussian-kl-diagonal``)."""
    return bool(_SLUG.match(name))


def make_lemma(name: str, derivation: Derivation, chain: int, statement: str) -> Rule:
    """The lemma rule of ``derivation``'s chain (used by :meth:`Derivation.as_lemma`)."""
    from elbo_check.core.lemmas import lemma_statement

    begin, rel, end = derivation.conclusions[chain]
    made = lemma_statement((begin, rel, end), ())
    if isinstance(made, str):
        raise DerivationError(f"derivation {derivation.name!r} chain {chain}: {made}")
    origin = LemmaOrigin(derivation, chain, (), _LEMMA_TOKEN)
    relation, lhs, rhs = made
    if relation == "=":
        return Rule(name, "lemma", statement, lhs=lhs, rhs=rhs, origin=origin)
    return Rule(name, "lemma", statement, nonneg=lhs, origin=origin)


def _as_lambda(old: object, new: object) -> object:
    """A Python callable for a function class becomes a fixed sympy ``Lambda``.

    It is called once, on fresh symbols; every later application is sympy
    substitution, so a callable cannot answer differently later.
    """
    if not (isinstance(old, type) and callable(new)) or isinstance(new, (sp.Lambda, type)):
        return new
    for arity in (1, 2, 3, 4):
        args = sp.symbols(f"_t1:{arity + 1}", cls=sp.Dummy)
        try:
            body = new(*args)
        except TypeError:
            continue
        if not isinstance(body, sp.Expr):
            raise DerivationError(f"the function for {old} must return a sympy expression, got {body!r}")
        return sp.Lambda(args, body)
    raise DerivationError(f"cannot call the function given for {old} with 1 to 4 arguments")


def instantiate(rule: Rule, mapping: dict[object, object], name: str | None = None) -> Rule:
    """``rule`` with universally quantified symbols or functions replaced.

    Keys may be symbols or undefined function classes; values are expressions
    or callables (``lambda z: p_post(z, x)``) for function classes.  Every
    value must provably have every assumption declared on what it replaces.
    A lemma stays linked to its derivation: the core proves the derivation and
    re-derives this instance from it before trusting it.

    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", positive=True)
    >>> r = instantiate(axiom("double", 2 * a, a + a), {a: b})
    >>> r.lhs
    2*b
    """
    from elbo_check.core.lemmas import (
        describe_mapping,
        instance_violation,
        lemma_statement,
        substitute,
    )
    from elbo_check.core.premises import binder_refusal

    if not isinstance(rule, Rule):
        raise DerivationError(f"instantiate needs a Rule, got {rule!r}")
    if not isinstance(mapping, dict) or not mapping:
        raise DerivationError(f"rule {rule.name!r}: instantiate needs a non-empty dict, got {mapping!r}")
    if rule.cov is not None:
        raise DerivationError(f"rule {rule.name!r}: a change of variables cannot be instantiated")
    exprs = [e for pair in rule.patterns for e in pair]
    exprs += [rule.nonneg] if rule.nonneg is not None else []
    pairs = tuple((old, _as_lambda(old, new)) for old, new in mapping.items())
    for old, new in pairs:
        reason = instance_violation(old, new, exprs)
        if reason is not None:
            raise DerivationError(f"rule {rule.name!r}: {reason}")

    def sub(expr: sp.Expr | None) -> sp.Expr | None:
        return None if expr is None else substitute(expr, pairs)

    statement = f"{rule.statement} [with {describe_mapping(pairs)}]"
    if rule.origin is not None:
        o = rule.origin
        origin = LemmaOrigin(o.derivation, o.chain, (*o.mapping, *pairs), _LEMMA_TOKEN)
        made = lemma_statement(o.derivation.conclusions[o.chain], origin.mapping)
        if isinstance(made, str):
            raise DerivationError(f"rule {rule.name!r}: {made}")
        captured = binder_refusal(o.derivation, origin.mapping)
        if captured:
            raise DerivationError(f"rule {rule.name!r}: {captured}")
        relation, a, b = made
        if relation == "=":
            return Rule(name or rule.name, "lemma", statement, lhs=a, rhs=b, origin=origin)
        return Rule(name or rule.name, "lemma", statement, nonneg=a, origin=origin)
    return Rule(
        name or rule.name,
        rule.kind,
        statement,
        lhs=sub(rule.lhs),
        rhs=sub(rule.rhs),
        nonneg=sub(rule.nonneg),
        extra=tuple((substitute(a, pairs), substitute(b, pairs)) for a, b in rule.extra),
    )
