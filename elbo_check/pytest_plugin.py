"""pytest plugin: run derivations as tests (``pytest --derivations PATH``).

Registered through the ``pytest11`` entry point.  This module imports only the
standard library and pytest: sympy and the checker are imported when a
derivation file is collected, never merely because the plugin is installed.

Each step becomes one test item with an id like
``file.py::seed-closed-form::step-1``.  A refuted step fails and shows both
sides and the counterexample; an undecided step fails; a corroborated step
passes with a :class:`CorroboratedWarning`, and fails under
``--derivations-strict``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CorroboratedWarning"]

OPTION = "--derivations"
STRICT = "--derivations-strict"
TIMEOUT = "--derivations-step-timeout"


class CorroboratedWarning(UserWarning):
    """A step passed on numeric evidence only: it is corroborated, not proved."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("elbo-check", "elbo-check: derivations as tests")
    group.addoption(
        OPTION,
        action="append",
        default=[],
        metavar="PATH",
        help="collect every Derivation defined at the top level of PATH (a .py file, or every "
        "module of a folder); repeatable; default: files in pyproject.toml's [tool.elbo-check]",
    )
    group.addoption(
        STRICT,
        action="store_true",
        default=False,
        help="fail corroborated steps too: only proved steps pass (or strict = true in "
        "[tool.elbo-check])",
    )
    group.addoption(
        TIMEOUT,
        type=float,
        default=None,
        metavar="S",
        help="seconds of symbolic work per step (default: [tool.elbo-check] step-timeout, else 5)",
    )


def _settings(config: pytest.Config) -> Any:
    """``[tool.elbo-check]`` of the project pytest runs in (read once)."""
    key = "_elbo_check_settings"
    found = getattr(config, key, None)
    if found is None:
        from elbo_check.errors import ElboCheckError
        from elbo_check.settings import load_settings

        try:
            found = load_settings(config.invocation_params.dir)
        except ElboCheckError as exc:
            raise pytest.UsageError(str(exc)) from None
        setattr(config, key, found)
    return found


def _derivation_paths(config: pytest.Config) -> list[Path]:
    given = config.getoption(OPTION) or []
    if given:
        return [config.invocation_params.dir / raw for raw in given]
    return list(_settings(config).files)


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: they see the derivation steps
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    for path in _derivation_paths(config):
        if not path.exists():
            raise pytest.UsageError(f"--derivations: file not found: {str(path)!r}")
        files = (
            sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
            if path.is_dir()
            else [path]
        )
        if not files:
            raise pytest.UsageError(f"--derivations: folder {str(path)!r} holds no .py module")
        for file in files:
            node = DerivationFile.from_parent(session, path=file.resolve(), in_folder=path.is_dir())
            # genitems reports what it collects: --collect-only and the summary count the steps
            items.extend(session.genitems(node))


class DerivationLoadError(Exception):
    """A derivation file that cannot be imported, or a derivation that is malformed."""


class DerivationFile(pytest.File):
    """A Python module whose top-level Derivations are collected."""

    def __init__(self, *, in_folder: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_folder = in_folder

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        from elbo_check.errors import ElboCheckError
        from elbo_check.loader import load_derivations, load_file

        try:
            found = load_file(self.path) if self.in_folder else load_derivations(self.path)
        except ElboCheckError as exc:
            raise DerivationLoadError(f"--derivations: {exc}") from None
        for derivation in found:
            yield DerivationNode.from_parent(self, name=derivation.name, derivation=derivation)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DerivationLoadError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class DerivationNode(pytest.Collector):
    """One derivation; its children are the steps."""

    def __init__(self, *, derivation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.derivation = derivation

    def collect(self) -> list[pytest.Item]:
        from elbo_check.errors import ElboCheckError

        try:
            self.derivation.validate()
        except ElboCheckError as exc:
            raise DerivationLoadError(f"{self.name}: {exc}") from None
        return [
            StepItem.from_parent(self, name=step.label, step_index=i)
            for i, step in enumerate(self.derivation.steps)
        ]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, DerivationLoadError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class DerivationStepFailure(Exception):
    """A step that did not pass (refuted or undecided, or corroborated under strict)."""


class StepItem(pytest.Item):
    """One step of a derivation."""

    def __init__(self, *, step_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_index = step_index

    def _checker(self) -> Any:
        from elbo_check.checker import CheckConfig, Checker

        key = "_elbo_check_checker"
        checker = getattr(self.config, key, None)
        if checker is None:
            timeout = self.config.getoption(TIMEOUT)
            if timeout is None:
                timeout = _settings(self.config).step_timeout
            checker = Checker(CheckConfig(step_timeout=timeout))
            setattr(self.config, key, checker)
        return checker

    def runtest(self) -> None:
        assert isinstance(self.parent, DerivationNode)
        result = self._checker().check(self.parent.derivation).steps[self.step_index]
        self.user_properties.append(("verdict", result.verdict.value))
        verdict = result.verdict.value
        if verdict == "proved":
            return
        if verdict == "corroborated":
            if self.config.getoption(STRICT) or _settings(self.config).strict:
                raise DerivationStepFailure(
                    _describe(result, "corroborated, not proved (--derivations-strict)")
                )
            warnings.warn(
                CorroboratedWarning(_describe(result, "corroborated, not proved")), stacklevel=1
            )
            return
        raise DerivationStepFailure(_describe(result, verdict))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, DerivationStepFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.parent.name if self.parent else ''}::{self.name}"


def _describe(result: Any, what: str) -> str:
    import sympy as sp

    from elbo_check._printing import safe_print

    step = result.step
    lines = [
        f"step {step.index} is {what}",
        f"  by:  {step.by}",
        f"  lhs: {safe_print(sp.sstr, step.lhs)}",
        f"  {step.relation}",
        f"  rhs: {safe_print(sp.sstr, step.rhs)}",
    ]
    if result.counterexample is not None:
        lines.append(f"  counterexample {result.counterexample}")
    if result.message:
        lines.append(f"  note: {result.message}")
    return "\n".join(lines)
