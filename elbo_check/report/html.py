"""The HTML report: one self-contained file (MathML, inline CSS and SVG, no script).

>>> from elbo_check.report._model import ReportMeta
>>> page = render_html([], ReportMeta("T", "2026-01-01", "0.1.0", "elbo-check report"))
>>> page.startswith("<!DOCTYPE html>"), "<script" in page
(True, False)
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from string import Template
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
from elbo_check.report.notation import mathml, name_densities
from elbo_check.results import DerivationResult, StepResult
from elbo_check.verdict import Verdict

__all__ = ["CSS", "badge_html", "derivation_html", "render_html"]

_E = html.escape

#: inline style sheet: system fonts, phone-width friendly, prints cleanly
CSS = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --rule: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; }
h2 { font-size: 1.3rem; margin: 2rem 0 0.4rem; border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
code { font: 0.9em/1.4 ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.meta { color: var(--muted); margin: 0.2rem 0; }
.notation { font-size: 0.85rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.5rem;
  border-bottom: 1px solid var(--rule); }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; white-space: nowrap; border-radius: 0.8em; padding: 0 0.55em;
  font-size: 0.85rem; font-weight: 600; border: 1px solid currentColor;
  print-color-adjust: exact; -webkit-print-color-adjust: exact; }
ol.chain { list-style: none; margin: 0.6rem 0; padding: 0; }
ol.chain > li { display: grid; grid-template-columns: minmax(0, 1fr) 17rem; gap: 0.2rem 1rem;
  padding: 0.35rem 0; border-top: 1px dotted var(--rule); break-inside: avoid; }
ol.chain > li.start { display: block; border-top: none; }
ol.chain > li.start:not(:first-child) { margin-top: 0.8rem; border-top: 2px solid var(--rule); }
.math { overflow-x: auto; overflow-y: hidden; padding: 0.15rem 0; }
math { font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math",
  "DejaVu Math TeX Gyre", math; }
.math math { font-size: 1.15rem; }
.why { font-size: 0.9rem; }
.why .step { color: var(--muted); font-weight: 600; margin-right: 0.3rem; }
.why .method, .why .note { color: var(--muted); font-size: 0.82rem; }
.cex { margin-top: 0.2rem; padding: 0.2rem 0.4rem; border-left: 3px solid #8a1010;
  background: #fff5f5; font-size: 0.85rem; overflow-wrap: anywhere; }
table.ledger td:first-child { white-space: nowrap; }
.kind { font-variant: small-caps; color: var(--muted); }
figure { margin: 1.2rem 0; }
figure svg { width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: var(--muted); }
@media (max-width: 40rem) {
  main { padding: 0.6rem; }
  #summary .count, #summary .time { display: none; }
  ol.chain > li { grid-template-columns: minmax(0, 1fr); }
  table.ledger thead { display: none; }
  table.ledger tr { display: block; border-bottom: 1px solid var(--rule); padding: 0.3rem 0; }
  table.ledger td { display: block; border: none; padding: 0.1rem 0.3rem; }
}
@media print {
  main { max-width: none; padding: 0; }
  .math, .scroll { overflow: visible; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
}
"""

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="elbo-check $version">
<title>$title</title>
<style>$css</style>
</head>
<body>
<main>
<header>
<h1>$title</h1>
<p class="meta">$date · elbo-check $version</p>
<p class="meta">Made by <code>$command</code></p>
<p class="meta notation">$notation</p>
</header>
$body
</main>
</body>
</html>
"""
)


def badge_html(verdict: Verdict) -> str:
    """The coloured verdict badge: symbol and word, so it reads without colour.

    >>> badge_html(Verdict.PROVED)
    '<span class="badge" style="background:#d3f0dc;color:#0b5d27">✔ proved</span>'
    """
    b = BADGES[verdict]
    return (
        f'<span class="badge" style="background:{b.background};color:{b.foreground}">'
        f"{b.symbol} {b.label}</span>"
    )


def _summary(results: Sequence[DerivationResult]) -> str:
    head = "".join(
        f'<th scope="col"{cls}>{h}</th>'
        for h, cls in [
            ("derivation", ""),
            ("steps", ""),
            *((v.value, ' class="count"') for v in Verdict),
            ("verdict", ""),
            ("time", ' class="time"'),
        ]
    )
    rows = []
    for r in results:
        counts = step_counts(r)
        cells = "".join(f'<td class="num count">{counts[v.value]}</td>' for v in Verdict)
        rows.append(
            f'<tr><td><a href="#d-{_E(r.name)}">{_E(r.name)}</a></td>'
            f'<td class="num">{len(r.steps)}</td>{cells}'
            f'<td>{badge_html(r.verdict)}</td><td class="num time">{r.seconds:.3f} s</td></tr>'
        )
    return (
        '<section id="summary"><h2>Summary</h2><div class="scroll"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )


#: left-aligned display-style math (block math would be centred)
_DISPLAY = ' displaystyle="true"'


def _link(r: StepResult, name: str) -> str:
    s = r.step
    rel = {"=": "=", "<=": "≤", ">=": "≥"}[s.relation]
    body = mathml(s.rhs, block=False).replace("<math>", f"<math{_DISPLAY}><mo>{rel}</mo>", 1)
    why = [
        f'<span class="step">({s.index})</span>{badge_html(r.verdict)} {_E(s.by)}',
        f'<div class="method">{_E(r.method)}</div>' if r.method else "",
    ]
    if r.verdict is not Verdict.PROVED and r.message:
        why.append(f'<div class="note">{_E(r.message)}</div>')
    if r.counterexample is not None:
        why.append(f'<div class="cex">Counterexample {_E(str(r.counterexample))}</div>')
    return (
        f'<li id="{_E(name)}-step-{s.index}"><div class="math">{body}</div>'
        f'<div class="why">{"".join(why)}</div></li>'
    )


def _chain(result: DerivationResult) -> str:
    starts = chain_starts(result)
    items = []
    for r in result.steps:
        if r.step.index in starts:
            lhs = mathml(r.step.lhs, block=False).replace("<math>", f"<math{_DISPLAY}>", 1)
            items.append(f'<li class="start"><div class="math">{lhs}</div></li>')
        items.append(_link(r, result.name))
    return f'<ol class="chain">{"".join(items)}</ol>'


def _ledger(result: DerivationResult) -> str:
    rows = []
    for entry, steps in ledger_usage(result):
        shows = getattr(entry, "shows", "") or ""
        source = _E(source_note(entry))
        rows.append(
            f'<tr><td><span class="kind">{_E(entry.kind)}</span></td>'
            f"<td><strong>{_E(entry.name)}</strong>{source}</td>"
            f"<td>{_E(name_densities(entry.statement))}"
            + (f"<br><code>{_E(name_densities(shows))}</code>" if shows else "")
            + f"</td><td>{used_by_text(steps)}</td></tr>"
        )
    return (
        '<h3>Axiom &amp; side-condition ledger</h3><div class="scroll"><table class="ledger">'
        '<thead><tr><th scope="col">kind</th><th scope="col">name</th>'
        '<th scope="col">statement</th><th scope="col">used by</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def derivation_html(result: DerivationResult, evidence: Sequence[Any] = ()) -> str:
    """One derivation: heading, verdict, the chain with its justifications, the ledger."""
    d = result.derivation
    parts = [
        f'<section class="derivation" id="d-{_E(d.name)}">',
        f"<h2>{_E(d.title)}</h2>",
        f'<p class="meta"><code>{_E(d.name)}</code> · {badge_html(result.verdict)} · '
        f"{len(result.steps)} steps · {result.seconds:.3f} s</p>",
    ]
    if d.description:
        parts.append(f"<p>{_E(d.description)}</p>")
    parts.append(_chain(result))
    if evidence:
        items = "".join(f"<li><code>{_E(line.format_text())}</code></li>" for line in evidence)
        parts.append(f"<h3>Numeric evidence</h3><ul>{items}</ul>")
    parts.append(_ledger(result))
    parts.append("</section>")
    return "\n".join(parts)


_SVG_HEAD = re.compile(r"\A.*?(?=<svg\b)", re.S)


def _figure(fig: Figure) -> str:
    svg = _SVG_HEAD.sub("", fig.svg, count=1)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{_E(fig.title)}" ', 1)
    return (
        f'<figure id="fig-{_E(fig.key)}">{svg}'
        f"<figcaption><strong>{_E(fig.title)}.</strong> {_E(fig.caption)}</figcaption></figure>"
    )


def render_html(
    results: Sequence[DerivationResult],
    meta: ReportMeta,
    *,
    evidence: dict[str, list[Any]] | None = None,
    figures: Sequence[Figure] = (),
) -> str:
    """The whole report as one HTML document."""
    body = [_summary(results)] if results else []
    body += [derivation_html(r, (evidence or {}).get(r.name, [])) for r in results]
    if figures:
        body.append('<section id="evidence"><h2>Evidence figures</h2>')
        body += [_figure(f) for f in figures]
        body.append("</section>")
    return _PAGE.substitute(
        title=_E(meta.title),
        date=_E(meta.date),
        version=_E(meta.version),
        command=_E(meta.command),
        css=CSS,
        notation=_E(NOTATION).replace("N(z; m, s²)", "𝒩(z; m, s²)"),
        body="\n".join(body),
    )
