"""Jupyter representations: the same MathML and badges as the HTML report, and LaTeX.

The result classes call these through one-line ``_repr_html_`` and
``_repr_latex_`` methods that import this module lazily, so renderers depend
on results and never the other way round at import time.

>>> import sympy as sp
>>> from elbo_check import Derivation
>>> x = sp.Symbol("x")
>>> d = Derivation("tiny").start((x + 1) ** 2).equals(x**2 + 2 * x + 1, by="expand")
>>> print(derivation_latex(d))
$$\\begin{aligned}\\left(x + 1\\right)^{2} &= x^{2} + 2 x + 1 && \\text{(1) expand}\\end{aligned}$$
"""

from __future__ import annotations

import html
from typing import Any

from elbo_check.derivation import Derivation
from elbo_check.report._model import BADGES
from elbo_check.report.html import badge_html, derivation_html
from elbo_check.report.notation import RELATION_LATEX, latex, mathml
from elbo_check.results import DerivationResult
from elbo_check.verdict import Verdict

__all__ = [
    "NOTEBOOK_CSS",
    "derivation_html_preview",
    "derivation_latex",
    "result_html",
    "result_latex",
    "validation_html",
    "validation_latex",
]

_E = html.escape

#: styles scoped to the output cell (a notebook page has its own)
NOTEBOOK_CSS = """<style>
.elbo-check ol.chain { list-style: none; padding: 0; margin: 0.4rem 0; }
.elbo-check ol.chain > li { display: flex; flex-wrap: wrap; gap: 0.2rem 1rem;
  align-items: baseline; padding: 0.2rem 0; border-top: 1px dotted #d0d7de; }
.elbo-check ol.chain > li.start { border-top: none; }
.elbo-check .math { flex: 1 1 24rem; overflow-x: auto; }
.elbo-check .why { flex: 0 1 18rem; font-size: 0.9em; }
.elbo-check .step, .elbo-check .method, .elbo-check .note, .elbo-check .meta { color: #57606a; }
.elbo-check .badge { border-radius: 0.8em; padding: 0 0.5em; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.elbo-check .cex { border-left: 3px solid #8a1010; padding-left: 0.4rem; }
.elbo-check table { border-collapse: collapse; font-size: 0.9em; }
.elbo-check th, .elbo-check td { text-align: left; padding: 0.15rem 0.5rem; vertical-align: top; }
</style>"""


def result_html(result: DerivationResult) -> str:
    """A checked derivation: chain, badges, counterexamples and ledger."""
    return f'{NOTEBOOK_CSS}<div class="elbo-check">{derivation_html(result)}</div>'


def derivation_html_preview(derivation: Derivation) -> str:
    """An unchecked derivation: its chain and justifications (no verdicts yet)."""
    items = []
    starts = {s.index for s in derivation.steps if s.index == min(
        t.index for t in derivation.steps if t.chain == s.chain)}  # fmt: skip
    for s in derivation.steps:
        if s.index in starts:
            items.append(f'<li class="start"><div class="math">{mathml(s.lhs)}</div></li>')
        rel = {"=": "=", "<=": "≤", ">=": "≥"}[s.relation]
        body = mathml(s.rhs).replace('<math display="block">', f"<math><mo>{rel}</mo>", 1)
        items.append(
            f'<li><div class="math">{body}</div><div class="why">'
            f'<span class="step">({s.index})</span> {_E(s.by)}</div></li>'
        )
    return (
        f'{NOTEBOOK_CSS}<div class="elbo-check"><strong>{_E(derivation.title)}</strong> '
        f'<span class="meta">(<code>{_E(derivation.name)}</code>, not checked yet: '
        f"<code>elbo_check.check(d)</code>)</span>"
        f'<ol class="chain">{"".join(items)}</ol></div>'
    )


def _text(s: str) -> str:
    """Text for MathJax's ``\\text{}``."""
    for ch, rep in (("\\", r"\backslash "), ("{", r"\{"), ("}", r"\}"), ("$", r"\$"),
                    ("#", r"\#"), ("%", r"\%"), ("&", r"\&")):  # fmt: skip
        s = s.replace(ch, rep)
    return s


def _aligned(derivation: Derivation, notes: dict[int, str]) -> str:
    rows = []
    seen: set[int] = set()
    for s in derivation.steps:
        left = "" if s.chain in seen else latex(s.lhs)
        seen.add(s.chain)
        note = notes.get(s.index, "")
        rows.append(
            f"{left} &{RELATION_LATEX[s.relation]} {latex(s.rhs)} "
            rf"&& \text{{({s.index}) {_text(note + s.by)}}}"
        )
    return "$$\\begin{aligned}" + r" \\ ".join(rows) + "\\end{aligned}$$"


def derivation_latex(derivation: Derivation) -> str:
    """The chain as one ``aligned`` display for MathJax."""
    return _aligned(derivation, {})


def result_latex(result: DerivationResult) -> str:
    """The chain with each link's verdict (symbol and word) before its justification."""
    notes = {r.step.index: f"{BADGES[r.verdict].symbol} {r.verdict.value}: " for r in result.steps}
    return _aligned(result.derivation, notes)


def validation_html(result: Any) -> str:
    """A :class:`~elbo_check.ValidationResult`: verdict, diagnosis, counterexample."""
    verdict = Verdict.PROVED if result.ok else Verdict.REFUTED
    label = "matches the reference" if result.ok else "wrong"
    rows = [
        f"<p>{badge_html(verdict).replace(BADGES[verdict].label, label)} "
        f"max relative error {_E(_fmt(result.max_rel_error))} over {result.examples} examples</p>"
    ]
    if result.diagnosis:
        rows.append(f"<p><strong>Diagnosis:</strong> {_E(result.diagnosis)}</p>")
    cex = result.counterexample
    if cex:
        inputs = ", ".join(f"{k} = {v}" for k, v in cex.get("inputs", {}).items())
        got = cex.get("returned") if cex.get("error") is None else cex.get("error")
        rows.append(
            f'<div class="cex"><strong>Counterexample</strong> {_E(inputs)}<br>'
            f"expected {_E(str(cex.get('expected')))}, returned {_E(str(got))}</div>"
        )
    rows += [f'<p class="note">warning: {_E(w)}</p>' for w in result.warnings]
    return f'{NOTEBOOK_CSS}<div class="elbo-check">{"".join(rows)}</div>'


def validation_latex(result: Any) -> str:
    """A one-line LaTeX summary of a validation result."""
    head = r"\text{OK}" if result.ok else r"\text{WRONG}"
    tail = f": {_text(result.diagnosis)}" if result.diagnosis else ""
    return rf"$${head}\ \text{{(max rel. error {_fmt(result.max_rel_error)}){_text(tail)}}}$$"


def _fmt(value: float) -> str:
    return "nan" if value != value else f"{value:.3g}"
