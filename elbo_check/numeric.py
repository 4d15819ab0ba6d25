"""High-precision numeric comparison: it can refute a step, never prove it.

Both sides are evaluated with mpmath (through ``evalf(strict=True)``, which
raises rather than return digits it cannot guarantee) at exact rational
points that satisfy the symbols' assumptions: special points first (all
ones, zeros for real symbols), then seeded random rationals.  A disagreement
far beyond the working precision, certified at two precisions that agree
with each other, is a counterexample; a side that still holds an integral,
a sum or a limit (quadrature, not certified) is never refuted.  Agreement
everywhere is *corroboration*: evidence, not proof.

>>> import sympy as sp
>>> from elbo_check.numeric import compare
>>> s = sp.Symbol("s", positive=True)
>>> compare(sp.log(s**2), 2 * sp.log(s), "=", seed=0).outcome
'agree'
>>> out = compare(sp.log(s**2), 3 * sp.log(s), "=", seed=0)
>>> out.outcome, out.point
('mismatch', {'s': '25/8'})
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

import sympy as sp

from elbo_check._timeout import Deadline, StepTimeout

__all__ = ["NumericOutcome", "compare", "sample_points"]

DPS = 40
#: relative disagreement that counts as a real mismatch (far above any rounding)
MISMATCH = sp.Float("1e-10", DPS)
#: relative disagreement that refutes when both sides are certified to DPS digits
#: (``evalf(strict=True)`` guarantees them; 1e-30 leaves ten digits of margin)
CERTIFIED_GAP = sp.Float("1e-30", DPS)


@dataclass(frozen=True)
class NumericOutcome:
    """What the numeric stage saw."""

    outcome: Literal["agree", "mismatch", "unevaluable", "inconclusive"]
    points: int = 0
    point: dict[str, str] = field(default_factory=dict)
    lhs_value: str = ""
    rhs_value: str = ""
    reason: str = ""


def _free(expr: sp.Expr) -> set[sp.Symbol]:
    return {s for s in expr.free_symbols if isinstance(s, sp.Symbol)}


def _value_for(sym: sp.Symbol, rng: random.Random, kind: int) -> sp.Rational:
    """A value in the symbol's declared domain: kind 0 = one, 1 = zero-ish, 2 = random."""
    if sym.is_integer:
        lo = 1 if sym.is_positive else 0 if sym.is_nonnegative else -5
        hi = -1 if sym.is_negative else 0 if sym.is_nonpositive else 6
        value = sp.Integer([max(lo, min(hi, 1)), max(lo, min(hi, 0)), rng.randint(lo, hi)][kind])
        if (sym.is_even and value % 2) or (sym.is_odd and not value % 2):
            value = value + 1 if value + 1 <= hi else value - 1
        return value
    if kind == 0:
        return sp.Integer(-1) if (sym.is_negative or sym.is_nonpositive) else sp.Integer(1)
    if kind == 1 and not (sym.is_positive or sym.is_negative or sym.is_nonzero):
        return sp.Integer(0)
    value = sp.Rational(rng.randint(1, 97), rng.choice([7, 8, 13, 16, 25, 31]))
    nonneg = sym.is_nonnegative or sym.is_positive
    if sym.is_negative or sym.is_nonpositive or (not nonneg and rng.random() < 0.5):
        value = -value
    return value


_IGNORED = {"commutative", "complex", "hermitian", "algebraic", "infinite"}


def _satisfies(sym: sp.Symbol, value: sp.Expr) -> bool:
    """True when ``value`` provably has every assumption declared true on ``sym``."""
    return all(
        getattr(value, f"is_{key}", None) is True
        for key, holds in sym.assumptions0.items()
        if holds is True and key not in _IGNORED
    )


def sample_points(
    symbols: list[sp.Symbol], seed: int, count: int = 6
) -> list[dict[sp.Symbol, sp.Rational]]:
    """Exact points satisfying each symbol's assumptions (deterministic in ``seed``).

    A drawn value that does not provably satisfy every declared assumption of
    its symbol (``even``, ``prime``, ...) is redrawn a few times; a point that
    still fails is dropped, so that no refutation rests on an invalid point.

    >>> import sympy as sp
    >>> s = sp.Symbol("s", positive=True); m = sp.Symbol("m", real=True)
    >>> sample_points([m, s], seed=1, count=2)
    [{m: 1, s: 1}, {m: 0, s: 18/25}]
    >>> n = sp.Symbol("n", even=True)
    >>> all(p[n] % 2 == 0 for p in sample_points([n], seed=0))
    True
    """
    rng = random.Random(seed)
    points = []
    for k in range(count):
        point = {}
        for sym in symbols:
            for attempt in range(8):
                value = _value_for(sym, rng, min(k, 2) if attempt == 0 else 2)
                if _satisfies(sym, value):
                    point[sym] = value
                    break
        if len(point) == len(symbols):
            points.append(point)
    return points


#: nodes whose numeric value rests on quadrature or series, not on certified evaluation
_UNCERTIFIED = (sp.Integral, sp.Sum, sp.Product, sp.Limit, sp.Subs, sp.Derivative)


def _evaluate(expr: sp.Expr, point: dict[sp.Symbol, sp.Rational], dps: int) -> sp.Expr | None:
    """The value at ``dps`` significant digits, or None when evalf cannot certify them.

    ``strict=True`` makes evalf raise instead of returning digits it could
    not guarantee (catastrophic cancellation, say).
    """
    try:
        value = expr.xreplace(point).evalf(dps, strict=True)
    except StepTimeout:
        raise
    except Exception:  # PrecisionExhausted, domain errors, ...: no certified value
        return None
    if not value.is_number or value.has(sp.nan, sp.zoo) or value.is_infinite:
        return None
    re, im = value.as_real_imag()
    if not (isinstance(re, sp.Number) and isinstance(im, sp.Number)):
        return None  # something stayed symbolic (an opaque function, an integral, ...)
    return value


def _relative_gap(a: sp.Expr, b: sp.Expr) -> sp.Float:
    diff = abs(sp.N(a - b, DPS))
    scale = max(sp.Float(1), abs(sp.N(a, DPS)), abs(sp.N(b, DPS)))
    return sp.Float(diff / scale, DPS)


def _violates(a: sp.Expr, b: sp.Expr, relation: str, threshold: sp.Float) -> bool:
    """True when ``a <relation> b`` fails by more than ``threshold`` (relative)."""
    if relation == "=":
        return bool(_relative_gap(a, b) > threshold)
    if a.has(sp.I) or b.has(sp.I) or not (a.is_real and b.is_real):
        return False  # an order between complex values is no counterexample
    scale = max(sp.Float(1), abs(a), abs(b))
    excess = (a - b) if relation == "<=" else (b - a)
    return bool(sp.N(excess / scale, DPS) > threshold)


def _certified_mismatch(
    lhs: sp.Expr, rhs: sp.Expr, point: dict[sp.Symbol, sp.Rational], relation: str
) -> tuple[sp.Expr, sp.Expr] | None:
    """Both sides at 2·DPS digits when the mismatch holds at DPS and 2·DPS and the
    two precisions agree on each side; else None."""
    values = []
    for dps in (DPS, 2 * DPS):
        a, b = _evaluate(lhs, point, dps), _evaluate(rhs, point, dps)
        if a is None or b is None or not _violates(a, b, relation, CERTIFIED_GAP):
            return None
        values.append((a, b))
    (a1, b1), (a2, b2) = values
    agree = CERTIFIED_GAP / 1000
    if _relative_gap(a1, a2) > agree or _relative_gap(b1, b2) > agree:
        return None
    return a2, b2


def _direction(a: sp.Expr, b: sp.Expr, relation: str) -> str:
    gap = sp.N(a - b, 6)
    if relation == "=":
        return f"the two sides differ by {gap} (lhs - rhs)"
    wanted = "<=" if relation == "<=" else ">="
    return f"lhs {wanted} rhs fails: lhs - rhs = {gap}"


def compare(
    lhs: sp.Expr,
    rhs: sp.Expr,
    relation: str,
    *,
    seed: int,
    count: int = 6,
    deadline: Deadline | None = None,
) -> NumericOutcome:
    """Evaluate ``lhs <relation> rhs`` at sample points; see the module docstring.

    A refutation needs a certified value of both sides: sides that still hold
    an integral, a sum, a limit or an abstract function are never refuted.
    """
    symbols = sorted(_free(lhs) | _free(rhs), key=str)
    uncertified = lhs.has(*_UNCERTIFIED) or rhs.has(*_UNCERTIFIED)
    agree_tol = sp.Float("1e-15" if uncertified else "1e-25", DPS)
    agreed = 0
    inconclusive = 0
    for point in sample_points(symbols, seed, count):
        if deadline is not None and deadline.expired():
            break
        a = _evaluate(lhs, point, DPS)
        b = _evaluate(rhs, point, DPS)
        if a is None or b is None:
            abstract = lhs.atoms(sp.core.function.AppliedUndef) | rhs.atoms(
                sp.core.function.AppliedUndef
            )
            if agreed == 0 and abstract:
                names = ", ".join(sorted({str(f.func) for f in abstract}))
                return NumericOutcome(
                    "unevaluable",
                    reason=f"abstract functions cannot be evaluated ({names}): to close the step, "
                    "cite an axiom or a definition that says what they are",
                )
            inconclusive += 1
            continue
        if _violates(a, b, relation, MISMATCH if uncertified else CERTIFIED_GAP):
            confirmed = None if uncertified else _certified_mismatch(lhs, rhs, point, relation)
            if confirmed is not None:
                return NumericOutcome(
                    "mismatch",
                    agreed,
                    {str(k): str(v) for k, v in point.items()},
                    _show(confirmed[0]),
                    _show(confirmed[1]),
                    _direction(confirmed[0], confirmed[1], relation),
                )
            inconclusive += 1
        elif _violates(a, b, relation, agree_tol if relation == "=" else sp.Float(0)):
            inconclusive += 1  # an order that fails by a hair is never evidence for it
        else:
            agreed += 1
    if agreed == 0:
        return NumericOutcome("unevaluable", reason="no sample point could be evaluated")
    if inconclusive:
        return NumericOutcome(
            "inconclusive", agreed, reason=f"{inconclusive} point(s) inconclusive"
        )
    return NumericOutcome("agree", agreed)


def _show(value: sp.Expr) -> str:
    return str(sp.N(value, 20))
