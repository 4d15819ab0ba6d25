"""The ``elbo-check validate`` subcommand: flags, target loading, output, exit codes.

``elbo_check.cli`` builds the subparser with :func:`add_arguments` and calls
:func:`run`, which returns 0 (matches), 1 (wrong) or 2 (could not run).

Targets are ``package.module:function`` or ``path/to/file.py:function``.  A
file is executed from source with ``sys.dont_write_bytecode`` set, so no
``__pycache__`` appears next to the user's files; nothing is ``eval``-ed.

>>> import argparse
>>> from elbo_check._validate._cli import add_arguments
>>> p = argparse.ArgumentParser()
>>> add_arguments(p)
>>> ns = p.parse_args(["m:f", "--args", "mu,logvar", "--reduction", "sum"])
>>> ns.backend, ns.dtype, ns.format
('auto', 'float64', 'text')
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from elbo_check._validate._target import is_file_target, load_target, split_target
from elbo_check._validate._types import BackendName, DtypeName
from elbo_check.errors import ValidationError

__all__ = ["add_arguments", "load_target", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add TARGET and the flags of ``elbo-check validate`` to ``parser``."""
    parser.add_argument(
        "target", metavar="TARGET", help="package.module:function or path/to/file.py:function"
    )
    parser.add_argument(
        "--args",
        dest="roles",
        required=True,
        metavar="ROLES",
        help="comma-separated roles of the positional arguments (e.g. mu,logvar or "
        "mu_q,std_q,mu_p,std_p or mu_q,scale_tril_q,mu_p,scale_tril_p), or auto",
    )
    parser.add_argument(
        "--reduction",
        required=True,
        metavar="R",
        help="none, batch, sum, batchmean, mean (as in gaussian_kl), or auto",
    )
    parser.add_argument(
        "--layout",
        default=None,
        metavar="AXES",
        help='axes of every array argument, e.g. "N C H W" (N: batch; the others are summed over) '
        'or "D N"; default "N D" (auto mode also tries "D N"); a role may override it: '
        "--args mu,logvar:D",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", *(b.value for b in BackendName)],
        help="the array library the function receives; auto (the default) reads the target's "
        "source for torch or jax imports, else numpy",
    )
    parser.add_argument("--dtype", default="float64", choices=[d.value for d in DtypeName])
    parser.add_argument(
        "--examples",
        type=int,
        default=1000,
        metavar="N",
        help="(q, p) pairs to check (default 1000)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of the random batches (default 0)"
    )
    parser.add_argument("--format", default="text", choices=["text", "json"])
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="also write report.html, report.md, report.tex and report.json to DIR",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds one call may take (default 10)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="text format: one line, the verdict and the diagnosis",
    )


def run(ns: argparse.Namespace) -> int:
    """Run ``elbo-check validate`` from parsed arguments; returns the exit code.

    The target is loaded by the worker process only; a target that cannot be
    loaded is a usage error (exit 2).
    """
    from elbo_check._validate._api import Options, run_validation

    where, attr = split_target(ns.target)
    if is_file_target(where) and not Path(where).is_file():
        raise ValidationError(f"cannot load target {ns.target!r}: no such file {where!r}")
    if ns.backend == "auto":
        ns.backend = detect_backend(where)
    opts = Options.checked(
        ns.roles,
        ns.reduction,
        ns.backend,
        ns.dtype,
        ns.examples,
        ns.seed,
        ns.timeout,
        "process",
        ns.layout,
    )
    result = run_validation(opts, target=(where, attr))
    if getattr(ns, "report", None):
        from elbo_check.report.validation import write_report_from_cli

        with _isolated(where, attr, ns.backend, ns.roles, ns.timeout) as fn:
            write_report_from_cli(result, fn, ns.report)
    if ns.format == "json":
        print(result.to_json())
    elif getattr(ns, "quiet", False):
        print(
            f"{'OK' if result.ok else 'WRONG'}: {ns.target}"
            + (f": {result.diagnosis}" if result.diagnosis else "")
        )
    else:
        print(f"elbo-check validate {ns.target}")
        print(result.report())
    sys.stdout.flush()
    return 0 if result.ok else 1


@contextlib.contextmanager
def _isolated(
    where: str, attr: str, backend: str, roles: str, timeout: float
) -> Iterator[Callable[..., Any] | None]:
    """The target as a callable that runs in its own worker process (for the report's plot).

    Each call goes through the worker with the validation's timeout; a call
    that fails, hangs or crashes gives nan (a gap in the plot), never an error
    here.  ``None`` when the target cannot be loaded or the roles are not fixed.
    """
    from elbo_check._validate._runner import open_runner
    from elbo_check._validate._types import CallStatus

    if roles == "auto":
        yield None
        return
    try:
        runner = open_runner(None, backend, "process", target=(where, attr))
    except ValidationError:
        yield None
        return
    names = tuple(r.split(":")[0].strip() for r in roles.split(","))

    def call(*args: Any) -> Any:
        outcome = runner.call([np.asarray(a, dtype=float) for a in args], names, 4096, timeout)
        if outcome.status is not CallStatus.OK or outcome.value is None:
            return float("nan")
        return outcome.value

    try:
        yield call
    finally:
        runner.close()


def detect_backend(where: str) -> str:
    """The backend a target's own source imports: torch, then jax, else numpy.

    The source is read as text, never imported here (the target runs only in
    its worker process).

    >>> detect_backend("numpy")
    'numpy'
    """
    import importlib.util
    import re

    path: str | None = where
    if not is_file_target(where):
        try:
            spec = importlib.util.find_spec(where)
        except (ImportError, ValueError):
            spec = None
        path = spec.origin if spec is not None else None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace") if path else ""
    except OSError:
        text = ""
    for backend in ("torch", "jax"):
        if re.search(rf"^\s*(import|from)\s+{backend}\b", text, re.MULTILINE):
            return backend
    return "numpy"
