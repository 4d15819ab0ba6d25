r"""KL(q ‖ p) in closed form, with a derivation the trusted core checks step by step.

The strategy is the tutorial's, generalised: write the KL as its defining
integral ``∫ q log(q/p)`` over q's support, split it into ``∫ q log q - ∫ q
log p``, write both log-densities out (a linear combination of sufficient
statistics: ``x``, ``x²``, ``log x``, ``log(1-x)``, ``|x - c|``, ...), take
expectations term by term (linearity), and regroup into the closed form.
Gaussian and polynomial moments are evaluated by the core itself; the moments
of the other families are cited axioms (see :mod:`._moments`), listed in the
ledger.  A finite discrete support is written out term by term; Poisson,
Geometric and Binomial(n) use opaque sums (see :mod:`._series`).  When q puts
mass outside p's support the KL is ``oo``, with no derivation.

For the CLI: :func:`derive` gives the closed form (sympy's ``digamma`` and
``loggamma``) and the derivation; :func:`conclude` appends a claimed closed
form as one more step, which the core proves exactly when the claim equals the
derived one (:func:`~._moments.to_core` maps the claim's special functions).

>>> from elbo_check.klformula.families import FAMILIES, Domain, symbol_for
>>> from elbo_check.klformula.spec import Dist
>>> r1, r2 = symbol_for("r1", Domain.POSITIVE), symbol_for("r2", Domain.POSITIVE)
>>> out = derive(Dist(FAMILIES["Exponential"], (r1,)), Dist(FAMILIES["Exponential"], (r2,)))
>>> out.closed_form == sp.log(r1) - sp.log(r2) + r2 / r1 - 1
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from elbo_check.derivation import Derivation
from elbo_check.errors import UsageError
from elbo_check.klformula._discrete import discrete_derivation
from elbo_check.klformula._domains import parameter_refusal
from elbo_check.klformula._moments import (
    EXPONENTIAL_CONCRETE,
    MODELS,
    Digamma,
    LogGamma,
    Model,
    expectation,
    log_density_axiom,
    moment_axioms,
    to_core,
    to_sympy,
)
from elbo_check.klformula._series import positives_of, quotient_logs
from elbo_check.klformula._special import special_values
from elbo_check.klformula.families import FAMILIES, Domain, symbol_for
from elbo_check.klformula.spec import Dist
from elbo_check.rules import Rule, integrability, side_condition

__all__ = [
    "GENERIC",
    "INFINITE",
    "PAIRS",
    "Derived",
    "canonical_dists",
    "conclude",
    "continuous_derivation",
    "derive",
    "outside_support",
    "pair_derivation",
    "to_core",
    "to_sympy",
]


@dataclass(frozen=True)
class Derived:
    """KL(q ‖ p) in closed form with its derivation, or why there is none.

    ``closed_form`` uses sympy's ``digamma``/``loggamma``; the derivation ends
    at the same expression written with the opaque :class:`Digamma` and
    :class:`LogGamma` of the core (:func:`to_sympy` maps one to the other).
    """

    closed_form: sp.Expr | None
    derivation: Derivation | None
    reason: str


E = Callable[..., sp.Expr]
_LOG2PI = sp.log(2 * sp.pi) / 2


def _normal(m1: sp.Expr, s1: sp.Expr, m2: sp.Expr, s2: sp.Expr) -> sp.Expr:
    return sp.log(s2) - sp.log(s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)


def _laplace(m1: sp.Expr, b1: sp.Expr, m2: sp.Expr, b2: sp.Expr) -> sp.Expr:
    d = sp.Abs(m1 - m2)
    return sp.log(b2) - sp.log(b1) + d / b2 + b1 / b2 * sp.exp(-d / b1) - 1


def _gamma(k1: sp.Expr, t1: sp.Expr, k2: sp.Expr, t2: sp.Expr) -> sp.Expr:
    return (
        (k1 - k2) * Digamma(k1)
        - LogGamma(k1)
        + LogGamma(k2)
        + k2 * (sp.log(t2) - sp.log(t1))
        + k1 * (t1 - t2) / t2
    )


def _beta(a1: sp.Expr, b1: sp.Expr, a2: sp.Expr, b2: sp.Expr) -> sp.Expr:
    def log_b(a: sp.Expr, b: sp.Expr) -> sp.Expr:
        return LogGamma(a) + LogGamma(b) - LogGamma(a + b)

    return (
        log_b(a2, b2)
        - log_b(a1, b1)
        + (a1 - a2) * (Digamma(a1) - Digamma(a1 + b1))
        + (b1 - b2) * (Digamma(b1) - Digamma(a1 + b1))
    )


def _uniform_normal(a: sp.Expr, b: sp.Expr, m: sp.Expr, s: sp.Expr) -> sp.Expr:
    second = ((a - m) ** 2 + (a - m) * (b - m) + (b - m) ** 2) / (6 * s**2)
    return sp.log(s) + _LOG2PI + sp.log(1 / (b - a)) + second


def _exp_gamma(r: sp.Expr, k: sp.Expr, t: sp.Expr) -> sp.Expr:
    return (
        LogGamma(k)
        + k * (sp.log(r) + sp.log(t))
        - (k - 1) * Digamma(sp.Integer(1))
        + 1 / (r * t)
        - 1
    )


def _laplace_normal(mu: sp.Expr, b: sp.Expr, m: sp.Expr, s: sp.Expr) -> sp.Expr:
    return sp.log(s) - sp.log(b) + _LOG2PI - sp.log(2) - 1 + ((mu - m) ** 2 + 2 * b**2) / (2 * s**2)


#: (q family, p family) -> the closed form in q's args then p's args (continuous pairs)
_CLOSED: dict[tuple[str, str], E] = {
    ("Normal", "Normal"): _normal,
    ("Exponential", "Exponential"): lambda r1, r2: sp.log(r1) - sp.log(r2) + r2 / r1 - 1,
    ("Laplace", "Laplace"): _laplace,
    ("Gamma", "Gamma"): _gamma,
    ("Beta", "Beta"): _beta,
    ("Uniform", "Uniform"): lambda a1, b1, a2, b2: sp.log((b2 - a2) / (b1 - a1)),
    ("LogNormal", "LogNormal"): _normal,
    ("Uniform", "Normal"): _uniform_normal,
    ("Exponential", "Gamma"): _exp_gamma,
    ("Laplace", "Normal"): _laplace_normal,
}

#: further continuous pairs: q's support lies in p's and q's moments cover log p; their
#: closed form is the expectation of the log-ratio as the moments give it (no regrouping)
GENERIC: tuple[tuple[str, str], ...] = (
    ("Gamma", "Exponential"),
    ("Beta", "Exponential"),
    ("Beta", "Gamma"),
    ("LogNormal", "Exponential"),
    ("LogNormal", "Gamma"),
    ("Exponential", "Normal"),
    ("Gamma", "Normal"),
    ("LogNormal", "Normal"),
    ("Beta", "Normal"),
)

_DISCRETE = ("Bernoulli", "Categorical", "Binomial", "Poisson", "Geometric")

#: every (q, p) pair with a derivation (``pair_derivation``)
PAIRS: tuple[tuple[str, str], ...] = (*_CLOSED, *GENERIC, *((f, f) for f in _DISCRETE))
#: notable pairs whose KL is +∞ because q puts mass where p has none (no derivation: ∞ is
#: outside the fragment); :func:`derive` detects every such case from the supports
INFINITE: tuple[tuple[str, str], ...] = (
    ("Normal", "Uniform"),
    ("Normal", "Exponential"),
    ("Laplace", "Gamma"),
    ("Gamma", "Beta"),
    ("Poisson", "Binomial"),
    ("Bernoulli", "Geometric"),
)

_CANONICAL = {
    "Normal": ("m", "s"),
    "LogNormal": ("m", "s"),
    "Exponential": ("r",),
    "Laplace": ("mu", "b"),
    "Gamma": ("k", "theta"),
    "Beta": ("a", "b"),
    "Uniform": ("a", "b"),
    "Bernoulli": ("p",),
    "Poisson": ("lam",),
    "Geometric": ("p",),
    "Binomial": ("n", "p"),
}

INTEGRABILITY = integrability(
    "every expectation E_q[T(x)] of a sufficient statistic T in the derivation is finite "
    "(true for the families' moments cited here)",
    name="integrability of the sufficient statistics",
)
UNIFORM_SUPPORT = side_condition(
    "uniform support",
    "a Uniform(a, b) has a < b; for KL(Uniform(a1, b1) || Uniform(a2, b2)) the support of q "
    "lies in that of p (a2 <= a1 < b1 <= b2); otherwise the KL is +oo",
)


def _variable(args: tuple[sp.Expr, ...], names: tuple[str, ...]) -> sp.Symbol:
    taken = {s.name for a in args for s in a.free_symbols}
    name = next(n for n in names if n not in taken)
    return sp.Symbol(name, real=True)


def _slug(q: str, p: str) -> str:
    return f"kl-{q.lower()}-{p.lower()}"


def _show(family: str, args: tuple[sp.Expr, ...]) -> str:
    return f"{family}({', '.join(sp.sstr(a) for a in args)})"


def _models(qn: str, pn: str) -> tuple[Model, Model]:
    if qn == pn == "Exponential":
        return (
            EXPONENTIAL_CONCRETE,
            EXPONENTIAL_CONCRETE,
        )  # the core integrates r exp(-r x) x^n itself
    return MODELS[qn], MODELS[pn]


def continuous_derivation(q: Dist, p: Dist) -> tuple[Derivation, sp.Expr] | str:
    """The derivation of KL(q ‖ p) for a continuous pair, and its closed form (or why not).

    For a pair with a known closed form (:data:`_CLOSED`) the last step regroups
    into it; for the other pairs of :data:`GENERIC` the closed form is the
    expectation of the log-ratio, term by term, as the moments give it.
    """
    qn, pn = q.family.name, p.family.name
    if (qn, pn) not in _CLOSED and (qn, pn) not in GENERIC:
        return f"no derivation for the pair {qn} vs {pn}"
    qm, pm = _models(qn, pn)
    x = _variable((*q.args, *p.args), ("x", "z", "u", "t", "y", "v", "w"))
    lo, hi = qm.support(*q.args)
    fq, fp = qm.density(x, *q.args), pm.density(x, *p.args)
    abstract = [m for m in dict.fromkeys((qm, pm)) if m.head is not None]
    assumptions: list[Rule] = [INTEGRABILITY] if abstract else []
    if "Uniform" in (qn, pn):
        assumptions.append(UNIFORM_SUPPORT)
    d = Derivation(
        _slug(qn, pn),
        title=f"KL({_show(qn, q.args)} || {_show(pn, p.args)})",
        description="From the defining integral over q's support, by the moments of q.",
        assumptions=assumptions,
    )

    def integral(body: sp.Expr) -> sp.Integral:
        return sp.Integral(body, (x, lo, hi))

    d.start(integral(fq * sp.log(fq / fp)))
    if qn == pn == "Uniform":
        # a constant log-ratio: take it out, then integrate the constant density
        closed = _CLOSED[(qn, pn)](*q.args, *p.args)
        d.equals(closed * integral(fq), by="the log-ratio is constant on q's support")
        splits = quotient_logs(closed, [b - a for a, b in (q.args, p.args)], "widths: a < b")
        d.equals(closed, by=["polynomial antiderivative", *splits])
        return d, closed
    lq, lp = qm.logpdf(x, *q.args), pm.logpdf(x, *p.args)
    used: set[str] = set()
    moments = expectation(qm, q.args, lq - lp, x, used)
    if moments is None or None in (expectation(qm, q.args, e, x, used) for e in (lq, lp)):
        return f"the moments of {qn} do not cover log q - log p"
    d.equals(
        integral(fq * sp.log(fq)) - integral(fq * sp.log(fp)), by="log of a quotient; linearity"
    )
    logs: list[str | Rule] = [log_density_axiom(m, x, qm) for m in abstract if qm.head is not None]
    d.equals(integral(fq * lq) - integral(fq * lp), by=logs or "log of the densities")
    cited: list[str | Rule] = ["moments of q: linearity of the integral"]
    if qm.head is None:
        cited.append("the core's Gaussian/polynomial integrals")
    else:
        cited += [r for r in moment_axioms(qm, x) if r.name.split("E[", 1)[1][:-1] in used]
    d.equals(moments, by=cited)
    closed_of = _CLOSED.get((qn, pn))
    if closed_of is None:
        return d, moments
    closed = closed_of(*q.args, *p.args)
    widths = [d_.args[1] - d_.args[0] for d_ in (q, p) if d_.family.name == "Uniform"]
    splits = quotient_logs(closed, widths, "widths of Uniform supports: a < b")
    d.equals(closed, by=["regroup", *splits])
    return d, closed


def _closed_for_user(qn: str, pn: str, closed: sp.Expr, q: Dist, p: Dist) -> sp.Expr:
    out = to_sympy(closed)
    if (qn, pn) == ("Uniform", "Uniform"):
        a1, b1 = q.args
        a2, b2 = p.args
        inside = sp.And(a2 <= a1, b1 <= b2)
        return sp.Piecewise((out, inside), (sp.oo, True))
    return out


def _axioms_of(derivation: Derivation) -> str:
    names = [r.name for s in derivation.steps for r in s.rules if r.kind == "axiom"]
    names += [r.name for r in derivation.assumptions]
    names = list(dict.fromkeys(names))
    return "cites " + "; ".join(names) if names else "cites no axiom"


def derive(q: Dist, p: Dist) -> Derived:
    """KL(q ‖ p) in closed form and its derivation; never raises for supported families.

    Examples
    --------
    >>> from elbo_check.klformula.families import FAMILIES
    >>> n1 = Dist(FAMILIES["Normal"], (sp.Integer(0), sp.Integer(1)))
    >>> u = Dist(FAMILIES["Uniform"], (sp.Integer(-1), sp.Integer(1)))
    >>> derive(n1, u).closed_form
    oo
    """
    qn, pn = q.family.name, p.family.name
    try:
        if q.family.kind is not p.family.kind:
            return Derived(None, None, f"{qn} vs {pn}: a density against a mass function has no KL")
        refused = parameter_refusal(q) or parameter_refusal(p)
        if refused is not None:  # every generated axiom holds only inside the domains
            return Derived(None, None, f"parameters outside the family's domain: {refused}")
        outside = outside_support(q, p)
        if outside is not None:
            reason = f"q puts mass {outside} of p's support, where p = 0: KL = +oo"
            return Derived(sp.oo, None, reason + " (not a core step: oo is outside the fragment)")
        if qn in _DISCRETE and qn == pn:
            made = discrete_derivation(q, p)
        else:
            made = continuous_derivation(q, p)
    except Exception as exc:  # never raise: say what went wrong
        return Derived(None, None, f"derivation failed: {type(exc).__name__}: {exc}")
    if isinstance(made, str):
        return Derived(None, None, made)
    derivation, closed = made
    return Derived(_closed_for_user(qn, pn, closed, q, p), derivation, _axioms_of(derivation))


def conclude(derivation: Derivation, claim: sp.Expr) -> Derivation:
    """A copy of ``derivation`` with one more step: its closed form ``= claim`` (regroup).

    ``claim`` may use sympy's ``digamma``/``polygamma(0, .)``/``loggamma``/``gamma``
    (see :func:`~._moments.to_core`).  The copy has the same steps, citations and
    assumptions, so its last step is proved exactly when the core shows the
    claim equal to the derived closed form.

    >>> from elbo_check.core import Core
    >>> d = pair_derivation("Exponential", "Exponential")
    >>> r1, r2 = sorted(d.steps[-1].rhs.free_symbols, key=str)
    >>> good = conclude(d, sp.log(r1 / r2) + r2 / r1 - 1)
    >>> Core().decide(good, good.steps[-1]).proved
    True
    >>> bad = conclude(d, sp.log(r1 / r2) + r2 / r1)
    >>> Core().decide(bad, bad.steps[-1]).proved
    False
    """
    if isinstance(claim, int) and not isinstance(claim, bool):
        claim = sp.Integer(claim)
    if not isinstance(claim, sp.Expr):
        raise UsageError(f"the claimed closed form must be a sympy expression, got {claim!r}")
    copy = Derivation(
        derivation.name,
        title=derivation.title,
        description=derivation.description,
        assumptions=derivation.assumptions,
    )
    copy.start(derivation.steps[0].lhs)
    for step in derivation.steps:
        names = {r.name for r in step.rules}
        texts = [t for t in step.by.split("; ") if t not in names]
        copy.equals(step.rhs, by=[*texts, *step.rules])
    # the final step's instance axioms (logs of quotients of side-condition positives), and the
    # same for the claim's own logs, so that a claim may split or combine those logs its own way
    final = derivation.steps[-1].rules
    core_claim = to_core(claim)
    # a closed form: the derivation's side conditions (integrability of its sufficient
    # statistics) would otherwise let an integral in the claim cancel oo - oo
    hidden = core_claim.atoms(sp.Integral, sp.Derivative, AppliedUndef) | {
        f
        for f in core_claim.atoms(sp.Function)
        if getattr(type(f), "opaque", False) and not isinstance(f, (Digamma, LogGamma))
    }
    if hidden:
        shown = sp.sstr(sorted(hidden, key=sp.default_sort_key)[0])[:60]
        raise UsageError(
            f"a claimed closed form holds no integral, derivative or abstract function: {shown}"
        )
    names = {r.name for r in final}
    why = "positive by the derivation's side conditions"
    own = [r for r in quotient_logs(core_claim, positives_of(final), why) if r.name not in names]
    # numeric ψ and log Γ: sympy evaluated them in the claim (ψ(2) = 1 - γ), not in the derivation
    special = special_values(core_claim + derivation.steps[-1].rhs)
    copy.equals(core_claim, by=["the claimed closed form (regroup)", *final, *own, *special])
    return copy


def outside_support(q: Dist, p: Dist) -> str | None:
    """Where q's support provably sticks out of p's (both densities positive on their supports).

    >>> from elbo_check.klformula.families import FAMILIES
    >>> one = sp.Integer(1)
    >>> outside_support(Dist(FAMILIES["Poisson"], (one,)), Dist(FAMILIES["Geometric"], (one / 2,)))
    'below 1'
    """
    lo_q, hi_q = q.family.support(*q.args)
    lo_p, hi_p = p.family.support(*p.args)
    exact = (sp.Integer, sp.Rational)
    if lo_p != -sp.oo and (
        lo_q == -sp.oo or (isinstance(lo_q, exact) and isinstance(lo_p, exact) and lo_q < lo_p)
    ):
        return f"below {lo_p}"
    if hi_p != sp.oo and (
        hi_q == sp.oo or (isinstance(hi_q, exact) and isinstance(hi_p, exact) and hi_q > hi_p)
    ):
        return f"above {hi_p}"
    return None


def canonical_dists(q_name: str, p_name: str) -> tuple[Dist, Dist]:
    """q and p of a pair with canonical symbols (suffix 1 for q, 2 for p; Binomial shares n).

    >>> q, p = canonical_dists("Gamma", "Gamma")
    >>> q.args, p.args
    ((k1, theta1), (k2, theta2))
    """
    out = []
    for family, suffix in ((q_name, "1"), (p_name, "2")):
        fam = FAMILIES[family]
        if family == "Categorical":
            letter = "p" if suffix == "1" else "q"
            ps = [symbol_for(f"{letter}{i}", Domain.PROBABILITY) for i in range(1, 3)]
            out.append(Dist(fam, (*ps, 1 - ps[0] - ps[1])))
            continue
        args = []
        for name, domain in zip(_CANONICAL[family], fam.domains, strict=True):
            args.append(
                symbol_for(name if family == "Binomial" and name == "n" else name + suffix, domain)
            )
        out.append(Dist(fam, tuple(args)))
    return out[0], out[1]


def pair_derivation(q_name: str, p_name: str) -> Derivation:
    """The derivation of a supported pair in canonical symbols (Categorical: K = 3).

    >>> pair_derivation("Exponential", "Exponential").name
    'kl-exponential-exponential'
    """
    q, p = canonical_dists(q_name, p_name)
    derivation = derive(q, p).derivation
    if derivation is None:
        raise UsageError(f"no derivation for {q_name} vs {p_name}: {derive(q, p).reason}")
    return derivation
