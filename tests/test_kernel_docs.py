"""Every ``python`` code block of ``docs/kernel.md`` runs (torch and JAX blocks skip without them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "kernel.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_kernel_doc_has_code_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_code_block_of_the_kernel_doc_runs(index: int) -> None:
    code = BLOCKS[index]
    for library in ("torch", "jax"):
        if re.search(rf"^import {library}\b", code, flags=re.M):
            pytest.importorskip(library)
    exec(compile(code, f"{DOC.name}[block {index}]", "exec"), {})
