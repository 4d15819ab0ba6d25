"""The ``elbo-check kl-formula`` subcommand: flags, the whole-command time limit, rendering.

``elbo_check.cli`` adds the subparser with :func:`add_kl_parser` and calls
:func:`run_kl_command`.  Exit codes: 0 proved, 1 refuted, 2 usage or parse
error, 3 undecided (also when ``--timeout`` runs out).

>>> import argparse
>>> sub = argparse.ArgumentParser().add_subparsers(dest="command")
>>> ns = add_kl_parser(sub).parse_args(["--q", "Normal(m, s)", "--p", "Normal(0, 1)"])
>>> ns.q, ns.claim, ns.format, ns.timeout
('Normal(m, s)', None, 'text', 60.0)
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any, TextIO

import sympy as sp

from elbo_check._printing import safe_print
from elbo_check._timeout import Deadline, StepTimeout, time_limit
from elbo_check.klformula.command import KlReport, Status, run_kl
from elbo_check.klformula.families import FAMILIES, MAX_CATEGORIES
from elbo_check.results import JSON_SCHEMA

__all__ = ["EXIT_UNDECIDED", "add_kl_parser", "run_kl_command"]

EXIT_UNDECIDED = 3

_FAMILY_LINES = textwrap.fill(
    ", ".join(
        f"{f.name}({', '.join(f.params)}{', ...' if f.variadic else ''})" for f in FAMILIES.values()
    )
    + ".",
    width=78,
    initial_indent="  ",
    subsequent_indent="  ",
)

_EPILOG = f"""\
DIST: Family(arg, ...) with sympy.stats names and parameter orders:
{_FAMILY_LINES}
  Arguments are symbols (letters, optionally followed by digits) or numbers
  (decimals are exact: 0.1 is 1/10).  Symbols get their parameter's domain:
  means real, scales and rates positive, probabilities in (0, 1), Binomial's n
  a positive integer; a symbol shared by --q and --p needs the same domain.
  Categorical takes 2 to {MAX_CATEGORIES} probabilities summing to 1: the last symbolic
  one is replaced by 1 minus the others (its name still works in --claim);
  all-numeric probabilities must sum exactly to 1.
EXPR: numbers, the DISTs' symbols, pi, E, oo, + - * / **, and log, exp, sqrt,
  digamma, polygamma(n, x), lgamma, gamma, Abs.  Parsed with a whitelist,
  never evaluated.
exit codes: 0 proved, 1 refuted (with the point and both values), 2 usage
  or parse error, 3 undecided (with what numeric checking found)."""


def add_kl_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``kl-formula`` to the subparsers ``sub``; returns the new parser."""
    from elbo_check.cli import _positive_float

    kl: argparse.ArgumentParser = sub.add_parser(
        "kl-formula",
        help="prove or refute a closed form of KL(q || p) for two named distributions",
        description="Derive KL(q || p) in closed form, or prove or refute a claimed one.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kl.add_argument("--q", required=True, metavar="DIST", help='q, e.g. "Laplace(0, b)"')
    kl.add_argument("--p", required=True, metavar="DIST", help='p, e.g. "Normal(0, 1)"')
    kl.add_argument(
        "--claim",
        metavar="EXPR",
        help="a claimed closed form of KL(q || p); without it, derive and print the closed form",
    )
    kl.add_argument("--format", choices=("text", "json"), default="text")
    kl.add_argument(
        "--timeout",
        type=_positive_float,
        default=60.0,
        metavar="S",
        help="seconds for the whole command (default 60); running out is exit 3",
    )
    return kl


def run_kl_command(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``kl-formula`` for parsed arguments ``ns``; returns the exit code."""
    try:
        with time_limit(ns.timeout):
            report = run_kl(ns.q, ns.p, ns.claim, deadline=Deadline(ns.timeout))
    except StepTimeout:
        message = f"undecided: the time limit of {ns.timeout:g} s ran out"
        if ns.format == "json":
            out.write(
                _dumps(
                    {
                        "schema": JSON_SCHEMA,
                        "command": "kl-formula",
                        "verdict": "undecided",
                        "exit_code": EXIT_UNDECIDED,
                        "notes": [message],
                    }
                )
            )
        else:
            out.write(f"kl-formula: {message}\n")
        return EXIT_UNDECIDED
    out.write(render_json(report) if ns.format == "json" else render_text(report))
    return report.status.value


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _expr(expr: sp.Expr | None) -> str | None:
    return None if expr is None else safe_print(sp.sstr, expr)


def _verdict(status: Status) -> str:
    return status.name.lower()


def render_text(report: KlReport) -> str:
    """The human-readable report: verdict, counterexample, numerics, derivation steps."""
    from elbo_check.render import render_text as render_steps

    lines = [f"KL({report.pair.q} || {report.pair.p})"]
    if report.claim is not None:
        lines.append(f"claim: {_expr(report.claim)}")
    closed = report.derived.closed_form
    lines.append(f"closed form: {_expr(closed) if closed is not None else 'not derived'}")
    lines.append(f"verdict: {_verdict(report.status)}")
    if report.status is Status.REFUTED and report.counterexample is not None:
        lines.append(f"  counterexample {report.counterexample}")
    elif report.finding is not None:
        lines.append(f"numeric: {report.finding.summary()}")
    lines.extend(f"note: {n}" for n in report.notes)
    text = "\n".join(lines) + "\n"
    if report.results:
        text += "\n" + render_steps(report.results, math=True)
    return text


def render_json(report: KlReport) -> str:
    """The JSON document (``"schema": 1``), with the checked derivations as ``prove`` writes them."""
    from elbo_check.render import to_json_dict

    finding = report.finding
    cex = report.counterexample
    doc: dict[str, Any] = {
        "schema": JSON_SCHEMA,
        "command": "kl-formula",
        "q": str(report.pair.q),
        "p": str(report.pair.p),
        "claim": _expr(report.claim),
        "verdict": _verdict(report.status),
        "exit_code": report.status.value,
        "closed_form": _expr(report.derived.closed_form),
        "reason": report.derived.reason,
        "counterexample": None
        if cex is None
        else {"point": dict(cex.point), "kl": cex.kl, "claim": cex.claim},
        "numeric": None
        if finding is None
        else {
            "outcome": finding.outcome.value,
            "points": finding.points,
            "max_difference": finding.max_difference
            if finding.max_difference < float("inf")
            else None,
            "summary": finding.summary(),
        },
        "notes": list(report.notes),
    }
    steps = to_json_dict(report.results)
    doc["derivations"], doc["summary"] = steps["derivations"], steps["summary"]
    return _dumps(doc)
