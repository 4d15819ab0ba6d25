"""The exception hierarchy: one root, :class:`ElboCheckError`.

Every error elbo-check raises on purpose derives from :class:`ElboCheckError`,
so callers can catch the whole family with one ``except`` clause.  Messages are
one line and name the offending value, after hypothesis'
``"Expected {type} but got {name}={arg!r}"``.

>>> from elbo_check.errors import ElboCheckError, UsageError
>>> issubclass(UsageError, ElboCheckError)
True
"""

from __future__ import annotations

__all__ = [
    "DerivationError",
    "ElboCheckError",
    "EvidenceError",
    "UsageError",
    "ValidationError",
]


class ElboCheckError(Exception):
    r"""Root of every error elbo-check raises on purpose.

    Its message is always one line: newlines from user-supplied names are
    shown escaped.

    >>> print(ElboCheckError("a\nb"))
    a\nb
    """

    def __str__(self) -> str:
        return super().__str__().replace("\n", "\\n")


class UsageError(ElboCheckError, ValueError):
    """Bad input from a user: a flag, a file, a slug, an argument value.

    The CLI turns it into a one-line message and exit code 2.
    """


class DerivationError(UsageError):
    """A derivation is malformed (no steps, a non-sympy expression, ...)."""


class EvidenceError(UsageError):
    """Bad input to a numeric-evidence routine (sample size, densities)."""


class ValidationError(UsageError):
    """The validator could not run (target not importable, bad roles)."""
