r"""What ``kl-formula`` is asked about: two distributions, parsed safely from ``DIST`` strings.

A ``DIST`` is ``Family(arg, ...)`` with a family name from
:data:`~elbo_check.klformula.families.FAMILIES` and arguments that are
parameter symbols (letters optionally followed by digits) or numbers (integer
or decimal literals, optionally signed, and ``+ - * /`` between literals, so
``1/3`` works).  Decimals are read exactly: ``0.1`` is ``1/10``.  The text is
read with Python's :mod:`ast` and never evaluated.

A symbol gets the assumptions of its parameter's domain
(:func:`~elbo_check.klformula.families.symbol_for`); a symbol used for two
parameters (in one DIST or across ``--q`` and ``--p``) must have the same domain.

``Categorical(p1, ..., pK)`` (2 <= K <= ``MAX_CATEGORIES``): the probabilities
sum to 1, and the constraint is used by elimination: the *last symbolic*
probability is replaced by 1 minus the sum of the others (its name still
works in a claim and means that expression); if every probability is a number,
they must sum exactly to 1.  A Categorical may not repeat a symbol.

>>> d = parse_dist("Normal(m1, 0.5)")
>>> d.family.name, d.args
('Normal', (m1, 1/2))
>>> d.args[0].is_real
True
>>> parse_dist("Categorical(p1, p2, p3)").args
(p1, p2, -p1 - p2 + 1)
>>> pair = parse_pair("Laplace(0, b)", "Normal(0, 1)")
>>> pair.symbols
(b,)
>>> parse_dist("Normal(m, -1)")
Traceback (most recent call last):
...
elbo_check.errors.UsageError: Normal(m, -1): std must be positive, got -1
"""

from __future__ import annotations

import ast
import io
import math
import re
import tokenize
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from elbo_check.errors import UsageError
from elbo_check.klformula.families import FAMILIES, MAX_CATEGORIES, Domain, Family, symbol_for

__all__ = [
    "MAX_BINOMIAL_N",
    "MAX_DIST_LENGTH",
    "RESERVED_NAMES",
    "Dist",
    "Pair",
    "exact_literals",
    "number_literal",
    "parse_dist",
    "parse_pair",
]

#: longest accepted ``DIST`` text
MAX_DIST_LENGTH = 200
#: largest numeric ``n`` of a ``Binomial``
MAX_BINOMIAL_N = 1000
#: names a parameter symbol may not have (constants and functions of claims, families)
RESERVED_NAMES = frozenset(
    {"pi", "E", "oo", "log", "exp", "sqrt", "digamma", "polygamma", "lgamma", "gamma", "Abs"}
    | set(FAMILIES)
)
_NAME = re.compile(r"[A-Za-z]+[0-9]*")
_MAX_NAME = 16
_MAX_LITERAL = 24  # characters of one numeric literal
_LITERAL_RANGE = (sp.Rational(1, 10**15), sp.Integer(10**15))


@dataclass(frozen=True)
class Dist:
    """A distribution: its family and one argument per parameter.

    ``args`` are sympy Symbols (with the assumptions of their domain), exact
    sympy numbers, or, for a Categorical's last symbolic probability only,
    ``1 - (sum of the others)``.
    """

    family: Family
    args: tuple[sp.Expr, ...]

    def __str__(self) -> str:
        return f"{self.family.name}({', '.join(str(a) for a in self.args)})"

    def __repr__(self) -> str:
        return f"Dist({self})"


@dataclass(frozen=True)
class Pair:
    """``--q`` and ``--p`` parsed together, with the names a claim may use.

    ``symbols`` are the free parameter symbols in order of first appearance;
    ``bound`` maps each eliminated Categorical probability name to its value.
    """

    q: Dist
    p: Dist
    symbols: tuple[sp.Symbol, ...]
    bound: tuple[tuple[str, sp.Expr], ...] = ()

    def names(self) -> dict[str, sp.Expr]:
        """Every name a claim may use, mapped to what it stands for.

        >>> parse_pair("Categorical(a1, a2)", "Categorical(1/2, 1/2)").names()
        {'a1': a1, 'a2': 1 - a1}
        """
        out: dict[str, sp.Expr] = {s.name: s for s in self.symbols}
        out.update(self.bound)
        return out


def number_literal(node: ast.AST, where: str) -> sp.Rational:
    """An exact sympy number from a numeric ``ast.Constant`` (``0.1`` gives ``1/10``).

    >>> number_literal(ast.parse("0.25", mode="eval").body, "claim")
    1/4
    """
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where}: expected a number, got {_token(node)!r}")
    text = repr(value)
    if len(text) > _MAX_LITERAL or value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{where}: number literal too long or not finite: {text[:30]!r}")
    number = sp.Rational(text)
    if number != 0 and not _LITERAL_RANGE[0] <= abs(number) <= _LITERAL_RANGE[1]:
        raise UsageError(f"{where}: number literal out of range [1e-15, 1e15]: {text!r}")
    return number


def exact_literals(text: str, where: str) -> None:
    """Refuse a decimal literal that a Python float would not carry exactly.

    The walker reads numbers from the parsed tree, where ``1e-400`` has become
    0.0 and ``0.50000000000000001`` has become 0.5; a claim about a number the
    user did not write is refused here, from the source tokens, before parsing.

    >>> exact_literals("0.1 + 2.5e-3", "claim")
    >>> exact_literals("1e-400", "claim")
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: claim: number literal '1e-400' is not exactly a float (it would read as 0.0)
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return  # ast.parse reports the syntax error
    for token in tokens:
        literal = token.string.replace("_", "").lower()
        if token.type != tokenize.NUMBER or literal.startswith(("0x", "0o", "0b")):
            continue
        if not any(c in literal for c in ".e") or literal.endswith("j"):
            continue  # integers are exact; imaginary literals are refused by the walker
        value = float(literal)
        if not math.isfinite(value):
            raise UsageError(f"{where}: number literal {token.string[:30]!r} is not finite")
        if Fraction(literal) != Fraction(repr(value)):
            raise UsageError(
                f"{where}: number literal {token.string[:30]!r} is not exactly a float "
                f"(it would read as {value!r})"
            )


def _token(node: ast.AST) -> str:
    """A short readable rendering of the offending node."""
    try:
        text = ast.unparse(node)
    except Exception:  # pragma: no cover - ast.unparse handles every parsed node
        text = type(node).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _numeric(node: ast.AST, where: str, depth: int = 0) -> sp.Rational:
    """A number, possibly signed or combined with ``+ - * /`` of literals."""
    if depth > 8:
        raise UsageError(f"{where}: numeric argument nested too deeply")
    if isinstance(node, ast.Constant):
        return number_literal(node, where)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _numeric(node.operand, where, depth + 1)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        a, b = _numeric(node.left, where, depth + 1), _numeric(node.right, where, depth + 1)
        if isinstance(node.op, ast.Div) and b == 0:
            raise UsageError(f"{where}: division by zero in {_token(node)!r}")
        if isinstance(node.op, ast.Div):
            return a / b
        return (
            a + b
            if isinstance(node.op, ast.Add)
            else a - b
            if isinstance(node.op, ast.Sub)
            else a * b
        )
    raise UsageError(
        f"{where}: a parameter must be a symbol name or a number, got {_token(node)!r}"
    )


def _check_number(value: sp.Rational, domain: Domain, where: str, param: str) -> None:
    ok = {
        Domain.REAL: True,
        Domain.POSITIVE: value > 0,
        Domain.PROBABILITY: 0 < value < 1,
        Domain.POSITIVE_INTEGER: value.is_integer and 1 <= value <= MAX_BINOMIAL_N,
    }[domain]
    if not ok:
        wanted = {
            Domain.REAL: "real",
            Domain.POSITIVE: "positive",
            Domain.PROBABILITY: "in (0, 1)",
            Domain.POSITIVE_INTEGER: f"an integer in 1..{MAX_BINOMIAL_N}",
        }[domain]
        raise UsageError(f"{where}: {param} must be {wanted}, got {value}")


def _call(text: str) -> tuple[Family, list[ast.expr], str]:
    if not isinstance(text, str) or len(text) > MAX_DIST_LENGTH:
        raise UsageError(f"a DIST must be a string of at most {MAX_DIST_LENGTH} characters")
    where = text.strip()
    exact_literals(where, where)
    try:
        tree = ast.parse(where, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise UsageError(f"cannot parse DIST {where!r}: expected Family(arg, ...)") from None
    node = tree.body
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise UsageError(f"{where}: expected Family(arg, ...), got {_token(node)!r}")
    if node.keywords:
        raise UsageError(
            f"{where}: keyword arguments are not accepted: {_token(node.keywords[0])!r}"
        )
    family = FAMILIES.get(node.func.id)
    if family is None:
        known = ", ".join(FAMILIES)
        raise UsageError(f"{where}: unknown family {node.func.id!r} (known: {known})")
    return family, list(node.args), where


def _arity(family: Family, count: int, where: str) -> None:
    if family.variadic:
        if not 2 <= count <= MAX_CATEGORIES:
            raise UsageError(
                f"{where}: {family.name} takes 2 to {MAX_CATEGORIES} probabilities, got {count}"
            )
    elif count != len(family.params):
        raise UsageError(
            f"{where}: {family.name} takes {len(family.params)} parameter(s) "
            f"({', '.join(family.params)}), got {count}"
        )


def _symbol(node: ast.Name, domain: Domain, where: str, seen: dict[str, Domain]) -> sp.Symbol:
    name = node.id
    if not _NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise UsageError(
            f"{where}: a parameter symbol is letters optionally followed by digits "
            f"(at most {_MAX_NAME} characters), got {name!r}"
        )
    if name in RESERVED_NAMES:
        raise UsageError(f"{where}: {name!r} is reserved and cannot name a parameter")
    if seen.setdefault(name, domain) is not domain:
        raise UsageError(
            f"{where}: symbol {name!r} is used as {seen[name].value} and as {domain.value}"
        )
    return symbol_for(name, domain)


def _parse(text: str, seen: dict[str, Domain]) -> tuple[Dist, dict[str, sp.Expr]]:
    """One DIST; ``seen`` collects each symbol's domain (shared across q and p)."""
    family, nodes, where = _call(text)
    _arity(family, len(nodes), where)
    args: list[sp.Expr] = []
    for i, node in enumerate(nodes):
        domain = family.domains[min(i, len(family.domains) - 1)]
        param = family.params[i] if i < len(family.params) else f"p{i + 1}"
        if isinstance(node, ast.Name):
            args.append(_symbol(node, domain, where, seen))
        else:
            value = _numeric(node, where)
            _check_number(value, domain, where, param)
            args.append(value)
    bound: dict[str, sp.Expr] = {}
    if family.variadic:
        args, bound = _eliminate(args, where)
    elif family.name == "Uniform" and _empty_interval(args[0], args[1]):
        raise UsageError(f"{where}: Uniform(a, b) needs a < b")
    return Dist(family, tuple(args)), bound


def _empty_interval(a: sp.Expr, b: sp.Expr) -> bool:
    return a == b or bool(a.is_number and b.is_number and a > b)


def _eliminate(args: list[sp.Expr], where: str) -> tuple[list[sp.Expr], dict[str, sp.Expr]]:
    """Use sum-to-1: replace the last symbolic probability by 1 minus the others."""
    names = [a.name for a in args if isinstance(a, sp.Symbol)]
    if len(set(names)) != len(names):
        raise UsageError(f"{where}: a Categorical may not repeat a probability symbol")
    total = sum((a for a in args if a.is_number), sp.Integer(0))
    if not names:
        if total != 1:
            raise UsageError(f"{where}: the probabilities must sum to 1, they sum to {total}")
        return args, {}
    if total >= 1:
        raise UsageError(f"{where}: the numeric probabilities already sum to {total} >= 1")
    last = max(i for i, a in enumerate(args) if isinstance(a, sp.Symbol))
    value = 1 - sum((a for i, a in enumerate(args) if i != last), sp.Integer(0))
    if value.is_number and not 0 < value < 1:
        raise UsageError(f"{where}: the last probability would be {value}, not in (0, 1)")
    name = names[-1]
    return [value if i == last else a for i, a in enumerate(args)], {name: value}


def parse_dist(text: str) -> Dist:
    """Parse one ``DIST`` string, e.g. ``"Gamma(k, theta)"``; raise :class:`UsageError` if bad.

    >>> parse_dist("Binomial(n, 0.3)").args
    (n, 3/10)
    >>> parse_dist("Beta(a, b).mean")
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: Beta(a, b).mean: expected Family(arg, ...), got 'Beta(a, b).mean'
    """
    return _parse(text, {})[0]


def parse_pair(q_text: str, p_text: str) -> Pair:
    """Parse ``--q`` and ``--p`` together: shared symbols must agree on their domain.

    >>> parse_pair("Normal(m, s)", "Normal(0, 1)").symbols
    (m, s)
    >>> parse_pair("Normal(m, s)", "Uniform(s, b)")
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: Uniform(s, b): symbol 's' is used as positive and as real
    """
    seen: dict[str, Domain] = {}
    q, q_bound = _parse(q_text, seen)
    p, p_bound = _parse(p_text, seen)
    for name in set(q_bound) | set(p_bound):
        if name in q_bound and name in p_bound and q_bound[name] != p_bound[name]:
            raise UsageError(
                f"{name!r} is eliminated differently in --q and --p (sum-to-1): "
                f"{q_bound[name]} vs {p_bound[name]}; list shared probabilities in the same order"
            )
    symbols: list[sp.Symbol] = []
    for dist in (q, p):
        for arg in dist.args:
            for sym in sorted(arg.free_symbols, key=str) if not arg.is_Symbol else [arg]:
                if sym.name in q_bound or sym.name in p_bound:
                    raise UsageError(
                        f"{sym.name!r} is a free probability in one DIST and eliminated "
                        "(sum-to-1) in the other; list shared probabilities in the same order"
                    )
                if sym not in symbols:
                    symbols.append(sym)
    return Pair(q, p, tuple(symbols), tuple(sorted({**q_bound, **p_bound}.items())))
