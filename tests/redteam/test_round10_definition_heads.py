"""Round-10 red team: what a definition's head is declared to be.

Same harness as rounds 4-9.  The rule attacked (``core.premises._head_refusal``
and ``_head_shape_refusal``): a definition whose head (a symbol, or an
undefined/opaque function of pattern variables) is declared with an assumption
from ``fragment.ASSUMPTION_KEYS`` must have a meaning that provably satisfies
it for every admitted argument.  Otherwise ``K := log s`` with ``K`` positive
proves ``log s >= 0``: the definition step says ``log s = K`` and the next step
reads ``K >= 0`` off K's declaration.

Most attacks are two-step chains ``meaning = head`` (by the definition) then
``head REL bound`` (by ``claim``, read off the declared assumption); the chain
proves a false statement about the meaning exactly when a bad definition is
admitted.  ``check`` rows assert that the definition step alone is not proved
where the declared assumption cannot be turned into a false non-strict
inequality (positive vs non-negative, nonzero).

Found: no soundness hole; every false claim is refused or not proved (no
strict xfail).  Found and fixed, not a hole: a *symbol* head's assumption was
checked with sympy's own ``rhs.is_<key>`` (``_head_shape_refusal``), which
decides a constant's sign numerically, while a *function* head's went through
``fragment.fact`` (numbers never prove).  ``Kn := exp(pi sqrt 163) -
262537412640768744`` (Kn negative) was accepted and ``GAP <= 0`` proved: true,
but by numerics.  Both heads now go through ``fact``; the rows
``numbers-never-prove-*`` hold that neither is proved.
"""

from __future__ import annotations

import pytest
import sympy as sp
from _harness import CONFIG, cases, run_case

from elbo_check import Derivation, check_derivation
from elbo_check.errors import DerivationError, UsageError
from elbo_check.klformula._moments import Digamma
from elbo_check.rules import definition, instantiate

s = sp.Symbol("s", positive=True)
x = sp.Symbol("x", real=True)
n = sp.Symbol("n", negative=True)

Kp = sp.Symbol("Kp", positive=True)
Kp2 = sp.Symbol("Kp2", positive=True)
Kn = sp.Symbol("Kn", negative=True)
Knp = sp.Symbol("Knp", nonpositive=True)
Knn = sp.Symbol("Knn", nonnegative=True)
Knz = sp.Symbol("Knz", real=True, nonzero=True)
Kint = sp.Symbol("Kint", integer=True)
Kre = sp.Symbol("Kre", real=True)
Kng = sp.Symbol("Kng", real=True, negative=False)  # derives nonnegative

fp = sp.Function("fp", positive=True)
gp = sp.Function("gp", positive=True)
fn = sp.Function("fn", negative=True)
fnn = sp.Function("fnn", nonnegative=True)
fnz = sp.Function("fnz", real=True, nonzero=True)
fi = sp.Function("fi", integer=True)
fr = sp.Function("fr", real=True)
fng = sp.Function("fng", real=True, negative=False)  # derives nonnegative
fzero = sp.Function("fzero", real=True, positive=False, negative=False)  # derives zero
fpd = sp.Function("fpd", nonnegative=True, nonzero=True)  # derives positive
Kpd = sp.Symbol("Kpd", nonnegative=True, nonzero=True)  # derives positive
t = sp.Symbol("t", real=True)

W = sp.Wild("w")
WR = sp.Wild("w", real=True)
WP = sp.Wild("w", positive=True)
WNN = sp.Wild("w", nonnegative=True)
WN = sp.Wild("w", negative=True)
WI = sp.Wild("w", integer=True)
WRNZ = sp.Wild("w", real=True, nonzero=True)
WNP = sp.Wild("w", real=True, positive=False)
W1, W2 = sp.Wild("w1", positive=True), sp.Wild("w2", negative=True)

GAP = sp.exp(sp.pi * sp.sqrt(163)) - 262537412640768744  # = -7.5e-13


class PosOpaque(sp.Function):  # type: ignore[misc]
    """An opaque class declared positive through a class fact."""

    nargs = 1
    is_real = True
    is_positive = True
    opaque = True


def _outcome(build) -> list[str]:
    """The verdicts, or ``["refused"]`` when the core refuses the derivation outright."""
    try:
        d = build()
        return [r.verdict.value for r in check_derivation(d, CONFIG).steps]
    except (UsageError, DerivationError):
        return ["refused"]


def _all(build) -> str:
    """``proved`` when every step of the built derivation is proved (else what is not)."""
    got = _outcome(build)
    return "proved" if got and all(v == "proved" for v in got) else ",".join(got)


def _first(build) -> str:
    """The verdict of the definition step alone (``refused`` when refused outright)."""
    return _outcome(build)[0]


def _chain(meaning, head, rule, rel: str, bound, name: str = "chain"):
    """``meaning = head`` by ``rule``, then ``head REL bound`` by claim (the head's assumption)."""

    def build() -> Derivation:
        d = Derivation(name).start(meaning).equals(head, by=rule)
        return getattr(d, rel)(bound, by="claim")

    return lambda: _all(build)


def _even(expo, rule, power, name: str = "even"):
    """``x**P = x**(2E)`` by ``rule``, ``= |x|**(2E)`` by claim (E integer), ``= |x|**P`` by ``rule``."""

    def build() -> Derivation:
        return (
            Derivation(name)
            .start(x**power)
            .equals(x ** (2 * expo), by=rule)
            .equals(sp.Abs(x) ** (2 * expo), by="claim")
            .equals(sp.Abs(x) ** power, by=rule)
        )

    return lambda: _all(build)


def _eq1(lhs, rhs, rule, name: str = "one"):
    return lambda: _first(lambda: Derivation(name).start(lhs).equals(rhs, by=rule))


def _not_proved(thunk) -> bool:
    return thunk() != "proved"


# ---------------------------------------------------------------------------
# lemma and instantiate helpers
# ---------------------------------------------------------------------------


def _lemma_in_lemma_bad_positive() -> str:
    """A cited lemma rests on ``Kp := log s`` (Kp positive): log s >= 0."""
    lemma = (
        Derivation("kp-log")
        .start(sp.log(s))
        .equals(Kp, by=definition("Kp-log", Kp, sp.log(s)))
        .as_lemma()
    )
    return _all(lambda: Derivation("use").start(sp.log(s)).equals(Kp, by=lemma).geq(0, by="claim"))


def _rename_to_positive_name_with_bad_meaning() -> str:
    """K (real) := log s is fine; the instance s -> s/2 renames K to Kp (positive): log(s/2) >= 0."""
    lemma = (
        Derivation("k-log")
        .start(Kre)
        .equals(sp.log(s), by=definition("K-log", Kre, sp.log(s)))
        .as_lemma()
    )
    inst = instantiate(lemma, {s: s / 2, Kre: Kp})
    return _all(
        lambda: (
            Derivation("r")
            .start(sp.log(s / 2))
            .equals(Kp, by=[inst, definition("Kp-log-half", Kp, sp.log(s / 2))])
            .geq(0, by="claim")
        )
    )


def _rename_positive_to_negative_name() -> str:
    """Kp := s + 1 (true); renamed to Kn (negative) with Kn := s + 1: s + 1 <= 0."""
    lemma = Derivation("kp").start(Kp).equals(s + 1, by=definition("Kp-s1", Kp, s + 1)).as_lemma()
    inst = instantiate(lemma, {Kp: Kn})
    return _all(
        lambda: (
            Derivation("r")
            .start(s + 1)
            .equals(Kn, by=[inst, definition("Kn-s1", Kn, s + 1)])
            .leq(0, by="claim")
        )
    )


def _instance_moves_positive_meaning_out_of_range() -> str:
    """Kp := s (s positive) instantiated s -> x - 1 (not provably positive), renamed to Kp2."""
    lemma = Derivation("kp").start(Kp).equals(s, by=definition("Kp-s", Kp, s)).as_lemma()
    inst = instantiate(lemma, {s: x - 1, Kp: Kp2})
    return _all(
        lambda: (
            Derivation("r")
            .start(x - 1)
            .equals(Kp2, by=[inst, definition("Kp2", Kp2, x - 1)])
            .geq(0, by="claim")
        )
    )


def _function_class_to_lambda() -> str:
    """fp(w) := exp(w) proves fp(0) = 1; mapping fp to ``-exp`` is not a rename: -1 = 1."""
    lemma = (
        Derivation("fp0")
        .start(fp(0))
        .equals(1, by=definition("fp-exp", fp(WR), sp.exp(WR)))
        .as_lemma()
    )
    inst = instantiate(lemma, {fp: lambda z: -sp.exp(z)})
    return _all(lambda: Derivation("r").start(sp.Integer(-1)).equals(1, by=inst))


def _function_class_to_positive_lambda() -> str:
    """fp(0) = 1 by fp(w) := exp(w); mapping fp to ``2 exp`` keeps it positive but is no rename: 2 = 1."""
    lemma = (
        Derivation("fp0")
        .start(fp(0))
        .equals(1, by=definition("fp-exp", fp(WR), sp.exp(WR)))
        .as_lemma()
    )
    inst = instantiate(lemma, {fp: lambda z: 2 * sp.exp(z)})
    return _all(lambda: Derivation("r").start(sp.Integer(2)).equals(1, by=inst))


def _sound_rename_with_new_definition() -> str:
    """Kp := s instantiated s -> s + 1, renamed to Kp2 := s + 1: s + 1 = Kp2 >= 0 holds."""
    lemma = Derivation("kp").start(Kp).equals(s, by=definition("Kp-s", Kp, s)).as_lemma()
    inst = instantiate(lemma, {s: s + 1, Kp: Kp2})
    return _all(
        lambda: (
            Derivation("r")
            .start(s + 1)
            .equals(Kp2, by=[inst, definition("Kp2", Kp2, s + 1)])
            .geq(0, by="claim")
        )
    )


def _function_class_renamed_to_negative() -> str:
    """fp(w) := exp(w) renamed to fn (negative) with fn(w) := exp(w): exp(x) <= 0."""
    lemma = (
        Derivation("fpx")
        .start(fp(x))
        .equals(sp.exp(x), by=definition("fp-exp", fp(WR), sp.exp(WR)))
        .as_lemma()
    )
    inst = instantiate(lemma, {fp: fn})
    return _all(
        lambda: (
            Derivation("r")
            .start(sp.exp(x))
            .equals(fn(x), by=[inst, definition("fn-exp", fn(WR), sp.exp(WR))])
            .leq(0, by="claim")
        )
    )


def _two_definitions_same_positive_head() -> str:
    """Kp := s and Kp := s + 1, both positive: s = s + 1."""
    return _all(
        lambda: (
            Derivation("two")
            .start(s)
            .equals(Kp, by=definition("Kp-s", Kp, s))
            .equals(s + 1, by=definition("Kp-s1", Kp, s + 1))
        )
    )


def _two_schemas_split_by_wild_sign() -> str:
    """fp(w>0) := w and fp(w<0) := -w in one definition: |w| but fp(0) unmatched; schemas overlap."""
    return _all(
        lambda: (
            Derivation("split")
            .start(s)
            .equals(fp(s), by=definition("fp-abs", fp(WP), WP, more=((fp(WN), -WN),)))
            .geq(0, by="claim")
        )
    )


def _two_definitions_of_a_function_in_lemma_and_citer() -> str:
    """The lemma defines fp(w) := exp(w); the citer defines fp(w) := exp(2w): exp(x) = exp(2x)."""
    lemma = (
        Derivation("fpx")
        .start(fp(x))
        .equals(sp.exp(x), by=definition("fp-exp", fp(WR), sp.exp(WR)))
        .as_lemma()
    )
    return _all(
        lambda: (
            Derivation("r")
            .start(sp.exp(2 * x))
            .equals(fp(x), by=definition("fp-exp2", fp(WR), sp.exp(2 * WR)))
            .equals(sp.exp(x), by=lemma)
        )
    )


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------

ATTACKS = [
    # -- symbol heads: the meaning violates the declared assumption -----------------------
    (
        "kp-positive-log-s",
        "false",
        _chain(sp.log(s), Kp, definition("Kp", Kp, sp.log(s)), "geq", 0),
    ),
    (
        "kp-positive-abs-log",
        "false",
        _eq1(sp.Abs(sp.log(s)), sp.sqrt(Kp**2), definition("Kp", Kp, sp.log(s))),
    ),
    (
        "kp-positive-x-squared-step",
        "check",
        lambda: _not_proved(_eq1(x**2, Kp, definition("Kp", Kp, x**2))),
    ),
    (
        "kn-negative-s2-plus-1",
        "false",
        _chain(s**2 + 1, Kn, definition("Kn", Kn, s**2 + 1), "leq", 0),
    ),
    (
        "knp-nonpositive-exp",
        "false",
        _chain(sp.exp(x), Knp, definition("Knp", Knp, sp.exp(x)), "leq", 0),
    ),
    (
        "knn-nonnegative-minus-exp",
        "false",
        _chain(-sp.exp(x), Knn, definition("Knn", Knn, -sp.exp(x)), "geq", 0),
    ),
    ("knn-nonnegative-x", "false", _chain(x, Knn, definition("Knn", Knn, x), "geq", 0)),
    (
        "derived-nonnegative-from-negative-false",
        "false",
        _chain(sp.Integer(-1), Kng, definition("Kng", Kng, sp.Integer(-1)), "geq", 0),
    ),
    (
        "knz-nonzero-log-identity",
        "check",
        lambda: _not_proved(
            _eq1(
                sp.log(2 * s) - sp.log(2) - sp.log(s),
                Knz,
                definition("Knz", Knz, sp.log(2 * s) - sp.log(2) - sp.log(s)),
            )
        ),
    ),
    ("knz-nonzero-x", "check", lambda: _not_proved(_eq1(x, Knz, definition("Knz", Knz, x)))),
    (
        "kint-integer-half-x-is-abs-x",
        "false",
        _even(Kint, definition("Kint", Kint, sp.Rational(1, 2)), 1),
    ),
    ("kint-integer-s-half", "false", _even(Kint, definition("Kint", Kint, s / 2), s)),
    (
        "kre-real-sqrt-x",
        "false",
        _eq1(sp.sqrt(x), sp.sqrt(Kre**2), definition("Kre", Kre, sp.sqrt(x))),
    ),
    (
        "kre-real-log-x",
        "false",
        _eq1(sp.log(x), sp.sqrt(Kre**2), definition("Kre", Kre, sp.log(x))),
    ),
    (
        "knn-nonnegative-numeric-gap",
        "false",
        _chain(GAP, Knn, definition("Knn", Knn, GAP), "geq", 0),
    ),
    # -- function heads over pattern variables ----------------------------------------------
    (
        "fp-log-of-positive-wild",
        "false",
        _chain(sp.log(s), fp(s), definition("fp", fp(WP), sp.log(WP)), "geq", 0),
    ),
    ("fp-identity-on-real-wild", "false", _chain(x, fp(x), definition("fp", fp(WR), WR), "geq", 0)),
    (
        "fp-identity-on-nonnegative-wild-step",
        "check",
        lambda: _not_proved(_eq1(sp.Integer(0), fp(0), definition("fp", fp(WNN), WNN))),
    ),
    (
        "fp-identity-positive-wild-at-negative",
        "false",
        _chain(n, fp(n), definition("fp", fp(WP), WP), "geq", 0),
    ),
    (
        "fp-w-minus-1-positive-wild",
        "false",
        _chain(s - 1, fp(s), definition("fp", fp(WP), WP - 1), "geq", 0),
    ),
    (
        "fn-minus-w-negative-wild",
        "false",
        _chain(-n, fn(n), definition("fn", fn(WN), -WN), "leq", 0),
    ),
    (
        "fnn-minus-w-nonpositive-wild-at-positive",
        "false",
        _chain(-s, fnn(s), definition("fnn", fnn(WNP), -WNP), "geq", 0),
    ),
    (
        "fng-derived-nonnegative-minus-exp",
        "false",
        _chain(-sp.exp(x), fng(x), definition("fng", fng(WR), -sp.exp(WR)), "geq", 0),
    ),
    ("fi-half-of-integer-wild", "false", _even(fi(1), definition("fi", fi(WI), WI / 2), 1)),
    ("fi-identity-at-half", "false", _even(fi(sp.Rational(1, 2)), definition("fi", fi(WI), WI), 1)),
    (
        "fi-identity-on-real-wild",
        "false",
        _even(fi(sp.Rational(1, 2)), definition("fi", fi(WR), WR), 1),
    ),
    (
        "fnz-identity-real-wild-step",
        "check",
        lambda: _not_proved(_eq1(sp.Integer(0), fnz(0), definition("fnz", fnz(WR), WR))),
    ),
    (
        "fr-real-log-nonnegative-wild",
        "false",
        _eq1(sp.log(x**2), sp.sqrt(fr(x**2) ** 2), definition("fr", fr(WNN), sp.log(WNN))),
    ),
    (
        "fp-two-wilds-at-wrong-signs",
        "false",
        _chain(s - 2 * s, fp(s, 2 * s), definition("fp2", fp(W1, W2), W1 - W2), "geq", 0),
    ),
    (
        "fzero-derived-zero-one",
        "false",
        _chain(sp.Integer(1), fzero(x), definition("fz", fzero(WR), sp.Integer(1)), "leq", 0),
    ),
    (
        "fpd-derived-positive-square-step",
        "check",
        lambda: _not_proved(_eq1(sp.Integer(0), fpd(0), definition("fpd", fpd(WR), WR**2))),
    ),
    (
        "kpd-derived-positive-abs-step",
        "check",
        lambda: _not_proved(_eq1(sp.Abs(x), Kpd, definition("Kpd", Kpd, sp.Abs(x)))),
    ),
    (
        "kp-reversed-integral",
        "false",
        _chain(
            sp.Integral(sp.exp(t), (t, 1, 0)),
            Kp,
            definition("Kp", Kp, sp.Integral(sp.exp(t), (t, 1, 0))),
            "geq",
            0,
        ),
    ),
    (
        "fp-reversed-integral-positive-wild",
        "false",
        _chain(
            sp.Integral(sp.exp(t), (t, s, 0)),
            fp(s),
            definition("fp", fp(WP), sp.Integral(sp.exp(t), (t, WP, 0))),
            "geq",
            0,
        ),
    ),
    (
        "kp-abs-x",
        "false",
        _chain(sp.Abs(x) - 1, Kp - 1, definition("Kp", Kp, sp.Abs(x)), "geq", -1),
    ),
    (
        "fp-tuple-difference",
        "false",
        _chain(
            s - 2 * s,
            fp(sp.Tuple(s, 2 * s)),
            definition(
                "fpt",
                fp(sp.Tuple(W1, sp.Wild("w3", positive=True))),
                W1 - sp.Wild("w3", positive=True),
            ),
            "geq",
            0,
        ),
    ),
    (
        "digamma-real-sqrt",
        "false",
        _eq1(sp.sqrt(x), sp.sqrt(Digamma(x) ** 2), definition("psi", Digamma(WR), sp.sqrt(WR))),
    ),
    (
        "opaque-class-positive-log",
        "false",
        _chain(sp.log(s), PosOpaque(s), definition("po", PosOpaque(WP), sp.log(WP)), "geq", 0),
    ),
    # -- lemmas, instances, two definitions ---------------------------------------------------
    ("lemma-resting-on-bad-positive-definition", "false", _lemma_in_lemma_bad_positive),
    ("rename-to-positive-name-bad-meaning", "false", _rename_to_positive_name_with_bad_meaning),
    ("rename-positive-to-negative-name", "false", _rename_positive_to_negative_name),
    ("instance-moves-meaning-out-of-range", "false", _instance_moves_positive_meaning_out_of_range),
    ("function-class-to-lambda", "false", _function_class_to_lambda),
    ("function-class-to-positive-lambda", "false", _function_class_to_positive_lambda),
    ("function-class-renamed-to-negative", "false", _function_class_renamed_to_negative),
    ("two-definitions-same-positive-head", "false", _two_definitions_same_positive_head),
    ("two-schemas-split-by-wild-sign", "false", _two_schemas_split_by_wild_sign),
    (
        "lemma-and-citer-define-fp-differently",
        "false",
        _two_definitions_of_a_function_in_lemma_and_citer,
    ),
    # -- true counterparts: sound uses must still be proved -----------------------------------
    ("true-kp-exp", "proved", _chain(sp.exp(x), Kp, definition("Kp", Kp, sp.exp(x)), "geq", 0)),
    ("true-kp-s2-plus-1", "proved", _chain(s**2 + 1, Kp, definition("Kp", Kp, s**2 + 1), "geq", 0)),
    (
        "true-kp-abs",
        "proved",
        lambda: _all(
            lambda: (
                Derivation("t")
                .start(s**2 + 1)
                .equals(sp.sqrt(Kp**2), by=definition("Kp", Kp, s**2 + 1))
            )
        ),
    ),
    (
        "true-kn-minus-s-minus-1",
        "proved",
        _chain(-s - 1, Kn, definition("Kn", Kn, -s - 1), "leq", 0),
    ),
    (
        "true-knn-abs-x",
        "proved",
        _chain(sp.Abs(x), Knn, definition("Knn", Knn, sp.Abs(x)), "geq", 0),
    ),
    (
        "true-kp-integral-exp",
        "true",
        _chain(
            sp.Integral(sp.exp(t), (t, 0, 1)),
            Kp,
            definition("Kp", Kp, sp.Integral(sp.exp(t), (t, 0, 1))),
            "geq",
            0,
        ),
    ),
    (
        "numbers-never-prove-symbol-head-gap-negative",
        "false",
        _chain(GAP, Kn, definition("Kn", Kn, GAP), "leq", 0),
    ),
    (
        "numbers-never-prove-function-head-gap-negative",
        "false",
        _chain(GAP, fn(x), definition("fn", fn(WR), GAP + 0 * WR), "leq", 0),
    ),
    (
        "true-kng-derived-nonnegative",
        "proved",
        _chain(x**2, Kng, definition("Kng", Kng, x**2), "geq", 0),
    ),
    (
        "true-kint-three-even-power",
        "proved",
        _even(Kint, definition("Kint", Kint, sp.Integer(3)), 6),
    ),
    (
        "true-fp-exp-real-wild",
        "proved",
        _chain(sp.exp(x), fp(x), definition("fp", fp(WR), sp.exp(WR)), "geq", 0),
    ),
    (
        "true-fp-identity-positive-wild",
        "proved",
        _chain(s, fp(s), definition("fp", fp(WP), WP), "geq", 0),
    ),
    (
        "true-fnn-minus-w-nonpositive-wild",
        "proved",
        _chain(-n, fnn(n), definition("fnn", fnn(WNP), -WNP), "geq", 0),
    ),
    ("true-fi-double-integer-wild", "proved", _even(fi(1), definition("fi", fi(WI), 2 * WI), 4)),
    (
        "true-fp-two-wilds",
        "proved",
        _chain(s - n, fp(s, n), definition("fp2", fp(W1, W2), W1 - W2), "geq", 0),
    ),
    (
        "true-fnz-nonzero-wild",
        "proved",
        lambda: _all(
            lambda: Derivation("t").start(s).equals(fnz(s), by=definition("fnz", fnz(WRNZ), WRNZ))
        ),
    ),
    ("true-sound-rename-new-definition", "proved", _sound_rename_with_new_definition),
    (
        "true-gp-renamed-instance",
        "proved",
        lambda: _all(
            lambda: (
                Derivation("t")
                .start(sp.exp(x))
                .equals(
                    gp(x),
                    by=[
                        instantiate(
                            Derivation("fpx")
                            .start(fp(x))
                            .equals(sp.exp(x), by=definition("fp-exp", fp(WR), sp.exp(WR)))
                            .as_lemma(),
                            {fp: gp},
                        ),
                        definition("gp-exp", gp(WR), sp.exp(WR)),
                    ],
                )
                .geq(0, by="claim")
            )
        ),
    ),
]


@pytest.mark.parametrize(("expect", "thunk"), cases(ATTACKS))
def test_round10_definition_heads(expect, thunk):
    run_case(expect, thunk)
