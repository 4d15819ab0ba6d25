r"""The LaTeX report: a complete ``article`` with amsmath that compiles with pdflatex.

Only packages of a basic TeX installation are used (amsmath, amssymb,
graphicx, color).  Text is escaped and its Unicode math symbols are mapped to
LaTeX; expressions wider than the line are scaled down to fit.

>>> from elbo_check.report._model import ReportMeta
>>> doc = render_latex([], ReportMeta("T", "2026-01-01", "0.1.0", "elbo-check report"))
>>> r"\usepackage{amsmath}" in doc, doc.rstrip().endswith(r"\end{document}")
(True, True)
>>> tex_text("KL(q ‖ p) ≥ 0 for σ² > 0 & 50%")
'KL(q $\\|$ p) $\\geq$ 0 for $\\sigma$\\textsuperscript{2} \\textgreater{} 0 \\& 50\\%'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from elbo_check.report._model import (
    BADGES,
    NOTATION,
    Figure,
    ReportMeta,
    chain_starts,
    ledger_usage,
    source_note,
    step_counts,
    used_by_text,
)
from elbo_check.report.notation import RELATION_LATEX, latex, name_densities
from elbo_check.results import DerivationResult, StepResult
from elbo_check.verdict import Verdict

__all__ = ["render_latex", "tex_text"]

_ASCII = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_MATH = {
    "‖": r"\|", "≥": r"\geq", "≤": r"\leq", "≈": r"\approx", "≠": r"\neq", "→": r"\to",
    "∫": r"\int", "√": r"\surd", "π": r"\pi", "σ": r"\sigma", "μ": r"\mu", "Σ": r"\Sigma",
    "∞": r"\infty", "±": r"\pm", "·": r"\cdot", "×": r"\times", "∈": r"\in", "∑": r"\sum",
    "≔": ":=", "⁻": "^{-}", "ᵀ": "^{T}", "−": "-", "θ": r"\theta", "φ": r"\phi",
    "λ": r"\lambda", "ε": r"\varepsilon", "∂": r"\partial", "∇": r"\nabla", "∀": r"\forall",
    "✔": r"\checkmark", "✘": r"\times", "…": r"\ldots", "∘": r"\circ", "⇒": r"\Rightarrow",
}  # fmt: skip
_SUPERSCRIPT = {"²": "2", "³": "3", "¹": "1", "⁰": "0", "ⁿ": "n"}
_SUBSCRIPT = {"₀": "0", "₁": "1", "₂": "2", "₃": "3", "ₖ": "k", "ᵢ": "i"}
_TEXT = {"–": "--", "—": "---", "“": "``", "”": "''", "’": "'", "‘": "`", "\u00a0": "~"}


def tex_text(text: str) -> str:
    """``text`` escaped for LaTeX, with its Unicode math symbols mapped to LaTeX."""
    out = []
    for ch in text:
        if ch in _ASCII:
            out.append(_ASCII[ch])
        elif ord(ch) < 128:
            out.append(ch)
        elif ch in _MATH:
            out.append(f"${_MATH[ch]}$")
        elif ch in _SUPERSCRIPT:
            out.append(rf"\textsuperscript{{{_SUPERSCRIPT[ch]}}}")
        elif ch in _SUBSCRIPT:
            out.append(rf"\textsubscript{{{_SUBSCRIPT[ch]}}}")
        elif ch in _TEXT:
            out.append(_TEXT[ch])
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            name = unicodedata.name(ch, f"U+{ord(ch):04X}").lower()
            out.append(plain or rf"\textit{{[{name}]}}")
    return "".join(out)


_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage{graphicx}
\usepackage{color}
\usepackage[margin=2.2cm]{geometry}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.4em}
% a display that is scaled down when wider than the line
\newsavebox{\fitbox}
\newcommand{\fitmath}[1]{\sbox{\fitbox}{$\displaystyle #1$}%
  \par\smallskip\noindent\hspace*{1.5em}%
  \ifdim\wd\fitbox>\dimexpr\linewidth-1.5em\relax
    \resizebox{\dimexpr\linewidth-1.5em\relax}{!}{\usebox{\fitbox}}%
  \else\usebox{\fitbox}\fi\par\smallskip}
"""


def _colors() -> str:
    lines = []
    for v, b in BADGES.items():
        for part, hexa in (("bg", b.background), ("fg", b.foreground)):
            rgb = ",".join(f"{int(hexa[i : i + 2], 16) / 255:.3f}" for i in (1, 3, 5))
            lines.append(rf"\definecolor{{{v.value}{part}}}{{rgb}}{{{rgb}}}")
    return "\n".join(lines)


def _badge(verdict: Verdict) -> str:
    b = BADGES[verdict]
    return (
        rf"\colorbox{{{verdict.value}bg}}{{\textcolor{{{verdict.value}fg}}"
        rf"{{\textbf{{{tex_text(b.symbol)}~{b.label}}}}}}}"
    )


def _summary(results: Sequence[DerivationResult]) -> list[str]:
    lines = [
        r"\section*{Summary}",
        r"\begin{center}\small",
        r"\begin{tabular}{lrrrrrlr}",
        r"derivation & steps & proved & corr. & undec. & refuted & verdict & time\\ \hline",
    ]
    for r in results:
        c = step_counts(r)
        counts = " & ".join(str(c[v.value]) for v in Verdict)
        lines.append(
            rf"\texttt{{{tex_text(r.name)}}} & {len(r.steps)} & {counts} & "
            rf"{_badge(r.verdict)} & {r.seconds:.3f}\,s\\"
        )
    return [*lines, r"\end{tabular}", r"\end{center}", ""]


def _link(r: StepResult) -> list[str]:
    s = r.step
    out = [rf"\fitmath{{\quad {RELATION_LATEX[s.relation]} {latex(s.rhs)}}}"]
    why = rf"\hspace*{{1.5em}}({s.index}) {_badge(r.verdict)} {tex_text(s.by)}"
    if r.method:
        why += rf" {{\footnotesize\color[rgb]{{0.35,0.38,0.42}}({tex_text(r.method)})}}"
    out.append(why + r"\par")
    if r.verdict is not Verdict.PROVED and r.message:
        out.append(rf"\hspace*{{1.5em}}{{\small Note: {tex_text(r.message)}}}\par")
    if r.counterexample is not None:
        out.append(
            rf"\hspace*{{1.5em}}\textbf{{Counterexample}} {tex_text(str(r.counterexample))}\par"
        )
    return out


def _ledger(result: DerivationResult) -> list[str]:
    lines = [r"\subsection*{Axiom \& side-condition ledger}", r"\begin{itemize}\small"]
    for entry, steps in ledger_usage(result):
        shows = getattr(entry, "shows", "") or ""
        source = source_note(entry)
        text = tex_text(name_densities(entry.statement))
        if shows:
            text += rf" Shows: \texttt{{{tex_text(name_densities(shows))}}}."
        lines.append(
            rf"\item[] \textsc{{{tex_text(entry.kind)}}} \textbf{{{tex_text(entry.name)}}}"
            rf"{tex_text(source)}: {text} \emph{{Used by {used_by_text(steps)}.}}"
        )
    return [*lines, r"\end{itemize}", ""]


def _derivation(result: DerivationResult, evidence: Sequence[Any]) -> list[str]:
    d = result.derivation
    lines = [
        rf"\section{{{tex_text(d.title)}}}",
        rf"\texttt{{{tex_text(d.name)}}} \quad {_badge(result.verdict)} \quad "
        rf"{len(result.steps)} steps, {result.seconds:.3f}\,s\par",
    ]
    if d.description:
        lines.append(tex_text(d.description) + r"\par")
    starts = chain_starts(result)
    for r in result.steps:
        if r.step.index in starts:
            lines.append(rf"\fitmath{{{latex(r.step.lhs)}}}")
        lines += _link(r)
    if evidence:
        lines += [r"\subsection*{Numeric evidence}", r"\begin{itemize}\small"]
        lines += [rf"\item \texttt{{{tex_text(line.format_text())}}}" for line in evidence]
        lines += [r"\end{itemize}"]
    return lines + _ledger(result)


def _figure(fig: Figure) -> list[str]:
    return [
        r"\begin{figure}[htbp]\centering",
        rf"\includegraphics[width=\linewidth]{{{fig.pdf_path}}}",
        rf"\caption{{\textbf{{{tex_text(fig.title)}.}} {tex_text(fig.caption)}}}",
        r"\end{figure}",
    ]


def render_latex(
    results: Sequence[DerivationResult],
    meta: ReportMeta,
    *,
    evidence: dict[str, list[Any]] | None = None,
    figures: Sequence[Figure] = (),
) -> str:
    """The whole report as a LaTeX article."""
    lines = [
        _PREAMBLE,
        _colors(),
        rf"\title{{{tex_text(meta.title)}}}",
        rf"\author{{elbo-check {tex_text(meta.version)}}}",
        rf"\date{{{tex_text(meta.date)}}}",
        r"\begin{document}",
        r"\maketitle",
        rf"Made by \texttt{{{tex_text(meta.command)}}}\par",
        rf"{{\small {tex_text(NOTATION)}}}\par",
    ]
    if results:
        lines += _summary(results)
    for r in results:
        lines += _derivation(r, (evidence or {}).get(r.name, []))
    if figures:
        lines += [r"\section*{Evidence figures}"]
        for f in figures:
            lines += _figure(f)
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"
