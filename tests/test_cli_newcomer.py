"""A newcomer's rough edges, run the way a user hits them: the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elbo_check", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def test_version_prints_the_version() -> None:
    run = _cli("--version")
    assert run.returncode == 0
    assert run.stdout.startswith("elbo-check ")


def test_list_into_a_closed_pipe_exits_quietly() -> None:
    run = subprocess.run(
        f"{sys.executable} -m elbo_check list | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.stdout.startswith("bayes")
    assert "Traceback" not in run.stderr


def test_a_terminal_without_unicode_does_not_crash_the_list() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "elbo_check", "list"],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "cp1252"},
    )
    assert run.returncode == 0
    assert b"Traceback" not in run.stderr
    assert run.stdout.startswith(b"bayes")


def test_output_to_a_directory_is_a_usage_error_in_one_line(tmp_path: Path) -> None:
    run = _cli("prove", "bayes", "--output", str(tmp_path))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1
    assert "is a directory" in run.stderr


def test_a_file_that_prints_on_import_does_not_corrupt_the_json(tmp_path: Path) -> None:
    src = tmp_path / "mine.py"
    src.write_text(
        textwrap.dedent(
            """
            import os, sys
            import sympy as sp
            from elbo_check import Derivation
            print("hello from the module")
            sys.__stdout__.write("raw stdout\\n"); sys.__stdout__.flush()
            os.write(1, b"fd one\\n")
            s = sp.Symbol("s", positive=True)
            d = Derivation("mine").start(sp.log(s**2)).equals(2 * sp.log(s), by="log rule")
            """
        )
    )
    run = _cli("prove", "--file", str(src), "--format", "json")
    assert run.returncode == 0
    doc = json.loads(run.stdout)
    assert doc["summary"]["proved"] >= 1
    assert "hello from the module" in run.stderr
    assert "fd one" in run.stderr


def test_plain_text_cited_for_an_inequality_is_undecided_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "ineq.py"
    src.write_text(
        textwrap.dedent(
            """
            import sympy as sp
            from elbo_check import Derivation
            s = sp.Symbol("s", positive=True)
            d = Derivation("ineq").start(s**2 + 1).geq(2 * s, by="AM-GM, I think")
            """
        )
    )
    run = _cli("prove", "--file", str(src), "--format", "json")
    assert run.returncode == 1
    step = json.loads(run.stdout)["derivations"][0]["steps"][0]
    assert step["verdict"] == "undecided"
    assert "needs a cited inequality rule or lemma" in step["message"]


@pytest.mark.parametrize("relation", ["geq", "leq"])
def test_a_false_inequality_in_plain_text_is_still_refuted(tmp_path: Path, relation: str) -> None:
    src = tmp_path / "bad.py"
    lhs, rhs = ("s", "s**2 + 1") if relation == "geq" else ("s**2 + 1", "s")
    src.write_text(
        textwrap.dedent(
            f"""
            import sympy as sp
            from elbo_check import Derivation
            s = sp.Symbol("s", positive=True)
            d = Derivation("bad").start({lhs}).{relation}({rhs}, by="surely")
            """
        )
    )
    run = _cli("prove", "--file", str(src), "--format", "json")
    step = json.loads(run.stdout)["derivations"][0]["steps"][0]
    assert step["verdict"] == "refuted"
    assert "fails" in step["message"]


def test_output_keeps_an_existing_files_mode_and_follows_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "report.txt"
    real.write_text("old")
    real.chmod(0o644)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    run = _cli("prove", "bayes", "--output", str(link))
    assert run.returncode == 0
    assert link.is_symlink()
    assert "bayes" in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o644


def test_output_to_a_fifo_is_written_directly_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    run = _cli("prove", "bayes", "--format", "json", "--output", str(fifo))
    out, _ = reader.communicate(timeout=60)
    assert run.returncode == 0
    assert json.loads(out)["summary"]["proved"] == 3
    assert not fifo.is_file()


def test_a_misspelt_slug_gets_a_suggestion() -> None:
    run = _cli("prove", "gaussian-kl-diagnoal")
    assert run.returncode == 2
    assert "did you mean 'gaussian-kl-diagonal'?" in run.stderr


def test_validate_with_more_roles_than_the_function_takes_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "kl.py"
    src.write_text(
        "import numpy as np\n"
        "def kl(mu, logvar):\n"
        "    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))\n"
    )
    run = _cli("validate", f"{src}:kl", "--args", "mu_q,logvar_q,mu_p,logvar_p", "--reduction", "sum")
    assert run.returncode == 2
    assert "takes 2 positional argument(s)" in run.stderr
    assert run.stderr.count("\n") == 1


def test_a_torch_kl_passes_without_naming_the_backend(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    src = tmp_path / "tkl.py"
    src.write_text(
        "import torch\n"
        "def kl(mu, logvar):\n"
        "    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())\n"
    )
    run = _cli("validate", f"{src}:kl", "--args", "mu,logvar", "--reduction", "sum")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "backend=torch" in run.stdout


def _two_files(tmp_path: Path) -> Path:
    (tmp_path / "helper_mod.py").write_text("import sympy as sp\nS = sp.Symbol('s', positive=True)\n")
    (tmp_path / "first.py").write_text(
        "import sympy as sp\nfrom helper_mod import S\nfrom elbo_check import Derivation\n"
        "a = Derivation('first-one').start(sp.log(S**2)).equals(2 * sp.log(S), by='log rule')\n"
        "b = Derivation('first-two').start(sp.log(S**3)).equals(3 * sp.log(S), by='log rule')\n"
    )
    (tmp_path / "second.py").write_text(
        "import sympy as sp\nfrom helper_mod import S\nfrom elbo_check import Derivation\n"
        "c = Derivation('second-one').start(S + S).equals(2 * S, by='add')\n"
    )
    return tmp_path


def test_a_proof_file_can_import_a_helper_next_to_it_and_a_slug_picks_one(tmp_path: Path) -> None:
    folder = _two_files(tmp_path)
    run = _cli("prove", "first-two", "--file", str(folder / "first.py"), "--format", "json")
    assert run.returncode == 0, run.stderr
    assert [d["name"] for d in json.loads(run.stdout)["derivations"]] == ["first-two"]


def test_file_may_name_a_folder_of_proofs(tmp_path: Path) -> None:
    folder = _two_files(tmp_path)
    run = _cli("prove", "--file", str(folder), "--format", "json")
    assert run.returncode == 0, run.stderr
    names = [d["name"] for d in json.loads(run.stdout)["derivations"]]
    assert names == ["first-one", "first-two", "second-one"]


def test_two_derivations_with_one_name_are_a_usage_error(tmp_path: Path) -> None:
    folder = _two_files(tmp_path)
    (folder / "third.py").write_text(
        "import sympy as sp\nfrom elbo_check import Derivation\n"
        "c = Derivation('second-one').start(sp.Integer(1)).equals(1, by='same')\n"
    )
    run = _cli("prove", "--file", str(folder))
    assert run.returncode == 2
    assert "named 'second-one'" in run.stderr


def test_an_undecided_step_names_the_users_variable_and_what_would_close_it() -> None:
    import sympy as sp

    from elbo_check import Derivation, check_derivation
    from elbo_check.rules import axiom

    z = sp.Symbol("z", real=True)
    f = sp.Function("f", positive=True)
    total = sp.Integral(f(z), (z, -sp.oo, sp.oo))
    d = Derivation("needs-integrability").start(3 * total)
    d.equals(3, by=axiom("f normalised", total, sp.Integer(1)))
    message = check_derivation(d).steps[0].message
    assert "Integral(f(z), (z, -oo, oo))" in message
    assert "_b1_0" not in message
    assert "cite the integrability side condition" in message


def test_prove_and_validate_json_carry_a_schema_version(tmp_path: Path) -> None:
    prove = json.loads(_cli("prove", "bayes", "--format", "json").stdout)
    assert prove["schema"] == 1
    src = tmp_path / "kl.py"
    src.write_text(
        "import numpy as np\n"
        "def kl(mu, logvar):\n"
        "    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))\n"
    )
    run = _cli("validate", f"{src}:kl", "--args", "mu,logvar", "--reduction", "sum", "--format", "json")
    assert json.loads(run.stdout)["schema"] == 1


def test_a_failing_assert_kl_correct_is_one_clean_pytest_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        from elbo_check.testing import assert_kl_correct

        def kl(mu, logvar):
            return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))

        def test_kl():
            assert_kl_correct(kl, args="mu,logvar", reduction="sum", examples=50)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    # the failure section (pytest's own one-line summary below it repeats the message)
    text = result.stdout.str().split("short test summary info")[0]
    assert text.count("sign flip") == 1
    assert "counterexample" in text
    assert "__tracebackhide__" not in text
    assert "details = [line" not in text
