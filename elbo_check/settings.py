"""Project settings from ``pyproject.toml``, table ``[tool.elbo-check]``.

The nearest ``pyproject.toml`` from the current directory upward is read::

    [tool.elbo-check]
    step-timeout = 10        # seconds of symbolic work per step (default 5)
    strict = true            # only proved steps pass (default false)
    files = ["proofs/"]      # what `elbo-check prove` and the pytest plugin prove

``files`` are relative to the ``pyproject.toml`` folder.  Command-line flags
win over the file.  An unknown key is a one-line usage error with a "did you
mean".  TOML is read with ``tomllib`` (Python 3.11+) or ``tomli`` (a dependency on 3.10).

>>> from pathlib import Path
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "pyproject.toml").write_text('[tool.elbo-check]\\nstep-timeout = 2\\n')
>>> load_settings(folder).step_timeout
2.0
>>> _ = (folder / "pyproject.toml").write_text('[tool.elbo-check]\\nstep_timout = 2\\n')
>>> load_settings(folder)
Traceback (most recent call last):
...
elbo_check.errors.UsageError: ...: unknown key 'step_timout' in [tool.elbo-check]; did you mean 'step-timeout'? known: files, step-timeout, strict
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from pathlib import Path
from typing import Any

from elbo_check.errors import UsageError

__all__ = ["DEFAULT_STEP_TIMEOUT", "Settings", "find_pyproject", "load_settings"]

DEFAULT_STEP_TIMEOUT = 5.0
TABLE = "elbo-check"
KEYS = ("files", "step-timeout", "strict")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What ``[tool.elbo-check]`` says, with the defaults filled in.

    Attributes
    ----------
    step_timeout : float
        Seconds of symbolic work per step.
    strict : bool
        Whether only ``proved`` passes (corroborated steps fail).
    files : tuple of Path
        Derivation files or folders to prove, resolved against the file's folder.
    source : Path or None
        The ``pyproject.toml`` read, if any.
    """

    step_timeout: float = DEFAULT_STEP_TIMEOUT
    strict: bool = False
    files: tuple[Path, ...] = ()
    source: Path | None = None


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current directory) or above."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if TABLE not in text:  # not ours to read: another tool's file is never parsed here
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            if f"[tool.{TABLE}]" in text:
                raise UsageError(
                    f"{path}: reading [tool.{TABLE}] needs Python 3.11 or the tomli package "
                    "(pip install tomli)"
                ) from None
            return {}
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    return data


def load_settings(start: Path | None = None) -> Settings:
    """The settings of the project around ``start`` (defaults when there is none)."""
    path = find_pyproject(start)
    if path is None:
        return Settings()
    table = _read_toml(path).get("tool", {}).get(TABLE)
    if table is None:
        return Settings(source=path)
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.{TABLE}] must be a table")
    for key in table:
        if key not in KEYS:
            close = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1, cutoff=0.6)
            hint = f" did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"{path}: unknown key {key!r} in [tool.{TABLE}];{hint} known: {', '.join(KEYS)}"
            )
    return Settings(
        step_timeout=_timeout(path, table.get("step-timeout", DEFAULT_STEP_TIMEOUT)),
        strict=_flag(path, table.get("strict", False)),
        files=_files(path, table.get("files", [])),
        source=path,
    )


def _timeout(path: Path, value: object) -> float:
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
    if not 0 < number < float("inf"):
        raise UsageError(f"{path}: step-timeout must be seconds > 0, got {value!r}")
    return number


def _flag(path: Path, value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{path}: strict must be true or false, got {value!r}")
    return value


def _files(path: Path, value: object) -> tuple[Path, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{path}: files must be a list of paths, got {value!r}")
    return tuple(path.parent / v for v in value)
