"""The result types of a validation: :class:`ValidationResult`, :class:`Counterexample`, :class:`ConventionInfo`.

All three are frozen dataclasses.  :class:`Counterexample` and
:class:`ConventionInfo` also read like the dicts they were before
(``result.counterexample["inputs"]``, ``result.convention["args"]``), and
``to_dict``/``to_json`` give the pinned JSON keys.

>>> c = ConventionInfo(args=["mu", "logvar"], reduction="sum")
>>> c["args"], c.reduction, sorted(c)[:3]
(['mu', 'logvar'], 'sum', ['args', 'backend', 'dtype'])
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, TypeAlias

from elbo_check._validate._types import BugClass

__all__ = ["ConventionInfo", "Counterexample", "NestedFloats", "ValidationResult"]

#: an input array as nested lists of floats (non-finite values as strings)
NestedFloats: TypeAlias = "float | str | list[NestedFloats]"


class _ReadsLikeADict(Mapping[str, Any]):
    """Mapping access to a dataclass's fields (the JSON keys)."""

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def _keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True, eq=False)
class Counterexample(_ReadsLikeADict):
    """A small failing input, the exact KL there, and what the function did."""

    args: list[str]
    reduction: str
    shape: list[int]
    inputs: dict[str, NestedFloats]
    expected: Any
    returned: Any
    error: str | None


@dataclasses.dataclass(frozen=True, eq=False)
class ConventionInfo(_ReadsLikeADict):
    """The convention a validation used (the JSON's ``convention``)."""

    args: list[str] = dataclasses.field(default_factory=list)
    reduction: str = ""
    family: str = "diag"
    layout: str = "N D"
    role_layouts: dict[str, str] = dataclasses.field(default_factory=dict)
    backend: str = "numpy"
    dtype: str = "float64"
    isolation: str = "process"


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """The verdict on one KL implementation.

    Attributes
    ----------
    ok : bool
        True when the function matches the reference within tolerance on every example.
    diagnosis : str or None
        The named bug, in words (None when ``ok``).
    counterexample : Counterexample or None
        A small failing input: ``inputs`` (role -> nested lists, in the
        function's layout), ``shape`` (N, D), ``expected`` (40-digit mpmath
        reference), ``returned`` and ``error``; it also reads like a dict.
    max_rel_error : float
        Largest relative error seen (nan when nothing could be compared).
    examples : int
        Number of (q, p) pairs (rows of the input batches) checked.
    convention : ConventionInfo
        ``args``, ``reduction``, ``family``, ``layout``, ``role_layouts``,
        ``backend``, ``dtype`` and ``isolation`` used (the inferred ones for
        ``auto``); it also reads like a dict.
    warnings : list of str
        Non-fatal findings: cancellation near q ≈ p, a different dtype
        returned, printing, a list returned, ...
    bug_class : BugClass or None
        The stable identifier of the bug class, a str enum (``"sign_flip"``, ...).
    """

    ok: bool
    diagnosis: str | None
    counterexample: Counterexample | None
    max_rel_error: float
    examples: int
    convention: ConventionInfo
    warnings: list[str]
    bug_class: BugClass | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (non-finite floats become None).

        >>> ValidationResult(True, None, None, 0.0, 3, ConventionInfo(), []).to_dict()["ok"]
        True
        """
        d = dataclasses.asdict(self)
        d["max_rel_error"] = _finite(self.max_rel_error)
        d["bug_class"] = None if self.bug_class is None else self.bug_class.value
        return d

    def to_json(self) -> str:
        """The result as a JSON string (the CLI's ``--format json``), with ``"schema": 1``."""
        from elbo_check.results import JSON_SCHEMA

        doc = {"schema": JSON_SCHEMA, **self.to_dict()}
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)

    def report(self) -> str:
        """A human-readable report (the CLI's ``--format text``)."""
        conv = self.convention
        head = (
            f"{'OK' if self.ok else 'WRONG'}: args={','.join(conv.args)} "
            f"reduction={conv.reduction} backend={conv.backend} dtype={conv.dtype}"
        )
        if conv.layout != "N D" or conv.role_layouts:
            head += f" layout={conv.layout!r}" + "".join(
                f" {r}:{lay!r}" for r, lay in conv.role_layouts.items()
            )
        lines = [head]
        if self.diagnosis:
            lines.append(f"diagnosis: {self.diagnosis}")
        cex = self.counterexample
        if cex:
            inputs = ", ".join(f"{k}={v}" for k, v in cex["inputs"].items())
            lines.append(f"counterexample: {inputs}")
            lines.append(f"  expected: {cex['expected']}")
            lines.append(f"  returned: {cex['returned'] if cex['error'] is None else cex['error']}")
        err = "nan" if math.isnan(self.max_rel_error) else f"{self.max_rel_error:.3g}"
        lines.append(f"max relative error: {err} over {self.examples} examples")
        lines += [w if w.startswith("note: ") else f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter: verdict badge, diagnosis and counterexample (elbo_check.report)."""
        from elbo_check.report.notebook import validation_html

        return validation_html(self)

    def _repr_latex_(self) -> str:
        """Jupyter: a one-line LaTeX summary."""
        from elbo_check.report.notebook import validation_latex

        return validation_latex(self)

    def __str__(self) -> str:
        return self.report()


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
