"""Docs that cannot drift: every code block of README.md and docs/*.md runs, or says why not.

- ```python blocks run in order, in one namespace per file (a doc reads top to bottom);
  a block with ``>>>`` prompts runs as a doctest.  Blocks that import torch or jax skip
  without them.
- ```console blocks run each ``$ elbo-check ...`` line as a subprocess in a scratch folder
  holding ``examples/`` (and its files at the top level); the exit code must be 0, or N
  with ```console exit=N``.
- ```json and ```toml blocks must parse.
- Other languages (bash, text, untagged synopses) are skipped, with the reason.
- A block meant as a fragment is marked ```python no-run (or ```console no-run); those are
  counted, not run.

The collector globs ``docs/*.md``, so a new page is covered without touching this file.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
#: languages never run, with the reason
SKIPPED = {
    "bash": "shell set-up (installs, benchmarks): run by CI's fresh-venv check, not here",
    "sh": "shell set-up: not run here",
    "text": "output shown for reading",
    "": "an untagged block is a synopsis or output, shown for reading",
}
#: blocks known broken in pages other sessions own, not run: (page, a phrase of the block) -> the fix
KNOWN_BROKEN: dict[tuple[str, str], str] = {}


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    language: str
    flags: tuple[str, ...]
    body: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return "no-run" not in self.flags


def _blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        words = match.group("info").split()
        indent = match.group("indent")
        body = "\n".join(line.removeprefix(indent) for line in match.group("body").splitlines())
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
                language=words[0] if words else "",
                flags=tuple(words[1:]),
                body=body + "\n",
            )
        )
    return found


BLOCKS = [block for page in PAGES for block in _blocks(page)]


def _known_broken(block: Block) -> str | None:
    for (page, phrase), fix in KNOWN_BROKEN.items():
        if block.page == REPO / page and phrase in block.body:
            return fix
    return None


def test_every_block_is_run_skipped_with_a_reason_or_marked_as_a_fragment() -> None:
    counts = {"run": 0, "no-run": 0, "skipped": 0}
    for block in BLOCKS:
        if block.language in ("python", "console", "json", "toml"):
            counts["run" if block.runnable else "no-run"] += 1
        else:
            assert block.language in SKIPPED, f"{block.name}: no rule for ```{block.language}"
            # python written in an untagged block would escape the check
            assert not re.search(r"^(import|from) \w", block.body, re.M), (
                f"{block.name}: tag this block ```python (or ```python no-run)"
            )
            counts["skipped"] += 1
    assert counts["run"] >= 10, counts


def _python_pages() -> list[Path]:
    return [p for p in PAGES if any(b.page == p and b.language == "python" for b in BLOCKS)]


@pytest.mark.parametrize("page", _python_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_the_python_blocks_of_a_page_run_in_order(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for block in (b for b in BLOCKS if b.page == page and b.language == "python"):
        if not block.runnable:
            continue
        if _missing_library(block):
            continue  # an optional library (torch, jax, dask.distributed) is not installed
        if _known_broken(block) is not None:
            continue  # listed in KNOWN_BROKEN, with its fix, for the page's owner
        try:
            _run_python(block, namespace)
        except Exception as exc:
            raise AssertionError(f"{block.name} fails: {type(exc).__name__}: {exc}") from exc


def _missing_library(block: Block) -> bool:
    import importlib.util

    for library in ("torch", "jax", "dask.distributed"):
        if re.search(rf"^(import|from) {re.escape(library)}\b", block.body, re.M):
            try:
                # dask ships a dask/distributed.py shim that only raises: look for the real package
                if importlib.util.find_spec(library.replace("dask.", "")) is None:
                    return True
            except ImportError:
                return True
    return False


def _run_python(block: Block, namespace: dict[str, object]) -> None:
    if re.search(r"^>>> ", block.body, re.M):
        test = doctest.DocTestParser().get_doctest(
            block.body, namespace, block.name, block.name, block.line
        )
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, clear_globs=False)
        assert runner.failures == 0, f"{block.name}: {runner.failures} doctest example(s) fail"
        return
    exec(compile(block.body, block.name, "exec"), namespace)


CONSOLE = [b for b in BLOCKS if b.language == "console" and b.runnable]


@pytest.mark.parametrize("block", CONSOLE, ids=lambda b: b.name)
def test_the_commands_of_a_console_block_run_with_the_exit_code_shown(
    block: Block, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    for example in (REPO / "examples").glob("*.py"):
        shutil.copy(example, tmp_path / example.name)
    expected = next((int(f.split("=", 1)[1]) for f in block.flags if f.startswith("exit=")), 0)
    commands = [line[2:] for line in block.body.splitlines() if line.startswith("$ ")]
    assert commands, f"{block.name}: a console block without a `$ ` command"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    for command in commands:
        words = shlex.split(command, comments=True)
        assert words[0] == "elbo-check", (
            f"{block.name}: only elbo-check commands run here: {command}"
        )
        run = subprocess.run(
            [sys.executable, "-m", "elbo_check", *words[1:]],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )
        assert run.returncode == expected, (
            f"{block.name}: `{command}` exits {run.returncode}: {run.stderr[-500:]}"
        )


DATA_BLOCKS = [b for b in BLOCKS if b.language in ("json", "toml") and b.runnable]


@pytest.mark.parametrize("block", DATA_BLOCKS, ids=lambda b: b.name)
def test_a_json_or_toml_block_parses(block: Block) -> None:
    if _known_broken(block):
        pytest.xfail(_known_broken(block) or "")
    if block.language == "json":
        json.loads(block.body)
    else:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - tomli is a dependency on Python 3.10
            import tomli as tomllib
        tomllib.loads(block.body)
