"""The shipped derivation library, found by its path: a user's ``derivations`` never shadows it.

The library is the top-level ``derivations`` package installed beside
``elbo_check`` (the repository's ``derivations/`` folder).  Importing it by
name would pick up any folder called ``derivations`` that comes first on
``sys.path``, the current directory under ``python -m`` included.  Here it is
imported from the file next to this package, and registered as
``derivations`` so that its modules' own ``from derivations import ...``
resolve to it too.

>>> from elbo_check._library import shipped
>>> shipped().slugs()[0]
'bayes'
>>> shipped().__name__
'derivations'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from elbo_check.errors import UsageError

__all__ = ["shipped", "submodule"]

NAME = "derivations"


def _folder() -> Path:
    return Path(__file__).resolve().parent.parent / NAME


def _is_shipped(module: ModuleType) -> bool:
    origin = getattr(module, "__file__", None)
    return origin is not None and Path(origin).resolve() == _folder() / "__init__.py"


def shipped() -> ModuleType:
    """The shipped ``derivations`` package (imported from its path on first use)."""
    module = sys.modules.get(NAME)
    if module is not None:
        if _is_shipped(module):
            return module
        where = getattr(module, "__file__", None) or "?"
        raise UsageError(
            f"a package named {NAME!r} ({where}) is already imported and hides elbo-check's "
            "shipped derivations; rename your package"
        )
    init = _folder() / "__init__.py"
    spec = importlib.util.spec_from_file_location(
        NAME, init, submodule_search_locations=[str(_folder())]
    )
    if (
        spec is None or spec.loader is None or not init.is_file()
    ):  # pragma: no cover - broken install
        raise UsageError(f"elbo-check's derivation library is missing: {str(init)!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(NAME, None)
        raise
    return module


def submodule(name: str) -> ModuleType:
    """A module of the shipped library, e.g. ``submodule("derivations.bayes")``."""
    shipped()
    return importlib.import_module(name)
