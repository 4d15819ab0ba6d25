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
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import sympy as sp

__all__ = ["deep_recursion", "safe_print"]

#: the recursion limit used while printing (a 300-deep tree needs about 3,000 frames)
PRINT_RECURSION_LIMIT = 20_000


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
        text = printer(expr)
    except RecursionError:
        text = f"<expression too deep to print: {sp.count_ops(expr, visual=False)} operations>"
    finally:
        sys.setrecursionlimit(old)
    return text if len(text) <= width else text[: width - 1] + "…"
