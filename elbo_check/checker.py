"""The step checker: the trusted core decides ``proved``; everything else only weighs evidence.

For each step the checker

1. asks the trusted core (:mod:`elbo_check.core`) whether the step is proved:
   the cited rules rewrite both sides, the sides must lie in the fragment,
   every integral must converge, and the core's canonical forms and integral
   moves must close the difference (or show the gap is non-negative);
2. if the core cannot, asks whether ``sympy.simplify`` closes it (a
   proposal the core does not trust: at best ``corroborated``);
3. evaluates the step's own two sides with certified high-precision
   arithmetic (:mod:`elbo_check.numeric`), unfolding only definitions and
   proved lemmas.  A certified disagreement is ``refuted`` with the point and
   both values; agreement everywhere is only ``corroborated``.

Only the core can give ``proved``; a step citing a lemma is never stronger
than the lemma's own verdict.

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

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from elbo_check._printing import deep_recursion
from elbo_check._timeout import StepTimeout, time_limit
from elbo_check.core import Core, Decision
from elbo_check.core.decide import definition_refusal
from elbo_check.core.integrals import Reducer
from elbo_check.derivation import Derivation, Step
from elbo_check.errors import DerivationError, UsageError
from elbo_check.ledger import derivation_ledger, step_ledger
from elbo_check.numeric import compare
from elbo_check.results import Counterexample, DerivationResult, StepResult
from elbo_check.rules import Rule
from elbo_check.verdict import Verdict

__all__ = ["CheckConfig", "Checker", "check_derivation", "check_step"]


#: the longest step time limit accepted (one day); beyond it ``setitimer`` overflows
MAX_TIMEOUT = 86_400.0


@dataclass(frozen=True)
class CheckConfig:
    """Knobs of the checker.

    Parameters
    ----------
    step_timeout : float
        Seconds of symbolic work per step before falling back to numerics.
        Proofs of the shipped library take well under a second per step; the
        limit only stops runaway work, it is not part of any proof.
    numeric_points : int
        Sample points for the numeric stage.
    seed : int
        Base seed of the numeric stage (each step mixes in its own identity).
    """

    step_timeout: float = 5.0
    numeric_points: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        from elbo_check.errors import UsageError

        t = self.step_timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0 < t <= MAX_TIMEOUT):
            raise UsageError(
                f"step timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], "
                f"got step_timeout={t!r}"
            )
        n = self.numeric_points
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
            raise UsageError(f"numeric_points must be an integer in [1, 1000], got {n!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UsageError(f"seed must be an integer, got seed={self.seed!r}")


class Checker:
    """Checks derivations, caching results so each lemma is checked once per run."""

    def __init__(self, config: CheckConfig | None = None) -> None:
        self.config = config or CheckConfig()
        self.core = Core()
        self._cache: dict[int, DerivationResult] = {}
        self._in_progress: set[int] = set()

    def check(
        self,
        derivation: Derivation,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> DerivationResult:
        """Check every step of ``derivation`` (cached: a checked derivation is frozen)."""
        if not isinstance(derivation, Derivation):
            raise DerivationError(f"expected a Derivation, got {derivation!r}")
        try:
            with deep_recursion():
                return self._check(derivation, on_step)
        except RecursionError:
            raise DerivationError(
                f"derivation {derivation.name!r}: an expression is too deeply nested to check"
            ) from None

    def _check(
        self, derivation: Derivation, on_step: Callable[[StepResult], None] | None
    ) -> DerivationResult:
        key = id(derivation)
        if key in self._cache:
            return self._cache[key]
        self.core.prepare(derivation)  # freezes it; usage errors for names and assumption keys
        self._in_progress.add(key)
        start = time.perf_counter()
        try:
            for lemma in _lemmas(derivation):
                if id(lemma) not in self._in_progress:
                    self.check(lemma)
            results = []
            for step in derivation.steps:
                results.append(self.check_step(step, derivation))
                if on_step is not None:
                    on_step(results[-1])
        finally:
            self._in_progress.discard(key)
        lemma_results = [self._cache[id(d)] for d in _lemmas(derivation) if id(d) in self._cache]
        ledger = derivation_ledger(derivation, results, lemma_results)
        out = DerivationResult(derivation, tuple(results), time.perf_counter() - start, ledger)
        self._cache[key] = out
        return out

    def check_step(self, step: Step, derivation: Derivation) -> StepResult:
        """Check one step of ``derivation``; see the module docstring."""
        with deep_recursion():
            return self._check_step(step, derivation)

    def _check_step(self, step: Step, derivation: Derivation) -> StepResult:
        start = time.perf_counter()
        self.core.prepare(derivation)
        cap, cap_message = self._lemma_cap(step, derivation)
        seed = self.config.seed ^ zlib.crc32(f"{derivation.name}:{step.index}".encode())
        try:
            with time_limit(self.config.step_timeout):
                decision = self.core.decide(derivation, step)
        except StepTimeout:
            decision = Decision(False, reason="the symbolic stages timed out")
        if decision.proved:
            return StepResult(
                step,
                Verdict.PROVED,
                decision.method,
                time.perf_counter() - start,
                "",
                None,
                step_ledger(decision),
            )
        return self._weigh(step, derivation, decision, seed, start, cap, cap_message)

    # -- evidence for what the core could not prove ---------------------------
    def _weigh(
        self,
        step: Step,
        derivation: Derivation,
        decision: Decision,
        seed: int,
        start: float,
        cap: Verdict,
        cap_message: str,
    ) -> StepResult:
        reason = f"not proved: {decision.reason}"
        if decision.may_diverge:
            # a possibly divergent integral makes both sides possibly undefined
            return _result(step, Verdict.UNDECIDED, "none", start, reason)
        try:
            with time_limit(self.config.step_timeout):
                lhs, rhs = self._evaluable(step, derivation)
                if step.relation == "=" and _simplify_closes(lhs - rhs):
                    verdict = Verdict.weakest([Verdict.CORROBORATED, cap])
                    note = f"{reason}; sympy.simplify reduces the difference to 0 (not trusted by the core)"
                    return _result(step, _no_refute(verdict), "simplify (untrusted)", start, _join(note, cap_message))
                outcome = compare(
                    lhs, rhs, step.relation, seed=seed, count=self.config.numeric_points
                )
        except StepTimeout:
            return _result(step, Verdict.UNDECIDED, "timeout", start, f"{reason}; numeric stage timed out")
        except Exception as exc:  # evidence stages never crash the run
            return _result(step, Verdict.UNDECIDED, "none", start, f"{reason}; {type(exc).__name__}: {exc}")
        if outcome.outcome == "mismatch":
            cex = Counterexample(outcome.point, outcome.lhs_value, outcome.rhs_value)
            return _result(
                step, Verdict.REFUTED, "numeric (certified)", start, f"{reason}; {outcome.reason}", cex
            )
        if outcome.outcome == "agree":
            verdict = _no_refute(Verdict.weakest([Verdict.CORROBORATED, cap]))
            note = f"{reason}; agrees at {outcome.points} points (evidence, not proof)"
            return _result(step, verdict, "numeric (certified)", start, _join(note, cap_message))
        return _result(
            step, Verdict.UNDECIDED, "none", start, _join(f"{reason}; {outcome.reason}", cap_message)
        )

    def _evaluable(self, step: Step, derivation: Derivation) -> tuple[sp.Expr, sp.Expr]:
        """The step's own sides with definitions and proved lemmas unfolded, Gaussians reduced.

        Axioms and unproved lemmas are never applied: a counterexample must be
        one for the step as written, not for a false rule.
        """
        trusted = [r for r in [*derivation.assumptions, *step.rules] if self._unfoldable(r)]
        sides = []
        for side in (step.lhs, step.rhs):
            for _ in range(4):
                before = side
                for rule in trusted:
                    side = rule.apply(side)
                if side == before:
                    break
            sides.append(Reducer().reduce(side))
        return sides[0], sides[1]

    def _unfoldable(self, rule: Rule) -> bool:
        """May the numeric stage apply ``rule`` before comparing?

        Only a well-formed definition (it names something new), or a proved
        lemma that rests on nothing but such definitions: a counterexample must
        be one for the step as written, never for an assumed rule.
        """
        if not self.core.admissible(rule):
            return False
        if rule.kind == "definition":
            return not definition_refusal(rule)
        if rule.kind != "lemma" or rule.derivation is None:
            return False
        lemma = rule.derivation
        if self._verdict_of(lemma) is not Verdict.PROVED:
            return False
        cited = [*lemma.assumptions, *(r for s in lemma.steps for r in s.rules)]
        return all(r.kind == "side-condition" or self._unfoldable(r) for r in cited)

    def _verdict_of(self, derivation: Derivation) -> Verdict:
        cached = self._cache.get(id(derivation))
        return cached.verdict if cached is not None else Verdict.UNDECIDED

    def _lemma_cap(self, step: Step, derivation: Derivation) -> tuple[Verdict, str]:
        cap, notes = Verdict.PROVED, []
        rules = [*derivation.assumptions, *step.rules]
        if step.relation != "=" and not any(r.kind in ("inequality", "lemma") for r in rules):
            cap = Verdict.UNDECIDED
            notes.append(
                "an inequality link needs a cited inequality rule or lemma "
                "(for example log w <= w - 1): cite one to prove it"
            )
        for rule in [*derivation.assumptions, *step.rules]:
            if rule.kind != "lemma" or rule.derivation is None:
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


def _lemmas(derivation: Derivation) -> list[Derivation]:
    seen: dict[int, Derivation] = {}
    for rule in [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]:
        if rule.kind == "lemma" and rule.derivation is not None:
            seen.setdefault(id(rule.derivation), rule.derivation)
    return list(seen.values())


def _simplify_closes(diff: sp.Expr) -> bool:
    if diff.has(sp.Integral) or (diff.atoms(sp.core.function.AppliedUndef) and diff.has(sp.Integral)):
        return False
    try:
        return bool(sp.simplify(diff) == 0)
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        return False


def _no_refute(verdict: Verdict) -> Verdict:
    """A cap from a refuted lemma makes a step undecided, never refuted."""
    return Verdict.UNDECIDED if verdict is Verdict.REFUTED else verdict


def _join(message: str, extra: str) -> str:
    return f"{message}; {extra}" if extra else message


def _result(
    step: Step,
    verdict: Verdict,
    method: str,
    start: float,
    message: str,
    counterexample: Counterexample | None = None,
) -> StepResult:
    return StepResult(step, verdict, method, time.perf_counter() - start, message, counterexample)


def check_derivation(
    derivation: Derivation,
    config: CheckConfig | None = None,
    *,
    checker: Checker | None = None,
    on_step: Callable[[StepResult], None] | None = None,
) -> DerivationResult:
    """Check every step of ``derivation`` and return a :class:`DerivationResult`."""
    if config is not None and not isinstance(config, CheckConfig):
        raise UsageError(f"config must be a CheckConfig, got {config!r}")
    return (checker or Checker(config)).check(derivation, on_step=on_step)


def check_step(step: Step, derivation: Derivation, config: CheckConfig | None = None) -> StepResult:
    """Check a single step of ``derivation``."""
    return Checker(config).check_step(step, derivation)

