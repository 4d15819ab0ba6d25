"""The red-team harness shared by every round (tests/redteam/test_round*_redteam.py).

Each attack is a tiny derivation whose expectation is the mathematically
correct behaviour: ``false`` (must not be proved), ``true`` (must not be
refuted), ``proved`` (a true in-fragment claim the core must still prove) or
``check`` (the attack returns True when the defence held).  Refusing hostile
input with a one-line DerivationError/UsageError is sound.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sympy as sp

from elbo_check import CheckConfig, Checker, Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import inequality

__all__ = [
    "CONFIG",
    "TRIVIAL",
    "all_proved",
    "cases",
    "eq",
    "ge",
    "le",
    "ledger",
    "ledger_shows",
    "not_all_proved",
    "raises_usage",
    "refused_or_not_proved",
    "run_case",
    "verdict",
    "verdicts",
]

CONFIG = CheckConfig(step_timeout=5)
TRIVIAL = inequality("squares are non-negative", sp.Wild("v", real=True) ** 2, "v^2 >= 0")


def verdict(d: Derivation, index: int = 0, checker: Checker | None = None) -> str:
    return check_derivation(d, CONFIG, checker=checker).steps[index].verdict.value


def verdicts(d: Derivation) -> list[str]:
    return [r.verdict.value for r in check_derivation(d, CONFIG).steps]


def all_proved(d: Derivation) -> bool:
    return all(v == "proved" for v in verdicts(d))


def eq(name: str, lhs, rhs, by="claim") -> Derivation:
    return Derivation(name).start(lhs).equals(rhs, by=by)


def ge(name: str, lhs, rhs, by=TRIVIAL) -> Derivation:
    return Derivation(name).start(lhs).geq(rhs, by=by)


def le(name: str, lhs, rhs, by=TRIVIAL) -> Derivation:
    return Derivation(name).start(lhs).leq(rhs, by=by)


def ledger(d: Derivation):
    return check_derivation(d, CONFIG).ledger


def raises_usage(thunk: Callable[[], object]) -> bool:
    try:
        thunk()
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)
    return False


def run_case(expect: str, thunk: Callable[[], object]) -> None:
    got: object = None
    try:
        got = thunk()
    except (DerivationError, UsageError) as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        assert expect != "proved", f"a true in-fragment claim raised {refused}"
        assert "\n" not in str(refused), "a usage error must be one line"
        return
    if expect == "check":
        assert got is True
        return
    if expect == "false":
        assert got != "proved", "a false (or meaningless) claim was proved"
    elif expect == "true":
        assert got != "refuted", "a true claim was refuted"
    elif expect == "proved":
        assert got == "proved", f"a true in-fragment claim is {got}, not proved"
    else:  # pragma: no cover
        raise AssertionError(expect)


def cases(table: list[tuple[str, str, Callable[[], object]]]):
    return [pytest.param(expect, thunk, id=name) for name, expect, thunk in table]


def not_all_proved(build: Callable[[], Derivation]) -> bool:
    """A derivation whose conclusion is false must have at least one step not proved."""
    try:
        d = build()
    except (DerivationError, UsageError) as exc:
        return "\n" not in str(exc)
    return not all_proved(d)


def ledger_shows(d: Derivation) -> list[str]:
    """Each ledger entry as ``name|statement|shows``."""
    return [f"{e.name}|{e.statement}|{e.shows}" for e in check_derivation(d, CONFIG).ledger]


def refused_or_not_proved(build: Callable[[], Derivation]) -> bool:
    """The attack holds when the forged input is refused at build time or not proved."""
    try:
        d = build()
    except (DerivationError, UsageError):
        return True
    return verdict(d) != "proved"
