"""``elbo-check validate``: flags, targets, output formats and exit codes."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from elbo_check._validate import _cli
from elbo_check.errors import ValidationError

ZOO = Path(__file__).parent / "kl_zoo" / "numpy_impls.py"


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="elbo-check validate")
    _cli.add_arguments(parser)
    return _cli.run(parser.parse_args(list(argv)))


def test_a_correct_file_target_exits_0(capsys):
    code = run_cli(f"{ZOO}:vae_sum", "--args", "mu,logvar", "--reduction", "sum")
    out = capsys.readouterr().out
    assert code == 0
    assert "OK: args=mu,logvar reduction=sum" in out


def test_a_wrong_file_target_exits_1_with_the_diagnosis(capsys):
    code = run_cli(f"{ZOO}:missing_constant", "--args", "mu,logvar", "--reduction", "batch")
    out = capsys.readouterr().out
    assert code == 1
    assert "missing constant" in out
    assert "counterexample" in out


def test_json_output_has_the_pinned_keys(capsys):
    code = run_cli(
        f"{ZOO}:sign_flip", "--args", "mu,logvar", "--reduction", "sum", "--format", "json"
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {
        "ok",
        "diagnosis",
        "counterexample",
        "max_rel_error",
        "examples",
        "convention",
        "warnings",
    } <= set(data)
    assert data["counterexample"]["inputs"] == {"mu": [[0.0]], "logvar": [[1.0]]}


def test_a_module_target_is_imported_by_name(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ZOO.parent.parent))
    code = run_cli(
        "kl_zoo.numpy_impls:vae_batch",
        "--args",
        "mu,logvar",
        "--reduction",
        "batch",
        "--examples",
        "50",
    )
    assert code == 0


def test_auto_flags_print_the_inferred_convention(capsys):
    code = run_cli(f"{ZOO}:keras_batchmean", "--args", "auto", "--reduction", "auto")
    assert code == 0
    assert "reduction=batchmean" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no_colon_here", "module:function"),
        ("missing_file.py:f", "no such file"),
        ("not_a_real_module_xyz:f", "cannot import 'not_a_real_module_xyz'"),
        (f"{ZOO}:no_such_function", "has no attribute 'no_such_function'"),
        (f"{ZOO}:CORRECT", "is not callable"),
    ],
)
def test_an_unloadable_target_is_a_usage_error(target, words):
    with pytest.raises(ValidationError, match=words):
        run_cli(target, "--args", "mu,logvar", "--reduction", "sum")


def test_bad_roles_are_a_usage_error():
    with pytest.raises(ValidationError, match="unknown role"):
        run_cli(f"{ZOO}:vae_sum", "--args", "mean,logvariance", "--reduction", "sum")


def test_a_file_that_raises_at_import_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("raise ImportError('no torch here')\n")
    with pytest.raises(ValidationError, match="ImportError: no torch here"):
        run_cli(f"{bad}:f", "--args", "mu,logvar", "--reduction", "sum")


def test_loading_a_file_target_writes_nothing_next_to_it(tmp_path):
    target = tmp_path / "mykl.py"
    target.write_text(
        textwrap.dedent(
            """
            import numpy as np
            import helper
            def kl(mu, logvar):
                return helper.half() * np.sum(1 + logvar - mu**2 - np.exp(logvar))
            """
        )
    )
    (tmp_path / "helper.py").write_text("def half():\n    return -0.5\n")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert (
        run_cli(f"{target}:kl", "--args", "mu,logvar", "--reduction", "sum", "--examples", "30")
        == 0
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_the_subcommand_runs_as_a_module_with_exit_codes(tmp_path):
    cli = Path(__file__).parent.parent / "elbo_check" / "cli.py"
    env = {**os.environ, "PYTHONPATH": str(cli.parent.parent)}
    base = [sys.executable, "-m", "elbo_check", "validate"]
    ok = subprocess.run(
        [*base, f"{ZOO}:vae_sum", "--args", "mu,logvar", "--reduction", "sum"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    wrong = subprocess.run(
        [
            *base,
            f"{ZOO}:sign_flip",
            "--args",
            "mu,logvar",
            "--reduction",
            "sum",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    usage = subprocess.run(
        [*base, f"{ZOO}:vae_sum", "--args", "mu,sigma", "--reduction", "sum"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert (ok.returncode, wrong.returncode, usage.returncode) == (0, 1, 2), (
        ok.stderr,
        wrong.stderr,
        usage.stderr,
    )
    assert json.loads(wrong.stdout)["bug_class"] == "sign_flip"
    assert "Traceback" not in usage.stderr
    assert "unknown role 'sigma'" in usage.stderr


def test_a_missing_backend_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # tested whether or not jax is installed here: pretend it is not
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    with pytest.raises(ValidationError, match="--backend jax needs jax"):
        run_cli(f"{ZOO}:vae_sum", "--args", "mu,logvar", "--reduction", "sum", "--backend", "jax")
