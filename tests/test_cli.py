"""The CLI: every exit code, both formats, atomic output, and one-line user errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from elbo_check.cli import main

GOOD = """
import sympy as sp
from elbo_check import Derivation
m = sp.Symbol("m", real=True); s = sp.Symbol("s", positive=True)
d = Derivation("seed-closed-form", title="seed")
d.start(-sp.Rational(1, 2) * (1 + sp.log(s**2) - m**2 - s**2))
d.equals(sp.log(1 / s) + (s**2 + m**2 - 1) / 2, by="expand and regroup")
"""
BAD = GOOD.replace("(s**2 + m**2 - 1) / 2", "(s**2 + m**2 + 1) / 2")
CORROBORATED = """
import sympy as sp
from elbo_check import Derivation
x = sp.Symbol("x", positive=True)
d = Derivation("arctan").start(sp.atan(x) + sp.atan(1 / x)).equals(sp.pi / 2, by="identity")
"""


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _write(tmp_path: Path, text: str, name: str = "mine.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_list_shows_every_slug_with_its_title() -> None:
    code, out, _ = _run("list")
    assert code == 0
    assert "gaussian-kl-full-covariance" in out
    assert "Bayes" in out


def test_prove_a_true_file_exits_zero_and_prints_a_table_and_ledger(tmp_path: Path) -> None:
    code, out, _ = _run("prove", "--file", _write(tmp_path, GOOD))
    assert code == 0
    assert "seed-closed-form" in out
    assert "proved" in out
    assert "Axiom ledger" in out


def test_prove_a_refuted_file_exits_one_and_shows_the_counterexample(tmp_path: Path) -> None:
    code, out, _ = _run("prove", "--file", _write(tmp_path, BAD))
    assert code == 1
    assert "refuted" in out
    assert "counterexample at" in out


def test_corroborated_passes_but_fails_under_strict(tmp_path: Path) -> None:
    path = _write(tmp_path, CORROBORATED)
    assert _run("prove", "--file", path)[0] == 0
    assert _run("prove", "--file", path, "--strict")[0] == 1


def test_json_output_has_the_pinned_keys(tmp_path: Path) -> None:
    code, out, _ = _run("prove", "--file", _write(tmp_path, BAD), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    (d,) = doc["derivations"]
    assert {"name", "title", "steps", "axioms"} <= set(d)
    step = d["steps"][0]
    assert {"verdict", "by", "lhs", "rhs", "latex", "seconds", "counterexample"} <= set(step)
    assert step["verdict"] == "refuted"
    assert step["counterexample"]["point"]


def test_output_file_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, _ = _run(
        "prove", "--file", _write(tmp_path, GOOD), "--format", "json", "-o", str(target)
    )
    assert code == 0
    assert out == ""
    assert json.loads(target.read_text())["derivations"][0]["name"] == "seed-closed-form"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["prove", "no-such-slug"], "unknown derivation 'no-such-slug'"),
        (["prove", "--file", "missing.py"], "not found"),
        (["prove", "--step-timeout", "0"], "expected seconds > 0"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_two_with_one_line(argv: list[str], needle: str) -> None:
    code, _, err = _run(*argv)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("raise RuntimeError('boom')\n", "raised RuntimeError on import: boom"),
        ("x = 1\n", "defines no Derivation"),
        (
            "import sympy as sp\nfrom elbo_check import Derivation\n"
            "d = Derivation('bad-step').start(sp.Integer(1)).equals('x + 1', by='oops')\n",
            "derivation 'bad-step', step 1: expected a sympy expression",
        ),
        (
            "from elbo_check import Derivation\nd = Derivation('empty')\n",
            "derivation 'empty' has no steps",
        ),
    ],
)
def test_bad_user_modules_exit_two_naming_the_problem(
    tmp_path: Path, source: str, needle: str
) -> None:
    code, _, err = _run("prove", "--file", _write(tmp_path, source))
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_loading_a_user_file_leaves_no_bytecode_next_to_it(tmp_path: Path) -> None:
    _run("prove", "--file", _write(tmp_path, GOOD))
    assert not (tmp_path / "__pycache__").exists()


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "elbo_check", "prove", "bayes"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "bayes" in done.stdout
