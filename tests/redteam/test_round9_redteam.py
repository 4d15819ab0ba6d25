"""Round-9 red team, part 1: renaming defined names in lemma instances.

Same harness as rounds 4-8.  Expectations are the mathematically correct
behaviour; refusing hostile input with a one-line usage error is sound.  The
rule attacked: a lemma instance that changes a definition premise renames the
defined name (``core.premises.hypotheses``), and no axiom or inequality
reachable from a derivation mentions a defined name.  Parts 2 and 3 (the
general-k matrix atoms, the ψ/log Γ special values) are in
``test_round9_atoms_and_special_values.py``.

Found: nothing; every attack held (no strict xfail).  Noted, not a core
hole: a user may define an opaque class (KL, Digamma) as they like
(docs/soundness.md: their meaning comes only from cited definitions); next to
any axiom on it, that is refused (tested).
"""
from __future__ import annotations

import pytest
import sympy as sp
from _harness import CONFIG, cases, run_case

from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.klformula._moments import Digamma
from elbo_check.klformula._special import special_values
from elbo_check.rules import axiom, definition, inequality, instantiate

R = sp.Rational
s = sp.Symbol("s", positive=True)
t = sp.Symbol("t", real=True)
K, K2, K3, J, J2 = sp.symbols("K K2 K3 J J2", real=True)
f, f2 = sp.Function("f"), sp.Function("f2")
W = sp.Wild("w")
w = sp.Symbol("w")


def _outcome(d: Derivation) -> list[str]:
    """The verdicts, or ``["refused"]`` when the core refuses the derivation outright."""
    try:
        return [r.verdict.value for r in check_derivation(d, CONFIG).steps]
    except (UsageError, DerivationError):
        return ["refused"]


def _all_proved(build) -> str:
    """``proved`` when every step of the built derivation is proved (else what is not)."""
    try:
        got = _outcome(build())
    except (UsageError, DerivationError):
        return "refused"
    return "proved" if got and all(v == "proved" for v in got) else ",".join(got)


def _k_log():
    return (
        Derivation("k-log")
        .start(K)
        .equals(sp.log(s), by=definition("K-log", K, sp.log(s)))
        .as_lemma()
    )


# ---------------------------------------------------------------------------
# 1. Renaming defined names in lemma instances
# ---------------------------------------------------------------------------


def _rename_to_a_name_another_lemma_constrains() -> str:
    """K := t, where a second cited lemma rests on the axiom t = 0: log 2s = 0."""
    zero = Derivation("t-zero").start(t).equals(0, by=axiom("t-0", t, 0)).as_lemma()
    inst = instantiate(_k_log(), {s: 2 * s, K: t})
    d = (
        Derivation("a")
        .start(sp.log(2 * s))
        .equals(t, by=[inst, definition("t-def", t, sp.log(2 * s))])
    )
    d.equals(0, by=zero)
    return _all_proved(lambda: d)


def _rename_to_a_name_an_inequality_constrains() -> str:
    inst = instantiate(_k_log(), {s: 2 * s, K: t})
    d = (
        Derivation("b")
        .start(sp.log(2 * s))
        .equals(t, by=[inst, definition("t-def", t, sp.log(2 * s))])
    )
    d.geq(1, by=inequality("t>=1", t - 1, "t ≥ 1"))
    return _all_proved(lambda: d)


def _rename_to_an_expression_discharged_by_a_definition() -> str:
    """K := -K2: the premise -K2 = log 2s is an equation, not the definition K2 := -log 2s."""
    inst = instantiate(_k_log(), {s: 2 * s, K: -K2})
    d = Derivation("c").start(-K2).equals(sp.log(2 * s), by=[inst, definition("K2", K2, sp.log(s))])
    return _all_proved(lambda: d)


def _rename_one_of_two_names_in_one_definition() -> str:
    both = definition("KJ", K, sp.log(s), more=((J, s),))
    lemma = Derivation("kj").start(K + J).equals(sp.log(s) + s, by=both).as_lemma()
    inst = instantiate(lemma, {s: 2 * s, K: K2})
    d = (
        Derivation("d")
        .start(K2 + J)
        .equals(
            sp.log(2 * s) + 2 * s,
            by=[inst, definition("KJ2", K2, sp.log(2 * s), more=((J, 2 * s),))],
        )
    )
    return _all_proved(lambda: d)


def _rename_one_of_two_linked_definitions() -> str:
    """J := K + 1 rests on K; renaming K only leaves J meaning log s + 1 and log 2s + 1."""
    lemma = (
        Derivation("jk")
        .start(J)
        .equals(K + 1, by=definition("J-K", J, K + 1))
        .equals(sp.log(s) + 1, by=definition("K-log", K, sp.log(s)))
        .as_lemma()
    )
    inst = instantiate(lemma, {s: 2 * s, K: K2})
    d = (
        Derivation("e")
        .start(J)
        .equals(
            sp.log(2 * s) + 1,
            by=[inst, definition("K2-log2", K2, sp.log(2 * s)), definition("J-K2", J, K2 + 1)],
        )
    )
    d.equals(sp.log(s) + 1, by=lemma)
    return _all_proved(lambda: d)


def _f_shift():
    return (
        Derivation("f-shift")
        .start(f(1))
        .equals(1 + s, by=definition("f-shift", f(W), W + s))
        .as_lemma()
    )


def _lambda_rename(value, cite) -> str:
    inst = instantiate(_f_shift(), {s: 2 * s, f: value})
    lhs = inst.lhs
    d = Derivation("g").start(lhs).equals(1 + 2 * s, by=[inst, *cite])
    return _all_proved(lambda: d)


def _lambda_to_a_fresh_function() -> str:
    return _lambda_rename(sp.Lambda(w, f2(w)), [definition("f2-shift", f2(W), W + 2 * s)])


def _lambda_keeping_the_name_shifted() -> str:
    """f := (w ↦ f(w + 1)) keeps the defined name f: refused, else f(2) = 1 + 2s and 2 + s."""
    return _lambda_rename(sp.Lambda(w, f(w + 1)), [])


def _lambda_to_a_non_pattern_head() -> str:
    """f := (w ↦ f2(2w)): the premise f2(2w) := w + 2s is no definition; next to f2(w) := w."""
    return _lambda_rename(sp.Lambda(w, f2(2 * w)), [definition("f2-id", f2(W), W)])


def _lambda_to_an_affine_image_with_an_axiom() -> str:
    """f := (w ↦ f2(w) + 1) with the axiom f2(w) + 1 → w + 2s and the definition f2(w) := w."""
    pattern = (f2(W) + 1, W + 2 * s)
    return _lambda_rename(
        sp.Lambda(w, f2(w) + 1), [axiom("f2+1", *pattern), definition("f2-id", f2(W), W)]
    )


def _two_levels() -> tuple:
    inner = instantiate(_k_log(), {s: 2 * s, K: K2})
    mid = (
        Derivation("k2-log2")
        .start(K2)
        .equals(sp.log(2 * s), by=[inner, definition("K2-log2", K2, sp.log(2 * s))])
        .as_lemma()
    )
    return mid


def _two_levels_kept() -> str:
    d = Derivation("h").start(K2).equals(sp.log(6 * s), by=instantiate(_two_levels(), {s: 3 * s}))
    return _all_proved(lambda: d)


def _two_levels_renamed() -> str:
    inst = instantiate(_two_levels(), {s: 3 * s, K2: K3})
    d = (
        Derivation("i")
        .start(K3)
        .equals(sp.log(6 * s), by=[inst, definition("K3", K3, sp.log(6 * s))])
    )
    return _all_proved(lambda: d)


def _two_levels_renamed_back_to_the_inner_name() -> str:
    """K2 := K outside: K := log 2s next to the inner K := log s gives log s = log 2s."""
    inst = instantiate(_two_levels(), {K2: K})
    d = Derivation("j").start(sp.log(s)).equals(K, by=_k_log())
    d.equals(sp.log(2 * s), by=[inst, definition("K-again", K, sp.log(2 * s))])
    return _all_proved(lambda: d)


def _instance_of_an_instance_swapping_back() -> str:
    """(s := 2s, K := K2) then K2 := K: the kept K now means log 2s."""
    inst = instantiate(instantiate(_k_log(), {s: 2 * s, K: K2}), {K2: K})
    d = (
        Derivation("k")
        .start(K)
        .equals(sp.log(2 * s), by=[inst, definition("K-2", K, sp.log(2 * s))])
    )
    return _all_proved(lambda: d)


def _instance_of_an_instance_renaming_twice() -> str:
    inst = instantiate(instantiate(_k_log(), {K: K2}), {s: 2 * s, K2: K3})
    d = (
        Derivation("l")
        .start(K3)
        .equals(sp.log(2 * s), by=[inst, definition("K3", K3, sp.log(2 * s))])
    )
    return _all_proved(lambda: d)


def _swap_in_one_mapping() -> str:
    """{s: 2s, K: K2, K2: K} applies pair by pair: K ends as K again, now log 2s."""
    lemma = (
        Derivation("kk2")
        .start(K - K2)
        .equals(sp.log(s) - K2, by=definition("K-log", K, sp.log(s)))
        .as_lemma()
    )
    inst = instantiate(lemma, {s: 2 * s, K: K2, K2: K})
    d = (
        Derivation("m")
        .start(inst.lhs)
        .equals(inst.rhs, by=[inst, definition("K-2", K, sp.log(2 * s))])
    )
    return _all_proved(lambda: d)


def _defined_next_to_its_instance_with_another_meaning() -> str:
    """The lemma's K := log s cited directly, the instance's K2 discharged by K2 := log s."""
    inst = instantiate(_k_log(), {s: 2 * s, K: K2})
    d = (
        Derivation("n")
        .start(K2)
        .equals(sp.log(2 * s), by=[inst, definition("K2-log", K2, sp.log(s))])
    )
    d.equals(K, by=definition("K-log", K, sp.log(s)))
    return _all_proved(lambda: d)


def _same_rule_name_other_meaning() -> str:
    """A definition named like the lemma's (K-log) but meaning log 2s."""
    d = Derivation("o").start(sp.log(s)).equals(K, by=_k_log())
    d.equals(sp.log(2 * s), by=definition("K-log", K, sp.log(2 * s)))
    return _all_proved(lambda: d)


def _the_value_mentions_the_defined_name() -> str:
    """K := s + 1 with s := K: the instance says K = K + 1 unless renamed."""
    kp = sp.Symbol("Kp", positive=True)
    lemma = Derivation("kp").start(kp).equals(s + 1, by=definition("Kp", kp, s + 1)).as_lemma()
    d = Derivation("p").start(kp).equals(kp + 1, by=instantiate(lemma, {s: kp}))
    return _all_proved(lambda: d)


class Op(sp.Function):  # type: ignore[misc]
    """A user's opaque real-valued class (as KL): it can be defined, never instantiated."""

    nargs = 1
    is_real = True
    opaque = True


def _opaque_head_changed() -> str:
    lemma = (
        Derivation("op").start(Op(1)).equals(1 + s, by=definition("Op", Op(W), W + s)).as_lemma()
    )
    d = Derivation("q").start(Op(1)).equals(1 + 2 * s, by=instantiate(lemma, {s: 2 * s}))
    d.equals(1 + s, by=lemma)
    return _all_proved(lambda: d)


def _opaque_digamma_defined_next_to_a_special_value() -> str:
    (rule,) = special_values(Digamma(sp.Integer(2)))
    d = (
        Derivation("r")
        .start(Digamma(sp.Integer(2)))
        .equals(0, by=definition("psi0", Digamma(W), 0))
    )
    d.equals(Digamma(sp.Integer(1)) + 1, by=rule)
    return _all_proved(lambda: d)


def _axiom_wild_matches_defined_name() -> str:
    """An axiom schema on f(w) inside a lemma, f defined outside: 1 = 5."""
    lemma = Derivation("f5").start(f(1)).equals(5, by=axiom("f-5", f(W), 5)).as_lemma()
    d = Derivation("s").start(sp.Integer(1)).equals(f(1), by=definition("f-id", f(W), W))
    d.equals(5, by=lemma)
    return _all_proved(lambda: d)


def _rename_onto_a_sibling_definition(name: str) -> str:
    """K := K2 where the lemma also defines K2 := log 2s: 0 = log s - log 2s; the new
    definition K2 := log s named like the sibling (or like K's) to dodge 'defined twice'."""
    lemma = (
        Derivation("k-k2-defs")
        .start(K - K2)
        .equals(
            sp.log(s) - sp.log(2 * s),
            by=[definition("Kd", K, sp.log(s)), definition("K2d", K2, sp.log(2 * s))],
        )
        .as_lemma()
    )
    inst = instantiate(lemma, {K: K2})
    d = (
        Derivation("u")
        .start(sp.Integer(0))
        .equals(sp.log(s) - sp.log(2 * s), by=[inst, definition(name, K2, sp.log(s))])
    )
    return _all_proved(lambda: d)


def _inequality_in_a_lemma_on_its_own_defined_name() -> str:
    d = (
        Derivation("v")
        .start(K)
        .geq(
            sp.log(s) + 1,
            by=[
                definition("K-log", K, sp.log(s)),
                inequality("K-big", K - sp.log(s) - 1, "K ≥ log s + 1"),
            ],
        )
    )
    return _all_proved(lambda: d)


def _value_holds_the_defined_name(mapping: dict, cite: list) -> str:
    """s := exp(K) in K := log s: kept, the premise is K := K; renamed first, K2 := K."""
    inst = instantiate(_k_log(), mapping)
    d = Derivation("w").start(inst.lhs).equals(inst.rhs, by=[inst, *cite])
    return _all_proved(lambda: d)


RENAMING = [
    (
        "rename to a name another lemma's axiom pins",
        "false",
        _rename_to_a_name_another_lemma_constrains,
    ),
    (
        "rename to a name a cited inequality bounds",
        "false",
        _rename_to_a_name_an_inequality_constrains,
    ),
    (
        "rename to -K2, discharged by a definition",
        "false",
        _rename_to_an_expression_discharged_by_a_definition,
    ),
    (
        "rename one of two names of one definition",
        "false",
        _rename_one_of_two_names_in_one_definition,
    ),
    ("rename one of two linked definitions", "false", _rename_one_of_two_linked_definitions),
    ("Lambda rename to a fresh function", "proved", _lambda_to_a_fresh_function),
    ("Lambda rename keeping the name, shifted", "false", _lambda_keeping_the_name_shifted),
    ("Lambda rename to a non-pattern head", "false", _lambda_to_a_non_pattern_head),
    (
        "Lambda rename to an affine image, axiom + definition",
        "false",
        _lambda_to_an_affine_image_with_an_axiom,
    ),
    ("two levels, inner rename kept outside", "false", _two_levels_kept),
    ("two levels, renamed again outside", "proved", _two_levels_renamed),
    (
        "two levels, renamed back to the innermost name",
        "false",
        _two_levels_renamed_back_to_the_inner_name,
    ),
    (
        "instance of an instance swapping the name back",
        "false",
        _instance_of_an_instance_swapping_back,
    ),
    ("instance of an instance renaming twice", "proved", _instance_of_an_instance_renaming_twice),
    ("a swap K <-> K2 in one mapping", "false", _swap_in_one_mapping),
    (
        "the definition beside its instance, other meaning",
        "false",
        _defined_next_to_its_instance_with_another_meaning,
    ),
    ("a same-named definition with another meaning", "false", _same_rule_name_other_meaning),
    ("the value mentions the defined name", "false", _the_value_mentions_the_defined_name),
    ("an opaque head's definition changed", "false", _opaque_head_changed),
    (
        "Digamma defined as 0 next to a special value",
        "false",
        _opaque_digamma_defined_next_to_a_special_value,
    ),
    (
        "an axiom schema in a lemma on a name defined outside",
        "false",
        _axiom_wild_matches_defined_name,
    ),
    (
        "rename onto a sibling definition, its name",
        "false",
        lambda: _rename_onto_a_sibling_definition("K2d"),
    ),
    (
        "rename onto a sibling definition, K's name",
        "false",
        lambda: _rename_onto_a_sibling_definition("Kd"),
    ),
    (
        "rename onto a sibling definition, a new name",
        "false",
        lambda: _rename_onto_a_sibling_definition("K2-new"),
    ),
    ("an inequality on a defined name", "false", _inequality_in_a_lemma_on_its_own_defined_name),
    ("s := exp(K), K kept", "false", lambda: _value_holds_the_defined_name({s: sp.exp(K)}, [])),
    (
        "s := exp(K) then K := K2 (K2 := K2, circular)",
        "false",
        lambda: _value_holds_the_defined_name(
            {s: sp.exp(K), K: K2}, [definition("K2", K2, K2 + 0 * s)]
        ),
    ),
    (
        "K := K2 then s := exp(K): K2 := K, true",
        "true",
        lambda: _value_holds_the_defined_name({K: K2, s: sp.exp(K)}, [definition("K2-K", K2, K)]),
    ),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(RENAMING))
def test_renaming_defined_names_in_instances_proves_nothing_false(expect, thunk):
    run_case(expect, thunk)
