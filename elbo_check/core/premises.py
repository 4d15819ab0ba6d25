"""Premises: what definitions may say, and what a lemma instance rests on.

Part of the trusted core (see ``docs/soundness.md``):

* a **definition** introduces a name: a symbol, or an uninterpreted function
  of pattern variables; it holds equality schemas only, does not overlap
  itself, is defined once, is not circular, and agrees with the facts the
  name is declared with (:func:`definition_refusal`, :func:`check_definitions`);
* a **lemma instance** holds only together with the instances of the axioms,
  definitions and inequalities its derivation rests on (however deep) that
  its substitution changes (:func:`hypotheses`); the citing derivation must
  state each of them;
* two different rules never share a name (:func:`check_rule_names`).

>>> import sympy as sp
>>> from elbo_check.rules import definition
>>> k = sp.Symbol("K", positive=True); s = sp.Symbol("s", positive=True)
>>> definition_refusal(definition("K", k, sp.log(s)))
'the defined symbol K is declared positive, but log(s) is not provably positive'
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp
from sympy.core.function import AppliedUndef

from elbo_check.core.fragment import ASSUMPTION_KEYS, fact, is_real_valued, short
from elbo_check.core.lemmas import bound_variables, instance_violation, substitute
from elbo_check.core.terms import alpha_normalize
from elbo_check.derivation import Derivation
from elbo_check.errors import DerivationError
from elbo_check.rules import Rule

__all__ = [
    "binder_refusal",
    "check_definitions",
    "check_rule_names",
    "cited",
    "definition_head",
    "definition_refusal",
    "hypotheses",
    "rule_data",
    "same",
    "same_data",
    "show_data",
]


def definition_refusal(rule: Rule) -> str:
    """A definition introduces a name: its head is a symbol or an uninterpreted function
    applied to pattern variables, absent from its meaning, with consistent assumptions.
    It states nothing else, and its schemas for one head never overlap."""
    if not rule.patterns or rule.nonneg is not None or rule.cov is not None:
        return (
            "a definition holds equality schemas only (an inequality or a substitution is an axiom)"
        )
    for lhs, rhs in rule.patterns:
        why = _head_refusal(lhs, rhs)
        if why:
            return why
    for i, (a, _) in enumerate(rule.patterns):
        for b, _ in rule.patterns[i + 1 :]:
            if definition_head(a) == definition_head(b) and _may_overlap(a, b):
                return f"two schemas of the definition could both match {short(a)}"
    return ""


def _may_overlap(a: sp.Expr, b: sp.Expr) -> bool:
    """Could one argument list match both heads' patterns?  Only a Tuple of another
    length, or a Tuple against a pattern variable that admits only real values, rules it out."""
    if isinstance(a, sp.Symbol) or isinstance(b, sp.Symbol) or len(a.args) != len(b.args):
        return isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol)
    for x, y in zip(a.args, b.args, strict=True):
        if isinstance(x, sp.Tuple) and isinstance(y, sp.Tuple) and len(x) != len(y):
            return False
        for tup, other in ((x, y), (y, x)):
            if (
                isinstance(tup, sp.Tuple)
                and isinstance(other, sp.Wild)
                and _wild_keys(other).get("real")
            ):
                return False
    return True


def _head_refusal(lhs: sp.Expr, rhs: sp.Expr) -> str:
    if isinstance(lhs, sp.Function) and not isinstance(lhs, sp.Wild):
        # what the head is declared to be must hold of the meaning for every argument
        dummies = {w: sp.Dummy(w.name, **_wild_keys(w)) for w in lhs.atoms(sp.Wild)}
        meaning = rhs.xreplace(dummies)
        for key in ASSUMPTION_KEYS:
            if getattr(type(lhs), f"is_{key}", None) is not True:
                continue
            holds = is_real_valued(meaning) if key == "real" else fact(meaning, key) is True
            if not holds:
                return f"{type(lhs).__name__} is declared {key}, but {short(rhs)} is not provably {key}"
    return _head_shape_refusal(lhs, rhs)


def _wild_keys(wild: sp.Wild) -> dict[str, bool]:
    given = getattr(wild, "_assumptions_orig", {})
    return {k: v for k, v in given.items() if k != "commutative" and isinstance(v, bool)}


def definition_head(lhs: sp.Expr) -> object:
    """What a definition defines: the symbol, or the function class."""
    return lhs if isinstance(lhs, sp.Symbol) else type(lhs)


def _head_shape_refusal(lhs: sp.Expr, rhs: sp.Expr) -> str:
    if isinstance(lhs, sp.Symbol) and not isinstance(lhs, sp.Wild):
        for key in ASSUMPTION_KEYS:
            if getattr(lhs, f"is_{key}") is not True:
                continue
            holds = is_real_valued(rhs) if key == "real" else fact(rhs, key) is True
            if not holds:
                return f"the defined symbol {lhs} is declared {key}, but {short(rhs)} is not provably {key}"
        return f"the definition of {lhs} is circular" if rhs.has(lhs) else ""
    args = list(lhs.args) if isinstance(lhs, sp.Function) else []
    flat = [a for arg in args for a in (arg.args if isinstance(arg, sp.Tuple) else (arg,))]
    head_ok = (
        isinstance(lhs, sp.Function)
        and (isinstance(lhs, AppliedUndef) or getattr(type(lhs), "opaque", False) is True)
        and all(isinstance(a, sp.Wild) for a in flat)
    )
    if not head_ok:
        return (
            "a definition must name a symbol or an uninterpreted function of pattern "
            f"variables, not {short(lhs)}"
        )
    return f"the definition of {lhs.func} is circular" if rhs.atoms(lhs.func) else ""


def check_definitions(derivation: Derivation) -> None:
    """One definition per name, and no name defined (even indirectly) through itself."""
    meaning: dict[object, tuple[str, list[sp.Expr]]] = {}
    for rule in _reachable_rules(derivation, set()):
        if rule.kind != "definition":
            continue
        heads = {definition_head(lhs) for lhs, _ in rule.patterns}
        for head in heads:
            seen = meaning.get(head)
            if seen is not None and seen[0] != rule.name:
                raise DerivationError(
                    f"{head} is defined twice, by {seen[0]!r} and {rule.name!r}: a definition "
                    "introduces a new name once"
                )
            body = [rhs for lhs, rhs in rule.patterns if definition_head(lhs) == head]
            meaning.setdefault(head, (rule.name, body))

    _check_conservative(derivation)

    # a cycle through the definitions would let a name mean two things
    def uses(head: object) -> set[object]:
        body = meaning[head][1]
        return {
            h
            for h in meaning
            if any(b.has(h) if isinstance(h, sp.Symbol) else bool(b.atoms(h)) for b in body)
        }

    for start in meaning:
        stack, reached = list(uses(start)), set()
        while stack:
            head = stack.pop()
            if head == start:
                raise DerivationError(f"the definitions of {start} are circular")
            if head not in reached:
                reached.add(head)
                stack.extend(uses(head))


def _check_conservative(derivation: Derivation) -> None:
    """No axiom or inequality that a derivation rests on, anywhere (inside a cited lemma
    too), says something about a name that a definition it rests on, anywhere, defines.

    Otherwise the pair is inconsistent: the axiom ``g(1) = 5`` next to ``g(w) := w``
    proves 1 = 5, and DIFF_MU next to ``fp_T := 0`` makes every gradient 0.  A lemma
    instance that changes a definition premise must rename the defined name
    (:func:`hypotheses`), so its changed premise is a new definition, never an axiom
    about the old name.
    """
    rules = _reachable_rules(derivation, set())
    defined = {
        definition_head(lhs): r.name
        for r in rules
        if r.kind == "definition"
        for lhs, _ in r.patterns
    }
    for rule in rules if defined else []:
        if rule.kind not in ("axiom", "inequality"):
            continue
        said = [e for pair in rule.patterns for e in pair]
        said += [rule.nonneg] if rule.nonneg is not None else []
        for head, name in defined.items():
            if any(e.has(head) if isinstance(head, sp.Symbol) else e.atoms(head) for e in said):
                raise DerivationError(
                    f"{head} is defined by {name!r} but the {rule.kind} {rule.name!r} already "
                    "says something about it: a definition introduces a new name"
                )


def _reachable_rules(derivation: Derivation, seen: set[int]) -> list[Rule]:
    if id(derivation) in seen:
        return []
    seen.add(id(derivation))
    out: list[Rule] = []
    for rule in cited(derivation):
        out.append(rule)
        if rule.kind == "lemma" and rule.origin is not None:
            out += _reachable_rules(rule.origin.derivation, seen)
    return out


def cited(derivation: Derivation | None) -> list[Rule]:
    if derivation is None:
        return []
    return [*derivation.assumptions, *(r for s in derivation.steps for r in s.rules)]


_RuleData = tuple[tuple[tuple[sp.Expr, sp.Expr], ...], sp.Expr | None, tuple | None]


def _data(rule: Rule) -> _RuleData:
    cov = None if rule.cov is None else (rule.cov.olds, rule.cov.news, rule.cov.maps)
    return (rule.patterns, rule.nonneg, cov)


def rule_data(rules: Iterable[Rule]) -> list[_RuleData]:
    """What axioms, definitions and inequalities state (the rules that may discharge a
    lemma's hypotheses; a lemma never discharges one, not even its own instance)."""
    return [_data(r) for r in rules if r.kind in ("axiom", "definition", "inequality")]


def same_data(a: _RuleData, b: _RuleData) -> bool:
    (pa, na, ca), (pb, nb, cb) = a, b
    if len(pa) != len(pb) or ca != cb or not same(na, nb):
        return False
    return all(
        same(alpha_normalize(x), alpha_normalize(y))
        for (la, ra), (lb, rb) in zip(pa, pb, strict=True)
        for x, y in ((la, lb), (ra, rb))
    )


def show_data(data: _RuleData) -> str:
    patterns, nonneg, cov = data
    parts = [f"{short(a)} → {short(b)}" for a, b in patterns]
    if nonneg is not None:
        parts.append(f"{short(nonneg)} ≥ 0")
    if cov is not None:
        parts.append(f"substitute {cov[0]} = {cov[2]}")
    return "; ".join(parts)


def hypotheses(derivation: Derivation, mapping: tuple) -> list[tuple[str, str, _RuleData]] | str:
    """The premises of ``derivation`` (transitively) that ``mapping`` changes, with their kinds.

    A lemma holds for every value of a symbol only where no axiom, definition
    or inequality it rests on mentions that symbol; otherwise its instance
    holds only together with the instance of that premise, which must be cited.

    >>> import sympy as sp
    >>> from elbo_check.rules import definition
    >>> s = sp.Symbol("s", positive=True); k = sp.Symbol("K", real=True)
    >>> d = Derivation("k").start(k).equals(sp.log(s), by=definition("K", k, sp.log(s)))
    >>> hypotheses(d, ((k, s**2),))
    [('K', 'axiom', (((s**2, log(s)),), None, None))]

    An instance that changes what a definition says must rename the defined name:

    >>> hypotheses(d, ((s, 2 * s),))[:46]
    "it changes what its definition 'K' says of ['K"
    >>> k2 = sp.Symbol("K2", real=True)
    >>> hypotheses(d, ((s, 2 * s), (k, k2)))
    [('K', 'definition', (((K2, log(2*s)),), None, None))]
    """
    if not mapping:
        return []
    out = []
    for name, kind, data in _premises(derivation, frozenset()):
        exprs = [e for pair in data[0] for e in pair] + ([data[1]] if data[1] is not None else [])
        for old, new in mapping:
            why = instance_violation(old, new, exprs)
            if why is not None:
                return f"in its premise {name!r}: {why}"
        moved = _substitute_data(data, mapping)
        if same_data(moved, data):
            continue
        kept = _heads(data) & _heads(moved) if kind == "definition" else set()
        if kept:
            return (
                f"it changes what its definition {name!r} says of {sorted(map(str, kept))}; "
                "rename the defined name in the instance too (to a fresh name, then cite "
                f"the new definition {show_data(moved)})"
            )
        # a definition whose name became an expression (K := s**2) now states an equation
        out.append((name, kind if _heads(moved) else "axiom", moved))
    return out


def _heads(data: _RuleData) -> set[object]:
    """The names a definition premise (as instantiated so far) still defines."""
    heads = {definition_head(lhs) for lhs, _ in data[0]}
    return {
        h
        for h in heads
        if isinstance(h, sp.Symbol)
        or (isinstance(h, type) and issubclass(h, AppliedUndef))
        or getattr(h, "opaque", False) is True
    }


def _premises(derivation: Derivation, seen: frozenset[int]) -> list[tuple[str, str, _RuleData]]:
    """Every axiom, definition and inequality a derivation rests on, with its kind, through
    its lemmas (each as instantiated on the way)."""
    if id(derivation) in seen:
        return []
    out: list[tuple[str, str, _RuleData]] = []
    for rule in cited(derivation):
        if rule.kind == "lemma" and rule.origin is not None:
            inner = rule.origin
            for name, kind, data in _premises(inner.derivation, seen | {id(derivation)}):
                out.append((name, kind, _substitute_data(data, inner.mapping)))
        elif rule.kind != "side-condition":
            out.append((rule.name, rule.kind, _data(rule)))
    return out


def _substitute_data(data: _RuleData, mapping: tuple) -> _RuleData:
    patterns, nonneg, cov = data
    subst = [(substitute(a, mapping), substitute(b, mapping)) for a, b in patterns]
    moved_cov = (
        None if cov is None else tuple(tuple(substitute(e, mapping) for e in part) for part in cov)
    )
    return (tuple(subst), None if nonneg is None else substitute(nonneg, mapping), moved_cov)


def check_rule_names(derivation: Derivation, seen: set[int], names: dict[str, _RuleData]) -> None:
    """Two different rules sharing a name (anywhere a derivation reaches) are a usage error."""
    if id(derivation) in seen:
        return
    seen.add(id(derivation))
    for rule in cited(derivation):
        data = _data(rule)
        other = names.setdefault(rule.name, data)
        if other is not data and not same_data(other, data) and rule.kind != "lemma":
            raise DerivationError(
                f"two different rules are named {rule.name!r}; give each rule its own name"
            )
        if rule.kind == "lemma" and rule.origin is not None:
            check_rule_names(rule.origin.derivation, seen, names)


def same(a: sp.Expr | None, b: sp.Expr | None) -> bool:
    if a is None or b is None:
        return a is b
    if a == b:
        return True
    try:
        return bool(sp.expand(a - b) == 0)
    except Exception:  # matrices, odd objects: not provably the same
        return False


Slot = tuple[type, int]


def _flat(arg: sp.Basic) -> tuple[sp.Basic, ...]:
    return arg.args if isinstance(arg, sp.Tuple) else (arg,)


def binder_slots(rules: Iterable[Rule]) -> set[Slot]:
    """Argument slots that bind: ``(H, i)`` where a cited rule relates ``H(.., w, ..)``
    (``w`` a pattern variable in slot ``i``) to an expression that binds ``w``: integrates
    or differentiates over it, as ``KL(F, G, v) := ∫ F log(F/G) dv`` binds slot 2, or
    passes it to a binding slot, as ``H(F, G, v) := KL(F, G, v)`` does (to a fixed point)."""
    pairs = [pair for rule in rules for pair in rule.patterns]
    out: set[Slot] = set()
    while True:
        size = len(out)
        for pair in pairs:
            for side, other in (pair, pair[::-1]):
                bound = _slot_bound([other], out)
                for app in side.atoms(sp.Function):
                    for i, arg in enumerate(app.args):
                        if any(isinstance(w, sp.Wild) and w in bound for w in _flat(arg)):
                            out.add((type(app), i))
        if len(out) == size:
            return out


def _slot_bound(exprs: list[sp.Expr], slots: set[Slot]) -> set[sp.Symbol]:
    out = bound_variables(exprs)
    for cls, i in slots:
        for e in exprs:
            for app in e.atoms(cls):
                if i < len(app.args):
                    out |= {a for a in _flat(app.args[i]) if isinstance(a, sp.Symbol)}
    return out


Summary = tuple[set[sp.Basic], set[sp.Basic]]


def _summary(derivation: Derivation, slots: set[Slot], memo: dict[int, Summary]) -> Summary:
    """``(bound, present)``: the symbols bound anywhere in the lemma's chains and
    cited rules, through its lemmas (as found and as renamed), and every symbol present."""
    key = id(derivation)
    if key in memo:
        return memo[key]
    memo[key] = (set(), set())  # a cycle is refused elsewhere
    exprs = [e for step in derivation.steps for e in (step.lhs, step.rhs) if isinstance(e, sp.Expr)]
    exprs += [e for rule in cited(derivation) for pair in rule.patterns for e in pair]
    bound = _slot_bound(exprs, slots)
    present: set[sp.Basic] = set().union(*(e.free_symbols for e in exprs))
    for rule in cited(derivation):
        if rule.kind == "lemma" and rule.origin is not None:
            inner_bound, inner_present = _summary(rule.origin.derivation, slots, memo)
            mapping = rule.origin.mapping
            bound |= inner_bound
            bound |= {s for b in inner_bound for s in substitute(b, mapping).free_symbols}
            present |= inner_present | set().union(*(_value_symbols(new) for _, new in mapping))
    memo[key] = (bound, present | bound)
    return memo[key]


def _value_symbols(new: object) -> set[sp.Basic]:
    if isinstance(new, sp.Lambda):
        return set(new.free_symbols)
    return set(new.free_symbols) if isinstance(new, sp.Basic) else set()


def binder_refusal(derivation: Derivation, mapping: tuple) -> str:
    """A lemma instance may rename a bound variable only to a fresh symbol, and capture nothing.

    A variable is bound if some step of the lemma's chains (or of a lemma it
    rests on) integrates or differentiates over it, or if it fills a binding
    slot (:func:`binder_slots`) of an opaque function such as ``KL``'s
    variable.  ``KL(N(z; m1, 1) || N(z; m2, 1), z) = (m1 - m2)²/2`` is not
    true with ``z := m2`` or ``m1 := z``: the KL integrates over z.
    """
    if not mapping:
        return ""
    slots = binder_slots(_reachable_rules(derivation, set()))
    bound, present = _summary(derivation, slots, {})
    if not bound:
        return ""
    # the substitution is applied pair by pair, so it is checked pair by pair: a renamed
    # bound variable stays bound under its new name (z := t, then t := m2 is refused)
    for old, new in mapping:
        if isinstance(old, sp.Symbol) and old in bound:
            if new == old:
                continue
            if not isinstance(new, sp.Symbol) or isinstance(new, sp.Wild) or new in present:
                return (
                    f"{old} is bound in the lemma (integrated, differentiated or a KL's "
                    f"variable); it can only be renamed to a fresh symbol, not {new}"
                )
            bound, present = bound | {new}, present | {new}
            continue
        caught = _value_symbols(new) & bound
        if caught:
            shown = sorted(map(str, caught))
            return f"the value {new} for {old} would be captured by the bound variable(s) {shown}"
        present = present | _value_symbols(new)
    return ""
