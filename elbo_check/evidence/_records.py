"""The declarative evidence record :class:`NumericCheck` and its outcome :class:`EvidenceLine`.

Both are plain data.  A record carries numeric callables only (no sympy): a
derivation module declares ``EVIDENCE = (NumericCheck(...), ...)`` next to its
``DERIVATION``, and the runner (:func:`elbo_check.evidence.run_checks`)
executes it without knowing the derivation.  This module imports nothing but
the standard library, so declaring a record costs nothing at import time.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from elbo_check.errors import EvidenceError

if TYPE_CHECKING:
    from elbo_check.mc import MCEstimate

__all__ = ["EvidenceLine", "NumericCheck", "Relation", "Status", "describe_point"]

P = TypeVar("P")

#: Draws per line unless a record says otherwise: each line stays well under 0.5 s.
DEFAULT_DRAWS = 1 << 18


class Relation(enum.Enum):
    """How the Monte Carlo estimate must relate to the reference value.

    ``EQUAL`` is a two-sided z-test; ``AT_MOST`` and ``AT_LEAST`` are one-sided
    tests of a bound (``estimate ≤ reference``, ``estimate ≥ reference``).
    """

    EQUAL = "="
    AT_MOST = "≤"
    AT_LEAST = "≥"

    @property
    def alternative(self) -> str:
        """The :func:`elbo_check.mc.z_test` alternative that refutes this relation.

        >>> Relation.AT_MOST.alternative
        'greater'
        """
        return {"=": "two-sided", "≤": "greater", "≥": "less"}[self.value]


class Status(enum.Enum):
    """The outcome of one evidence line: passed, failed, or skipped (with a reason)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


def describe_point(point: Any) -> dict[str, float]:
    """Name the numbers of a parameter point, for display and JSON.

    A mapping gives its items; a dataclass its fields, sequences indexed
    (``mu[0]``, ``cov[1,0]``); an object with a ``describe()`` method what
    that returns.

    >>> describe_point({"mu": 0.5, "sigma": 2})
    {'mu': 0.5, 'sigma': 2.0}
    >>> @dataclasses.dataclass(frozen=True)
    ... class Pt:
    ...     m: tuple[float, ...]
    ...     s: float
    >>> describe_point(Pt((0.1, 0.2), 3.0))
    {'m[0]': 0.1, 'm[1]': 0.2, 's': 3.0}
    """
    describe = getattr(point, "describe", None)
    if callable(describe):
        return {str(k): float(v) for k, v in describe().items()}
    if isinstance(point, Mapping):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in point.items()]
    elif dataclasses.is_dataclass(point) and not isinstance(point, type):
        items = [(f.name, getattr(point, f.name)) for f in dataclasses.fields(point)]
    else:
        raise EvidenceError(
            f"a point must be a mapping, a dataclass or have describe(), got {point!r}"
        )
    out: dict[str, float] = {}
    for name, value in items:
        _flatten(out, name, value, ())
    return out


def _flatten(out: dict[str, float], name: str, value: Any, index: tuple[int, ...]) -> None:
    """Add ``value`` (a number or nested sequence of numbers) under indexed names."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        for i, item in enumerate(value):
            _flatten(out, name, item, (*index, i))
        return
    label = name if not index else f"{name}[{','.join(map(str, index))}]"
    out[label] = float(value)


@dataclasses.dataclass(frozen=True)
class NumericCheck(Generic[P]):
    """A Monte Carlo check of a reference value, declared as data.

    Parameters
    ----------
    name : str
        What is compared, e.g. ``"KL(N(m1, s1²) ‖ N(m2, s2²))"``.
    closed_form : callable
        ``closed_form(point) -> float``: the reference value (numpy-level
        code, never sympy).  Where it must agree with a proved symbolic
        closed form, a test ties the two together.
    estimator : callable
        ``estimator(point, n, seed) -> MCEstimate``: an independent Monte
        Carlo estimate (from :mod:`elbo_check.mc` or :mod:`elbo_check.models`).
    points : tuple
        Parameter points; one evidence line each.  A point is a mapping of
        names to numbers, a dataclass, or an object with ``describe()``.
    relation : Relation
        ``EQUAL`` (two-sided) or a bound, ``AT_MOST``/``AT_LEAST``.
    draws : int
        Monte Carlo draws per line.
    requires : tuple of str
        Optional modules the check needs; when one is missing, every line of
        the check is skipped and says why.
    source : str
        Where the reference value comes from, for the reader.

    >>> check = NumericCheck(
    ...     name="E[z²] under N(0, 1)",
    ...     closed_form=lambda point: 1.0,
    ...     estimator=lambda point, n, seed: None,
    ...     points=({},),
    ... )
    >>> check.lines, check.relation
    (1, <Relation.EQUAL: '='>)
    """

    name: str
    closed_form: Callable[[P], float]
    estimator: Callable[[P, int, int], MCEstimate]
    points: tuple[P, ...]
    relation: Relation = Relation.EQUAL
    draws: int = DEFAULT_DRAWS
    requires: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise EvidenceError("a NumericCheck needs a name")
        if not isinstance(self.points, tuple) or not self.points:
            raise EvidenceError(
                f"{self.name}: points must be a non-empty tuple, got {self.points!r}"
            )
        if not (callable(self.closed_form) and callable(self.estimator)):
            raise EvidenceError(f"{self.name}: closed_form and estimator must be callable")
        if not isinstance(self.relation, Relation):
            raise EvidenceError(f"{self.name}: relation must be a Relation, got {self.relation!r}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, int) or self.draws < 2:
            raise EvidenceError(f"{self.name}: draws must be an integer >= 2, got {self.draws!r}")

    @property
    def lines(self) -> int:
        """Evidence lines this check produces: one per point."""
        return len(self.points)


@dataclasses.dataclass(frozen=True)
class EvidenceLine:
    """One numeric check at one point: reference value, Monte Carlo estimate, verdict.

    Attributes
    ----------
    name : str
        What is compared.
    point : dict of str to float
        The parameter point.
    closed_form : float
        The reference value at ``point`` (nan when it could not be computed).
    estimate, se : float
        The Monte Carlo estimate and its standard error (nan when skipped).
    z : float
        ``(estimate - closed_form) / se`` (SE floored at round-off).
    status : Status
        Passed, failed, or skipped: a skipped line is never a pass.
    alpha : float
        The per-line false-alarm rate (Bonferroni share of the family rate).
    n : int
        Monte Carlo draws.
    seed : int
        Root seed of the draws.
    relation : Relation
        ``estimate = closed_form``, or the bound that is tested.
    reason : str
        Why the line was skipped (empty otherwise).
    source : str
        Where the reference value came from (not part of :meth:`to_dict`).
    """

    name: str
    point: dict[str, float]
    closed_form: float
    estimate: float
    se: float
    z: float
    status: Status
    alpha: float
    n: int
    seed: int
    relation: Relation = Relation.EQUAL
    reason: str = ""
    source: str = ""

    @property
    def passed(self) -> bool:
        """The z-test ran and did not reject."""
        return self.status is Status.PASSED

    @property
    def failed(self) -> bool:
        """The z-test ran and rejected: the numbers disagree."""
        return self.status is Status.FAILED

    @property
    def skipped(self) -> bool:
        """The check could not run (see :attr:`reason`)."""
        return self.status is Status.SKIPPED

    def to_dict(self) -> dict[str, Any]:
        """The JSON form.

        >>> line = EvidenceLine("KL", {"mu": 0.5}, 0.2, 0.2001, 0.001, 0.1, Status.PASSED, 1e-8, 1000, 0)
        >>> sorted(line.to_dict())  # doctest: +NORMALIZE_WHITESPACE
        ['alpha', 'closed_form', 'estimate', 'n', 'name', 'passed', 'point', 'reason',
         'relation', 'se', 'seed', 'status', 'z']
        """
        return {
            "name": self.name,
            "point": dict(self.point),
            "closed_form": self.closed_form,
            "estimate": self.estimate,
            "se": self.se,
            "z": self.z,
            "passed": self.passed,
            "status": self.status.value,
            "relation": self.relation.value,
            "reason": self.reason,
            "alpha": self.alpha,
            "n": self.n,
            "seed": self.seed,
        }

    def format_text(self) -> str:
        """One line for the terminal.

        >>> line = EvidenceLine("KL", {"mu": 0.5}, 0.2, 0.2001, 0.001, 0.1, Status.PASSED, 1e-8, 1000, 0)
        >>> line.format_text()
        'KL at mu=0.5: closed form 0.2 vs MC 0.2001 ± 0.001 (n=1000, seed=0), z=+0.10, pass (α=1e-08)'
        >>> bound = dataclasses.replace(line, relation=Relation.AT_MOST, closed_form=0.3, z=-99.0)
        >>> bound.format_text()
        'KL at mu=0.5: MC 0.2001 ± 0.001 ≤ bound 0.3 (n=1000, seed=0), z=-99.00, pass (α=1e-08, one-sided)'
        >>> skipped = dataclasses.replace(line, status=Status.SKIPPED, reason="needs dask")
        >>> skipped.format_text()
        'KL at mu=0.5: skipped (needs dask)'
        """
        point = ", ".join(f"{k}={v:.6g}" for k, v in self.point.items())
        head = f"{self.name} at {point}" if point else self.name
        if self.skipped:
            return f"{head}: skipped ({self.reason})"
        verdict = "pass" if self.passed else "FAIL"
        mc = f"MC {self.estimate:.6g} ± {self.se:.2g}"
        if self.relation is Relation.EQUAL:
            claim, kind = f"closed form {self.closed_form:.6g} vs {mc}", ""
        else:
            claim, kind = f"{mc} {self.relation.value} bound {self.closed_form:.6g}", ", one-sided"
        return (
            f"{head}: {claim} (n={self.n}, seed={self.seed}), "
            f"z={self.z:+.2f}, {verdict} (α={self.alpha:.2g}{kind})"
        )
