"""docs/deid-free-text.md runs: every ```python block is executed as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "deid-free-text.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_given_doc_then_it_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_given_doc_example_then_it_runs_and_its_assertions_hold(index: int) -> None:
    exec(compile(BLOCKS[index], f"{DOC.name}[block {index}]", "exec"), {})


def test_given_entity_types_then_each_is_documented() -> None:
    from deid.text.rule import ENTITY_TYPES

    text = DOC.read_text(encoding="utf-8")
    for etype in ENTITY_TYPES:
        assert f"`{etype}`" in text
