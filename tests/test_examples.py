"""Every example in examples/ runs, the way a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=300
    )


def test_the_user_derivation_example_is_proved() -> None:
    run = _run("-m", "elbo_check", "prove", "--file", str(EXAMPLES / "my_derivation.py"), "--strict")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 proved" in run.stdout


def test_the_pytest_example_passes_on_the_correct_kl_and_catches_the_buggy_one(tmp_path: Path) -> None:
    run = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "test_my_kl.py"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_the_tiny_vae_trains_with_gaussian_kl() -> None:
    pytest.importorskip("torch")
    run = _run(str(EXAMPLES / "train_tiny_vae.py"))
    assert run.returncode == 0, run.stderr
    first, last = (float(v) for v in run.stdout.split()[1::2])
    assert last < first


def test_the_report_example_renders_html_and_markdown(tmp_path: Path) -> None:
    run = _run(str(EXAMPLES / "render_a_report.py"), str(tmp_path / "out"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "out" / "report.html").read_text().count("<math") > 0
    assert (tmp_path / "out" / "report.md").is_file()
