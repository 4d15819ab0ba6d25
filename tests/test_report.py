"""Reports: every format from the same results, the CLI contract, atomic writes, LaTeX builds."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy as sp

from elbo_check import Derivation
from elbo_check.cli import main
from elbo_check.report import ReportMeta, write_report
from elbo_check.report.html import render_html
from elbo_check.report.jsondoc import report_json_dict
from elbo_check.report.latex import render_latex
from elbo_check.report.markdown import render_markdown
from elbo_check.results import Counterexample, DerivationResult, LedgerEntry, StepResult
from elbo_check.verdict import Verdict

META = ReportMeta("A test report", "2026-01-02 03:04 UTC", "0.1.0", "elbo-check report --out r")

GOOD = """
import sympy as sp
from elbo_check import Derivation
m = sp.Symbol("m", real=True); s = sp.Symbol("s", positive=True)
d = Derivation("seed-closed-form", title="seed")
d.start(-sp.Rational(1, 2) * (1 + sp.log(s**2) - m**2 - s**2))
d.equals(sp.log(1 / s) + (s**2 + m**2 - 1) / 2, by="expand and regroup")
"""
BAD = GOOD.replace("(s**2 + m**2 - 1) / 2", "(s**2 + m**2 + 1) / 2")


def _toy_result() -> DerivationResult:
    """A hand-made result with one verdict of each kind (no checker involved)."""
    x = sp.Symbol("x", real=True)
    s = sp.Symbol("s", positive=True)
    pdf = sp.exp(-(x**2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
    d = Derivation("toy", title="A toy chain <with> & markup", description="Checks rendering.")
    d.start(sp.Integral(pdf * x**2, (x, -sp.oo, sp.oo)))
    d.equals(s**2, by="second moment")
    d.equals(s**2 + 0 * x, by="nothing")
    d.equals(s**3, by="a slip")
    d.equals(s**3 / 1, by="hope")
    ledger = LedgerEntry(
        "second moment", "lemma", "E[x²] = s² for x ~ N(0, s²)", "gaussian-moments"
    )
    verdicts = [Verdict.PROVED, Verdict.CORROBORATED, Verdict.REFUTED, Verdict.UNDECIDED]
    cex = Counterexample({"s": "1/2"}, "0.25", "0.125")
    steps = tuple(
        StepResult(
            step,
            v,
            method="test",
            seconds=0.01,
            message="" if v is Verdict.PROVED else f"{v.value} on purpose",
            counterexample=cex if v is Verdict.REFUTED else None,
            ledger=(ledger,) if step.index == 1 else (),
        )
        for step, v in zip(d.steps, verdicts, strict=True)
    )
    assumption = LedgerEntry("symbol s", "assumption", "s is positive (declared)")
    return DerivationResult(d, steps, 0.04, (ledger, assumption))


@pytest.fixture(scope="module")
def toy() -> DerivationResult:
    return _toy_result()


def test_html_is_one_page_with_mathml_badges_and_counterexample(toy: DerivationResult) -> None:
    page = render_html([toy], META)
    assert page.count("<math") == 5  # the chain start and four links
    for v in Verdict:
        assert f"{v.value}</span>" in page
    assert "Counterexample at s=1/2: lhs = 0.25, rhs = 0.125" in page
    assert "A toy chain &lt;with&gt; &amp; markup" in page
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "2026-01-02 03:04 UTC" in page
    assert "elbo-check report --out r" in page


def test_html_names_the_gaussian_density_instead_of_printing_the_pdf(
    toy: DerivationResult,
) -> None:
    page = render_html([toy], META)
    assert "<mi>&#119977;</mi>" in page  # 𝒩
    assert "exp" not in page.split("<math", 1)[1].split("</math>")[0]


def test_ledger_lists_each_entry_with_the_steps_that_use_it(toy: DerivationResult) -> None:
    md = render_markdown([toy], META)
    assert "| lemma | **second moment** (derivation gaussian-moments) |" in md
    assert "| step 1 |" in md
    assert "| all steps (declared) |" in md


def test_ledger_shows_what_a_rule_does_when_the_entry_says_so(toy: DerivationResult) -> None:
    entry = LedgerEntry("second moment", "lemma", "E[x²] = s²", shows="x**2 -> s**2")
    result = DerivationResult(toy.derivation, toy.steps, toy.seconds, (entry,))
    assert "x**2 -&gt; s**2" in render_html([result], META)
    assert "shows `x**2 -> s**2`" in render_markdown([result], META)


def test_markdown_uses_display_math_blocks_and_relative_figure_links(
    toy: DerivationResult,
) -> None:
    from elbo_check.report._model import Figure

    fig = Figure("kl-contour", "KL", "A caption.", "<svg></svg>")
    md = render_markdown([toy], META, figures=[fig])
    assert md.count("$$") == 2 * 5
    assert "![KL](figures/kl-contour.svg)" in md
    assert "✘ **refuted**" in md


def test_latex_report_is_a_complete_amsmath_article(toy: DerivationResult) -> None:
    tex = render_latex([toy], META)
    assert tex.startswith(r"\documentclass")
    assert r"\usepackage{amsmath}" in tex
    assert r"\mathcal{N}" in tex
    assert tex.rstrip().endswith(r"\end{document}")
    assert "A toy chain \\textless{}with\\textgreater{} \\& markup" in tex


def test_json_report_is_prove_json_plus_schema_meta_and_figures(toy: DerivationResult) -> None:
    doc = report_json_dict([toy], META)
    assert doc["schema"] == 1
    assert doc["meta"]["command"] == "elbo-check report --out r"
    step = doc["derivations"][0]["steps"][0]
    assert list(step)[:7] == ["index", "verdict", "by", "relation", "lhs", "rhs", "latex"]
    assert doc["summary"] == {"proved": 1, "corroborated": 1, "undecided": 1, "refuted": 1}
    assert doc["figures"] == []


def test_prove_json_keeps_the_pinned_latex_key() -> None:
    out = io.StringIO()
    assert main(["prove", "bayes", "--format", "json"], out=out, err=io.StringIO()) == 0
    step = json.loads(out.getvalue())["derivations"][0]["steps"][0]
    assert step["latex"].startswith("p_{post}")


def test_results_themselves_format_no_latex(toy: DerivationResult) -> None:
    assert "latex" not in toy.steps[0].to_dict()


def _report(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["report", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_report_writes_all_four_formats_and_exits_zero(tmp_path: Path) -> None:
    code, out, _ = _report("bayes", "--out", str(tmp_path / "r"))
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert names == ["report.html", "report.json", "report.md", "report.tex"]
    assert out.count("wrote ") == 4
    assert not list((tmp_path / "r").glob(".*"))  # no temporary files left behind


def test_report_of_a_refuted_file_exits_one_and_shows_the_counterexample(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    code, _, _ = _report("--file", str(bad), "--out", str(tmp_path / "r"), "--format", "md")
    assert code == 1
    assert "**Counterexample** at" in (tmp_path / "r" / "report.md").read_text()


def test_report_format_list_writes_only_the_named_formats(tmp_path: Path) -> None:
    code, _, _ = _report("bayes", "--out", str(tmp_path), "--format", "json,html")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--format", "pdf"], "unknown report format 'pdf'"),
        (["no-such-slug"], "unknown derivation 'no-such-slug'"),
        ([], "the following arguments are required: --out"),
    ],
)
def test_report_usage_errors_exit_two_with_one_line(
    tmp_path: Path, argv: list[str], needle: str
) -> None:
    out_args = [] if needle.endswith("--out") else ["--out", str(tmp_path)]
    code, _, err = _report(*argv, *out_args)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_report_into_a_file_instead_of_a_directory_is_a_clear_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    code, _, err = _report("bayes", "--out", str(target))
    assert code == 2
    assert err == f"elbo-check: error: --out {str(target)!r} is a file, not a directory\n"
    code, _, err = _report("bayes", "--out", str(target / "sub"))
    assert code == 2
    assert "cannot create --out directory" in err


def test_an_interrupted_write_leaves_the_old_report_and_no_temporary_file(
    tmp_path: Path, toy: DerivationResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report([toy], tmp_path, META, formats=("md",))
    before = (tmp_path / "report.md").read_text()

    def boom(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("elbo_check.report._write.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_report([toy], tmp_path, META, formats=("md", "json"))
    assert (tmp_path / "report.md").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_the_same_results_give_byte_identical_files(tmp_path: Path, toy: DerivationResult) -> None:
    for name in ("a", "b"):
        write_report([toy], tmp_path / name, META)
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_source_date_epoch_fixes_the_report_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    code, _, _ = _report("bayes", "--out", str(tmp_path), "--format", "md")
    assert code == 0
    head = (tmp_path / "report.md").read_text().splitlines()[2]
    assert head.startswith("2026-01-01 00:00 UTC · elbo-check ")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_report_compiles_with_pdflatex(tmp_path: Path) -> None:
    code, _, _ = _report(
        "gaussian-kl-univariate", "kl-nonnegative", "--out", str(tmp_path), "--format", "tex"
    )
    assert code == 0
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert (tmp_path / "report.pdf").stat().st_size > 10_000


REPORT_MODULES = [
    "elbo_check.report",
    "elbo_check.report._cli",
    "elbo_check.report._model",
    "elbo_check.report._write",
    "elbo_check.report.figures",
    "elbo_check.report.html",
    "elbo_check.report.jsondoc",
    "elbo_check.report.latex",
    "elbo_check.report.markdown",
    "elbo_check.report.notation",
    "elbo_check.report.notebook",
    "elbo_check.report.terminal",
    "elbo_check.report.validation",
]


@pytest.mark.parametrize("name", REPORT_MODULES)
def test_every_report_module_defines_what_its_all_names(name: str) -> None:
    import importlib

    module = importlib.import_module(name)
    assert module.__all__
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_results_do_not_import_the_renderers() -> None:
    import sys

    code = (
        "import sys, elbo_check.results, elbo_check.derivation, elbo_check.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('elbo_check.report')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


@pytest.mark.slow
def test_evidence_adds_three_captioned_figures_to_every_format(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, _, _ = _report("gaussian-kl-standard-prior", "--evidence", "--out", str(tmp_path))
    assert code == 0
    keys = ["mc-convergence", "elbo-gap", "kl-contour"]
    for key in keys:
        assert (tmp_path / "figures" / f"{key}.svg").read_text().count("<svg") == 1
        assert (tmp_path / "figures" / f"{key}.pdf").read_bytes().startswith(b"%PDF-")
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [f["key"] for f in doc["figures"]] == keys
    assert doc["figures"][0]["svg"] == "figures/mc-convergence.svg"
    assert doc["derivations"][0]["evidence"][0]["passed"] is True
    page = (tmp_path / "report.html").read_text()
    assert page.count("<figcaption>") == 3
    assert "Units: nats" in page
    assert "draws of q, n (log scale)" in page  # axis labels are text in the inline SVG
    assert "KL [nats]" in page
    assert (
        r"\includegraphics[width=\linewidth]{figures/elbo-gap.pdf}"
        in (tmp_path / "report.tex").read_text()
    )


def test_figures_are_byte_identical_across_runs() -> None:
    pytest.importorskip("matplotlib")
    from elbo_check.report.figures import kl_contour_figure

    first, second = kl_contour_figure(), kl_contour_figure()
    assert first.svg == second.svg
    assert first.pdf == second.pdf
    assert "<dc:date>" not in first.svg
    assert "(mean of q)" in first.svg
    assert "(log-variance of q)" in first.svg


def test_report_strict_exits_one_when_a_step_is_only_corroborated(tmp_path: Path) -> None:
    src = tmp_path / "arctan.py"
    src.write_text(
        "import sympy as sp\n"
        "from elbo_check import Derivation\n"
        "x = sp.Symbol('x', positive=True)\n"
        "d = Derivation('arctan').start(sp.atan(x) + sp.atan(1 / x))"
        ".equals(sp.pi / 2, by='identity')\n"
    )
    argv = ["--file", str(src), "--out", str(tmp_path / "r"), "--format", "md"]
    code, _, _ = _report(*argv)
    assert code == 0
    assert "≈ **corroborated**" in (tmp_path / "r" / "report.md").read_text()
    code, _, _ = _report(*argv, "--strict")
    assert code == 1


def test_evidence_without_matplotlib_is_a_one_line_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = _report("bayes", "--evidence", "--out", str(tmp_path))
    assert code == 2
    assert err == (
        "elbo-check: error: --evidence needs matplotlib for its figures: "
        "pip install 'elbo-check[report]'\n"
    )
