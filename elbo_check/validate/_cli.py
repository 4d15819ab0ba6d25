"""The ``elbo-check validate`` subcommand: flags, target loading, output, exit codes.

``elbo_check.cli`` builds the subparser with :func:`add_arguments` and calls
:func:`run`, which returns 0 (matches), 1 (wrong) or 2 (could not run).

Targets are ``package.module:function`` or ``path/to/file.py:function``.  A
file is executed from source with ``sys.dont_write_bytecode`` set, so no
``__pycache__`` appears next to the user's files; nothing is ``eval``-ed.

>>> import argparse
>>> from elbo_check.validate._cli import add_arguments
>>> p = argparse.ArgumentParser()
>>> add_arguments(p)
>>> ns = p.parse_args(["m:f", "--args", "mu,logvar", "--reduction", "sum"])
>>> ns.backend, ns.dtype, ns.format
('numpy', 'float64', 'text')
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    parser.add_argument("--backend", default="numpy", choices=["numpy", "torch", "jax"])
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
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
        help="also write report.html, report.md, report.tex and report.json (with an error plot)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds one call may take (default 10)",
    )


@contextlib.contextmanager
def _no_bytecode(extra_path: str | None) -> Iterator[None]:
    old_flag = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    added = extra_path is not None and extra_path not in sys.path
    if added:
        sys.path.insert(0, str(extra_path))
    try:
        yield
    finally:
        sys.dont_write_bytecode = old_flag
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(extra_path))


def load_target(target: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``file.py:function`` without writing bytecode.

    >>> load_target("numpy:sum").__name__
    'sum'
    >>> load_target("nofile.py:f")
    Traceback (most recent call last):
    ...
    elbo_check.errors.ValidationError: cannot load target 'nofile.py:f': no such file 'nofile.py'
    """
    if ":" not in target:
        raise ValidationError(f"TARGET must be module:function or file.py:function, got {target!r}")
    where, _, attr = target.rpartition(":")
    if not where or not attr:
        raise ValidationError(f"TARGET must be module:function or file.py:function, got {target!r}")
    is_file = where.endswith(".py") or os.sep in where or "/" in where
    try:
        if is_file:
            path = Path(where)
            if not path.is_file():
                raise ValidationError(f"cannot load target {target!r}: no such file {where!r}")
            name = f"_elbo_check_target_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ValidationError(f"cannot load target {target!r}: not a python file")
            module = importlib.util.module_from_spec(spec)
            with _no_bytecode(str(path.resolve().parent)):
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(name, None)
                    raise
        else:
            with _no_bytecode(os.getcwd()):
                module = importlib.import_module(where)
    except ValidationError:
        raise
    except BaseException as exc:  # the user's module may raise anything at import
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ValidationError(f"cannot import {where!r}: {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValidationError(
                f"cannot load target {target!r}: {where!r} has no attribute {part!r}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValidationError(f"target {target!r} is not callable (got {type(obj).__name__})")
    return obj


def run(ns: argparse.Namespace) -> int:
    """Run ``elbo-check validate`` from parsed arguments; returns the exit code."""
    from elbo_check.validate import validate

    fn = load_target(ns.target)
    result = validate(
        fn,
        args=ns.roles,
        reduction=ns.reduction,
        backend=ns.backend,
        dtype=ns.dtype,
        examples=ns.examples,
        seed=ns.seed,
        timeout=ns.timeout,
    )
    if getattr(ns, "report", None):
        from elbo_check.report.validation import write_report_from_cli

        write_report_from_cli(result, fn, ns.report)
    if ns.format == "json":
        print(result.to_json())
    else:
        print(f"elbo-check validate {ns.target}")
        print(result.report())
    sys.stdout.flush()
    return 0 if result.ok else 1
