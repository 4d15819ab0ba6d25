"""kl-formula's parsers: DIST and claim strings are untrusted text, read through a whitelist."""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from elbo_check._timeout import time_limit
from elbo_check.errors import UsageError
from elbo_check.klformula.parse import MAX_CLAIM_LENGTH, parse_claim
from elbo_check.klformula.spec import parse_dist, parse_pair

NORMALS = parse_pair("Normal(m1, s1)", "Normal(m2, s2)")


# -- DIST ----------------------------------------------------------------------


def test_dist_symbols_get_the_assumptions_of_their_domain() -> None:
    normal = parse_dist("Normal(m, s)")
    assert normal.args[0].is_real
    assert normal.args[1].is_positive
    binomial = parse_dist("Binomial(n, p)")
    assert binomial.args[0].is_integer
    assert binomial.args[0].is_positive


def test_dist_decimals_are_read_exactly() -> None:
    assert parse_dist("Normal(-0.1, 2.5)").args == (sp.Rational(-1, 10), sp.Rational(5, 2))
    assert parse_dist("Categorical(1/3, 1/3, 1/3)").args == (sp.Rational(1, 3),) * 3


def test_categorical_replaces_its_last_symbolic_probability_by_one_minus_the_others() -> None:
    assert parse_dist("Categorical(a, 1/4, b)").args[2] == sp.Rational(3, 4) - sp.Symbol(
        "a", positive=True
    )
    pair = parse_pair("Categorical(p1, p2, p3)", "Categorical(1/3, 1/3, 1/3)")
    p1, p2 = pair.symbols
    assert pair.names()["p3"] == 1 - p1 - p2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Normal(m, s", "cannot parse"),
        ("Gauss(m, s)", "unknown family 'Gauss'"),
        ("Normal(m)", "takes 2 parameter(s)"),
        ("Normal(m, -1)", "std must be positive"),
        ("Normal(m, s=1)", "keyword arguments"),
        ("Normal(m, s).mean", "expected Family"),
        ("Normal(m, __class__)", "'__class__'"),
        ("Normal(m, s_1)", "'s_1'"),
        ("Normal(m, 'x')", "expected a number"),
        ("Normal(m, log)", "reserved"),
        ("Normal(s, s)", "used as real and as positive"),
        ("Bernoulli(1)", "in (0, 1)"),
        ("Binomial(2.5, p)", "an integer"),
        ("Uniform(1, 0)", "a < b"),
        ("Uniform(a, a)", "a < b"),
        ("Categorical(p)", "2 to 4"),
        ("Categorical(a, b, c, d, e)", "2 to 4"),
        ("Categorical(1/2, 1/3)", "sum to 1"),
        ("Categorical(a, a)", "repeat"),
        ("Categorical(a, 1/2, 1/2)", "already sum"),
        ("Normal(1e400, 1)", "not finite"),
        ("Normal(" + "9" * 30 + ", 1)", "too long"),
        ("Normal(m, s)" + " " * 300, "at most 200"),
    ],
)
def test_a_bad_dist_is_a_usage_error_naming_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=None) as info:
        parse_dist(text)
    assert fragment in str(info.value)


def test_a_symbol_shared_by_q_and_p_must_have_one_domain() -> None:
    with pytest.raises(UsageError, match="'s' is used as positive and as real"):
        parse_pair("Normal(m, s)", "Uniform(s, b)")
    with pytest.raises(UsageError, match="eliminated"):
        parse_pair("Categorical(a, b, c)", "Categorical(c, b, a)")


# -- claims --------------------------------------------------------------------


def test_a_claim_in_the_whitelist_becomes_the_expected_sympy_expression() -> None:
    m1, s1, m2, s2 = NORMALS.symbols
    claim = parse_claim("log(s2/s1) + (s1**2 + (m1 - m2)**2) / (2*s2**2) - 0.5", NORMALS)
    expected = sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)
    assert sp.expand(claim - expected) == 0
    assert not claim.atoms(sp.Float)


def test_every_listed_function_and_constant_is_accepted() -> None:
    text = "log(s1)+exp(m1)+sqrt(s1)+digamma(s1)+polygamma(1, s1)+lgamma(s1)+gamma(s1)+Abs(m1)+pi+E"
    claim = parse_claim(text, NORMALS)
    assert claim.has(sp.loggamma, sp.polygamma, sp.Abs, sp.pi, sp.E)
    assert parse_claim("oo", NORMALS) == sp.oo


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("s1.__class__", "attribute access not allowed: 's1.__class__'"),
        ("[s1][0]", "subscripts not allowed"),
        ("(lambda: 1)()", "calling this not allowed"),
        ("lambda: 1", "lambda not allowed"),
        ("[x for x in s1]", "comprehensions not allowed"),
        ("'s1'", "strings not allowed"),
        ("f'{s1}'", "strings not allowed"),
        ("__import__('os').system('true')", "calling this not allowed"),
        ("__import__('os')", "unknown function '__import__'"),
        ("eval('1')", "unknown function 'eval'"),
        ("__builtins__", "dunder name not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("log(s1, base=2)", "keyword arguments not allowed"),
        ("log(*[s1])", "starred arguments not allowed"),
        ("log(s1, 2)", "takes 1 argument"),
        ("s1 < 1", "comparisons not allowed"),
        ("s1 if m1 else s2", "conditional expressions not allowed"),
        ("(y := 1)", "assignment expressions not allowed"),
        ("s1 // 2", "operator FloorDiv not allowed"),
        ("1j", "expected a number"),
        ("9**9**9", "exponent too large"),
        ("s1**100", "exponent too large"),
        ("((s1**64)**64)", "exponent too large"),
        ("(2**64)**64", "over 4096 bits"),
        ("gamma(1000)", "small rational"),
        ("polygamma(m1, s1)", "order must be an integer"),
        ("1/0", "division by zero"),
        ("oo - oo", "undefined"),
        ("", "empty"),
        ("s1 +", "syntax error"),
        ("(" * 300 + "s1" + ")" * 300, "syntax error"),
        ("+".join(["s1"] * 150), "nested too deeply"),
        ("s1+" * 700 + "s1", "longer than"),
    ],
)
def test_a_claim_outside_the_whitelist_is_a_usage_error_showing_the_token(
    text: str, fragment: str
) -> None:
    with pytest.raises(UsageError) as info:
        parse_claim(text, NORMALS)
    assert fragment in str(info.value)


def test_a_long_sum_within_the_bounds_is_accepted() -> None:
    claim = parse_claim("+".join(["s1"] * 90), NORMALS)
    assert claim == 90 * NORMALS.symbols[1]


# -- hostile strings -------------------------------------------------------------

_TOKENS = [
    "s1", "m1", "s2", "x", "9", "0.5", "1e308", "99999999999", "(", ")", "(", ")", "**", "*",
    "/", "+", "-", ",", ".", "[", "]", "'", '"', "__import__", "__class__", "lambda", ":", "for",
    "in", "if", "else", "log", "exp", "gamma", "polygamma", "lgamma", "digamma", "sqrt", "Abs",
    "pi", "E", "oo", "=", "==", "{", "}", "@", "!", "\\", "\n", "\x00", "j", "os", "eval",
]  # fmt: skip


@contextlib.contextmanager
def no_eval() -> Iterator[None]:
    """Make every evaluator of text explode while the parser runs.

    ``eval``/``exec`` of a code object (the import machinery) still works.
    """

    def guard(original: Any) -> Any:
        def checked(source: object, *args: object, **kwargs: object) -> Any:
            if isinstance(source, str | bytes):
                raise AssertionError(f"an evaluator of text was called on {source!r:.60}")
            return original(source, *args, **kwargs)

        return checked

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("sympify/parse_expr was called")

    with contextlib.ExitStack() as stack:
        for name in ("eval", "exec"):
            stack.enter_context(mock.patch(f"builtins.{name}", guard(getattr(builtins, name))))
        for target in (
            "sympy.sympify",
            "sympy.parse_expr",
            "sympy.parsing.sympy_parser.parse_expr",
        ):
            stack.enter_context(mock.patch(target, boom))
        yield


def _parse_quickly(text: str) -> None:
    start = time.perf_counter()
    with no_eval(), time_limit(5.0):
        try:
            result = parse_claim(text, NORMALS)
        except UsageError:
            result = None
    assert result is None or isinstance(result, sp.Expr)
    assert time.perf_counter() - start < 5.0


@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map(" ".join))
@example("9 ** 9 ** 9 ** 9")
@example("gamma ( gamma ( gamma ( 99 ) ) )")
@example("( s1 ** 64 ) ** 64 ** 64")
@example("__import__ ( 'os' ) . system ( 'true' )")
def test_hostile_token_soup_never_raises_anything_but_usage_error(
    text: str,
) -> None:
    _parse_quickly(text)


@given(st.text(max_size=MAX_CLAIM_LENGTH + 10))
def test_arbitrary_text_never_raises_anything_but_usage_error(text: str) -> None:
    _parse_quickly(text)


@given(st.lists(st.sampled_from(_TOKENS), max_size=12).map(" ".join))
def test_hostile_dist_arguments_never_raise_anything_but_usage_error(
    args: str,
) -> None:
    with no_eval(), contextlib.suppress(UsageError):
        parse_dist(f"Normal({args})")


_LEAVES = st.sampled_from(["s1", "m1", "9", "0.5", "99", "64", "pi", "E", "oo", "x", "__class__"])


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    op = st.sampled_from(["**", "*", "/", "+", "-", "//", "@"])
    func = st.sampled_from(["log", "exp", "sqrt", "gamma", "lgamma", "digamma", "Abs", "eval"])
    return st.one_of(
        st.tuples(children, op, children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(func, children).map(lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda c: f"polygamma(2, {c})"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"{c}.real"),
        children.map(lambda c: f"{c}[0]"),
    )


@given(st.recursive(_LEAVES, _combine, max_leaves=30))
@example("(9 ** (9 ** 9))")
@example("gamma(gamma(gamma(64)))")
@example("((64 ** 64) ** (64 ** 64))")
def test_well_formed_hostile_expressions_never_raise_anything_but_usage_error(text: str) -> None:
    _parse_quickly(text)


@pytest.mark.parametrize(
    "literal", ["1e-400", "0.50000000000000001", "1e400", "1_000.000000000000000001"]
)
def test_a_decimal_a_float_cannot_carry_exactly_is_refused_not_rounded(literal: str) -> None:
    # rounding would turn `--claim 1e-400` for KL = 0 into a proved claim about a number not written
    pair = parse_pair("Normal(0, 1)", "Normal(0, 1)")
    with pytest.raises(UsageError, match=r"not exactly a float|not finite"):
        parse_claim(literal, pair)
    with pytest.raises(UsageError, match=r"not exactly a float|not finite"):
        parse_dist(f"Normal(0, {literal})")


def test_exact_decimals_and_integers_still_parse() -> None:
    pair = parse_pair("Normal(0, 1)", "Normal(0, 1)")
    assert parse_claim("0.1 + 2.5e-3 + 10**3", pair) == sp.Rational(1, 10) + sp.Rational(1, 400) + 1000
