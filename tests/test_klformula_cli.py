"""``elbo-check kl-formula``: every exit code, both formats, the time limit, the proved path.

Correct claims for derived pairs are proved (0) by the trusted core; an
infinite KL has no derivation (``oo`` is outside the fragment), so claiming
``oo`` there is undecided (3), never refuted.  The proved path is also tested
with a stand-in ``derive`` (monkeypatched), so it holds whatever the real one
returns.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from elbo_check._timeout import StepTimeout
from elbo_check.cli import main
from elbo_check.derivation import Derivation
from elbo_check.klformula import command
from elbo_check.klformula.derive import Derived
from elbo_check.klformula.spec import Dist

#: the README one-liner: the Gaussian KL formula with the variance matched (2 b**2), for a Laplace q
GAUSSIAN_FOR_LAPLACE = "-log(sqrt(2)*b) + (2*b**2 - 1)/2"
LAPLACE_NORMAL = "b**2 - 1 - log(2*b) + log(2*pi)/2"
NORMAL_NORMAL = "log(s2/s1) + (s1**2 + (m1 - m2)**2)/(2*s2**2) - 1/2"


def _cli(*argv: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "elbo_check", "kl-formula", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["kl-formula", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# -- subprocess: each exit code as a user sees it ---------------------------------


def test_the_readme_one_liner_is_refuted_with_the_point_and_both_values() -> None:
    code, out, _ = _cli(
        "--q", "Laplace(0, b)", "--p", "Normal(0, 1)", "--claim", GAUSSIAN_FOR_LAPLACE
    )
    assert code == 1
    assert "verdict: refuted" in out
    assert "counterexample at b=" in out
    assert "KL = 1." in out
    assert "claim = " in out


def test_a_correct_normal_normal_claim_is_proved() -> None:
    code, out, _ = _cli("--q", "Normal(m1, s1)", "--p", "Normal(m2, s2)", "--claim", NORMAL_NORMAL)
    assert code == 0
    assert "agrees at 8 random point(s)" in out


def test_an_unsafe_claim_is_exit_two_with_one_line_naming_the_token() -> None:
    code, out, err = _cli("--q", "Normal(m, s)", "--p", "Normal(0, 1)", "--claim", "s.__class__")
    assert code == 2
    assert out == ""
    assert err.strip() == "elbo-check: error: claim: attribute access not allowed: 's.__class__'"


def test_without_a_claim_it_derives_or_says_it_did_not() -> None:
    code, out, _ = _cli("--q", "Exponential(r)", "--p", "Exponential(1)")
    assert code == 0
    assert "closed form: " in out


def test_help_states_how_the_categorical_constraint_is_used() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    assert "1 minus the others" in out
    for flag in ("--q DIST", "--p DIST", "--claim EXPR", "--format", "--timeout S"):
        assert flag in out


# -- in process: the other paths ---------------------------------------------------


def test_a_correct_laplace_normal_claim_is_proved_under_cited_axioms() -> None:
    code, out, _ = _run("--q", "Laplace(0, b)", "--p", "Normal(0, 1)", "--claim", LAPLACE_NORMAL)
    assert code == 0
    assert "to " in out


def test_json_carries_schema_verdict_and_counterexample() -> None:
    code, out, _ = _run(
        "--q", "Laplace(0, b)", "--p", "Normal(0, 1)", "--claim", GAUSSIAN_FOR_LAPLACE,
        "--format", "json",
    )  # fmt: skip
    doc = json.loads(out)
    assert code == 1
    assert doc["schema"] == 1
    assert doc["command"] == "kl-formula"
    assert doc["verdict"] == "refuted"
    assert doc["exit_code"] == 1
    assert set(doc["counterexample"]["point"]) == {"b"}
    assert float(doc["counterexample"]["kl"]) != float(doc["counterexample"]["claim"])


def test_a_finite_claim_for_an_infinite_kl_is_refuted() -> None:
    code, out, _ = _run("--q", "Normal(m, s)", "--p", "Uniform(0, 1)", "--claim", "0")
    assert code == 1
    assert "KL = +inf" in out


def test_claiming_infinity_where_it_is_infinite_is_not_refuted() -> None:
    code, _, _ = _run("--q", "Normal(m, s)", "--p", "Uniform(a, b)", "--claim", "oo")
    assert code == 3  # +inf has no derivation: outside the fragment, so undecided


def test_discrete_and_categorical_claims_are_judged() -> None:
    wrong = "p1*log(3*p1) + p2*log(3*p2)"
    right = "p1*log(3*p1) + p2*log(3*p2) + p3*log(3*p3)"
    q, p = "Categorical(p1, p2, p3)", "Categorical(1/3, 1/3, 1/3)"
    assert _run("--q", q, "--p", p, "--claim", wrong)[0] == 1
    assert _run("--q", q, "--p", p, "--claim", right)[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--q", "Normal(m, s)"],
        ["--q", "Normal(m, s)", "--p", "Gauss(0, 1)"],
        ["--q", "Normal(m, s)", "--p", "Normal(0, 1)", "--claim", "9**9**9"],
        ["--q", "Normal(m, s)", "--p", "Normal(0, 1)", "--timeout", "0"],
        ["--q", "Normal(m, s)", "--p", "Normal(0, 1)", "--format", "yaml"],
    ],
)
def test_usage_errors_exit_two(argv: list[str]) -> None:
    code, out, err = _run(*argv)
    assert code == 2
    assert out == ""
    assert "error" in err


def test_the_time_limit_bounds_the_whole_command_and_is_undecided() -> None:
    code, out, _ = _run(
        "--q", "Gamma(k1, t1)", "--p", "Gamma(k2, t2)", "--claim", "k1", "--timeout", "0.05"
    )
    assert code == 3
    assert "time limit of 0.05 s ran out" in out


def test_a_claim_too_costly_to_evaluate_is_undecided_not_refuted() -> None:
    code, out, _ = _run(
        "--q", "Normal(m, s)", "--p", "Normal(0, 1)", "--claim", "exp(exp(exp(100)))"
    )
    assert code == 3
    assert "the claim took over 2 s to evaluate" in out


def test_a_sum_that_cannot_reach_its_tail_is_not_judged_numerically() -> None:
    right = "1000000000000*log(1000000000000) - 999999999999"
    code, out, _ = _run("--q", "Poisson(1000000000000)", "--p", "Poisson(1)", "--claim", right)
    assert code == 0  # proved; the numerics stay inconclusive
    assert "the sum would need more than 50000 terms" in out


# -- the proved path, with a stand-in for the proof half -----------------------------


def _stand_in(q: Dist, p: Dist) -> Derived:
    """A closed form for KL(Exponential(r) || Exponential(1)) reached by one algebra step."""
    r = q.args[0]
    closed = 1 / r - 1 + sp.log(r)
    steps = Derivation("stand-in-exponential-kl", title="stand-in for the proof half")
    steps.start(sp.log(r) + (1 - r) / r).equals(closed, by="algebra")
    return Derived(closed, steps, "stand-in")


EXPONENTIALS = ("--q", "Exponential(r)", "--p", "Exponential(1)")


def test_a_claim_the_checker_proves_equal_to_the_proved_closed_form_is_exit_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command, "derive", _stand_in)
    code, out, _ = _run(*EXPONENTIALS, "--claim", "-log(1/r) + (1 - r)/r")
    assert code == 0
    assert "verdict: proved" in out
    assert "the checker proved closed form = claim" in out


def test_a_wrong_claim_is_refuted_even_with_a_proved_closed_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command, "derive", _stand_in)
    code, out, _ = _run(*EXPONENTIALS, "--claim", "1/r - 1 - log(r)", "--format", "json")
    doc = json.loads(out)
    assert code == 1
    (chain,) = doc["derivations"]
    assert [step["verdict"] for step in chain["steps"]] == ["proved", "refuted"]


def test_without_a_claim_the_proved_derivation_is_printed_with_its_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(command, "derive", _stand_in)
    code, out, _ = _run(*EXPONENTIALS)
    assert code == 0
    assert "closed form: log(r) - 1 + 1/r" in out
    assert "stand-in-exponential-kl" in out
    assert "Axiom ledger" in out


def test_the_time_limit_holds_even_when_the_checker_swallows_the_alarm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_check = command.check_derivation

    def swallowing(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(StepTimeout):
            time.sleep(0.5)  # the alarm fires here, as inside a step, and is caught
        return real_check(*args, **kwargs)

    monkeypatch.setattr(command, "derive", _stand_in)
    monkeypatch.setattr(command, "check_derivation", swallowing)
    start = time.perf_counter()
    code, out, _ = _run(*EXPONENTIALS, "--claim", "1/r - 1 + log(r)", "--timeout", "0.2")
    assert code == 3
    assert "time limit of 0.2 s ran out" in out
    assert time.perf_counter() - start < 5


def test_a_derivation_that_does_not_end_at_its_closed_form_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def mismatched(q: Dist, p: Dist) -> Derived:
        derived = _stand_in(q, p)
        return Derived(derived.closed_form + 1, derived.derivation, "mismatched")

    monkeypatch.setattr(command, "derive", mismatched)
    code, out, _ = _run(*EXPONENTIALS, "--claim", "1/r + log(r)")
    assert code == 1  # the claim equals the bogus closed form, and the numeric judge refutes it
    assert "does not end at the reported closed form" in out


# -- docs/kl_formula.md: every console block runs and shows what it says ---------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "kl_formula.md"
#: (block, exit code from the fence's ``exit=N``, 0 by default), as tests/test_docs_blocks.py reads it
CONSOLE = [
    (body, int(code or 0))
    for code, body in re.findall(
        r"```console(?: exit=(\d+))?\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S
    )
]


def _sessions(block: str, code: int) -> list[tuple[str, list[str], int]]:
    """``(command, shown output lines, expected exit code)`` for each ``$`` line of a block."""
    out: list[tuple[str, list[str], int]] = []
    lines = block.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("$ "):
            continue
        shown = []
        for later in lines[i + 1 :]:
            if later.startswith("$ "):
                break
            shown.append(later)
        out.append((line[2:], [s for s in shown if s != "..."], code))
    return out


SESSIONS = [s for block, code in CONSOLE for s in _sessions(block, code)]


def test_the_doc_has_console_sessions_for_each_exit_code() -> None:
    assert {code for _, _, code in SESSIONS} >= {0, 1, 2}
    assert len(SESSIONS) >= 4


@pytest.mark.parametrize(("command_line", "shown", "code"), SESSIONS)
def test_every_console_session_of_the_doc_runs_and_prints_what_it_shows(
    command_line: str, shown: list[str], code: int
) -> None:
    argv = shlex.split(command_line)
    if argv[0] == "elbo-check":
        assert argv[1] == "kl-formula"
        exit_code, out, err = _run(*argv[2:])
        text = out + err
    else:
        assert argv[0] == "python"
        env = {**os.environ, "PYTHONPATH": str(DOC.parent.parent)}
        done = subprocess.run(
            [sys.executable, *argv[1:]], capture_output=True, text=True, timeout=300, env=env
        )
        exit_code, text = done.returncode, done.stdout + done.stderr
    assert exit_code == code
    for line in shown:
        if not line.endswith("..."):
            assert line in text, (line, text)


# -- hostile claims through the whole command ---------------------------------------

_PIECES = ["p", "2", "0.5", "64", "log", "exp", "gamma", "Abs", "oo", "pi", "(", ")", "**", "*",
           "/", "+", "-", "__class__", ".", "[0]", "'s'", "lambda:"]  # fmt: skip


@settings(max_examples=30)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join))
@example("exp(exp(64))")
@example("Abs(p-0.5)**64")
@example("oo")
def test_any_claim_gets_a_verdict_or_a_one_line_usage_error(claim: str) -> None:
    code, out, err = _run("--q", "Bernoulli(p)", "--p", "Bernoulli(1/2)", "--claim", claim)
    assert code in (0, 1, 2, 3)
    assert "Traceback" not in out + err
    if code == 2:  # ours ("elbo-check: error: claim: ...") or argparse's ("-p" looks like a flag)
        assert err.startswith("elbo-check")
        assert ": error: " in err
        assert err.count("\n") == 1
