"""A newcomer's expectations of a command-line tool, run the way a user hits them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # the repository first on the path (as the editable install does), whatever the cwd
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "elbo_check", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": path, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def test_a_users_derivations_folder_does_not_shadow_the_shipped_library(tmp_path: Path) -> None:
    bogus = tmp_path / "derivations"
    bogus.mkdir()
    (bogus / "__init__.py").write_text("raise ImportError('the user own derivations package')\n")
    # python -m puts the current directory first on sys.path, before the installed library
    run = subprocess.run(
        [sys.executable, "-m", "elbo_check", "list"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(["", str(REPO)])},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("bayes ")
    lemma = subprocess.run(
        [sys.executable, "-c", "from elbo_check.vocab import GIBBS; print(GIBBS.name)"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(["", str(REPO)])},
    )
    assert lemma.returncode == 0, lemma.stderr


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("prove", "bayes", "--stepp-timeout", "3"), "did you mean '--step-timeout'?"),
        (("prov", "bayes"), "did you mean 'prove'?"),
        (("prove", "bayes", "--format", "jsn"), "did you mean 'json'?"),
    ],
)
def test_a_misspelt_flag_or_command_gets_a_suggestion(
    args: tuple[str, ...], suggestion: str
) -> None:
    run = _cli(*args)
    assert run.returncode == 2
    assert suggestion in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("role", "meant"), [("log_var", "logvar"), ("sigma", "std")])
def test_a_misspelt_role_gets_a_suggestion(tmp_path: Path, role: str, meant: str) -> None:
    src = tmp_path / "kl.py"
    src.write_text("def kl(mu, s):\n    return 0.0\n")
    run = _cli("validate", f"{src}:kl", "--args", f"mu,{role}", "--reduction", "sum")
    assert run.returncode == 2
    assert f"did you mean {meant!r}?" in run.stderr


def test_quiet_prints_the_summary_only_and_verbose_logs_each_step() -> None:
    quiet = _cli("prove", "bayes", "-q")
    assert quiet.returncode == 0
    [line] = quiet.stdout.strip().splitlines()
    assert line.startswith("1 derivation(s), ")
    assert line.endswith(" proved, 0 corroborated, 0 undecided, 0 refuted")
    assert quiet.stderr == ""
    verbose = _cli("prove", "bayes", "-v")
    assert verbose.returncode == 0
    assert "elbo-check: bayes step 1: proved" in verbose.stderr
    assert "Axiom ledger" in verbose.stdout


def _on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """The CLI's standard output when it is a terminal (a pseudo-terminal here)."""
    import pty

    leader, follower = pty.openpty()
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "elbo_check", *args],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": path, **env},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_verdicts_are_coloured_on_a_terminal_only_and_never_under_no_color() -> None:
    coloured = _on_a_terminal("prove", "bayes", env={"NO_COLOR": "", "TERM": "xterm"})
    assert "\x1b[32mproved\x1b[0m" in coloured
    plain = _on_a_terminal("prove", "bayes", env={"NO_COLOR": "1", "TERM": "xterm"})
    assert "proved" in plain
    assert "\x1b[" not in plain
    piped = _cli("prove", "bayes")
    assert "\x1b[" not in piped.stdout


def test_a_twenty_thousand_term_expression_is_reported_quickly_and_elided(tmp_path: Path) -> None:
    src = tmp_path / "big.py"
    src.write_text(
        textwrap.dedent(
            """
            import sympy as sp
            from elbo_check import Derivation
            xs = sp.symbols("x0:20000", real=True)
            big = sp.Add(*[x**2 for x in xs])
            d = Derivation("big-one")
            d.start(big).equals(big + 1, by="off by one")
            """
        )
    )
    start = time.perf_counter()
    text = _cli("prove", "--file", str(src), "--step-timeout", "1")
    as_json = _cli("prove", "--file", str(src), "--step-timeout", "1", "--format", "json")
    elapsed = time.perf_counter() - start
    assert text.returncode == 1, text.stderr
    assert "(19,997 terms elided; --full to show)" in text.stdout
    step = json.loads(as_json.stdout)["derivations"][0]["steps"][0]
    assert "terms elided; --full to show)" in step["rhs"]
    assert len(step["rhs"]) < 1000
    assert elapsed < 90  # printing it in full took 394 s and 6.3 GB


def test_prove_reads_its_settings_from_the_nearest_pyproject(tmp_path: Path) -> None:
    (tmp_path / "proofs").mkdir()
    (tmp_path / "proofs" / "mine.py").write_text(
        "import sympy as sp\n"
        "from elbo_check import Derivation\n"
        "x = sp.Symbol('x', positive=True)\n"
        "d = Derivation('arctan').start(sp.atan(x) + sp.atan(1 / x)).equals(sp.pi / 2, by='identity')\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "mine"\n\n[tool.elbo-check]\nfiles = ["proofs/"]\nstrict = true\n'
    )
    sub = tmp_path / "src"
    sub.mkdir()
    run = _cli("prove", "-q", cwd=sub)  # from a subfolder: the nearest pyproject.toml above
    assert run.returncode == 1, run.stderr  # corroborated fails under strict = true
    assert "arctan step 1: corroborated" in run.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.elbo-check]\nfile = ["proofs/"]\n')
    typo = _cli("prove", "-q", cwd=sub)
    assert typo.returncode == 2
    assert typo.stderr.strip().endswith(
        "unknown key 'file' in [tool.elbo-check]; did you mean 'files'? known: files, step-timeout, strict"
    )
    assert len(typo.stderr.strip().splitlines()) == 1


def test_full_output_prints_a_huge_expression_unelided() -> None:
    import sympy as sp

    from elbo_check._printing import full_output, safe_print

    big = sp.Add(*sp.symbols("y0:2500"))
    assert "elided" in safe_print(sp.sstr, big)
    with full_output():
        text = safe_print(sp.sstr, big)
    assert "elided" not in text
    assert text.count("+") == 2499


def test_validate_quiet_prints_one_line(tmp_path: Path) -> None:
    src = tmp_path / "losses.py"
    src.write_text(
        "import numpy as np\n"
        "def kl(mu, logvar):\n"
        "    return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))\n"
    )
    run = _cli("validate", f"{src}:kl", "--args", "mu,logvar", "--reduction", "sum", "-q")
    assert run.returncode == 1
    [line] = run.stdout.strip().splitlines()
    assert line.startswith("WRONG: ")
    assert "sign flip" in line


def test_a_five_thousand_digit_integer_is_reported_by_its_size_not_a_traceback(
    tmp_path: Path,
) -> None:
    src = tmp_path / "hugeint.py"
    src.write_text(
        "import sympy as sp\n"
        "from elbo_check import Derivation\n"
        "x = sp.Symbol('x', real=True)\n"
        "d = Derivation('huge-int')\n"
        "d.start(x + sp.Integer(10)**5000).equals(sp.Integer(10)**5000 + x, by='commute')\n"
    )
    text = _cli("prove", "--file", str(src))
    assert text.returncode == 0, text.stderr
    assert "… (a 5,001-digit integer; --full to show)" in text.stdout
    full = _cli("prove", "--file", str(src), "--full", "--format", "json")
    assert full.returncode == 0, full.stderr
    assert "0" * 5000 in json.loads(full.stdout)["derivations"][0]["steps"][0]["lhs"]


def test_a_misspelt_slug_of_a_users_file_gets_a_suggestion(tmp_path: Path) -> None:
    src = tmp_path / "mine.py"
    src.write_text(
        "import sympy as sp\n"
        "from elbo_check import Derivation\n"
        "d = Derivation('my-first-proof').start(sp.Integer(2)).equals(1 + 1, by='arithmetic')\n"
    )
    run = _cli("prove", "my-frist-proof", "--file", str(src))
    assert run.returncode == 2
    assert "did you mean 'my-first-proof'?" in run.stderr


def test_report_reads_the_settings_and_is_quiet_or_verbose_on_request(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.elbo-check]\nstrict = true\nstep-timout = 7\n")
    typo = _cli("report", "bayes", "--out", "o", "--format", "md", cwd=tmp_path)
    assert typo.returncode == 2
    assert "did you mean 'step-timeout'" in typo.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.elbo-check]\nstrict = true\n")
    quiet = _cli("report", "bayes", "--out", "o", "--format", "md", "-q", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert (tmp_path / "o" / "report.md").is_file()
    loud = _cli("report", "bayes", "--out", "o", "--format", "md", "-v", cwd=tmp_path)
    assert loud.returncode == 0
    assert "elbo-check: bayes step 1: proved" in loud.stderr
