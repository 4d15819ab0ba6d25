"""``elbo-check validate ... --report DIR``: the validator's findings in four formats, with a plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KL = """
import numpy as np
def vae_kl(mu, logvar):
    return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
def good_kl(mu, logvar):
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
"""


def _validate(tmp_path: Path, name: str) -> tuple[int, Path]:
    src = tmp_path / "kl.py"
    src.write_text(KL)
    out = tmp_path / f"report-{name}"
    argv = [sys.executable, "-m", "elbo_check", "validate", f"{src}:{name}"]
    argv += ["--args", "mu,logvar", "--reduction", "sum", "--examples", "50", "--report", str(out)]
    run = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)
    return run.returncode, out


@pytest.mark.slow
def test_a_wrong_kl_report_names_the_bug_and_plots_the_error(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, out = _validate(tmp_path, "vae_kl")
    assert code == 1
    # the plot's calls run in their own worker process, like the validation's
    names = sorted(p.name for p in out.iterdir())
    assert names == ["figures", "report.html", "report.json", "report.md", "report.tex"]
    md = (out / "report.md").read_text()
    assert "✘ **wrong**" in md
    assert "| diagnosis | sign flip" in md
    assert "![Error of the validated function](figures/validation-error.svg)" in md
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema"] == 1
    assert doc["validation"]["bug_class"] == "sign_flip"
    assert doc["figures"][0]["svg"] == "figures/validation-error.svg"
    assert (out / "figures" / "validation-error.svg").read_text().count("<svg") == 1
    assert "<script" not in (out / "report.html").read_text()


def test_the_python_api_report_plots_the_error_of_the_function(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import numpy as np

    from elbo_check import validate
    from elbo_check.report._model import ReportMeta
    from elbo_check.report.validation import write_validation_report

    def vae_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))

    result = validate(vae_kl, args="mu,logvar", reduction="sum", examples=50)
    meta = ReportMeta.create(["test"], date="2026-01-01 00:00 UTC")
    write_validation_report(result, str(tmp_path), meta, fn=vae_kl)
    md = (tmp_path / "report.md").read_text()
    assert "![Error of the validated function](figures/validation-error.svg)" in md
    assert (tmp_path / "figures" / "validation-error.svg").read_text().count("<svg") == 1


@pytest.mark.slow
def test_a_right_kl_report_says_it_matches(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, "good_kl")
    assert code == 0
    assert "✔ matches the reference</span>" in (out / "report.html").read_text()
