"""Printing that survives any expression: very deep trees and huge ones.

sympy's printers recurse once per tree level, so a few hundred nested nodes
exhaust Python's default recursion limit.  :func:`safe_print` raises the
limit for the call (within a bound), and elides what is still too deep or too
long, instead of crashing the report.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> e = x
>>> for _ in range(300):
...     e = sp.exp(e)
>>> safe_print(sp.sstr, e, width=20)
'exp(exp(exp(exp(exp…'

Huge expressions are printed elided (:func:`bounded`): sympy's printers take
minutes and gigabytes on 20,000 terms.  :func:`full_output` turns that off
(``prove --full``).

>>> big = sp.Add(*sp.symbols("x0:5000"))
>>> safe_print(sp.sstr, big)
'x0 + x1 + x10 + x999 + … (4,996 terms elided; --full to show)'
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator

import sympy as sp

__all__ = ["bounded", "deep_recursion", "full_output", "is_full", "safe_print"]

#: the recursion limit used while printing (a 300-deep tree needs about 3,000 frames)
PRINT_RECURSION_LIMIT = 20_000
#: an expression with more nodes than this is printed elided (unless :func:`full_output`)
NODE_LIMIT = 2_000
#: the terms kept of a long sum or product in an elided expression: the first few, the last
KEEP_HEAD, KEEP_TAIL = 3, 1

_FULL: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "elbo_check_full_output", default=False
)


@contextlib.contextmanager
def full_output() -> Iterator[None]:
    """Print every expression in full inside the block (``prove --full``)."""
    token = _FULL.set(True)
    digits = getattr(sys, "get_int_max_str_digits", None)
    old_digits = digits() if digits is not None else None
    if old_digits is not None:
        sys.set_int_max_str_digits(0)  # a 5,000-digit integer is printed too
    try:
        yield
    finally:
        _FULL.reset(token)
        if old_digits is not None:
            sys.set_int_max_str_digits(old_digits)


def is_full() -> bool:
    """Whether :func:`full_output` is in force."""
    return _FULL.get()


def _larger_than(expr: sp.Basic, limit: int) -> bool:
    """Whether ``expr`` has more than ``limit`` nodes (visits at most ``limit + 1``)."""
    import itertools

    return next(itertools.islice(sp.preorder_traversal(expr), limit, None), None) is not None


def bounded(expr: sp.Basic) -> sp.Basic:
    """``expr``, or when it is huge a copy whose long sums and products are elided.

    Display only: the elided copy holds a marker symbol that names how many
    terms are left out, e.g. ``… (19,996 terms elided; --full to show)``.

    >>> x = sp.Symbol("x")
    >>> bounded(x + 1) == x + 1
    True
    """
    if is_full() or not isinstance(expr, sp.Basic):
        return expr
    try:
        with deep_recursion(PRINT_RECURSION_LIMIT):
            if not _larger_than(expr, NODE_LIMIT):
                long = {a: _number_marker(a) for a in expr.atoms(sp.Rational) if _too_long(a)}
                return expr.xreplace(long) if long else expr
            return _elide_args(expr, depth=0)
    except RecursionError:
        return sp.Symbol("… (expression elided: too deep; --full to show)")


#: a number with more bits than this (about 1,000 digits) is printed as its size
MAX_NUMBER_BITS = 3_300


def _too_long(number: sp.Rational) -> bool:
    return max(abs(int(number.p)).bit_length(), int(number.q).bit_length()) > MAX_NUMBER_BITS


def _number_marker(number: sp.Rational) -> sp.Symbol:
    """``… (a 5,001-digit integer; --full to show)`` (digits estimated from the bit length)."""
    bits = max(abs(int(number.p)).bit_length(), int(number.q).bit_length())
    kind = "integer" if number.q == 1 else "fraction"
    return sp.Symbol(f"… (a {int(bits * 0.30103) + 1:,}-digit {kind}; --full to show)")


def _elide_args(expr: sp.Basic, depth: int) -> sp.Basic:
    if isinstance(expr, sp.Rational) and _too_long(expr):
        return _number_marker(expr)
    if expr.is_Atom or not expr.args:
        return expr
    if depth > 200:
        return sp.Symbol("… (elided: too deep; --full to show)")
    args = expr.args
    if isinstance(expr, (sp.Add, sp.Mul)) and len(args) > KEEP_HEAD + KEEP_TAIL + 1:
        left_out = len(args) - KEEP_HEAD - KEEP_TAIL
        marker = sp.Symbol(
            f"… ({left_out:,} {'terms' if isinstance(expr, sp.Add) else 'factors'} elided; --full to show)"
        )
        kept = [_elide_args(a, depth + 1) for a in (*args[:KEEP_HEAD], *args[-KEEP_TAIL:])]
        return type(expr)(*kept, marker, evaluate=False)
    new = [_elide_args(a, depth + 1) if isinstance(a, sp.Basic) else a for a in args]
    try:
        return expr.func(*new)
    except Exception:  # a class that refuses the elided arguments: name it only
        return sp.Symbol(f"… ({type(expr).__name__} elided; --full to show)")


@contextlib.contextmanager
def deep_recursion(limit: int = 10_000) -> Iterator[None]:
    """Raise Python's recursion limit inside the block (never lower it)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def safe_print(printer: Callable[[sp.Basic], str], expr: sp.Basic, width: int = 20_000) -> str:
    """``printer(expr)``, elided past ``width`` characters; never raises RecursionError."""
    old = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(old, PRINT_RECURSION_LIMIT))
        text = printer(bounded(expr))
    except RecursionError:
        text = f"<expression too deep to print: {sp.count_ops(expr, visual=False)} operations>"
    finally:
        sys.setrecursionlimit(old)
    if is_full():
        return text
    return text if len(text) <= width else text[: width - 1] + "…"
