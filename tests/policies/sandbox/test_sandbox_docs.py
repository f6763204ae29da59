"""docs/query-sandbox.md runs: its YAML validates, its worked example executes, every policy field is documented."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from policies.sandbox.tiers import DatasetPolicy, parse_dataset_policies

DOC = Path(__file__).resolve().parents[3] / "docs" / "query-sandbox.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_given_doc_yaml_example_then_it_is_a_valid_policy_file() -> None:
    blocks = _blocks("yaml")
    assert blocks
    for block in blocks:
        policies = parse_dataset_policies(yaml.safe_load(block), source="docs/query-sandbox.md")
        assert policies.for_dataset("lab_results").tier.value == "record"


def test_given_doc_worked_example_then_it_runs() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = text.split("## Worked example", 1)[1]
    block = re.search(r"```python\n(.*?)```", example, flags=re.DOTALL)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - the documented example
    assert namespace["outcome"].suppressed == 2


def test_given_policy_fields_then_each_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for field in DatasetPolicy.model_fields:
        assert f"`{field}`" in text, field
