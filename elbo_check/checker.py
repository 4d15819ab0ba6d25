"""The staged, three-valued step checker.

For each step the checker

1. applies the cited rules (definitions, axioms, instantiated lemmas) as
   rewrites to both sides and renames bound integration variables canonically;
2. compares cheap canonical forms under the symbols' assumptions:
   ``expand(expand_log(.))``, then ``cancel(together(.))``;
3. reduces integrals (:mod:`elbo_check.integrals`: linearity, Gaussian
   moments by completing the square, checked ``integrate``) and compares again;
4. runs ``simplify`` on what is left, within the step's time limit;
5. if none of that closes the step, evaluates both sides with mpmath at 40
   digits (:mod:`elbo_check.numeric`).  A confirmed disagreement is
   ``refuted`` with the point and both values; agreement everywhere is only
   ``corroborated``.

Only stages 1-4 can give ``proved``.  Inequality links are proved by showing
the gap is provably non-negative: zero, non-negative by the assumptions, an
instance of a cited inequality rule, a positive multiple or a sum of such, or
an integral of such (monotonicity of the integral).

A step citing a lemma is never stronger than the lemma's own verdict, and a
step that uses the Gaussian-moment engine is never stronger than the
``gaussian-moments`` lemma.

>>> import sympy as sp
>>> from elbo_check import Derivation, check_derivation
>>> s = sp.Symbol("s", positive=True)
>>> d = Derivation("log-square").start(sp.log(s**2)).equals(2 * sp.log(s), by="log rule")
>>> check_derivation(d).verdict
<Verdict.PROVED: 'proved'>
>>> bad = Derivation("log-square-bad").start(sp.log(s**2)).equals(3 * sp.log(s), by="oops")
>>> check_derivation(bad).steps[0].verdict
<Verdict.REFUTED: 'refuted'>
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef

from elbo_check._timeout import Deadline, StepTimeout, time_limit
from elbo_check.derivation import Derivation, Step
from elbo_check.integrals import (
    ENGINE_FACTS,
    LEDGER_MOMENTS,
    IntegralReducer,
    gaussian_converges,
)
from elbo_check.numeric import compare
from elbo_check.results import Counterexample, DerivationResult, LedgerEntry, StepResult
from elbo_check.rules import Rule
from elbo_check.verdict import Verdict

__all__ = ["CheckConfig", "Checker", "check_derivation", "check_step"]

LEDGER_MONOTONE = "monotonicity of the integral"
LEDGER_BOUND = "equal integrands"
_FACTS = {
    **ENGINE_FACTS,
    LEDGER_MONOTONE: ("axiom", "f >= 0 on [a, b] (a <= b) implies ∫_a^b f >= 0", None),
    LEDGER_BOUND: (
        "axiom",
        "integrals over the same range whose integrands are equal are equal (both converge)",
        None,
    ),
}


@dataclass(frozen=True)
class CheckConfig:
    """Knobs of the checker.

    Parameters
    ----------
    step_timeout : float
        Seconds of symbolic work per step before falling back to numerics.
    numeric_points : int
        Sample points for the numeric stage.
    seed : int
        Base seed of the numeric stage (each step mixes in its own identity).
    """

    step_timeout: float = 5.0
    numeric_points: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.step_timeout > 0):
            from elbo_check.errors import UsageError

            raise UsageError(
                f"step timeout must be positive, got step_timeout={self.step_timeout!r}"
            )


@dataclass
class _Trace:
    """What one step used: engine facts and inequality rules."""

    engine: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    reason: str = ""

    def note(self, item: str) -> None:
        if item not in self.engine:
            self.engine.append(item)


class Checker:
    """Checks derivations, caching lemma results so each is proved once per run."""

    def __init__(self, config: CheckConfig | None = None) -> None:
        self.config = config or CheckConfig()
        self._cache: dict[int, DerivationResult] = {}
        self._convergent: dict[tuple[sp.Basic, bool], bool] = {}
        self._in_progress: set[int] = set()

    # -- public -------------------------------------------------------------
    def check(
        self,
        derivation: Derivation,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> DerivationResult:
        """Check every step of ``derivation`` (cached by identity)."""
        key = id(derivation)
        cached = self._cache.get(key)
        if cached is not None and len(cached.steps) == len(derivation.steps):
            return self._cache[key]
        derivation.validate()
        self._in_progress.add(key)
        start = time.perf_counter()
        results = []
        try:
            for step in derivation.steps:
                result = self.check_step(step, derivation)
                results.append(result)
                if on_step is not None:
                    on_step(result)
        finally:
            self._in_progress.discard(key)
        ledger = _ledger(derivation, results)
        out = DerivationResult(derivation, tuple(results), time.perf_counter() - start, ledger)
        self._cache[key] = out
        return out

    def check_step(self, step: Step, derivation: Derivation) -> StepResult:
        """Check one step of ``derivation``; see the module docstring."""
        start = time.perf_counter()
        rules = [*derivation.assumptions, *step.rules]
        cap, cap_message = self._lemma_cap(rules)
        trace = _Trace()
        seed = self.config.seed ^ zlib.crc32(f"{derivation.name}:{step.index}".encode())
        rewrite = _Rewriter([r for r in rules if r.rewrites])
        method: str | None = None
        timed_out = False
        try:
            with time_limit(self.config.step_timeout):
                deadline = Deadline(self.config.step_timeout)
                method = self._symbolic(step, derivation, rules, rewrite, deadline, trace, seed)
        except StepTimeout:
            timed_out = True
        except (RecursionError, MemoryError):  # pragma: no cover - pathological input
            timed_out = True
        if method is not None and LEDGER_MOMENTS in trace.engine:
            moments = self._moment_lemma_verdict()
            if moments is not Verdict.PROVED:
                cap = Verdict.weakest([cap, moments])
                cap_message = f"the gaussian-moments lemma is {moments.value}"
        if method is not None:
            verdict = Verdict.weakest([Verdict.PROVED, cap])
            if verdict in (Verdict.UNDECIDED, Verdict.REFUTED):
                verdict = Verdict.UNDECIDED
            return StepResult(
                step,
                verdict,
                method,
                time.perf_counter() - start,
                cap_message,
                None,
                _step_ledger(trace),
            )
        return self._numeric(step, rewrite, seed, start, timed_out, cap, cap_message, trace)

    # -- stages -------------------------------------------------------------
    def _symbolic(
        self,
        step: Step,
        derivation: Derivation,
        rules: list[Rule],
        rewrite: _Rewriter,
        deadline: Deadline,
        trace: _Trace,
        seed: int,
    ) -> str | None:
        lhs = rewrite(step.lhs)
        rhs = rewrite(step.rhs)
        reducer = IntegralReducer(
            rewrite=rewrite,
            deadline=deadline,
            allow_gaussian=not derivation.direct_integration,
            seed=seed,
        )
        integrable = any(r.integrability for r in rules)
        # every integral the step mentions, as written and after the rewrites:
        # identical divergent integrals would otherwise cancel (∞ − ∞ is not 0)
        integrals = set()
        introduced = [r.rhs for r in rules if r.rhs is not None]
        for side in (step.lhs, step.rhs, lhs, rhs, *introduced):
            # each integral on its own: normalising a whole side first would let
            # sympy cancel two identical integrals before they were looked at
            integrals |= {alpha_normalize(i) for i in side.atoms(sp.Integral)}
        for integral in sorted(integrals, key=sp.count_ops):
            if not self._converges(integral, integrable, reducer):
                trace.reason = f"cannot show that {_short(integral)} converges"
                return None
        if step.relation == "=":
            return _prove_zero(lhs - rhs, reducer, deadline, trace)
        gap = lhs - rhs if step.relation == ">=" else rhs - lhs
        inequalities = [r for r in rules if r.nonneg is not None]
        prover = _NonNegProver(rewrite, reducer, deadline, trace, inequalities)
        if prover.prove(gap, depth=3):
            return (
                "non-negative gap: " + ", ".join(dict.fromkeys(r.name for r in trace.rules))
                if trace.rules
                else "non-negative gap"
            )
        return None

    def _converges(self, integral: sp.Integral, integrable: bool, reducer: IntegralReducer) -> bool:
        """Is ``integral`` known to converge?  (Cached per checker.)

        Integrals of abstract densities converge by the integrability side
        condition, when the derivation states it.  Polynomials over bounded
        ranges and Gaussians times polynomials over R^k converge.  Anything
        else converges if the engine or a checked ``integrate`` evaluates it to
        a finite closed form.
        """
        key = (integral, integrable)
        if key in self._convergent:
            return self._convergent[key]
        variables = [lim[0] for lim in integral.limits]
        body = integral.function
        ok = False
        if any(len(lim) != 3 for lim in integral.limits):
            ok = False
        elif integrable and _abstract_terms(body, variables):
            ok = True
        elif all(b.is_finite for lim in integral.limits for b in lim[1:]):
            ok = all(body.is_polynomial(v) for v in variables)
        elif all(lim[1] == -sp.oo and lim[2] == sp.oo for lim in integral.limits):
            ok = gaussian_converges(body, variables)
        if not ok and not body.atoms(AppliedUndef):
            closed = reducer.reduce(integral)
            ok = not closed.has(sp.Integral, sp.nan, sp.zoo, sp.oo, -sp.oo)
        self._convergent[key] = ok
        return ok

    def _numeric(
        self,
        step: Step,
        rewrite: _Rewriter,
        seed: int,
        start: float,
        timed_out: bool,
        cap: Verdict,
        cap_message: str,
        trace: _Trace,
    ) -> StepResult:
        deadline = Deadline(self.config.step_timeout)
        reason = (
            "symbolic stages timed out" if timed_out else "symbolic stages could not close the step"
        )
        if trace.reason and not timed_out:
            # an integral that may diverge makes both sides possibly undefined:
            # numbers could neither refute nor corroborate the step
            return StepResult(
                step,
                Verdict.UNDECIDED,
                "none",
                time.perf_counter() - start,
                f"not provable: {trace.reason}",
                None,
                _step_ledger(trace),
            )
        try:
            with time_limit(self.config.step_timeout):
                lhs = rewrite(step.lhs)
                rhs = rewrite(step.rhs)
                if lhs.has(sp.Integral) or rhs.has(sp.Integral):
                    lhs, rhs = _reduced_for_numerics(lhs, rhs, rewrite, deadline, seed)
                outcome = compare(
                    lhs,
                    rhs,
                    step.relation,
                    seed=seed,
                    count=self.config.numeric_points,
                    deadline=deadline,
                )
        except StepTimeout:
            return StepResult(
                step,
                Verdict.UNDECIDED,
                "timeout",
                time.perf_counter() - start,
                f"{reason}; numeric stage timed out too",
                None,
                _step_ledger(trace),
            )
        seconds = time.perf_counter() - start
        if outcome.outcome == "mismatch":
            cex = Counterexample(outcome.point, outcome.lhs_value, outcome.rhs_value)
            return StepResult(
                step,
                Verdict.REFUTED,
                "numeric (mpmath, 40 digits)",
                seconds,
                f"{reason}; the two sides differ",
                cex,
                _step_ledger(trace),
            )
        if outcome.outcome == "agree":
            verdict = Verdict.weakest([Verdict.CORROBORATED, cap])
            if verdict is Verdict.REFUTED:
                verdict = Verdict.UNDECIDED
            message = f"{reason}; agrees at {outcome.points} points (evidence, not proof)"
            if cap_message:
                message += f"; {cap_message}"
            return StepResult(
                step,
                verdict,
                "numeric (mpmath, 40 digits)",
                seconds,
                message,
                None,
                _step_ledger(trace),
            )
        return StepResult(
            step,
            Verdict.UNDECIDED,
            "none",
            seconds,
            f"{reason}; {outcome.reason}",
            None,
            _step_ledger(trace),
        )

    # -- lemmas -------------------------------------------------------------
    def _lemma_cap(self, rules: Iterable[Rule]) -> tuple[Verdict, str]:
        cap = Verdict.PROVED
        notes = []
        for rule in rules:
            if rule.derivation is None:
                continue
            if id(rule.derivation) in self._in_progress:
                cap = Verdict.UNDECIDED
                notes.append(f"lemma {rule.derivation.name!r} is circular here")
                continue
            verdict = self.check(rule.derivation).verdict
            if verdict is not Verdict.PROVED:
                notes.append(f"cites lemma {rule.derivation.name!r}, which is {verdict.value}")
            cap = Verdict.weakest([cap, verdict])
        return cap, "; ".join(notes)

    def _moment_lemma_verdict(self) -> Verdict:
        from elbo_check.lemmas import gaussian_moments

        lemma = gaussian_moments()
        if id(lemma) in self._in_progress:
            return Verdict.UNDECIDED
        return self.check(lemma).verdict


def check_derivation(
    derivation: Derivation,
    config: CheckConfig | None = None,
    *,
    checker: Checker | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> DerivationResult:
    """Check every step of ``derivation`` and return a :class:`DerivationResult`."""
    return (checker or Checker(config)).check(derivation, on_step=on_step)


def check_step(step: Step, derivation: Derivation, config: CheckConfig | None = None) -> StepResult:
    """Check a single step of ``derivation``."""
    return Checker(config).check_step(step, derivation)


def _reduced_for_numerics(
    lhs: sp.Expr, rhs: sp.Expr, rewrite: _Rewriter, deadline: Deadline, seed: int
) -> tuple[sp.Expr, sp.Expr]:
    """Both sides with their Gaussian integrals reduced, when the engine can.

    Evaluating a Gaussian integral by quadrature at 40 digits is slow; its
    reduction by the engine is exact (the engine is sound), so a mismatch
    between reduced forms is a genuine counterexample.  Sides the engine
    cannot reduce are evaluated as they are.
    """
    reducer = IntegralReducer(rewrite=rewrite, deadline=deadline, allow_integrate=False, seed=seed)
    out = []
    for side in (lhs, rhs):
        reduced = reducer.reduce(side)
        out.append(side if reduced.has(sp.Integral) else reduced)
    return out[0], out[1]


# -- rewriting ----------------------------------------------------------------
class _Rewriter:
    """Apply rewrite rules to a fixpoint and rename bound variables canonically."""

    def __init__(self, rules: list[Rule], passes: int = 8) -> None:
        self.rules = [_normalized(r) for r in rules]
        self.passes = passes

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        # transforms (changes of variables) name their variables: apply them
        # before bound variables are renamed
        for rule in self.rules:
            if rule.transform is not None:
                expr = rule.apply(expr)
        expr = alpha_normalize(expr)
        for _ in range(self.passes):
            before = expr
            for rule in self.rules:
                expr = alpha_normalize(rule.apply(expr))
            if expr == before:
                break
        return expr


def _normalized(rule: Rule) -> Rule:
    """The rule with its bound variables renamed the way expressions are.

    A ``Wild`` that excludes a bound variable must go on excluding it under its
    new name, or a pattern meant for "constants" could capture the variable.
    """
    if rule.lhs is None or rule.rhs is None:
        return rule
    renamed: dict[sp.Symbol, set[sp.Symbol]] = {}
    lhs = alpha_normalize(rule.lhs, record=renamed)
    rhs = alpha_normalize(rule.rhs, record=renamed)
    # A Wild never matches an expression holding one of the rule's own bound
    # variables: its exclude list and properties were written for the old names
    # (a property such as "not e.has(z)" would silently stop excluding z).
    bound = {new for news in renamed.values() for new in news}
    wilds = {}
    for w in lhs.atoms(sp.Wild) | rhs.atoms(sp.Wild):
        if bound:
            wilds[w] = sp.Wild(w.name, exclude=[*w.exclude, *bound], properties=w.properties)
    if wilds:
        lhs, rhs = lhs.xreplace(wilds), rhs.xreplace(wilds)
    return dataclasses.replace(rule, lhs=lhs, rhs=rhs)


def alpha_normalize(
    expr: sp.Expr, record: dict[sp.Symbol, set[sp.Symbol]] | None = None
) -> sp.Expr:
    """Rename integration variables to canonical names (``_b1_0``, ``_b2_0``, ...).

    Two integrals that differ only in the names of their bound variables become
    structurally equal.  A bound variable is named after its integral's height
    (how many integrals nest inside it), so the name does not depend on where
    the integral sits: a rule's pattern matches wherever the integral occurs.

    Soundness details:

    * limits are free in the enclosing scope: a limit is renamed only for the
      variables of *outer* limits of the same integral;
    * the new variable keeps ``real``, and keeps a sign assumption only when
      the limits prove the range lies inside it (a variable declared positive
      but integrated over [-1, 1] is only real there);
    * if the expression already holds a symbol whose name starts like the
      canonical names, a longer prefix is used, so no free symbol is captured.

    >>> import sympy as sp
    >>> t, z = sp.symbols("t z", real=True)
    >>> alpha_normalize(sp.Integral(sp.exp(-t**2), (t, -sp.oo, sp.oo))) == \\
    ...     alpha_normalize(sp.Integral(sp.exp(-z**2), (z, -sp.oo, sp.oo)))
    True
    """
    if not expr.has(sp.Integral):
        return expr
    taken = {str(a) for a in expr.free_symbols}
    prefix = "_b"
    while any(name.startswith(prefix) for name in taken):
        prefix += "b"

    def rename(node: sp.Basic) -> tuple[sp.Basic, int]:
        """Return the renamed node and its integral height (0: no integral inside)."""
        if not node.args:
            return node, 0
        if isinstance(node, sp.Integral):
            body, inner = rename(node.function)
            height = inner + 1
            olds = [lim[0] for lim in node.limits]
            news = [
                sp.Symbol(f"{prefix}{height}_{i}", **_bound_assumptions(lim))
                for i, lim in enumerate(node.limits)
            ]
            if record is not None:
                for old, new in zip(olds, news, strict=True):
                    record.setdefault(old, set()).add(new)
            limits = []
            for i, lim in enumerate(node.limits):
                outer = dict(zip(olds[i + 1 :], news[i + 1 :], strict=True))
                limits.append((news[i], *(b.xreplace(outer) for b in lim[1:])))
            return sp.Integral(body.xreplace(dict(zip(olds, news, strict=True))), *limits), height
        parts = [rename(a) for a in node.args]
        return node.func(*(p for p, _ in parts)), max(h for _, h in parts)

    return rename(expr)[0]


def _bound_assumptions(limit: tuple[sp.Basic, ...]) -> dict[str, bool]:
    """Assumptions a bound variable may keep on its range of integration."""
    var = limit[0]
    if var.is_real is not True:
        return {}
    out = {"real": True}
    if len(limit) == 3:
        # the range is between the two limits, whichever order they come in
        lo, hi = limit[1], limit[2]
        above = lo.is_extended_nonnegative and hi.is_extended_nonnegative
        below = lo.is_extended_nonpositive and hi.is_extended_nonpositive
        if var.is_positive and above:
            out["positive"] = True
        elif var.is_nonnegative and above:
            out["nonnegative"] = True
        elif var.is_negative and below:
            out["negative"] = True
        elif var.is_nonpositive and below:
            out["nonpositive"] = True
    return out


# -- equality -----------------------------------------------------------------
def _canonical_zero(expr: sp.Expr) -> str | None:
    """Cheap canonical forms under the symbols' assumptions."""
    if expr == 0:
        return "structural"
    e1 = sp.expand(sp.expand_log(expr))
    if e1 == 0:
        return "expand(expand_log)"
    if e1.has(sp.nan, sp.zoo) or e1.has(sp.Integral):
        # cancel() would ask sympy's assumptions about integrals, which may
        # integrate numerically: slow, and no part of a proof
        return None
    e2 = sp.cancel(sp.together(e1))
    if e2 == 0:
        return "cancel(together)"
    return None


def _zero_integrand(diff: sp.Expr) -> str | None:
    """Integrals over the same range whose integrands differ by a factor that is zero."""
    merged = _merge_integrals(diff)
    if not isinstance(merged, sp.Integral):
        return None
    factored = sp.factor_terms(merged.function)
    for factor in sp.Mul.make_args(factored):
        how = _canonical_zero(factor)
        if how is not None:
            return how
    return None


def _prove_zero(
    diff: sp.Expr, reducer: IntegralReducer, deadline: Deadline, trace: _Trace
) -> str | None:
    if diff == 0:
        return "canonical forms: structural"
    if diff.has(sp.Integral):
        how = _zero_integrand(diff)
        if how is not None:
            trace.note(LEDGER_BOUND)
            return f"equal integrands: {how}"
        # reduce before expanding: expanding a Gaussian integrand first is slow
        reduced = reducer.reduce(diff)
        for item in reducer.used:
            trace.note(item)
        how = _canonical_zero(reduced)
        if how is not None:
            return f"integrals reduced, then {how}"
        diff = reduced
    else:
        how = _canonical_zero(diff)
        if how is not None:
            return f"canonical forms: {how}"
    deadline.check()
    if diff.has(sp.Integral):
        return None  # never let simplify loose on unreduced integrals
    if sp.simplify(diff) == 0:
        return "simplify"
    return None


# -- inequalities -------------------------------------------------------------
class _NonNegProver:
    """Proves ``expr >= 0`` from assumptions, cited inequality rules and structure."""

    def __init__(
        self,
        rewrite: _Rewriter,
        reducer: IntegralReducer,
        deadline: Deadline,
        trace: _Trace,
        rules: list[Rule],
    ) -> None:
        self.rewrite = rewrite
        self.reducer = reducer
        self.deadline = deadline
        self.trace = trace
        self.rules = [(r, rewrite(r.nonneg)) for r in rules if r.nonneg is not None]

    def prove(self, expr: sp.Expr, depth: int) -> bool:
        self.deadline.check()
        for form in self._forms(expr):
            if form == 0 or form.is_nonnegative is True:
                return True
            if self._by_rule(form, depth):
                return True
            if self._by_structure(form, depth):
                return True
        return False

    def _forms(self, expr: sp.Expr) -> list[sp.Expr]:
        forms = [expr, _merge_integrals(expr), sp.factor_terms(expr)]
        expanded = sp.expand(sp.expand_log(expr))
        forms += [expanded, _merge_integrals(expanded)]
        return list(dict.fromkeys(forms))

    def _by_rule(self, form: sp.Expr, depth: int) -> bool:
        for rule, nonneg in self.rules:
            if nonneg.has(sp.Wild):
                match = form.match(nonneg)
                if match is not None:
                    self.trace.rules.append(rule)
                    return True
                continue
            rest = form - nonneg
            if _canonical_zero(rest) is not None or (
                depth > 0 and rest.free_symbols and self.prove(rest, depth - 1)
            ):
                self.trace.rules.append(rule)
                return True
        return False

    def _by_structure(self, form: sp.Expr, depth: int) -> bool:
        if depth <= 0:
            return False
        if isinstance(form, sp.Integral) and all(
            len(lim) == 3 and (lim[2] - lim[1]).is_extended_nonnegative for lim in form.limits
        ):
            if self.prove(sp.factor_terms(form.function), depth - 1):
                self.trace.note(LEDGER_MONOTONE)
                return True
            return False
        if isinstance(form, sp.Mul):
            positive = [a for a in form.args if a.is_positive]
            if positive:
                rest = sp.Mul(*(a for a in form.args if not a.is_positive))
                return self.prove(rest, depth - 1)
            return False
        if isinstance(form, sp.Add):
            return all(self.prove(t, depth - 1) for t in form.args)
        return False


def _merge_integrals(expr: sp.Expr) -> sp.Expr:
    """Combine ``c1*Integral(f, L) + c2*Integral(g, L)`` into ``Integral(c1 f + c2 g, L)``."""
    if not isinstance(expr, sp.Add):
        return expr
    groups: dict[tuple[sp.Basic, ...], list[sp.Expr]] = {}
    others = []
    for term in expr.args:
        coeff, rest = term.as_independent(sp.Integral, as_Add=False)
        if isinstance(rest, sp.Integral) and not (
            coeff.free_symbols & {lim[0] for lim in rest.limits}
        ):
            groups.setdefault(rest.limits, []).append(coeff * rest.function)
        else:
            others.append(term)
    merged = [sp.Integral(sp.Add(*fs), *limits) for limits, fs in groups.items()]
    return sp.Add(*others, *merged)


# -- ledger -------------------------------------------------------------------
def _step_ledger(trace: _Trace) -> tuple[LedgerEntry, ...]:
    out = []
    for item in trace.engine:
        kind, statement, derivation = _FACTS.get(item, ("method", item, None))
        out.append(LedgerEntry(item, kind, statement, derivation))
    return tuple(out)


def _ledger(derivation: Derivation, results: list[StepResult]) -> tuple[LedgerEntry, ...]:
    entries: dict[str, LedgerEntry] = {}
    for rule in [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]:
        d = rule.ledger_entry()
        entries.setdefault(
            rule.name, LedgerEntry(d["name"], d["kind"], d["statement"], d.get("derivation"))
        )
    for result in results:
        for entry in result.ledger:
            entries.setdefault(entry.name, entry)
    symbols: dict[str, str] = {}
    for step in derivation.steps:
        for sym in step.lhs.free_symbols | step.rhs.free_symbols:
            if isinstance(sym, sp.Symbol) and not sym.name.startswith("_"):
                symbols.setdefault(sym.name, _describe(sym))
    for name, text in sorted(symbols.items()):
        entries.setdefault(f"symbol {name}", LedgerEntry(f"symbol {name}", "assumption", text))
    return tuple(entries.values())


def _describe(sym: sp.Symbol) -> str:
    for attr, text in (
        ("is_positive", "positive"),
        ("is_nonnegative", "non-negative"),
        ("is_integer", "an integer"),
        ("is_real", "real"),
    ):
        if getattr(sym, attr):
            return f"{sym.name} is {text} (declared)"
    return f"{sym.name} is complex (no assumption declared)"


def _short(expr: sp.Expr, width: int = 60) -> str:
    text = sp.sstr(expr)
    return text if len(text) <= width else text[: width - 1] + "…"


def _abstract_terms(body: sp.Expr, variables: list[sp.Symbol]) -> bool:
    """Does every term of ``body`` hold an abstract density of all integration variables?

    Only such integrals are covered by the integrability side condition; a term
    like ``1`` (or a density of some variables only) may diverge.
    """
    wanted = set(variables)
    for term in sp.Add.make_args(sp.expand(body)):
        if not any(wanted <= f.free_symbols for f in term.atoms(AppliedUndef)):
            return False
    return True
