"""The pytest plugin, driven through pytester: derivations run as tests."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TRUE_AND_FALSE = """
import sympy as sp
from elbo_check import Derivation
m = sp.Symbol("m", real=True); s = sp.Symbol("s", positive=True)
d = Derivation("seed-closed-form", title="seed")
d.start(-sp.Rational(1, 2) * (1 + sp.log(s**2) - m**2 - s**2))
d.equals(sp.log(1 / s) + (s**2 + m**2 - 1) / 2, by="expand and regroup")
d.equals(sp.log(1 / s) + (s**2 + m**2 + 1) / 2, by="a typo")
"""
CORROBORATED = """
import sympy as sp
from elbo_check import Derivation
x = sp.Symbol("x", positive=True)
d = Derivation("arctan").start(sp.atan(x) + sp.atan(1 / x)).equals(sp.pi / 2, by="identity")
"""
UNDECIDED = """
import sympy as sp
from elbo_check import Derivation
f = sp.Function("f", positive=True); a = sp.Symbol("a", positive=True)
d = Derivation("abstract").start(f(a)).equals(a**2, by="no axiom cited")
"""


def test_each_step_is_one_test_with_a_readable_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(proofs=TRUE_AND_FALSE)
    result = pytester.runpytest_subprocess("--derivations", "proofs.py", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["proofs.py::seed-closed-form::step-1", "proofs.py::seed-closed-form::step-2"]
    )


def test_a_refuted_step_fails_showing_both_sides_and_the_counterexample(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(proofs=TRUE_AND_FALSE)
    result = pytester.runpytest_subprocess("--derivations", "proofs.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*step 2 is refuted*", "*lhs:*", "*rhs:*", "*counterexample at*"])


def test_an_undecided_step_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(proofs=UNDECIDED)
    result = pytester.runpytest_subprocess("--derivations", "proofs.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*step 1 is undecided*"])


def test_a_corroborated_step_passes_with_a_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(proofs=CORROBORATED)
    result = pytester.runpytest_subprocess("--derivations", "proofs.py")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*CorroboratedWarning*corroborated, not proved*"])


def test_a_corroborated_step_fails_under_derivations_strict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(proofs=CORROBORATED)
    result = pytester.runpytest_subprocess("--derivations", "proofs.py", "--derivations-strict")
    result.assert_outcomes(failed=1)


def test_a_missing_derivations_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--derivations", "nope.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_plugin_does_not_import_sympy_until_it_collects(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_probe="""
import sys
def test_sympy_is_not_loaded_by_the_plugin():
    assert "sympy" not in sys.modules
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)


def test_collect_only_lists_the_steps_and_the_summary_counts_them(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(proofs=TRUE_AND_FALSE)
    listed = pytester.runpytest_subprocess("--derivations", "proofs.py", "--collect-only", "-q")
    listed.stdout.fnmatch_lines(["*2 tests collected*"])
    run = pytester.runpytest_subprocess("--derivations", "proofs.py")
    run.stdout.fnmatch_lines(["collected 2 items", "*1 failed, 1 passed*"])


def test_a_step_can_be_selected_with_k(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(proofs=TRUE_AND_FALSE)
    result = pytester.runpytest_subprocess("--derivations", "proofs.py", "-k", "step-1")
    result.assert_outcomes(passed=1, deselected=1)


HELPER_USER = """
import sympy as sp
from elbo_check import Derivation
from my_helpers import HALF
x = sp.Symbol("x", real=True)
d = Derivation("uses-a-helper").start(HALF * x + HALF * x).equals(x, by="collect")
"""


def test_a_proof_file_imports_a_helper_next_to_it_under_pytest_as_under_prove(
    pytester: pytest.Pytester,
) -> None:
    import subprocess
    import sys

    folder = pytester.mkdir("proofs")
    (folder / "my_helpers.py").write_text("import sympy as sp\nHALF = sp.Rational(1, 2)\n")
    (folder / "mine.py").write_text(HELPER_USER)
    result = pytester.runpytest_subprocess("--derivations", "proofs/mine.py")
    result.assert_outcomes(passed=1)
    folder_run = pytester.runpytest_subprocess("--derivations", "proofs")
    folder_run.assert_outcomes(passed=1)
    cli = subprocess.run(
        [sys.executable, "-m", "elbo_check", "prove", "--file", "proofs/mine.py", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=pytester.path,
    )
    assert cli.returncode == 0, cli.stderr


def test_pyproject_settings_choose_the_files_and_strictness(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(proofs=CORROBORATED)
    pytester.makepyprojecttoml(
        '[tool.elbo-check]\nfiles = ["proofs.py"]\nstrict = true\nstep-timeout = 3\n'
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*corroborated, not proved*"])


def test_an_unknown_pyproject_key_is_a_usage_error_with_a_suggestion(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyprojecttoml("[tool.elbo-check]\nstep_timout = 3\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key 'step_timout'*did you mean 'step-timeout'?*"])
