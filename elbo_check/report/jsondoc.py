"""The JSON report: ``prove --format json``'s document plus metadata, evidence and figures.

Schema 1 (documented in ``docs/reports.md``)::

    {"schema": 1,
     "meta": {"title", "date", "version", "command"},
     "derivations": [...],   # exactly as in prove --format json (with "evidence" if any)
     "summary": {...},       # as in prove --format json
     "figures": [{"key", "title", "caption", "svg", "pdf"}],   # paths relative to the report
     "files": {"html": "report.html", ...}}

>>> import json
>>> from elbo_check.report._model import ReportMeta
>>> doc = json.loads(render_report_json([], ReportMeta("T", "d", "0.1.0", "c")))
>>> doc["schema"], sorted(doc)
(1, ['derivations', 'figures', 'files', 'meta', 'schema', 'summary'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from elbo_check.render import _finite, to_json_dict
from elbo_check.report._model import Figure, ReportMeta
from elbo_check.results import JSON_SCHEMA, DerivationResult

__all__ = ["SCHEMA", "render_report_json", "report_json_dict"]

#: version of the report's JSON layout; bumped on any incompatible change
SCHEMA = JSON_SCHEMA


def report_json_dict(
    results: Sequence[DerivationResult],
    meta: ReportMeta,
    *,
    evidence: dict[str, list[Any]] | None = None,
    figures: Sequence[Figure] = (),
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The report as a JSON-ready dict (see the module docstring for the schema)."""
    doc: dict[str, Any] = {"schema": SCHEMA, "meta": meta.to_dict()}
    doc.update(to_json_dict(results, evidence))
    doc["figures"] = [
        {
            "key": f.key,
            "title": f.title,
            "caption": f.caption,
            "svg": f.svg_path,
            "pdf": f.pdf_path,
        }
        for f in figures
    ]
    doc["files"] = dict(files or {})
    return doc


def render_report_json(
    results: Sequence[DerivationResult],
    meta: ReportMeta,
    *,
    evidence: dict[str, list[Any]] | None = None,
    figures: Sequence[Figure] = (),
    files: Mapping[str, str] | None = None,
) -> str:
    """Strict JSON text of :func:`report_json_dict` (non-finite numbers as ``null``)."""
    doc = _finite(report_json_dict(results, meta, evidence=evidence, figures=figures, files=files))
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
