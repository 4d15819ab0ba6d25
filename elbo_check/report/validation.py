"""The validator's report: verdict, diagnosis, counterexample and an error plot, in four formats.

:func:`write_validation_report` reads only a
:class:`~elbo_check.ValidationResult`'s public attributes and
``to_dict()``.  The error plot evaluates the validated function once per point
on two one-dimensional sweeps (N = 1, D = 1: every reduction agrees there)
and compares it with :func:`elbo_check.kernel.gaussian_kl`; it is drawn for
numpy functions with diagonal or 1 × 1 covariance roles, and skipped (with a
note) otherwise.

>>> from elbo_check import ValidationResult
>>> r = ValidationResult(True, None, None, 1e-16, 10, {"args": ["mu", "logvar"]}, [])
>>> "✔ **matches the reference**" in validation_markdown(r, "elbo-check validate m:f", None)
True
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from elbo_check.render import _finite
from elbo_check.report._model import BADGES, Figure, ReportMeta
from elbo_check.report._write import FORMATS, _write_all, prepare_directory
from elbo_check.report.html import CSS
from elbo_check.report.latex import _PREAMBLE, tex_text
from elbo_check.results import JSON_SCHEMA
from elbo_check.verdict import Verdict

__all__ = [
    "error_figure",
    "validation_markdown",
    "write_report_from_cli",
    "write_validation_report",
]

_E = html.escape


def _scale(quantity: str, logvar: float) -> Any:
    values = {
        "logvar": logvar,
        "std": math.exp(logvar / 2),
        "var": math.exp(logvar),
        "logstd": logvar / 2,
    }
    if quantity in values:
        return np.full((1, 1), values[quantity])
    if quantity == "cov":
        return np.full((1, 1, 1), math.exp(logvar))
    if quantity == "scale_tril":
        return np.full((1, 1, 1), math.exp(logvar / 2))
    raise KeyError(quantity)


def _args(roles: Sequence[str], mu: float, logvar: float) -> list[Any]:
    """Arguments for q = N(mu, exp(logvar)) and p = N(0, 1), N = D = 1."""
    out = []
    for role in roles:
        quantity, _, side = role.rpartition("_") if role.endswith(("_q", "_p")) else (role, "", "q")
        if side == "p":
            out.append(np.zeros((1, 1)) if quantity == "mu" else _scale(quantity, 0.0))
        else:
            out.append(np.full((1, 1), mu) if quantity == "mu" else _scale(quantity, logvar))
    return out


def _value(fn: Callable[..., Any], args: list[Any]) -> float:
    try:
        return float(np.asarray(fn(*args), dtype=float).reshape(-1)[0])
    except Exception:  # the user's function may raise anything: plot a gap
        return float("nan")


def error_figure(fn: Callable[..., Any], roles: Sequence[str]) -> Figure:
    """Relative error of ``fn`` against the exact KL along μ and along log σ²."""
    from elbo_check.kernel import gaussian_kl
    from elbo_check.report.figures import _save, _style

    sweeps = {
        "μ  (log σ² = 0)": [(m, 0.0) for m in np.linspace(-5, 5, 41)],
        "log σ²  (μ = 0.5)": [(0.5, lv) for lv in np.linspace(-10, 10, 41)],
    }
    with _style() as MplFigure:
        fig = MplFigure(figsize=(7.5, 3.2), layout="constrained")
        axes = fig.subplots(1, 2)
        axes[0].set_ylabel("|f − KL| / KL  (relative)")
        for ax, (label, points) in zip(axes, sweeps.items(), strict=True):
            xs = [p[0] if label.startswith("μ") else p[1] for p in points]
            got = np.array([_value(fn, _args(roles, m, lv)) for m, lv in points])
            ref = np.array([float(gaussian_kl(m, lv, reduction="sum")) for m, lv in points])
            err = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
            ax.semilogy(xs, np.maximum(err, 1e-17), "o-", ms=3, lw=1, color="C3")
            ax.axhline(1e-6, color="0.4", ls="--", lw=0.8, label="relative error 1e-6")
            ax.set_xlabel(label)
            ax.legend(fontsize=7)
        return _save(
            fig,
            "validation-error",
            "Error of the validated function",
            "Relative error of the function against the exact KL(N(μ, σ²) ‖ N(0, 1)) "
            "(elbo_check.kernel.gaussian_kl) at N = D = 1, along μ with log σ² = 0 and along "
            "log σ² with μ = 0.5; values below 1e-17 are drawn at 1e-17. No unit (a ratio).",
        )


def _facts(result: Any) -> list[tuple[str, str]]:
    conv = result.convention
    rows = [
        ("convention", ", ".join(f"{k}={_join(v)}" for k, v in conv.items())),
        ("examples", str(result.examples)),
        ("max relative error", _fmt(result.max_rel_error)),
    ]
    if result.diagnosis:
        rows.insert(0, ("diagnosis", result.diagnosis))
    cex = result.counterexample
    if cex:
        inputs = ", ".join(f"{k} = {v}" for k, v in cex.get("inputs", {}).items())
        got = cex.get("returned") if cex.get("error") is None else cex.get("error")
        rows += [
            ("counterexample", inputs),
            ("expected", str(cex.get("expected"))),
            ("returned", str(got)),
        ]
    rows += [("warning", w) for w in result.warnings]
    return rows


def _join(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _fmt(value: float) -> str:
    return "nan" if value != value else f"{value:.3g}"


def _verdict(result: Any) -> tuple[Verdict, str]:
    return (Verdict.PROVED, "matches the reference") if result.ok else (Verdict.REFUTED, "wrong")


def validation_html(result: Any, meta: ReportMeta, figure: Figure | None) -> str:
    """The validator's findings as one self-contained HTML page."""
    from elbo_check.report.html import _figure, badge_html

    v, word = _verdict(result)
    badge = badge_html(v).replace(BADGES[v].label, word)
    rows = "".join(f"<tr><th>{_E(k)}</th><td>{_E(t)}</td></tr>" for k, t in _facts(result))
    fig = _figure(figure) if figure else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_E(meta.title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{_E(meta.title)}</h1><p class='meta'>{_E(meta.date)} · elbo-check "
        f"{_E(meta.version)}</p><p class='meta'>Made by <code>{_E(meta.command)}</code></p></header>"
        f"<p>{badge}</p><div class='scroll'><table>{rows}</table></div>{fig}</main></body></html>\n"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def validation_markdown(result: Any, command: str, figure: Figure | None) -> str:
    """The validator's findings as GitHub-flavoured Markdown."""
    v, word = _verdict(result)
    lines = ["# elbo-check validation report", "", f"Made by `{command}`", ""]
    lines += [f"{BADGES[v].symbol} **{word}**", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(t)} |" for k, t in _facts(result)]
    if figure:
        lines += [
            "",
            f"![{figure.title}]({figure.svg_path})",
            "",
            f"**{figure.title}.** {figure.caption}",
        ]
    return "\n".join(lines) + "\n"


def validation_latex(result: Any, meta: ReportMeta, figure: Figure | None) -> str:
    """The validator's findings as a LaTeX article."""
    v, word = _verdict(result)
    rows = "\n".join(rf"\item[{tex_text(k)}] {tex_text(t)}" for k, t in _facts(result))
    fig = (
        rf"\begin{{figure}}[htbp]\centering\includegraphics[width=\linewidth]{{{figure.pdf_path}}}"
        rf"\caption{{{tex_text(figure.caption)}}}\end{{figure}}"
        if figure
        else ""
    )
    return (
        f"{_PREAMBLE}\\title{{{tex_text(meta.title)}}}\\date{{{tex_text(meta.date)}}}"
        f"\\author{{elbo-check {tex_text(meta.version)}}}\n\\begin{{document}}\\maketitle\n"
        f"Made by \\texttt{{{tex_text(meta.command)}}}\\par\n"
        f"\\textbf{{{tex_text(BADGES[v].symbol)} {word}}}\n"
        f"\\begin{{description}}\n{rows}\n\\end{{description}}\n{fig}\n\\end{{document}}\n"
    )


def write_validation_report(
    result: Any,
    out_dir: str | Path,
    meta: ReportMeta,
    *,
    fn: Callable[..., Any] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write the validator's report (and its error plot, when ``fn`` is given) atomically."""
    out = prepare_directory(out_dir)
    roles = list(result.convention.get("args", []))
    figure = None
    if fn is not None and result.convention.get("backend", "numpy") == "numpy":
        try:
            figure = error_figure(fn, roles)
        except (KeyError, ImportError):  # an unknown role, or no matplotlib: no plot
            figure = None
    doc = {
        "schema": JSON_SCHEMA,
        "meta": meta.to_dict(),
        "validation": result.to_dict(),
        "figures": [] if figure is None else [
            {"key": figure.key, "title": figure.title, "caption": figure.caption,
             "svg": figure.svg_path, "pdf": figure.pdf_path}
        ],
    }  # fmt: skip
    render = {
        "html": lambda: validation_html(result, meta, figure),
        "md": lambda: validation_markdown(result, meta.command, figure),
        "tex": lambda: validation_latex(result, meta, figure),
        "json": lambda: json.dumps(_finite(doc), indent=2, ensure_ascii=False) + "\n",
    }
    files: dict[Path, str | bytes] = {out / f"report.{f}": render[f]() for f in formats}
    if figure is not None:
        files[out / figure.svg_path] = figure.svg
        files[out / figure.pdf_path] = figure.pdf
    _write_all(files)
    return [p for p in files if p.name.startswith("report.")]


def write_report_from_cli(result: Any, fn: Callable[..., Any] | None, out_dir: str) -> None:
    """``elbo-check validate ... --report DIR``: the report, dated and with the command line."""
    import sys

    from elbo_check.report._cli import report_date

    meta = ReportMeta.create(
        ["elbo-check", *sys.argv[1:]], date=report_date(), title="elbo-check validation report"
    )
    write_validation_report(result, out_dir, meta, fn=fn)
