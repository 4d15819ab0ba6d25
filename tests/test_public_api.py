"""Every module's ``__all__`` names exactly what it defines, and the package imports lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import elbo_check

MODULES = [
    "elbo_check.checker",
    "elbo_check.derivation",
    "elbo_check.errors",
    "elbo_check.core",
    "elbo_check.core.algebra",
    "elbo_check.core.decide",
    "elbo_check.core.fragment",
    "elbo_check.core.integrals",
    "elbo_check.core.lemmas",
    "elbo_check.core.premises",
    "elbo_check.core.terms",
    "elbo_check.ledger",
    "elbo_check.vocab",
    "elbo_check._printing",
    "elbo_check.lemmas",
    "elbo_check.loader",
    "elbo_check.numeric",
    "elbo_check.render",
    "elbo_check.results",
    "elbo_check.rules",
    "elbo_check.verdict",
    "elbo_check.cli",
    "elbo_check.kernel",
    "elbo_check.mc",
    "elbo_check.models",
    "elbo_check.evidence",
    "elbo_check.testing",
    "elbo_check.pytest_plugin",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_is_defined(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_every_lazy_export_of_the_package_resolves() -> None:
    for attr in elbo_check.__all__:
        assert getattr(elbo_check, attr) is not None, attr


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = elbo_check.nope  # type: ignore[attr-defined]


def test_importing_the_package_does_not_import_sympy() -> None:
    code = "import sys, elbo_check; print('sympy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False"


def test_every_error_derives_from_the_one_root() -> None:
    from elbo_check import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ElboCheckError)
