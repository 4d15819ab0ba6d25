r"""The continuous families as the core sees them: densities, log-densities, moments.

Two kinds of family:

* **concrete** (Normal, Uniform): the density is an elementary expression of
  the fragment, and the core evaluates every integral itself (Gaussian
  integral, polynomial antiderivative); no axiom is cited.
* **abstract** (Exponential, Laplace, Gamma, Beta, LogNormal): the density is
  an undefined positive function such as ``gamma_pdf(x, k, theta)``, which
  denotes the density *on the family's support* (every integral of it runs
  over that support; its values elsewhere are never used).  Its meaning comes
  from cited axioms, each listed in the ledger and checked numerically in
  ``tests/test_klformula_derive.py``:

  - the **log-density**, e.g. ``log gamma_pdf(x, k, θ) = (k-1) log x - x/θ -
    log Γ(k) - k log θ`` for ``x > 0`` (for Beta, whose support is (0, 1), it is
    stated inside the integral over (0, 1), so that no value outside is used);
  - the **moments** ``∫ f · T`` of the sufficient statistics ``T`` that occur
    (``1``, ``x``, ``x²``, ``log x``, ``log(1 - x)``, ``log² x``, ``|x - c|``).

The special functions ψ and log Γ are *opaque* function classes
(:class:`Digamma`, :class:`LogGamma`): uninterpreted for the core, they only
carry values between the cited axioms and the closed form.
:func:`to_sympy` turns them into sympy's ``digamma`` and ``loggamma``.

>>> x, k = sp.Symbol("x", real=True), sp.Symbol("k", positive=True)
>>> MODELS["Gamma"].logpdf(x, k, sp.Integer(2)).has(LogGamma(k))
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy as sp

from elbo_check.klformula.families import FAMILIES
from elbo_check.rules import Rule, axiom

__all__ = [
    "EXPONENTIAL_CONCRETE",
    "MODELS",
    "Digamma",
    "LogGamma",
    "Model",
    "Moment",
    "to_core",
    "to_sympy",
]


class Digamma(sp.Function):  # type: ignore[misc]
    """ψ(a), the digamma function: opaque for the core (values come from cited axioms)."""

    nargs = 1
    is_real = True
    opaque = True

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"digamma({printer._print(self.args[0])})"

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\psi\left({printer._print(self.args[0])}\right)"


class LogGamma(sp.Function):  # type: ignore[misc]
    """log Γ(a) for a > 0: opaque for the core (values come from cited axioms)."""

    nargs = 1
    is_real = True
    opaque = True

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"LogGamma({printer._print(self.args[0])})"

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\log\Gamma\left({printer._print(self.args[0])}\right)"


def to_sympy(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the opaque ψ and log Γ replaced by sympy's ``digamma`` and ``loggamma``.

    >>> to_sympy(Digamma(1) + LogGamma(sp.Integer(3)))
    -EulerGamma + log(2)
    """
    return expr.replace(Digamma, sp.digamma).replace(LogGamma, sp.loggamma)


def to_core(expr: sp.Expr) -> sp.Expr:
    """``expr`` with sympy's ψ and log Γ written as the core's opaque :class:`Digamma`, :class:`LogGamma`.

    Every mapping applies only where the argument ``a > 0`` is proved (by the
    core's ``fact``), because that is where the opaque classes mean what they
    say: real values, ψ(a) and log Γ(a) with Γ(a) > 0.  Elsewhere sympy's
    ``loggamma`` is complex (log Γ(-1/2) = log(2√π) - iπ) and ψ has poles,
    so mapping them to a class declared real would let ``sqrt(L**2) = |L|`` or
    ``log(exp(L)) = L`` through.  So ``digamma(a)`` and ``polygamma(0, a)``
    become ``Digamma(a)``; ``loggamma(a)`` and ``log(gamma(a))`` become
    ``LogGamma(a)``; ``gamma(a)`` becomes ``exp(LogGamma(a))``; each only for
    ``a > 0`` proved.  ``EulerGamma`` becomes ``-Digamma(1)``.  What is left
    outside the fragment stays, and the core then refuses it.

    >>> k = sp.Symbol("k", positive=True)
    >>> to_core(sp.digamma(k) + sp.log(sp.gamma(k)) - sp.EulerGamma) == Digamma(1) + Digamma(k) + LogGamma(k)
    True
    >>> to_core(sp.loggamma(-k)) == sp.loggamma(-k)
    True
    """
    from elbo_check.core.fragment import fact

    def positive(a: sp.Expr) -> bool:
        return fact(a, "positive") is True

    out = expr.replace(
        lambda e: isinstance(e, sp.polygamma) and e.args[0] == 0 and positive(e.args[1]),
        lambda e: Digamma(e.args[1]),
    )
    out = out.replace(
        lambda e: isinstance(e, sp.digamma) and positive(e.args[0]), lambda e: Digamma(e.args[0])
    )
    out = out.replace(
        lambda e: isinstance(e, sp.loggamma) and positive(e.args[0]),
        lambda e: LogGamma(e.args[0]),
    )
    out = out.replace(
        lambda e: (
            isinstance(e, sp.log)
            and isinstance(e.args[0], sp.gamma)
            and positive(e.args[0].args[0])
        ),
        lambda e: LogGamma(e.args[0].args[0]),
    )
    out = out.replace(
        lambda e: isinstance(e, sp.gamma) and positive(e.args[0]),
        lambda e: sp.exp(LogGamma(e.args[0])),
    )
    return out.xreplace({sp.EulerGamma: -Digamma(sp.Integer(1))})


@dataclass(frozen=True)
class Moment:
    """``E[stat(x, c, d)] = value(*params, c, d)``; ``c, d`` are used by ``|c + d x|`` only."""

    label: str
    stat: Callable[[sp.Expr, sp.Expr, sp.Expr], sp.Expr]
    value: Callable[..., sp.Expr]
    #: the statistic has the extra pattern variables c (real) and d (real, non-zero)
    affine: bool = False


@dataclass(frozen=True)
class Model:
    """A continuous family for the derivations (see the module docstring)."""

    name: str
    support: Callable[..., tuple[sp.Expr, sp.Expr]]
    logpdf: Callable[..., sp.Expr]
    moments: tuple[Moment, ...]
    #: the undefined density function, or None for a concrete family
    head: sp.FunctionClass | None = None
    concrete: Callable[..., sp.Expr] | None = None
    #: the assumptions of each parameter ("real" or "positive"), for the axioms' pattern variables
    kinds: tuple[str, ...] = ()
    statement: str = ""

    def wilds(self, suffix: str = "") -> tuple[sp.Wild, ...]:
        """The pattern variables of the parameters, with the family's assumptions."""
        names = [f"{n}{suffix}" for n in FAMILIES[self.name].params]
        return tuple(sp.Wild(n, **{k: True}) for n, k in zip(names, self.kinds, strict=True))

    def density(self, x: sp.Expr, *args: sp.Expr) -> sp.Expr:
        """The density at ``x`` as the derivation writes it."""
        if self.head is not None:
            return self.head(x, *args)
        assert self.concrete is not None
        return self.concrete(x, *args)


_C = sp.Wild("c", real=True)
_D = sp.Wild("d", real=True, nonzero=True)


def _one(x: sp.Expr, c: sp.Expr, d: sp.Expr) -> sp.Expr:
    return sp.Integer(1)


def _x(x: sp.Expr, c: sp.Expr, d: sp.Expr) -> sp.Expr:
    return x


def _x2(x: sp.Expr, c: sp.Expr, d: sp.Expr) -> sp.Expr:
    return x**2


def _logx(x: sp.Expr, c: sp.Expr, d: sp.Expr) -> sp.Expr:
    return sp.log(x)


def _abs_moment(m: sp.Expr, b: sp.Expr, c: sp.Expr, d: sp.Expr) -> sp.Expr:
    """E|c + d x| = |d m + c| + |d| b exp(-|d m + c| / (|d| b)) for x ~ Laplace(m, b), d != 0."""
    shift = sp.Abs(d * m + c)
    return shift + sp.Abs(d) * b * sp.exp(-shift / (sp.Abs(d) * b))


_ONE = Moment("1", _one, lambda *a: sp.Integer(1))
_HALF = sp.Rational(1, 2)
_LOG2PI = sp.log(2 * sp.pi) / 2

MODELS: dict[str, Model] = {
    "Normal": Model(
        "Normal",
        lambda m, s: (-sp.oo, sp.oo),
        lambda x, m, s: -((x - m) ** 2) / (2 * s**2) - sp.log(s) - _LOG2PI,
        (_ONE, Moment("x", _x, lambda m, s: m), Moment("x²", _x2, lambda m, s: m**2 + s**2)),
        concrete=lambda x, m, s: sp.exp(-((x - m) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s),
    ),
    "Uniform": Model(
        "Uniform",
        lambda a, b: (a, b),
        lambda x, a, b: sp.log(1 / (b - a)),
        (
            _ONE,
            Moment("x", _x, lambda a, b: (a + b) / 2),
            Moment("x²", _x2, lambda a, b: (a**2 + a * b + b**2) / 3),
        ),
        concrete=lambda x, a, b: 1 / (b - a),
    ),
    "Exponential": Model(
        "Exponential",
        lambda r: (sp.Integer(0), sp.oo),
        lambda x, r: sp.log(r) - r * x,
        (
            _ONE,
            Moment("x", _x, lambda r: 1 / r),
            Moment("x²", _x2, lambda r: 2 / r**2),
            Moment("log x", _logx, lambda r: Digamma(sp.Integer(1)) - sp.log(r)),
        ),
        head=sp.Function("exponential_pdf", positive=True),
        kinds=("positive",),
        statement="exponential_pdf(x, r) = r exp(-r x) for x > 0, r > 0",
    ),
    "Gamma": Model(
        "Gamma",
        lambda k, t: (sp.Integer(0), sp.oo),
        lambda x, k, t: (k - 1) * sp.log(x) - x / t - LogGamma(k) - k * sp.log(t),
        (
            _ONE,
            Moment("x", _x, lambda k, t: k * t),
            Moment("x²", _x2, lambda k, t: k * (k + 1) * t**2),
            Moment("log x", _logx, lambda k, t: Digamma(k) + sp.log(t)),
        ),
        head=sp.Function("gamma_pdf", positive=True),
        kinds=("positive", "positive"),
        statement="gamma_pdf(x, k, θ) = x^(k-1) exp(-x/θ) / (Γ(k) θ^k) for x > 0, k, θ > 0",
    ),
    "Laplace": Model(
        "Laplace",
        lambda m, b: (-sp.oo, sp.oo),
        lambda x, m, b: -sp.Abs(x - m) / b - sp.log(2) - sp.log(b),
        (
            _ONE,
            Moment("x", _x, lambda m, b: m),
            Moment("x²", _x2, lambda m, b: m**2 + 2 * b**2),
            Moment("|c + d x|", lambda x, c, d: sp.Abs(c + d * x), _abs_moment, affine=True),
        ),
        head=sp.Function("laplace_pdf", positive=True),
        kinds=("real", "positive"),
        statement="laplace_pdf(x, μ, b) = exp(-|x - μ|/b) / (2b) for real x, μ and b > 0",
    ),
    "LogNormal": Model(
        "LogNormal",
        lambda m, s: (sp.Integer(0), sp.oo),
        lambda x, m, s: -((sp.log(x) - m) ** 2) / (2 * s**2) - sp.log(x) - sp.log(s) - _LOG2PI,
        (
            _ONE,
            Moment("log x", _logx, lambda m, s: m),
            Moment("log² x", lambda x, c, d: sp.log(x) ** 2, lambda m, s: m**2 + s**2),
            Moment("x", _x, lambda m, s: sp.exp(m + s**2 / 2)),
            Moment("x²", _x2, lambda m, s: sp.exp(2 * m + 2 * s**2)),
        ),
        head=sp.Function("lognormal_pdf", positive=True),
        kinds=("real", "positive"),
        statement="lognormal_pdf(x, m, s) = exp(-(log x - m)²/(2s²)) / (x s √(2π)) for x > 0, s > 0",
    ),
    "Beta": Model(
        "Beta",
        lambda a, b: (sp.Integer(0), sp.Integer(1)),
        lambda x, a, b: (
            (a - 1) * sp.log(x)
            + (b - 1) * sp.log(1 - x)
            + LogGamma(a + b)
            - LogGamma(a)
            - LogGamma(b)
        ),
        (
            _ONE,
            Moment("log x", _logx, lambda a, b: Digamma(a) - Digamma(a + b)),
            Moment("x", _x, lambda a, b: a / (a + b)),
            Moment("x²", _x2, lambda a, b: a * (a + 1) / ((a + b) * (a + b + 1))),
            Moment(
                "log(1 - x)",
                lambda x, c, d: sp.log(1 - x),
                lambda a, b: Digamma(b) - Digamma(a + b),
            ),
        ),
        head=sp.Function("beta_pdf", positive=True),
        kinds=("positive", "positive"),
        statement="beta_pdf(x, a, b) = x^(a-1) (1-x)^(b-1) Γ(a+b) / (Γ(a) Γ(b)) for 0 < x < 1, a, b > 0",
    ),
}


#: Exponential written out (r exp(-r x)): the core's half-line Gamma integral gives its moments
EXPONENTIAL_CONCRETE = Model(
    "Exponential",
    MODELS["Exponential"].support,
    MODELS["Exponential"].logpdf,
    (_ONE, Moment("x", _x, lambda r: 1 / r)),
    concrete=lambda x, r: r * sp.exp(-r * x),
)


def _integral(body: sp.Expr, x: sp.Symbol, support: tuple[sp.Expr, sp.Expr]) -> sp.Integral:
    return sp.Integral(body, (x, *support))


@cache
def log_density_axiom(model: Model, x: sp.Symbol, q_model: Model) -> Rule:
    """``∫ g log f = ∫ g · (log f written out)`` over q's support, ``g`` a density of ``q_model``.

    The two integrands agree at every point of the support (where ``f`` is
    the density written out), so the integrals are equal; no value of ``f``
    outside its support is used.
    """
    assert model.head is not None
    assert q_model.head is not None
    w, v = model.wilds(), q_model.wilds("q")
    support = q_model.support(*v)
    g = q_model.head(x, *v)
    lhs = _integral(g * sp.log(model.head(x, *w)), x, support)
    rhs = _integral(g * model.logpdf(x, *w), x, support)
    text = (
        f"∫ g log f = ∫ g (log f written out) over {sp.sstr(support)}, where {model.statement} "
        f"and g is a {q_model.name} density (the integrands agree on the support)"
    )
    name = f"log-density of {model.name}" + (
        f" under {q_model.name}" if q_model is not model else ""
    )
    return axiom(name, lhs, rhs, text)


@cache
def moment_axioms(model: Model, x: sp.Symbol) -> tuple[Rule, ...]:
    """``∫ f(x, θ) T(x) dx = E[T]`` over the support, one axiom per moment."""
    assert model.head is not None
    w = model.wilds()
    support = model.support(*w)
    out = []
    for m in model.moments:
        lhs = _integral(model.head(x, *w) * m.stat(x, _C, _D), x, support)
        value = m.value(*w, _C, _D) if m.affine else m.value(*w)
        what = "integrates to 1" if m.label == "1" else f"E[{m.label}] = {sp.sstr(value)}"
        text = f"{model.name}: {what}, where {model.statement}"
        out.append(axiom(f"{model.name} moment E[{m.label}]", lhs, value, text))
    return tuple(out)


def expectation(
    model: Model,
    args: tuple[sp.Expr, ...],
    expr: sp.Expr,
    x: sp.Symbol,
    used: set[str] | None = None,
) -> sp.Expr | None:
    """``E[expr]`` under ``model(args)`` from the moment table, or None if a term is not covered.

    ``used`` collects the labels of the moments taken.  This only *proposes*
    the next step of a derivation; the core checks it.
    """
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(sp.expand_log(expr))):
        if term == 0:
            continue
        const, dep = term.as_independent(x, as_Add=False)
        found = _moment_of(model, args, dep, x)
        if found is None:
            return None
        total += const * found[1]
        if used is not None:
            used.add(found[0])
    return total


def _moment_of(
    model: Model, args: tuple[sp.Expr, ...], dep: sp.Expr, x: sp.Symbol
) -> tuple[str, sp.Expr] | None:
    for m in model.moments:
        pattern = m.stat(x, _C, _D)
        if not m.affine:
            if dep == pattern:
                return m.label, m.value(*args)
            continue
        found = dep.match(pattern)
        if found is None or found.get(_D) is None:
            continue
        c, d = found.get(_C, sp.Integer(0)), found[_D]
        if c.has(x) or d.has(x) or d == 0:
            continue
        return m.label, m.value(*args, c, d)
    return None
