"""The ``elbo-check report`` subcommand: prove, then write the report directory.

``elbo_check.cli`` adds the subparser with :func:`add_report_parser` and calls
:func:`run_report`.  Exit codes follow ``prove``: 0 when no step is refuted or
undecided (with ``--strict``: every step proved), 1 otherwise, 2 for usage
errors.  The date comes from ``SOURCE_DATE_EPOCH`` when it is set, so that
reports can be reproduced byte for byte.

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
>>> ns = add_report_parser(sub).parse_args(["bayes", "--out", "r", "--format", "md"])
>>> ns.slugs, ns.out, ns.formats
(['bayes'], 'r', ('md',))
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from elbo_check.errors import UsageError
from elbo_check.report._write import FORMATS, parse_formats

__all__ = ["add_report_parser", "report_date", "run_report"]


def _formats(text: str) -> tuple[str, ...]:
    try:
        return parse_formats(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``report`` to the subparsers ``sub``; returns the new parser."""
    from elbo_check.cli import _positive_float

    report: argparse.ArgumentParser = sub.add_parser(
        "report", help="write derivation reports (HTML, Markdown, LaTeX, JSON)"
    )
    report.add_argument(
        "slugs", nargs="*", metavar="SLUG", help="derivations to report (default: all shipped)"
    )
    report.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="F.py",
        help="also report every Derivation defined at the top level of F.py (repeatable)",
    )
    report.add_argument(
        "--out", required=True, metavar="DIR", help="directory for report.* (created if missing)"
    )
    report.add_argument(
        "--format",
        dest="formats",
        type=_formats,
        default=FORMATS,
        metavar="LIST",
        help=f"comma-separated formats among {','.join(FORMATS)} (default: all)",
    )
    report.add_argument(
        "--evidence",
        action="store_true",
        help="add Monte Carlo evidence lines and figures (matplotlib)",
    )
    report.add_argument("--strict", action="store_true", help="exit 1 unless every step is proved")
    report.add_argument(
        "--step-timeout",
        type=_positive_float,
        default=None,
        metavar="S",
        help="seconds of symbolic work per step (default 5, or [tool.elbo-check] step-timeout)",
    )
    report.add_argument(
        "--seed", type=int, default=0, help="seed of the numeric stages (default 0)"
    )
    loudness = report.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors (the exit code tells)"
    )
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="one line per checked step on standard error"
    )
    return report


def report_date(environ: dict[str, str] | None = None) -> str | None:
    """The date from ``SOURCE_DATE_EPOCH`` (UTC), or None to use the current time.

    >>> report_date({"SOURCE_DATE_EPOCH": "0"})
    '1970-01-01 00:00 UTC'
    >>> report_date({"SOURCE_DATE_EPOCH": "soon"})
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: SOURCE_DATE_EPOCH must be whole seconds, got 'soon'
    """
    env = os.environ if environ is None else environ
    raw = env.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return None
    try:
        when = _dt.datetime.fromtimestamp(int(raw), _dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"SOURCE_DATE_EPOCH must be whole seconds, got {raw!r}") from None
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            "--evidence needs matplotlib for its figures: pip install 'elbo-check[report]'"
        ) from None


def run_report(
    ns: argparse.Namespace, out: TextIO, err: TextIO, argv: Sequence[str] | None = None
) -> int:
    """Prove the chosen derivations and write the report; returns the exit code."""
    from elbo_check.checker import CheckConfig, Checker
    from elbo_check.cli import (
        EXIT_FAIL,
        EXIT_OK,
        _apply_settings,
        _collect,
        _progress,
        report_evidence,
    )
    from elbo_check.report._model import ReportMeta
    from elbo_check.report._write import prepare_directory, write_report

    prepare_directory(ns.out)  # fail fast, before any proving
    if ns.evidence:
        _require_matplotlib()
    _apply_settings(ns)
    chosen = _collect(ns)
    checker = Checker(CheckConfig(step_timeout=ns.step_timeout, seed=ns.seed))
    results = [checker.check(d, on_step=_progress(False, err, d.name, ns.verbose)) for d in chosen]
    evidence, figures = None, []
    if ns.evidence:
        from elbo_check.evidence import collect_evidence
        from elbo_check.report.figures import evidence_figures

        evidence = {d.name: collect_evidence(d.name, seed=ns.seed) for d in chosen}
        figures = evidence_figures(seed=ns.seed)
    command = ["elbo-check", *(sys.argv[1:] if argv is None else argv)]
    meta = ReportMeta.create(command, date=report_date())
    paths = write_report(
        results, ns.out, meta, formats=ns.formats, evidence=evidence, figures=figures
    )
    for path in paths:
        if not ns.quiet:
            out.write(f"wrote {path}\n")
    ok = all(
        r.verdict.is_proof if ns.strict else r.verdict.passes for res in results for r in res.steps
    )
    failed = report_evidence(evidence, err)
    return EXIT_OK if ok and not failed else EXIT_FAIL
