r"""The numeric judge: KL(q || p) by quadrature or summation, compared with a claim.

Numerics refute or corroborate; they never prove.  At seeded random
parameter points (exact rationals inside the parameters' domains) the judge
computes KL(q || p) with mpmath at 30 significant digits:

* continuous pairs: ``mpmath.quad`` over q's support, split at the
  locations of both densities (means, Laplace's kink at ``mu``, Uniform's
  edges) and a few scales away from them;
* discrete pairs: an exact finite sum, or for an unbounded support a sum
  truncated once q's mass function has fallen below ``1e-45`` past its mode;
* ``+inf`` when q puts mass where p has none (q's support not inside p's, or
  a continuous distribution against a discrete one).

The log-densities here are written out in mpmath, independently of the sympy
densities of :mod:`.families` that the derivations use, and are cross-checked
against torch and scipy in the tests.  ``Geometric(p)`` follows sympy: the
number of trials up to the first success, on {1, 2, ...}.

>>> from elbo_check.klformula.spec import parse_pair
>>> import sympy as sp
>>> pair = parse_pair("Normal(0, 1)", "Normal(1, 1)")
>>> float(numeric_kl(pair.q, pair.p, {}))
0.5
>>> pair = parse_pair("Normal(m, s)", "Uniform(0, 1)")
>>> numeric_kl(pair.q, pair.p, {sp.Symbol("m", real=True): 0, sp.Symbol("s", positive=True): 1})
mpf('+inf')
"""

from __future__ import annotations

import enum
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import mpmath
import sympy as sp

from elbo_check._timeout import Deadline, StepTimeout, time_limit
from elbo_check.klformula.families import Domain, Kind
from elbo_check.klformula.spec import Dist, Pair

__all__ = [
    "DPS",
    "EVAL_SECONDS",
    "QUAD_DPS",
    "Finding",
    "NumericFailure",
    "Outcome",
    "PointValue",
    "domains_of",
    "judge",
    "numeric_kl",
    "sample_points",
]

#: working precision (decimal digits) of the quadrature and the claim's evaluation
DPS = 30
#: working precision of the quadrature (agreement is reported to about 1e-18)
QUAD_DPS = 25
_TAIL = mpmath.mpf(10) ** -45
_QUAD_TOLERANCE = mpmath.mpf(10) ** -15
#: seconds allowed to evaluate the claim at one point
EVAL_SECONDS = 2.0
_MAX_TERMS = 50_000

Point = dict[sp.Symbol, sp.Rational]


class NumericFailure(Exception):
    """The numeric KL or the claim could not be computed reliably at a point."""


LogPdf = Callable[[mpmath.mpf, mpmath.mpf], mpmath.mpf]


def _log_density(family: str, a: Sequence[mpmath.mpf]) -> LogPdf:
    """The log pdf (or pmf) of ``family`` with parameters ``a``, at ``x`` (with ``r = 1 - x``)."""
    ln, lg = mpmath.log, mpmath.loggamma
    half_log_2pi = ln(2 * mpmath.pi) / 2
    table: dict[str, LogPdf] = {
        "Normal": lambda x, r: -((x - a[0]) ** 2) / (2 * a[1] ** 2) - ln(a[1]) - half_log_2pi,
        "Exponential": lambda x, r: ln(a[0]) - a[0] * x,
        "Laplace": lambda x, r: -abs(x - a[0]) / a[1] - ln(2 * a[1]),
        "Gamma": lambda x, r: (a[0] - 1) * ln(x) - x / a[1] - lg(a[0]) - a[0] * ln(a[1]),
        "Beta": lambda x, r: (
            (a[0] - 1) * ln(x) + (a[1] - 1) * ln(r) - lg(a[0]) - lg(a[1]) + lg(a[0] + a[1])
        ),
        "Uniform": lambda x, r: -ln(a[1] - a[0]),
        "LogNormal": lambda x, r: (
            -((ln(x) - a[0]) ** 2) / (2 * a[1] ** 2) - ln(x * a[1]) - half_log_2pi
        ),
        "Bernoulli": lambda k, r: ln(a[0]) if k == 1 else ln(1 - a[0]),
        "Poisson": lambda k, r: k * ln(a[0]) - a[0] - lg(k + 1),
        "Geometric": lambda k, r: ln(a[0]) + (k - 1) * ln(1 - a[0]),
        "Binomial": lambda k, r: (
            lg(a[0] + 1) - lg(k + 1) - lg(a[0] - k + 1) + k * ln(a[1]) + (a[0] - k) * ln(1 - a[1])
        ),
        "Categorical": lambda k, r: ln(a[int(k)]),
    }
    return table[family]


def _mpf(value: sp.Expr) -> mpmath.mpf:
    exact = sp.Rational(value)
    return mpmath.mpf(int(exact.p)) / int(exact.q)


def _support(dist: Dist, a: Sequence[mpmath.mpf]) -> tuple[mpmath.mpf, mpmath.mpf]:
    """Interval (continuous) or integer range (discrete) where the density is positive."""
    lo, hi = dist.family.support(*[sp.Symbol(f"_{i}") for i in range(len(a))])
    values = {sp.Symbol(f"_{i}"): v for i, v in enumerate(a)}

    def num(bound: sp.Expr) -> mpmath.mpf:
        if bound in (sp.oo, -sp.oo):
            return mpmath.inf if bound == sp.oo else -mpmath.inf
        return values[bound] if bound in values else _mpf(bound)

    return num(lo), num(hi)


def _landmarks(dist: Dist, a: Sequence[mpmath.mpf]) -> list[mpmath.mpf]:
    """Where a density bends or concentrates: quadrature splits there."""
    name = dist.family.name
    if name in ("Normal", "Laplace"):
        return [a[0] + j * a[1] for j in (-10, -3, 0, 3, 10)]
    if name == "LogNormal":
        return [mpmath.exp(a[0] + j * a[1]) for j in (-8, -2, 0, 2, 8)]
    if name == "Exponential":
        return [j / a[0] for j in (1, 5, 20)]
    if name == "Gamma":
        mean = a[0] * a[1]
        return [mean / 10, mean, mean + 5 * mpmath.sqrt(a[0]) * a[1], mean + 20 * a[1] * (1 + a[0])]
    if name == "Beta":
        return [mpmath.mpf(1) / 2]
    if name == "Uniform":
        return [a[0], a[1]]
    return []


def numeric_kl(q: Dist, p: Dist, point: dict[sp.Symbol, sp.Rational]) -> mpmath.mpf:
    """KL(q || p) at ``point`` (values of the free symbols), to about ``DPS`` digits.

    >>> from elbo_check.klformula.spec import parse_pair
    >>> pair = parse_pair("Bernoulli(1/2)", "Bernoulli(1/4)")
    >>> mpmath.nstr(numeric_kl(pair.q, pair.p, {}), 12)
    '0.143841036226'
    """
    with mpmath.workdps(DPS + 10):
        qa = [_mpf(a.xreplace(point)) for a in q.args]
        pa = [_mpf(a.xreplace(point)) for a in p.args]
        if q.family.kind is not p.family.kind:
            return mpmath.inf
        (qlo, qhi), (plo, phi) = _support(q, qa), _support(p, pa)
        if qlo < plo or qhi > phi:
            return mpmath.inf
        lq, lp = _log_density(q.family.name, qa), _log_density(p.family.name, pa)
        if q.family.kind is Kind.DISCRETE:
            if qhi == mpmath.inf and _terms_needed(q.family.name, qa) > _MAX_TERMS:
                raise NumericFailure(f"the sum would need more than {_MAX_TERMS} terms")
            return _sum(lq, lp, int(qlo), qhi)
        return _integral(lq, lp, qlo, qhi, _landmarks(q, qa) + _landmarks(p, pa))


def _integral(
    lq: LogPdf, lp: LogPdf, lo: mpmath.mpf, hi: mpmath.mpf, marks: list[mpmath.mpf]
) -> mpmath.mpf:
    """Sum of quadratures between the landmarks.

    Near a finite end the variable is ``x = lo + t**4`` (or ``hi - t**4``),
    which removes the end's algebraic singularity (Gamma's ``x**(k-1)``,
    Beta's ``(1-x)**(b-1)``); at ``hi = 1`` the complement ``1 - x = t**4``
    is passed on exactly, so ``log(1 - x)`` loses nothing to cancellation.
    """

    def f(x: mpmath.mpf, r: mpmath.mpf) -> mpmath.mpf:
        log_q = lq(x, r)
        return mpmath.exp(log_q) * (log_q - lp(x, r))

    inner = sorted({m for m in marks if lo < m < hi})
    if not inner and mpmath.isfinite(lo) and mpmath.isfinite(hi):
        inner = [(lo + hi) / 2]
    edges = [lo, *inner, hi]
    last = len(edges) - 2
    with mpmath.workdps(QUAD_DPS):
        pieces = [
            _piece(f, u, v, i == 0 and mpmath.isfinite(u), i == last and mpmath.isfinite(v))
            for i, (u, v) in enumerate(itertools.pairwise(edges))
        ]
        value = mpmath.fsum(v for v, _ in pieces)
        error = mpmath.fsum(e for _, e in pieces)
    if not mpmath.isfinite(value) or error > _QUAD_TOLERANCE * max(1, abs(value)):
        raise NumericFailure(
            f"quadrature did not converge (error estimate {mpmath.nstr(error, 3)})"
        )
    return value


def _piece(
    f: Callable[[mpmath.mpf, mpmath.mpf], mpmath.mpf],
    u: mpmath.mpf,
    v: mpmath.mpf,
    at_lo: bool,
    at_hi: bool,
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """One quadrature (value, error estimate), substituted near a finite end of the support."""
    g: Callable[[mpmath.mpf], mpmath.mpf]
    if at_lo:
        g, span = (lambda t: 4 * t**3 * f(u + t**4, 1 - u - t**4)), [0, mpmath.root(v - u, 4)]
    elif at_hi:
        g, span = (lambda t: 4 * t**3 * f(v - t**4, 1 - v + t**4)), [0, mpmath.root(v - u, 4)]
    else:
        g, span = (lambda x: f(x, 1 - x)), [u, v]
    value, error = mpmath.quad(g, span, error=True)
    return value, error


def _terms_needed(family: str, a: Sequence[mpmath.mpf]) -> mpmath.mpf:
    """Roughly how many terms an unbounded sum takes to get past q's 1e-45 tail."""
    if family == "Poisson":
        return a[0] + 40 * mpmath.sqrt(a[0]) + 200
    return 110 / -mpmath.log(1 - a[0]) + 10  # Geometric: (1 - p)**k < 1e-45 * p


def _sum(lq: LogPdf, lp: LogPdf, lo: int, hi: mpmath.mpf) -> mpmath.mpf:
    total = mpmath.mpf(0)
    k, peaked, previous = lo, False, -mpmath.inf
    while k <= hi and k - lo < _MAX_TERMS:
        x = mpmath.mpf(k)
        log_q = lq(x, 1 - x)
        total += mpmath.exp(log_q) * (log_q - lp(x, 1 - x))
        peaked = peaked or log_q < previous
        if hi == mpmath.inf and peaked and mpmath.exp(log_q) < _TAIL:
            break
        previous, k = log_q, k + 1
    if k - lo >= _MAX_TERMS and k <= hi:
        raise NumericFailure(f"the sum did not reach its tail within {_MAX_TERMS} terms")
    return total


# -- parameter points -----------------------------------------------------------


def domains_of(pair: Pair) -> dict[sp.Symbol, Domain]:
    """The domain of each free symbol, read off the parameters it fills.

    >>> from elbo_check.klformula.spec import parse_pair
    >>> domains_of(parse_pair("Bernoulli(p)", "Poisson(lam)"))
    {p: <Domain.PROBABILITY: 'probability (0 < p < 1)'>, lam: <Domain.POSITIVE: 'positive'>}
    """
    out: dict[sp.Symbol, Domain] = {}
    for dist in (pair.q, pair.p):
        for i, arg in enumerate(dist.args):
            domain = dist.family.domains[min(i, len(dist.family.domains) - 1)]
            for sym in arg.free_symbols:
                assert isinstance(sym, sp.Symbol)
                out.setdefault(sym, domain)
    return {s: out[s] for s in pair.symbols}


def _draw(domain: Domain, rng: random.Random) -> sp.Rational:
    if domain is Domain.REAL:
        return sp.Rational(rng.randint(-2000, 2000), 1000)
    if domain is Domain.POSITIVE:
        return sp.Rational(rng.randint(250, 3000), 1000)
    if domain is Domain.PROBABILITY:
        return sp.Rational(rng.randint(50, 950), 1000)
    return sp.Integer(rng.randint(1, 12))


def _valid(pair: Pair, point: Point) -> bool:
    for dist in (pair.q, pair.p):
        values = [a.xreplace(point) for a in dist.args]
        if dist.family.name == "Uniform" and not values[0] < values[1]:
            return False
        if dist.family.name == "Categorical" and not all(0 < v < 1 for v in values):
            return False
    return True


def sample_points(pair: Pair, count: int, seed: int) -> list[Point]:
    """``count`` seeded random points inside the domains (rejection for a < b, sum-to-1).

    >>> from elbo_check.klformula.spec import parse_pair
    >>> sample_points(parse_pair("Uniform(a, b)", "Uniform(a, 5)"), 2, seed=0)
    [{a: 138/125, b: 823/500}, {a: -47/50, b: 977/500}]
    """
    rng = random.Random(seed)
    domains = domains_of(pair)
    points: list[Point] = []
    for _ in range(count * 500):
        if len(points) == count:
            break
        point = {s: _draw(d, rng) for s, d in domains.items()}
        if _valid(pair, point):
            points.append(point)
    return points


# -- the comparison --------------------------------------------------------------


class Outcome(enum.Enum):
    """What the numeric comparison found."""

    REFUTED = "refuted"
    AGREES = "agrees"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class PointValue:
    """A parameter point with the numeric KL and the claim's value there (as text)."""

    point: tuple[tuple[str, str], ...]
    kl: str
    claim: str

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.point) or "(no free parameters)"
        return f"at {where}: KL = {self.kl}, claim = {self.claim}"


@dataclass(frozen=True)
class Finding:
    """The judge's result: the outcome, how many points agreed, the worst difference."""

    outcome: Outcome
    points: int
    max_difference: float
    counterexample: PointValue | None = None
    note: str = ""

    def summary(self) -> str:
        """One line for the report."""
        if self.outcome is Outcome.REFUTED:
            return f"refuted {self.counterexample}"
        if self.outcome is Outcome.AGREES:
            return (
                f"agrees at {self.points} random point(s) to {self.max_difference:.1e} "
                "(numeric evidence, not proof)"
            )
        return f"numeric check inconclusive: {self.note}"


def _value(expr: sp.Expr, point: Point) -> mpmath.mpf | None:
    """``expr`` at ``point`` as a real mpf (``inf`` allowed), or None if not real/undefined."""
    exact = expr.xreplace(point)
    if exact.has(sp.nan, sp.zoo):
        return None
    if exact == sp.oo:
        return mpmath.inf
    value = sp.N(exact, DPS)
    re, im = value.as_real_imag()
    if not (re.is_number and im.is_number) or re.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return mpmath.inf if re == sp.oo else None
    if abs(im) > mpmath.mpf(10) ** -20 * max(1, abs(re)):
        return None
    return mpmath.mpf(str(sp.Float(re, DPS)))


def _decimal(value: sp.Rational) -> str:
    """An exact decimal when there is a short one (``1.827``), else ``p/q``."""
    if 10**6 % int(value.q):
        return str(value)
    return str(Decimal(int(value.p)) / Decimal(int(value.q)))


def _text(value: mpmath.mpf | None) -> str:
    if value is None:
        return "undefined or not real"
    return "+inf" if value == mpmath.inf else mpmath.nstr(value, 20)


def _disagree(kl: mpmath.mpf, claim: mpmath.mpf | None) -> tuple[bool, float]:
    """Do they differ beyond the quadrature's accuracy?  And by how much (relative)?"""
    if claim is None:
        return True, float("inf")
    if mpmath.isinf(kl) or mpmath.isinf(claim):
        return kl != claim, 0.0 if kl == claim else float("inf")
    diff = abs(kl - claim) / max(1, abs(kl))
    return diff > mpmath.mpf(10) ** -8, float(diff)


def judge(
    pair: Pair,
    claim: sp.Expr,
    *,
    points: int = 8,
    seed: int = 0,
    on_point: Callable[[], None] | None = None,
) -> Finding:
    """Compare ``claim`` with the numeric KL at ``points`` random parameter points.

    ``on_point`` is called before each point (the CLI's time limit raises there).

    >>> from elbo_check.klformula.spec import parse_pair
    >>> pair = parse_pair("Exponential(r)", "Exponential(1)")
    >>> r = pair.symbols[0]
    >>> judge(pair, r - 1 - sp.log(r)).outcome
    <Outcome.REFUTED: 'refuted'>
    >>> judge(pair, 1 / r - 1 + sp.log(r)).summary()[:25]
    'agrees at 8 random point('
    """
    with mpmath.workdps(DPS + 10):
        return _judge(pair, claim, sample_points(pair, points, seed), on_point or (lambda: None))


def _judge(
    pair: Pair, claim: sp.Expr, chosen: list[Point], on_point: Callable[[], None]
) -> Finding:
    if not chosen:
        return Finding(Outcome.UNDECIDED, 0, 0.0, note="no valid parameter point found")
    worst = 0.0
    for done, point in enumerate(chosen):
        on_point()
        where = tuple((s.name, _decimal(v)) for s, v in point.items())
        try:
            kl = numeric_kl(pair.q, pair.p, point)
            value = _bounded_value(claim, point)
        except NumericFailure as exc:
            note = f"at {', '.join(f'{k}={v}' for k, v in where) or 'the point'}: {exc}"
            return Finding(Outcome.UNDECIDED, done, worst, note=note)
        bad, diff = _disagree(kl, value)
        if bad:
            return Finding(
                Outcome.REFUTED, done + 1, diff, PointValue(where, _text(kl), _text(value))
            )
        worst = max(worst, diff)
    return Finding(Outcome.AGREES, len(chosen), worst)


def _bounded_value(claim: sp.Expr, point: Point) -> mpmath.mpf | None:
    """The claim's value under a time limit of its own; failures are :class:`NumericFailure`."""
    deadline = Deadline(EVAL_SECONDS)
    try:
        with time_limit(EVAL_SECONDS):
            return _value(claim, point)
    except StepTimeout:
        if not deadline.expired():
            raise  # the whole command's limit, not ours
        raise NumericFailure(f"the claim took over {EVAL_SECONDS:g} s to evaluate") from None
    except (ArithmeticError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise NumericFailure(f"the claim could not be evaluated ({type(exc).__name__})") from None
