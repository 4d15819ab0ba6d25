"""Load a user's derivation module from a file, safely and without side effects on disk.

The module is imported from source with bytecode writing turned off, so no
``__pycache__`` appears next to the user's file.  Any exception raised while
importing becomes a one-line :class:`~elbo_check.errors.UsageError`.

>>> from elbo_check.loader import load_derivations
>>> load_derivations("no/such/file.py")
Traceback (most recent call last):
...
elbo_check.errors.UsageError: derivation file not found: 'no/such/file.py'
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from elbo_check.derivation import Derivation
from elbo_check.errors import DerivationError, UsageError

__all__ = ["load_derivations", "load_file"]


@contextlib.contextmanager
def user_output_to_stderr() -> Iterator[None]:
    """Send whatever user code prints (``print``, ``sys.__stdout__``, fd 1) to standard error.

    Our own output on standard output (JSON, say) must never be corrupted by a
    module that prints on import.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 (embedded): the Python-level redirect still applies
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def load_derivations(path: str | Path) -> list[Derivation]:
    """Import ``path`` and return every :class:`Derivation` defined at its top level.

    ``path`` may be a folder: every ``*.py`` module in it (not starting with
    ``_``), in name order.  A module can import a helper module next to it.
    """
    file = Path(path)
    if file.is_dir():
        found: list[Derivation] = []
        modules = sorted(p for p in file.glob("*.py") if not p.name.startswith("_"))
        if not modules:
            raise UsageError(f"folder {str(path)!r} holds no .py module")
        for module_path in modules:
            found.extend(_load_file(module_path))  # helper modules define none: fine
        if not found:
            raise UsageError(f"no module in folder {str(path)!r} defines a Derivation")
        return found
    found = _load_file(file)
    if not found:
        raise UsageError(f"{path} defines no Derivation at its top level")
    return found


def load_file(path: str | Path) -> list[Derivation]:
    """The Derivations defined at the top level of one ``.py`` file (possibly none).

    >>> load_file("no/such/file.py")
    Traceback (most recent call last):
    ...
    elbo_check.errors.UsageError: derivation file not found: 'no/such/file.py'
    """
    return _load_file(Path(path))


def _load_file(path: Path) -> list[Derivation]:
    """The Derivations defined at the top level of one ``.py`` file."""
    file = path
    if not file.is_file():
        raise UsageError(f"derivation file not found: {str(path)!r}")
    if file.suffix != ".py":
        raise UsageError(f"derivation file must be a .py file, got {str(path)!r}")
    name = f"_elbo_check_user_{file.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:  # pragma: no cover - defensive
        raise UsageError(f"cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.modules[name] = module
    folder = str(file.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)  # so the module can import a helper next to it
    try:
        with user_output_to_stderr():
            spec.loader.exec_module(module)
    except DerivationError:
        raise
    except SystemExit as exc:
        raise UsageError(f"{path} called sys.exit({exc.code!r}) on import") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = str(exc).splitlines()[0] if str(exc) else ""
        raise UsageError(f"{path} raised {type(exc).__name__} on import: {message}") from None
    finally:
        sys.dont_write_bytecode = previous
        sys.modules.pop(name, None)
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
    found: list[Derivation] = []
    for value in vars(module).values():
        if isinstance(value, Derivation) and all(value is not d for d in found):
            if type(value) is not Derivation:
                raise UsageError(
                    f"{path}: {type(value).__name__} is a subclass of Derivation; "
                    "the checker accepts Derivation itself only"
                )
            found.append(value)
    return found
