"""The validator on Bernoulli and Categorical KL code (roles probs_q, logits_q, probs_p, logits_p).

Most cases run in a thread (``isolation="thread"``) to stay fast; the worker
process, ``assert_kl_correct`` and the CLI are each exercised once or twice.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
from kl_zoo import discrete_impls, discrete_torch

from elbo_check import validate
from elbo_check._validate._discrete_conv import parse_discrete
from elbo_check._validate._discrete_plan import plan
from elbo_check._validate._discrete_ref import (
    EPS_ALLOWED,
    class_log_probs,
    expected_units_mp,
    kl_units,
    rounding_terms,
    uniform_log_probs,
)
from elbo_check.errors import ValidationError
from elbo_check.testing import assert_kl_correct

ZOO = Path(__file__).parent / "kl_zoo" / "discrete_impls.py"
ROOT = Path(__file__).parent.parent


def _id(case: tuple) -> str:
    return case[0].__name__


def _check(fn, args, reduction, layout, **kw):
    return validate(
        fn, args=args, reduction=reduction, layout=layout, isolation="thread", examples=400, **kw
    )


# ------------------------------------------------------------------ the zoo


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", discrete_impls.CORRECT, ids=_id)
def test_a_correct_numpy_discrete_kl_passes(case, dtype):
    fn, args, reduction, layout = case
    result = _check(fn, args, reduction, layout, dtype=dtype)
    assert result.ok, result.report()
    assert result.convention.family == ("categorical" if layout and "K" in layout else "bernoulli")


@pytest.mark.parametrize("case", discrete_impls.MUTANTS, ids=_id)
def test_a_numpy_discrete_mutant_is_caught_and_its_bug_named(case):
    fn, args, reduction, layout, bug = case
    result = _check(fn, args, reduction, layout)
    assert not result.ok
    assert result.bug_class == bug, result.report()
    cex = result.counterexample
    assert cex is not None
    if bug != "wrong_reduction":  # a reduction bug needs more than one latent unit
        assert math.prod(cex["shape"][:-1] if layout and "K" in layout else cex["shape"]) <= 2


def test_a_log_zero_bug_gets_an_exact_zero_as_its_counterexample():
    result = _check(discrete_impls.cat_log_zero, "probs_q", "batch", "N K")
    assert result.counterexample["inputs"] == {"probs_q": [[0.0, 1.0, 0.0]]}
    assert result.counterexample["expected"] == pytest.approx([math.log(3)])
    assert result.counterexample["returned"] == ["nan"]


def test_the_epsilon_of_a_biased_clamp_is_reported():
    result = _check(discrete_impls.cat_big_eps, "probs_q", "batch", "N K")
    assert "ε = 0.001" in result.diagnosis


@pytest.mark.parametrize(("eps", "ok"), [(1e-12, True), (1e-8, True), (1e-4, False), (1e-2, False)])
def test_an_epsilon_passes_within_the_allowance_and_is_flagged_beyond_it(eps, ok):
    def kl(probs_q, probs_p):
        return np.sum(probs_q * np.log((probs_q + eps) / (probs_p + eps)), axis=-1)

    result = _check(kl, "probs_q,probs_p", "batch", "N K")
    assert result.ok is ok, result.report()
    if not ok:
        assert result.bug_class == "epsilon_bias"


# ------------------------------------------------------------------ torch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("case", discrete_torch.CORRECT, ids=_id)
def test_a_correct_torch_discrete_kl_passes(case, torch):
    fn, args, reduction, layout = case
    result = _check(fn, args, reduction, layout, backend="torch")
    assert result.ok, result.report()


@pytest.mark.parametrize("case", discrete_torch.MUTANTS, ids=_id)
def test_a_torch_discrete_mutant_is_caught_and_its_bug_named(case, torch):
    fn, args, reduction, layout, bug = case
    result = _check(fn, args, reduction, layout, backend="torch")
    assert result.bug_class == bug, result.report()


# ------------------------------------------------------------------ API, process, CLI


def test_assert_kl_correct_passes_a_right_bernoulli_kl_in_a_worker_process():
    assert_kl_correct(
        discrete_impls.bern_xlogy, args="probs_q,probs_p", reduction="none", examples=200
    )


def test_assert_kl_correct_names_the_log_zero_bug():
    with pytest.raises(AssertionError, match=r"log\(0\) nan"):
        assert_kl_correct(
            discrete_impls.bern_naive, args="probs_q,probs_p", reduction="none", examples=200
        )


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "elbo_check", "validate", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_cli_judges_bernoulli_probs_and_categorical_logits():
    ok = _cli(f"{ZOO}:bern_xlogy", "--args", "probs_q,probs_p", "--reduction", "none")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: args=probs_q,probs_p reduction=none" in ok.stdout
    wrong = _cli(
        f"{ZOO}:cat_logits_as_probs",
        "--args",
        "logits_q",
        "--reduction",
        "batch",
        "--layout",
        "N K",
        "--format",
        "json",
    )
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    data = json.loads(wrong.stdout)
    assert data["bug_class"] == "logits_as_probs"
    assert data["convention"]["family"] == "categorical"
    assert data["convention"]["layout"] == "N K"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"args": "probs_q,mu"}, "mixes discrete roles"),
        ({"args": "probs_q,logits_q"}, "gives q twice"),
        ({"args": "probs_p"}, "must give q"),
        ({"args": "probs_q", "reduction": "auto"}, "--reduction auto is not supported"),
        ({"args": "probs_q,probs_p:D", "layout": "N K"}, "must name the axes"),
        ({"args": "prob_q"}, "unknown role 'prob_q'"),
    ],
)
def test_bad_discrete_conventions_are_usage_errors(kw, message):
    opts = {"reduction": "batch", **kw}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        validate(discrete_impls.bern_xlogy, isolation="thread", **opts)


# ------------------------------------------------------------------ the reference


def _cases(rng: np.random.Generator):
    """(kind_q, kind_p, q_raw, p_raw or None, categorical) with zeros, tiny, near-one and wide logits."""
    one_minus = float(np.nextafter(1.0, 0.0))
    yield "probs", "probs", np.array([[0.0, 1.0, 0.0]]), np.array([[0.2, 0.3, 0.5]]), True
    yield "probs", None, np.array([[one_minus, 1.0 - one_minus, 0.0]]), None, True
    yield "logits", "logits", np.array([[1000.0, 0.0, -1.0]]), np.array([[0.0, 3.0, -2.0]]), True
    yield "logits", None, np.array([[40.0], [-40.0], [1000.0], [-700.0]]), None, False
    yield (
        "probs",
        "probs",
        np.array([[0.0], [1.0], [one_minus], [1e-300]]),
        np.full((4, 1), 0.3),
        False,
    )
    for _ in range(20):
        k = int(rng.integers(2, 8))
        q = rng.dirichlet(np.full(k, 0.5), size=(3,))
        p = (
            q * (1 + 1e-6 * rng.normal(size=q.shape))
            if rng.random() < 0.3
            else rng.dirichlet(np.ones(k), size=(3,))
        )
        yield "probs", "probs", q, p / p.sum(-1, keepdims=True), True
        yield "logits", "logits", rng.uniform(-50, 50, (3, k)), rng.normal(0, 3, (3, k)), True
        yield "logits", "probs", rng.normal(0, 5, (3, 2)), rng.uniform(0.01, 0.99, (3, 2)), False


def test_the_numpy_reference_matches_mpmath_to_rounding_everywhere_it_is_drawn():
    for kq, kp, q_raw, p_raw, cat in _cases(np.random.default_rng(3)):
        lq, q = class_log_probs(kq, q_raw, cat)
        lp, _p = uniform_log_probs(q.shape) if kp is None else class_log_probs(kp, p_raw, cat)
        ref = kl_units(q, lq, lp)
        exact = expected_units_mp((kq, kp), q_raw, p_raw, cat, dps=50)
        bound = 8 * np.finfo(np.float64).eps * rounding_terms(q, lq, lp, np.zeros(ref.shape))
        for i, row in enumerate(exact):
            for j, value in enumerate(row):
                assert abs(ref[i, j] - float(value)) <= bound[i, j], (kq, q_raw[i], value)


def test_the_reference_is_the_closed_form_of_a_bernoulli_and_a_categorical_kl():
    import sympy
    a, b = sympy.symbols("a b", positive=True)
    bern = sympy.lambdify(
        (a, b), a * sympy.log(a / b) + (1 - a) * sympy.log((1 - a) / (1 - b)), "mpmath"
    )
    qs, ps = sympy.symbols("q1:4", positive=True), sympy.symbols("p1:4", positive=True)
    cat = sympy.lambdify(
        (*qs, *ps), sum(qi * sympy.log(qi / pi) for qi, pi in zip(qs, ps, strict=True)), "mpmath"
    )
    rng = np.random.default_rng(5)
    mpmath.mp.dps = 30
    for _ in range(50):
        x, y = rng.uniform(0.001, 0.999, 2)
        lq, q = class_log_probs("probs", np.array([[x]]), False)
        lp, _ = class_log_probs("probs", np.array([[y]]), False)
        assert kl_units(q, lq, lp)[0, 0] == pytest.approx(
            float(bern(mpmath.mpf(x), mpmath.mpf(y))), rel=1e-12, abs=1e-15
        )
        qv, pv = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3))
        lq, q = class_log_probs("probs", qv[None], True)
        lp, _ = class_log_probs("probs", pv[None], True)
        want = float(cat(*map(mpmath.mpf, qv), *map(mpmath.mpf, pv)))
        assert kl_units(q, lq, lp)[0, 0] == pytest.approx(want, rel=1e-12, abs=1e-15)
    mpmath.mp.dps = 15


def test_the_plan_draws_valid_probabilities_with_exact_zeros_and_wide_logits():
    conv = parse_discrete("probs_q,probs_p", "batch", "N D K")
    batches = plan(conv, 300, np.random.default_rng(0), "float64")
    q = np.concatenate([b.q.reshape(-1, b.k) for b in batches if b.k == 3])
    assert np.all(q >= 0)
    assert np.allclose(q.sum(-1), 1.0)
    assert np.any(q == 0)
    assert np.all(np.concatenate([b.p.ravel() for b in batches]) > 0)
    logits = parse_discrete("logits_q", "batch", None)
    raw = np.concatenate(
        [b.raw["logits_q"].ravel() for b in plan(logits, 300, np.random.default_rng(0), "float64")]
    )
    assert raw.max() >= 1000
    assert raw.min() <= -1000
    assert np.sum(np.abs(raw) > 20) > 10


def test_the_epsilon_allowance_is_documented_as_1e_6():
    assert EPS_ALLOWED == 1e-6
    assert "1e-6" in (ROOT / "docs" / "validate.md").read_text()


def _mutating(probs_q):
    probs_q[...] = 0.5
    return np.zeros(probs_q.shape[0])


def _hangs_on_one_row(probs_q):
    if probs_q.shape[0] == 1:
        import time

        time.sleep(5)
    return discrete_impls.cat_uniform_xlogy(probs_q)


def _prints_and_returns_a_list(probs_q):
    print("kl!")
    return discrete_impls.cat_uniform_xlogy(probs_q).tolist()


def test_robustness_verdicts_carry_over_to_discrete_roles():
    mutated = _check(_mutating, "probs_q", "batch", "N K")
    assert mutated.bug_class == "mutates_inputs"
    assert mutated.diagnosis.startswith("the function modifies its input 'probs_q'")
    hung = validate(_hangs_on_one_row, args="probs_q", reduction="batch", layout="N K", timeout=0.5)
    assert hung.bug_class == "timeout"
    listed = _check(_prints_and_returns_a_list, "probs_q", "batch", "N K")
    assert listed.ok, listed.report()
    assert any("printed" in w for w in listed.warnings)


def test_a_categorical_function_read_as_bernoulli_gets_a_layout_hint():
    result = _check(discrete_impls.cat_logits_uniform_batch, "logits_q", "batch", None)
    assert not result.ok
    assert 'pass --layout "N K"' in result.diagnosis


def _sums_two_class_axes(probs_q):
    return np.sum(probs_q * np.log(probs_q.shape[-1] * probs_q + 1e-12), axis=(2, 3))


def test_an_axis_error_on_discrete_roles_gets_a_layout_hint():
    result = _check(_sums_two_class_axes, "probs_q", "batch", "N K")
    assert result.bug_class == "raises"
    assert 'hint: the arrays were passed in the layout "N K"' in result.diagnosis
