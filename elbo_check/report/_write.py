"""Write a report directory: every file rendered in memory first, then renamed into place.

>>> import tempfile, pathlib
>>> from elbo_check.report._model import ReportMeta
>>> out = pathlib.Path(tempfile.mkdtemp()) / "r"
>>> meta = ReportMeta("T", "2026-01-01", "0.1.0", "elbo-check report")
>>> [p.name for p in write_report([], out, meta, formats=("md", "json"))]
['report.md', 'report.json']
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from elbo_check.errors import UsageError
from elbo_check.report._model import Figure, ReportMeta
from elbo_check.results import DerivationResult

__all__ = ["FORMATS", "ReportMeta", "parse_formats", "prepare_directory", "write_report"]

#: every report format, in the order files are written
FORMATS = ("html", "md", "tex", "json")
_FILES = {"html": "report.html", "md": "report.md", "tex": "report.tex", "json": "report.json"}


def parse_formats(text: str) -> tuple[str, ...]:
    """``"html,md"`` -> ``("html", "md")``; an unknown name is a usage error.

    >>> parse_formats("json, html")
    ('html', 'json')
    >>> parse_formats("pdf")
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: unknown report format 'pdf'; choose from html, md, tex, json
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in FORMATS:
            raise UsageError(f"unknown report format {name!r}; choose from {', '.join(FORMATS)}")
    if not names:
        raise UsageError(f"--format needs at least one of {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names)


def prepare_directory(path: str | Path) -> Path:
    """Create ``path`` if needed; a file or an unwritable directory is a usage error."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out directory {str(out)!r}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to --out directory {str(out)!r}: permission denied")
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_all(files: dict[Path, str | bytes]) -> None:
    """Write each file to a temporary sibling, then rename them all; clean up on error."""
    staged: list[tuple[str, Path]] = []
    mode = 0o666 & ~_umask()
    try:
        for target, content in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            os.chmod(tmp, mode)  # mkstemp makes 0600; a report is an ordinary file
        for tmp, target in staged:
            os.replace(tmp, target)
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc.strerror}: {exc.filename!r}") from None
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def write_report(
    results: Sequence[DerivationResult],
    out_dir: str | Path,
    meta: ReportMeta,
    *,
    formats: Sequence[str] = FORMATS,
    evidence: dict[str, list[Any]] | None = None,
    figures: Sequence[Figure] = (),
) -> list[Path]:
    """Render ``formats`` and write them (and figure files) into ``out_dir``; returns the paths."""
    out = prepare_directory(out_dir)
    renderers = _renderers()
    kwargs: dict[str, Any] = {"evidence": evidence, "figures": figures}
    files: dict[Path, str | bytes] = {}
    for fmt in formats:
        extra = {"files": {f: _FILES[f] for f in formats}} if fmt == "json" else {}
        files[out / _FILES[fmt]] = renderers[fmt](results, meta, **kwargs, **extra)
    if "md" in formats or "json" in formats:
        files.update({out / f.svg_path: f.svg for f in figures})
    if "tex" in formats or "json" in formats:
        files.update({out / f.pdf_path: f.pdf for f in figures})
    _write_all(files)
    return [p for p in files if p.name.startswith("report.")]


def _renderers() -> dict[str, Callable[..., str]]:
    from elbo_check.report.html import render_html
    from elbo_check.report.jsondoc import render_report_json
    from elbo_check.report.latex import render_latex
    from elbo_check.report.markdown import render_markdown

    return {
        "html": render_html,
        "md": render_markdown,
        "tex": render_latex,
        "json": render_report_json,
    }
