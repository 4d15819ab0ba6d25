"""Loading a validation target, ``package.module:function`` or ``path/to/file.py:function``.

A file is executed from source with ``sys.dont_write_bytecode`` set, so no
``__pycache__`` appears next to the user's files; nothing is ``eval``-ed.
The worker process calls :func:`load_target` to load the CLI's target itself.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from elbo_check.errors import ValidationError

__all__ = ["is_file_target", "load_target", "split_target"]


def split_target(target: str) -> tuple[str, str]:
    """``"where:attr"`` split at the last colon (raises ValidationError when malformed).

    >>> split_target("pkg.mod:kl")
    ('pkg.mod', 'kl')
    """
    if ":" not in target:
        raise ValidationError(f"TARGET must be module:function or file.py:function, got {target!r}")
    where, _, attr = target.rpartition(":")
    if not where or not attr:
        raise ValidationError(f"TARGET must be module:function or file.py:function, got {target!r}")
    return where, attr


def is_file_target(where: str) -> bool:
    """True when ``where`` names a file rather than a module."""
    return where.endswith(".py") or os.sep in where or "/" in where


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
    where, attr = split_target(target)
    is_file = is_file_target(where)
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
