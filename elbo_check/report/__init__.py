"""Derivation reports: HTML (MathML), Markdown, LaTeX and JSON, plus figures.

Renderers read :mod:`elbo_check.results` objects and never check anything.
:func:`write_report` writes ``report.html``, ``report.md``, ``report.tex`` and
``report.json`` (and figure files) into a directory, atomically.

>>> from elbo_check.report import FORMATS
>>> FORMATS
('html', 'md', 'tex', 'json')
"""

from __future__ import annotations

from elbo_check.report._write import FORMATS, ReportMeta, write_report

__all__ = ["FORMATS", "ReportMeta", "write_report"]
