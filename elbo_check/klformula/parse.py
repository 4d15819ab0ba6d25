r"""The ``--claim`` parser: untrusted text to a sympy expression, through a whitelist.

The claim is read with ``ast.parse(text, mode="eval")`` and walked; nothing
is evaluated, and sympy objects are built here, one node at a time.  Allowed:

* numbers: integer and decimal literals, read exactly (``0.5`` is ``1/2``);
* names: the parameter symbols of ``--q`` and ``--p`` (an eliminated
  Categorical probability stands for 1 minus the others), and the constants
  ``pi``, ``E`` (Euler's number) and ``oo`` (infinity, for a claim that the
  KL is infinite);
* calls, with positional arguments only, to ``log(x)``, ``exp(x)``,
  ``sqrt(x)``, ``digamma(x)``, ``polygamma(n, x)`` (``n`` a literal 0..16),
  ``lgamma(x)`` (``sympy.loggamma``), ``gamma(x)``, ``Abs(x)``;
* ``+ - * / **`` and unary ``+ -``.

Everything else (attributes, subscripts, lambdas, comprehensions, strings,
keyword or starred arguments, comparisons, other names, dunders) is a
:class:`~elbo_check.errors.UsageError` that shows the offending token.
Resource bounds, checked before sympy does any work: at most
``MAX_CLAIM_LENGTH`` characters, ``MAX_NODES`` syntax nodes and ``MAX_DEPTH``
levels of nesting; a numeric exponent is a rational with
``|b| <= MAX_EXPONENT`` (so ``9**9**9`` is refused before ``9**387420489``); no exact
number grows past ``MAX_BITS`` bits; numeric arguments of the gamma family
are at most ``MAX_SPECIAL_ARG`` in size.

>>> from elbo_check.klformula.spec import parse_pair
>>> pair = parse_pair("Normal(m, s)", "Normal(0, 1)")
>>> parse_claim("log(1/s) + (s**2 + m**2)/2 - 0.5", pair)
m**2/2 + s**2/2 + log(1/s) - 1/2
>>> parse_claim("s.__class__", pair)
Traceback (most recent call last):
...
elbo_check.errors.UsageError: claim: attribute access not allowed: 's.__class__'
>>> parse_claim("9**9**9", pair)
Traceback (most recent call last):
...
elbo_check.errors.UsageError: claim: exponent too large (|b| <= 64): '9 ** 9 ** 9'
"""

from __future__ import annotations

import ast
from collections.abc import Callable

import sympy as sp

from elbo_check.errors import UsageError
from elbo_check.klformula.spec import Pair, exact_literals, number_literal

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_BITS",
    "MAX_CLAIM_LENGTH",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_NODES",
    "MAX_SPECIAL_ARG",
    "parse_claim",
]

MAX_CLAIM_LENGTH = 2000
MAX_NODES = 400
MAX_DEPTH = 100
MAX_EXPONENT = 64
MAX_BITS = 4096
MAX_SPECIAL_ARG = 100
_MAX_POLYGAMMA_ORDER = 16

#: the named constants a claim may use
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "oo": sp.oo}

#: the functions a claim may call, with their number of arguments
FUNCTIONS: dict[str, tuple[int, Callable[..., sp.Expr]]] = {
    "log": (1, sp.log),
    "exp": (1, sp.exp),
    "sqrt": (1, sp.sqrt),
    "digamma": (1, sp.digamma),
    "polygamma": (2, sp.polygamma),
    "lgamma": (1, sp.loggamma),
    "gamma": (1, sp.gamma),
    "Abs": (1, sp.Abs),
}
_SPECIAL = {"digamma", "polygamma", "lgamma", "gamma"}

_DESCRIBE: dict[type, str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignment expressions",
    ast.Starred: "starred arguments",
    ast.JoinedStr: "strings",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
_OPS: dict[type, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}

_WHERE = "claim"


def _token(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse(what: str, node: ast.AST) -> UsageError:
    return UsageError(f"{_WHERE}: {what} not allowed: {_token(node)!r}")


def _check_size(tree: ast.AST) -> None:
    """Node count and nesting depth, measured without recursion."""
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise UsageError(f"{_WHERE}: too many terms (more than {MAX_NODES} syntax nodes)")
        if depth > MAX_DEPTH:
            raise UsageError(f"{_WHERE}: nested too deeply (more than {MAX_DEPTH} levels)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _bits(value: sp.Rational) -> int:
    return max(int(value.p).bit_length(), int(value.q).bit_length())


class _Builder:
    """Builds the sympy expression for one whitelisted syntax tree."""

    def __init__(self, names: dict[str, sp.Expr]) -> None:
        self.names = names

    def build(self, node: ast.AST) -> sp.Expr:
        out = self._node(node)
        if isinstance(out, sp.Rational) and _bits(out) > MAX_BITS:
            raise UsageError(f"{_WHERE}: number too large (over {MAX_BITS} bits): {_token(node)!r}")
        big = isinstance(out, sp.Pow) and isinstance(out.exp, sp.Rational)
        if big and abs(out.exp) > MAX_EXPONENT:
            raise UsageError(
                f"{_WHERE}: exponent too large (|b| <= {MAX_EXPONENT}): {_token(node)!r}"
            )
        return out

    def _node(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str | bytes):
                raise _refuse("strings", node)
            return number_literal(node, _WHERE)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.UAdd | ast.USub):
                raise _refuse(f"operator {type(node.op).__name__}", node)
            inner = self.build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _refuse(_DESCRIBE.get(type(node), type(node).__name__), node)

    def _name(self, node: ast.Name) -> sp.Expr:
        if node.id.startswith("__"):
            raise _refuse("dunder name", node)
        if node.id in self.names:
            return self.names[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise UsageError(f"{_WHERE}: {node.id!r} is a function: call it, e.g. {node.id}(x)")
        known = ", ".join([*self.names, *CONSTANTS]) or "none"
        raise UsageError(f"{_WHERE}: unknown name {node.id!r} (known: {known})")

    def _binop(self, node: ast.BinOp) -> sp.Expr:
        if isinstance(node.op, ast.Pow):
            return self._pow(node)
        op = _OPS.get(type(node.op))
        if op is None:
            raise _refuse(f"operator {type(node.op).__name__}", node)
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise UsageError(f"{_WHERE}: division by zero: {_token(node)!r}")
        return op(left, right)

    def _pow(self, node: ast.BinOp) -> sp.Expr:
        base, exponent = self.build(node.left), self.build(node.right)
        if exponent.is_number and not exponent.has(sp.oo, sp.zoo, sp.nan):
            if not isinstance(exponent, sp.Rational):
                raise UsageError(
                    f"{_WHERE}: a numeric exponent must be rational: {_token(node.right)!r}"
                )
            if abs(exponent) > MAX_EXPONENT or exponent.q > MAX_EXPONENT:
                raise UsageError(
                    f"{_WHERE}: exponent too large (|b| <= {MAX_EXPONENT}): {_token(node)!r}"
                )
            if isinstance(base, sp.Rational) and _bits(base) * abs(exponent) > MAX_BITS:
                raise UsageError(
                    f"{_WHERE}: number too large (over {MAX_BITS} bits): {_token(node)!r}"
                )
            if base == 0 and exponent < 0:
                raise UsageError(f"{_WHERE}: division by zero: {_token(node)!r}")
        elif exponent.is_number:
            raise UsageError(f"{_WHERE}: exponent must be finite: {_token(node.right)!r}")
        return sp.Pow(base, exponent)

    def _call(self, node: ast.Call) -> sp.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            raise _refuse("calling this", func)
        if func.id not in FUNCTIONS:
            raise UsageError(
                f"{_WHERE}: unknown function {func.id!r} (allowed: {', '.join(FUNCTIONS)})"
            )
        if node.keywords:
            raise _refuse("keyword arguments", node.keywords[0])
        arity, make = FUNCTIONS[func.id]
        if len(node.args) != arity:
            raise UsageError(
                f"{_WHERE}: {func.id} takes {arity} argument(s), got {len(node.args)}: "
                f"{_token(node)!r}"
            )
        args = [self.build(a) for a in node.args]
        if func.id == "polygamma":
            order = args[0]
            if not (order.is_Integer and 0 <= order <= _MAX_POLYGAMMA_ORDER):
                raise UsageError(
                    f"{_WHERE}: polygamma's order must be an integer 0..{_MAX_POLYGAMMA_ORDER}: "
                    f"{_token(node)!r}"
                )
        if func.id in _SPECIAL and args[-1].is_number:
            value = args[-1]
            if not isinstance(value, sp.Rational) or max(abs(value.p), value.q) > MAX_SPECIAL_ARG:
                raise UsageError(
                    f"{_WHERE}: a numeric argument of {func.id} must be a small rational "
                    f"(numerator and denominator at most {MAX_SPECIAL_ARG}): {_token(node)!r}"
                )
        return make(*args)


def parse_claim(text: str, pair: Pair) -> sp.Expr:
    """Parse ``--claim`` in the symbols of ``pair``; raise :class:`UsageError` if not allowed.

    >>> from elbo_check.klformula.spec import parse_pair
    >>> pair = parse_pair("Categorical(p1, p2)", "Categorical(1/2, 1/2)")
    >>> parse_claim("p1*log(2*p1) + p2*log(2*p2)", pair)
    p1*log(2*p1) + (1 - p1)*log(2 - 2*p1)
    >>> parse_claim("__import__('os')", pair)
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: claim: unknown function '__import__' (allowed: log, exp, sqrt, digamma, polygamma, lgamma, gamma, Abs)
    """
    if not isinstance(text, str):
        raise UsageError(f"{_WHERE}: expected a string, got {type(text).__name__}")
    if len(text) > MAX_CLAIM_LENGTH:
        raise UsageError(f"{_WHERE}: longer than {MAX_CLAIM_LENGTH} characters")
    if not text.strip():
        raise UsageError(f"{_WHERE}: empty")
    exact_literals(text.strip(), _WHERE)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise UsageError(f"{_WHERE}: syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise UsageError(f"{_WHERE}: cannot parse: {type(exc).__name__}") from None
    _check_size(tree)
    claim = _Builder(pair.names()).build(tree.body)
    if claim.has(sp.nan, sp.zoo):
        raise UsageError(f"{_WHERE}: undefined (it contains {claim.atoms(sp.nan, sp.zoo).pop()})")
    return claim
