"""The ``elbo-check`` command line: ``list``, ``prove``, ``validate``, ``report``, ``kl-formula``.

Exit codes: 0 success; 1 a step is refuted or undecided (with ``--strict``:
not proved), or a validated function is wrong; 2 usage errors (unknown slug,
missing file, a module that raises on import or defines no derivation, bad
flags).  User errors print one line, never a traceback.

>>> from elbo_check.cli import build_parser
>>> build_parser().parse_args(["prove", "bayes", "--strict"]).strict
True
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from elbo_check.errors import ElboCheckError

if TYPE_CHECKING:
    from elbo_check.derivation import Derivation
    from elbo_check.evidence import EvidenceLine
    from elbo_check.results import StepResult

__all__ = ["build_parser", "main", "report_evidence", "write_atomically"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format (exit code 2) and "did you mean" for typos."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{_suggestion(self, message)}\n")


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every ``--flag`` of ``parser`` and of its subcommands."""
    found: list[str] = []
    for action in parser._actions:
        found.extend(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.extend(_option_strings(sub))
    return sorted(set(found))


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """``"; did you mean '--step-timeout'?"`` for a misspelt flag or subcommand, else ``""``.

    >>> _suggestion(build_parser(), "unrecognized arguments: --stepp-timeout 3")
    "; did you mean '--step-timeout'?"
    >>> _suggestion(build_parser(), "argument command: invalid choice: 'prov' (choose from 'list', 'prove')")
    "; did you mean 'prove'?"
    """
    import difflib
    import re

    if "maybe you meant" in message:  # argparse's own suggest_on_error (Python 3.14+)
        return ""
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        word, options = choice.group(1), re.findall(r"[\w-]+", choice.group(2))
    elif message.startswith("unrecognized arguments:"):
        flags = [w.split("=")[0] for w in message.split(":", 1)[1].split() if w.startswith("--")]
        if not flags:
            return ""
        word, options = flags[0], _option_strings(parser)
    else:
        return ""
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = _Parser(
        prog="elbo-check", description="A formal derivation verifier for variational inference."
    )
    from elbo_check import __version__

    parser.add_argument("--version", action="version", version=f"elbo-check {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the shipped derivations (slug and title)")

    prove = sub.add_parser("prove", help="check derivations step by step")
    prove.add_argument(
        "slugs", nargs="*", metavar="SLUG", help="derivations to prove (default: all shipped)"
    )
    prove.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="F.py",
        help="prove every Derivation defined at the top level of F.py, or of every module in a "
        "folder (repeatable); with SLUGs, only those",
    )
    prove.add_argument("--format", choices=("text", "json"), default="text")
    prove.add_argument("--strict", action="store_true", help="exit 1 unless every step is proved")
    prove.add_argument(
        "--step-timeout",
        type=_positive_float,
        default=None,
        metavar="S",
        help="seconds of symbolic work per step (default: step-timeout in pyproject.toml's "
        "[tool.elbo-check], else 5)",
    )
    prove.add_argument(
        "--evidence",
        action="store_true",
        help="add Monte Carlo evidence lines for the closed-form results",
    )
    prove.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE atomically instead of standard output",
    )
    prove.add_argument("--seed", type=int, default=0, help="seed of the numeric stages (default 0)")
    prove.add_argument(
        "--no-math",
        action="store_true",
        help="text format: the compact table of justifications instead of the formulas",
    )
    prove.add_argument(
        "--full",
        action="store_true",
        help="print huge expressions in full (by default they are elided past 2,000 nodes)",
    )
    loudness = prove.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="text format: only the steps that did not pass, and the summary; no progress",
    )
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="one line per checked step on standard error, also when it is not a terminal",
    )

    validate = sub.add_parser("validate", help="check a third-party KL implementation")
    from elbo_check._validate._cli import add_arguments

    add_arguments(validate)
    from elbo_check.report._cli import add_report_parser

    add_report_parser(sub)
    from elbo_check.klformula._cli import add_kl_parser

    add_kl_parser(sub)
    return parser


def write_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``: never half-written.

    A symlink is followed (its target is replaced), an existing file keeps its
    mode, a new one gets the umask's, and a device or FIFO (``/dev/stdout``) is
    written directly: renaming over it would replace the device itself.
    """
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file() and not target.is_dir():
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise ElboCheckError(f"cannot write {str(path)!r}: {exc.strerror}") from None
        return
    directory = target.parent
    if not directory.is_dir():
        raise ElboCheckError(f"output directory does not exist: {str(Path(path).parent)!r}")
    if target.is_dir():
        raise ElboCheckError(f"cannot write {str(path)!r}: it is a directory")
    mode = _mode_for(target)
    with _terminate_as_exception():
        _replace(target, directory, text, mode, path)


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM into an exception while writing, so the temporary file is removed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _replace(target: Path, directory: Path, text: str, mode: int, path: str | Path) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    except OSError as exc:
        raise ElboCheckError(f"cannot write to {str(directory)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ElboCheckError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """An existing file's mode, or what the umask gives a new file."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _cmd_list(out: TextIO) -> int:
    from elbo_check._library import shipped

    derivations = shipped()

    for slug in derivations.slugs():
        out.write(f"{slug:<36} {derivations.get(slug).title}\n")
    out.write("\nKL closed forms of `elbo-check kl-formula` (not in the default run; prove or report by slug):\n")
    for slug, (q, p) in derivations.kl_pair_slugs().items():
        out.write(f"{slug:<36} KL({q} || {p})\n")
    return EXIT_OK


def _collect(ns: argparse.Namespace) -> list[Derivation]:
    from elbo_check._library import shipped
    from elbo_check.loader import load_derivations

    derivations = shipped()

    loaded: list[Derivation] = [d for path in ns.file for d in load_derivations(path)]
    names = [d.name for d in loaded]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ElboCheckError(f"two derivations in --file are named {duplicates[0]!r}")
    if ns.file and ns.slugs:
        # SLUG picks derivations from the files first, then from the shipped library
        by_name = {d.name: d for d in loaded}
        for slug in ns.slugs:
            if slug not in by_name and slug not in derivations.slugs():
                import difflib

                known = [*by_name, *derivations.slugs()]
                close = difflib.get_close_matches(slug, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ElboCheckError(
                    f"no derivation named {slug!r} in --file or the shipped library{hint}"
                )
        chosen = [by_name[s] if s in by_name else derivations.get(s) for s in ns.slugs]
    elif ns.file:
        chosen = loaded
    elif ns.slugs:
        chosen = [derivations.get(s) for s in ns.slugs]
    else:
        chosen = derivations.all_derivations()
    for d in chosen:
        d.validate()
    return chosen


def _progress(enabled: bool, err: TextIO, name: str = "", verbose: bool = False) -> Any:
    if verbose:

        def log(result: StepResult) -> None:
            err.write(
                f"elbo-check: {name} step {result.step.index}: {result.verdict.value} "
                f"({result.seconds:.3f}s)\n"
            )
            err.flush()

        return log
    if not enabled:
        return None

    def show(result: StepResult) -> None:
        err.write(f"\r  checked step {result.step.index}: {result.verdict.value:<12}")
        err.flush()

    return show


def _apply_settings(ns: argparse.Namespace) -> None:
    """Fill what the command line leaves open from ``[tool.elbo-check]`` in pyproject.toml."""
    from elbo_check.settings import load_settings

    settings = load_settings()
    if ns.step_timeout is None:
        ns.step_timeout = settings.step_timeout
    ns.strict = ns.strict or settings.strict
    if not ns.file and not ns.slugs and settings.files:
        ns.file = [str(path) for path in settings.files]


def _cmd_prove(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from elbo_check._printing import full_output

    _apply_settings(ns)

    with full_output() if ns.full else contextlib.nullcontext():
        return _prove(ns, out, err)


def _prove(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from elbo_check.checker import CheckConfig, Checker
    from elbo_check.render import colourize, render_json, render_quiet, render_text, use_colour

    chosen = _collect(ns)
    checker = Checker(CheckConfig(step_timeout=ns.step_timeout, seed=ns.seed))
    interactive = err.isatty() and not ns.quiet and not ns.verbose
    results = []
    for d in chosen:
        if interactive:
            err.write(f"\rproving {d.name} ...{' ' * 30}\n")
        results.append(checker.check(d, on_step=_progress(interactive, err, d.name, ns.verbose)))
    if interactive:
        err.write("\r" + " " * 60 + "\r")
    evidence = None
    if ns.evidence:
        from elbo_check.evidence import collect_evidence

        evidence = {d.name: collect_evidence(d.name, seed=ns.seed) for d in chosen}
    if ns.format == "json":
        text = render_json(results, evidence)
    elif ns.quiet:
        text = render_quiet(results, strict=ns.strict)
    else:
        text = render_text(results, evidence, math=not ns.no_math)
    if ns.output:
        write_atomically(ns.output, text)
    else:
        out.write(colourize(text) if ns.format == "text" and use_colour(out) else text)
    evidence_failed = report_evidence(evidence, err)
    ok = all(
        r.verdict.is_proof if ns.strict else r.verdict.passes for res in results for r in res.steps
    )
    return EXIT_OK if ok and not evidence_failed else EXIT_FAIL


def report_evidence(evidence: Mapping[str, Sequence[EvidenceLine]] | None, err: TextIO) -> bool:
    """Note skipped evidence lines and warn loudly about failed ones; True when any failed."""
    failed = False
    for name, lines in (evidence or {}).items():
        for line in lines:
            if line.skipped:
                err.write(
                    f"elbo-check: note: numeric evidence skipped for {name}: {line.format_text()}\n"
                )
            elif line.failed:
                failed = True
                err.write(
                    f"elbo-check: WARNING: numeric evidence failed for proved result {name}: "
                    f"{line.format_text()} (this would mean a bug in the checker)\n"
                )
    return failed


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the CLI; returns the exit code."""
    _tolerant_streams()
    # a CLI run is one-off: importing numba for the kernel's loop would cost more than it
    # saves (the user can still ask for it with ELBO_CHECK_JIT=on)
    os.environ.setdefault("ELBO_CHECK_JIT", "off")
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        if ns.command == "list":
            return _cmd_list(out)
        if ns.command == "prove":
            return _cmd_prove(ns, out, err)
        if ns.command == "report":
            from elbo_check.report._cli import run_report

            return run_report(ns, out, err, argv)
        if ns.command == "kl-formula":
            from elbo_check.klformula._cli import run_kl_command

            return run_kl_command(ns, out, err)
        from elbo_check._validate._cli import run

        return run(ns)
    except ElboCheckError as exc:
        err.write(f"elbo-check: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("elbo-check: interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader went away (`elbo-check list | head -1`): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _tolerant_streams() -> None:
    """Never crash on a terminal that cannot encode our unicode (``PYTHONIOENCODING=cp1252``)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")
