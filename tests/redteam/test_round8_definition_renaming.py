"""After round 8: a lemma instance that changes a definition premise renames the name.

The lemma ``K = log s`` (by ``K := log s``) with ``s := 2s`` rests on
``K := log 2s``.  Round 5 let an axiom ``K = log 2s`` discharge that; with
the lemma (or the definition) beside it, it proved log s = log 2s.  Now the
instance must map K to a fresh name K2 and cite ``K2 := log 2s``, and no
axiom, anywhere a derivation reaches, may say something about a defined name.
"""

from __future__ import annotations

import sympy as sp
from _harness import CONFIG

from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.rules import axiom, definition, instantiate

s = sp.Symbol("s", positive=True)
K = sp.Symbol("K", real=True)
K2 = sp.Symbol("K2", real=True)
f, f2 = sp.Function("f"), sp.Function("f2")
W = sp.Wild("w")


def _outcome(d: Derivation) -> list[str]:
    """The verdicts, or ``["refused"]`` when the core refuses the derivation outright."""
    try:
        return [r.verdict.value for r in check_derivation(d, CONFIG).steps]
    except (UsageError, DerivationError):
        return ["refused"]


def _k_log() -> object:
    return (
        Derivation("k-log")
        .start(K)
        .equals(sp.log(s), by=definition("K-log", K, sp.log(s)))
        .as_lemma()
    )


def test_an_instance_that_changes_a_definition_but_keeps_its_name_is_refused():
    instance = instantiate(_k_log(), {s: 2 * s})
    d = Derivation("same-name").start(K).equals(sp.log(2 * s), by=instance)
    result = check_derivation(d, CONFIG).steps[0]
    assert result.verdict.value != "proved"
    assert "rename the defined name" in result.message


def test_the_old_discharge_by_an_axiom_on_the_defined_name_is_refused():
    instance = instantiate(_k_log(), {s: 2 * s})
    d = (
        Derivation("ax")
        .start(K)
        .equals(sp.log(2 * s), by=[instance, axiom("K-log2", K, sp.log(2 * s))])
    )
    assert "proved" not in _outcome(d)


def test_the_renamed_instance_with_its_new_definition_is_proved():
    instance = instantiate(_k_log(), {s: 2 * s, K: K2})
    d = (
        Derivation("renamed")
        .start(K2)
        .equals(sp.log(2 * s), by=[instance, definition("K2-log2", K2, sp.log(2 * s))])
    )
    assert _outcome(d) == ["proved"]


def test_the_renamed_instance_beside_the_lemma_proves_nothing_linking_the_names():
    rule = _k_log()
    instance = instantiate(rule, {s: 2 * s, K: K2})
    d = (
        Derivation("link")
        .start(sp.log(s))
        .equals(K, by=rule)
        .equals(K2, by=axiom("K-is-K2", K, K2))
    )
    d.equals(sp.log(2 * s), by=[instance, definition("K2-log2", K2, sp.log(2 * s))])
    assert _outcome(d) == ["refused"]


def test_a_rename_to_a_name_the_lemma_constrains_is_refused():
    lemma = (
        Derivation("k-k2")
        .start(K + K2)
        .equals(sp.log(s), by=[definition("K-log", K, sp.log(s)), axiom("K2-zero", K2, 0)])
    )
    instance = instantiate(lemma.as_lemma(), {s: 2 * s, K: K2})
    d = (
        Derivation("k2-twice")
        .start(2 * K2)
        .equals(sp.log(2 * s), by=[instance, definition("K2-log2", K2, sp.log(2 * s))])
    )
    assert _outcome(d) == ["refused"]


def test_an_axiom_inside_a_cited_lemma_cannot_constrain_a_name_defined_outside_it():
    lemma = Derivation("g1").start(f(1)).equals(5, by=axiom("f1-5", f(1), 5)).as_lemma()
    d = Derivation("one-is-five").start(sp.Integer(1)).equals(f(1), by=definition("f-id", f(W), W))
    d.equals(5, by=lemma)
    assert _outcome(d) == ["refused"]


def test_a_function_definition_is_renamed_the_same_way():
    lemma = (
        Derivation("f-shift")
        .start(f(1))
        .equals(1 + s, by=definition("f-shift", f(W), W + s))
        .as_lemma()
    )
    kept = Derivation("kept").start(f(1)).equals(1 + 2 * s, by=instantiate(lemma, {s: 2 * s}))
    renamed = (
        Derivation("renamed-f")
        .start(f2(1))
        .equals(
            1 + 2 * s,
            by=[instantiate(lemma, {s: 2 * s, f: f2}), definition("f2-shift", f2(W), W + 2 * s)],
        )
    )
    assert _outcome(kept) != ["proved"]
    assert _outcome(renamed) == ["proved"]


def test_an_axiom_on_the_fresh_name_does_not_discharge_a_changed_definition():
    """Two instances renamed to one K2, each discharged by an axiom, would give log 2s = log 3s."""
    rule = _k_log()
    two, three = instantiate(rule, {s: 2 * s, K: K2}), instantiate(rule, {s: 3 * s, K: K2})
    d = (
        Derivation("two-is-three")
        .start(sp.log(2 * s))
        .equals(K2, by=[two, axiom("K2-2", K2, sp.log(2 * s))])
    )
    d.equals(sp.log(3 * s), by=[three, axiom("K2-3", K2, sp.log(3 * s))])
    assert "proved" not in _outcome(d)


def test_two_instances_renamed_to_one_name_define_it_twice():
    rule = _k_log()
    two, three = instantiate(rule, {s: 2 * s, K: K2}), instantiate(rule, {s: 3 * s, K: K2})
    d = (
        Derivation("two-is-three")
        .start(sp.log(2 * s))
        .equals(K2, by=[two, definition("K2-2", K2, sp.log(2 * s))])
    )
    d.equals(sp.log(3 * s), by=[three, definition("K2-3", K2, sp.log(3 * s))])
    assert _outcome(d) == ["refused"]
