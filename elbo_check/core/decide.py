"""The one door to ``proved``: :meth:`Core.decide` on one step.

A step is proved when, with the cited rules the core admits,

1. every cited rule is data the core can read (see :func:`admit`): equality
   and inequality schemas whose pattern variables carry only whitelisted
   assumptions, a real affine change of variables, a side condition that
   rewrites nothing, or a lemma whose statement the core re-derives from a
   derivation it has itself proved;
2. both sides, rewritten by those schemas (capture-free), lie in the fragment;
3. every integral the step mentions, as written and after rewriting,
   provably converges;
4. for ``=``: the difference is 0 by the canonical forms, directly, after
   merging integrals over the same range (equal integrands), or after the
   integral moves of :mod:`elbo_check.core.integrals`;
   for ``<=``/``>=``: the gap is non-negative (:class:`NonNegative`).

Nothing here evaluates numbers, calls ``simplify`` or ``integrate``, or
trusts a verdict computed elsewhere.

>>> import sympy as sp
>>> from elbo_check import Derivation
>>> s = sp.Symbol("s", positive=True)
>>> d = Derivation("log-square").start(sp.log(s**2)).equals(2 * sp.log(s), by="log rule")
>>> Core().decide(d, d.steps[0]).proved
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.function import AppliedUndef

from elbo_check.core.algebra import NonNegative, canonical_zero, merge_integrals
from elbo_check.core.fragment import (
    check_names_and_assumptions,
    fact,
    fragment_violation,
    is_real_valued,
    short,
)
from elbo_check.core.integrals import Reducer, converges
from elbo_check.core.lemmas import lemma_statement
from elbo_check.core.premises import (
    binder_refusal,
    check_definitions,
    check_rule_names,
    cited,
    definition_head,
    definition_refusal,
    hypotheses,
    rule_data,
    same,
    same_data,
    show_data,
)
from elbo_check.core.terms import (
    alpha_normalize,
    bound_prefix,
    change_variables,
    match_instance,
    rewrite,
    wild_violation,
)
from elbo_check.derivation import Derivation, Step
from elbo_check.errors import DerivationError
from elbo_check.rules import ChangeOfVariables, LemmaOrigin, Rule

__all__ = [
    "Core",
    "Decision",
    "definition_head",
    "definition_refusal",
    "differentiate",
    "hypotheses",
    "jacobian",
]

PASSES = 8
EQUAL_INTEGRANDS = "equal integrands"


@dataclass(frozen=True)
class Decision:
    """The core's answer on one step: proved or not, how, and what it used."""

    proved: bool
    method: str = ""
    reason: str = ""
    facts: tuple[str, ...] = ()
    schemas: tuple[str, ...] = ()
    #: an integral of the step is not known to converge: both sides may be undefined
    may_diverge: bool = False


def jacobian(cov: ChangeOfVariables) -> sp.Expr | str:
    """``|det A|`` of the real affine map ``olds = A news + b``, or why it is refused."""
    olds, news, maps = cov.olds, cov.news, cov.maps
    if not (len(olds) == len(news) == len(maps)) or not olds:
        return "old, new and mapping must have the same, non-zero length"
    symbols = [*olds, *news]
    if not all(isinstance(v, sp.Symbol) and not isinstance(v, sp.Wild) for v in symbols):
        return "the variables must be symbols"
    if len(set(symbols)) != len(symbols):
        return "the old and new variables must all be different"
    for m in maps:
        why = fragment_violation(m)
        if why is not None or m.has(sp.Integral) or m.free_symbols & set(olds):
            return f"the map {m} is not a real expression in the new variables ({why or 'it uses an old variable'})"
    jac = sp.Matrix([[sp.diff(m, v) for v in news] for m in maps])
    if jac.has(*news):
        return f"the map {maps} is not affine in {news}"
    offsets = [m.xreplace(dict.fromkeys(news, sp.Integer(0))) for m in maps]
    if not all(fact(e, "real") is True for e in [*jac, *offsets]):
        return f"cannot prove the map {maps} is real"
    det = sp.factor(jac.det())
    if fact(det, "positive") is True:
        return det
    if fact(det, "negative") is True:
        return -det
    return f"cannot prove the Jacobian determinant {det} is non-zero with a known sign"


@dataclass
class _Admitted:
    """The cited rules as the core reads them."""

    schemas: list[tuple[str, sp.Expr, sp.Expr]] = field(default_factory=list)
    covs: list[tuple[str, ChangeOfVariables, sp.Expr]] = field(default_factory=list)
    nonneg: list[tuple[str, sp.Expr]] = field(default_factory=list)
    integrable: bool = False
    refused: str = ""


class Core:
    """Decides ``proved`` for steps; proves cited lemma derivations itself, once each."""

    def __init__(self) -> None:
        # keyed by id(derivation); the derivation itself is kept, so its id is never reused
        self._decisions: dict[tuple[int, int], tuple[Derivation, Decision]] = {}
        self._prepared: dict[int, Derivation] = {}
        self._active: set[int] = set()

    # -- derivations --------------------------------------------------------
    def derivation_proved(self, derivation: Derivation) -> bool:
        """Is every step of ``derivation`` proved?  (False while it is being proved: circular.)"""
        key = id(derivation)
        if key in self._active:
            return False
        self._active.add(key)
        try:
            return all(self.decide(derivation, s).proved for s in derivation.steps)
        finally:
            self._active.discard(key)

    def prepare(self, derivation: Derivation) -> None:
        """Freeze ``derivation`` and check its chains, names and assumption keys."""
        if id(derivation) in self._prepared:
            return
        if type(derivation) is not Derivation:
            raise DerivationError(
                f"expected a Derivation, got {type(derivation).__name__}: subclasses could "
                "change what the core reads"
            )
        derivation.freeze()
        derivation.validate()
        check_names_and_assumptions(_all_expressions(derivation, set()))
        check_rule_names(derivation, set(), {})
        check_definitions(derivation)
        self._prepared[id(derivation)] = derivation

    # -- one step -----------------------------------------------------------
    def decide(self, derivation: Derivation, step: Step) -> Decision:
        """Is ``step`` (of ``derivation``) proved?  Exceptions other than timeouts
        become an unproved decision with the message."""
        from elbo_check._timeout import StepTimeout

        self.prepare(derivation)
        if not any(s is step for s in derivation.steps):
            return Decision(False, reason="the step is not part of this derivation")
        key = (id(derivation), step.index)
        if key in self._decisions and self._decisions[key][0] is derivation:
            return self._decisions[key][1]
        outer = id(derivation) in self._active
        self._active.add(id(derivation))
        try:
            decision = self._decide(step, [*derivation.assumptions, *step.rules], derivation)
        except StepTimeout:
            raise
        except Exception as exc:  # any failure is "not proved", never a crash
            decision = Decision(False, reason=f"the core stopped: {type(exc).__name__}: {exc}")
        finally:
            if not outer:
                self._active.discard(id(derivation))
        if "circular" not in decision.reason:  # circularity depends on the citing context
            self._decisions[key] = (derivation, decision)
        return decision

    def _decide(self, step: Step, rules: list[Rule], derivation: Derivation) -> Decision:
        adm = self.admit(rules, context=derivation)
        if adm.refused:
            return Decision(False, reason=adm.refused)
        exprs = [step.lhs, step.rhs, *(e for _, a, b in adm.schemas for e in (a, b))]
        exprs += [e for _, cov, _ in adm.covs for e in (*cov.olds, *cov.news, *cov.maps)]
        prefix = bound_prefix([*exprs, *(e for _, e in adm.nonneg)])
        adm.schemas = [
            (n, alpha_normalize(a, prefix), alpha_normalize(b, prefix)) for n, a, b in adm.schemas
        ]
        adm.nonneg = [(n, alpha_normalize(e, prefix)) for n, e in adm.nonneg]

        def apply(expr: sp.Expr) -> sp.Expr:
            for _, cov, jac in adm.covs:
                expr = change_variables(expr, cov.olds, cov.news, cov.maps, jac)
            expr = alpha_normalize(expr, prefix)
            for _ in range(PASSES):
                before = expr
                for _, lhs, rhs in adm.schemas:
                    expr = rewrite(expr, lhs, rhs, prefix)
                if expr == before:
                    break
            return expr

        # rules first (they unfold inside derivatives), then diff, then rules again
        lhs, rhs = (differentiate(apply(differentiate(apply(side)))) for side in (step.lhs, step.rhs))
        for side in (lhs, rhs):
            why = fragment_violation(side)
            if why is not None:
                hint = "; declare it with real=True (or positive=True)" if "not declared real" in why else ""
                return Decision(False, reason=f"outside the fragment: {why}{hint}")
        if step.relation != "=" and not (is_real_valued(lhs) and is_real_valued(rhs)):
            return Decision(False, reason="an inequality needs both sides provably real")
        # every integral, as written and after rewriting; messages show the user's own names
        integrals: dict[sp.Expr, sp.Expr] = {}
        for side in (step.lhs, step.rhs, lhs, rhs):
            for i in side.atoms(sp.Integral):
                if not i.has(sp.Wild):
                    integrals.setdefault(alpha_normalize(i, prefix), i)
        for integral in sorted(integrals, key=sp.count_ops):
            if not converges(integral, adm.integrable):
                hint = ""
                if integral.atoms(AppliedUndef) and not adm.integrable:
                    hint = "; cite the integrability side condition (elbo_check.vocab.INTEGRABILITY) if it holds"
                shown = _short(integrals[integral])
                return Decision(
                    False, reason=f"cannot show that {shown} converges{hint}", may_diverge=True
                )
        reducer = Reducer(rewrite=apply, integrable=adm.integrable)
        if step.relation == "=":
            return _equal(lhs - rhs, reducer)
        gap = lhs - rhs if step.relation == ">=" else rhs - lhs
        prover = NonNegative([(n, _matcher(e)) for n, e in adm.nonneg])
        if prover.prove(gap) or prover.prove(reducer.reduce(gap)):
            return Decision(
                True,
                "non-negative gap",
                facts=tuple(reducer.used + [u for u in prover.used if u not in dict(adm.nonneg)]),
                schemas=tuple(u for u in prover.used if u in dict(adm.nonneg)),
            )
        return Decision(False, reason="the core could not show the gap is non-negative")

    # -- rules ----------------------------------------------------------------
    def admit(self, rules: Iterable[Rule], context: Derivation | None = None) -> _Admitted:
        """Read the cited rules; ``refused`` names the first one the core cannot accept.

        ``context`` is the citing derivation: the rules it cites anywhere may
        discharge the hypotheses of an instantiated lemma.
        """
        adm = _Admitted()
        for rule in rules:
            why = self._refusal(rule, context)
            if why:
                adm.refused = f"cannot use rule {rule.name!r}: {why}"
                return adm
            if rule.kind == "side-condition":
                adm.integrable = adm.integrable or rule.integrability
                continue
            adm.schemas += [(rule.name, lhs, rhs) for lhs, rhs in rule.patterns]
            if rule.nonneg is not None:
                adm.nonneg.append((rule.name, rule.nonneg))
            if rule.cov is not None:
                jac = jacobian(rule.cov)
                assert not isinstance(jac, str)  # checked in _refusal
                adm.covs.append((rule.name, rule.cov, jac))
        return adm

    def admissible(self, rule: Rule, context: Derivation | None = None) -> bool:
        """Would the core accept ``rule`` (cited in ``context``)?"""
        try:
            return not self._refusal(rule, context)
        except Exception:  # anything odd about the rule: not admissible
            return False

    def _refusal(self, rule: Rule, context: Derivation | None = None) -> str:
        if type(rule) is not Rule:
            return f"a {type(rule).__name__} is not a Rule (a subclass could change what the core reads)"
        if rule.cov is not None and type(rule.cov) is not ChangeOfVariables:
            return "its change of variables is not a ChangeOfVariables"
        if rule.origin is not None and type(rule.origin) is not LemmaOrigin:
            return "its origin is not a LemmaOrigin"
        if rule.kind == "side-condition" and (rule.patterns or rule.nonneg is not None or rule.cov):
            return "a side condition never rewrites"
        if rule.integrability and rule.kind != "side-condition":
            return "integrability is a side condition"
        exprs = [e for pair in rule.patterns for e in pair]
        exprs += [rule.nonneg] if rule.nonneg is not None else []
        for lhs, rhs in rule.patterns:
            if isinstance(lhs, sp.Wild) or not rhs.atoms(sp.Wild) <= lhs.atoms(sp.Wild):
                return "a schema must bind every pattern variable of its right side"
            if lhs.atoms(sp.Wild) and rhs.has(sp.Derivative):
                return "a schema with pattern variables may not hold a derivative on its right side (its variable would capture the matched value)"
        for wild in {w for e in exprs for w in e.atoms(sp.Wild)}:
            why = wild_violation(wild)
            if why is not None:
                return why
        if rule.cov is not None:
            jac = jacobian(rule.cov)
            if isinstance(jac, str):
                return jac
        if rule.kind == "definition":
            why = definition_refusal(rule)
            if why:
                return why
        if rule.kind == "lemma":
            return self._lemma_refusal(rule, context)
        return ""

    def _lemma_refusal(self, rule: Rule, context: Derivation | None) -> str:
        origin = rule.origin
        if origin is None or not isinstance(origin.derivation, Derivation):
            return "a lemma must come from Derivation.as_lemma"
        derivation = origin.derivation
        self.prepare(derivation)
        conclusions = derivation.conclusions
        if not 0 <= origin.chain < len(conclusions):
            return f"derivation {derivation.name!r} has no chain {origin.chain}"
        made = lemma_statement(conclusions[origin.chain], origin.mapping)
        if isinstance(made, str):
            return made
        relation, a, b = made
        expected = (a, b, None) if relation == "=" else (None, None, a)
        if not all(same(x, y) for x, y in zip((rule.lhs, rule.rhs, rule.nonneg), expected, strict=True)) or (
            rule.extra or rule.cov
        ):
            return f"its statement is not the conclusion of derivation {derivation.name!r}"
        if id(derivation) in self._active:
            return f"lemma {derivation.name!r} is circular here"
        if not self.derivation_proved(derivation):
            return f"lemma {derivation.name!r} is not proved"
        captured = binder_refusal(derivation, origin.mapping)
        if captured:
            return captured
        available = rule_data(cited(context)) if context is not None else []
        defined = rule_data(r for r in cited(context) if r.kind == "definition")
        changed = hypotheses(derivation, origin.mapping)
        if isinstance(changed, str):
            return changed
        for name, kind, data in changed:
            # a changed definition (its name renamed) is discharged only by a new definition
            pool = defined if kind == "definition" else available
            if not any(same_data(data, other) for other in pool):
                how = " as a definition" if kind == "definition" else ""
                return (
                    f"instantiating lemma {derivation.name!r} changes its {kind} {name!r}; "
                    f"cite the instance ({show_data(data)}){how}"
                )
        return ""


def differentiate(expr: sp.Expr) -> sp.Expr:
    """Evaluate every integral-free derivative with the trusted ``diff``.

    What does not evaluate (a derivative of an abstract function, or of an
    integral) stays, and the fragment gate then refuses it.
    """
    if not expr.has(sp.Derivative):
        return expr
    return expr.replace(
        lambda e: isinstance(e, sp.Derivative) and not e.has(sp.Integral),
        lambda e: e.doit(deep=False),
    )


def _equal(diff: sp.Expr, reducer: Reducer) -> Decision:
    if diff == 0 or not diff.has(sp.Integral):
        how = canonical_zero(diff)
        if how is not None:
            return Decision(True, f"canonical forms: {how}")
        return Decision(False, reason="the canonical forms do not reduce the difference to 0")
    merged = merge_integrals(diff)
    if isinstance(merged, sp.Integral):
        for factor in sp.Mul.make_args(sp.factor_terms(merged.function)):
            how = canonical_zero(factor)
            if how is not None:
                return Decision(True, f"{EQUAL_INTEGRANDS}: {how}", facts=(EQUAL_INTEGRANDS,))
    reduced = reducer.reduce(diff)
    how = canonical_zero(reduced)
    if how is not None:
        return Decision(True, f"integrals reduced, then {how}", facts=tuple(reducer.used))
    return Decision(False, reason="the core's integral moves and canonical forms do not close it")


def _matcher(nonneg: sp.Expr):  # type: ignore[no-untyped-def]
    """``form -> form - instance`` for the schema ``nonneg >= 0`` (verified matches only)."""

    def match(form: sp.Expr) -> sp.Expr | None:
        if not nonneg.has(sp.Wild):
            return form - nonneg
        for term in (form, *(sp.Add.make_args(form) if isinstance(form, sp.Add) else ())):
            found = match_instance(term, nonneg)
            if found is not None:
                return form - nonneg.xreplace(found)
        return None

    return match


def _all_expressions(derivation: Derivation, seen: set[int]) -> list[sp.Basic]:
    """Every expression of ``derivation`` and, transitively, of the lemmas it cites."""
    if id(derivation) in seen:
        return []
    seen.add(id(derivation))
    out: list[sp.Basic] = []
    for rule in [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]:
        out += [e for pair in rule.patterns for e in pair]
        out += [rule.nonneg] if rule.nonneg is not None else []
        if rule.cov is not None:
            out += [*rule.cov.olds, *rule.cov.news, *rule.cov.maps]
        if rule.kind == "lemma" and rule.origin is not None:
            out += _all_expressions(rule.origin.derivation, seen)
    out += [e for s in derivation.steps for e in (s.lhs, s.rhs)]
    return out


def _short(expr: sp.Expr) -> str:
    return short(expr, 60)
