"""docs/deid-profiles.md runs: every yaml block is a valid profile, every json example gives what it says,
and every operator and profile field is documented."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from deid import hl7
from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.operators import OPERATORS
from deid.profile import CsvRules, FhirRules, Hl7Rules, Hl7SegmentRule, Profile, load_profiles
from deid_kit import KnownValuesRedactor
from paths_kit import DOCS

DOC = DOCS / "deid-profiles.md"
BLOCK = re.compile(r"```(yaml|json)\n(.*?)```", re.S)
PSEUDONYM = re.compile(r"k1-[A-Z2-7]{10,}")


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def examples() -> list[tuple[str, dict[str, Any]]]:
    pairs = []
    current = None
    for kind, body in blocks():
        if kind == "yaml":
            current = body
        elif current is not None:
            pairs.append((current, json.loads(body)))
            current = None
    return pairs


def matches(expected: Any, actual: Any, original: Any) -> bool:
    if expected == "<pseudonym>":
        return isinstance(actual, str) and PSEUDONYM.fullmatch(actual) is not None
    if expected == "<changed>":
        return actual is not None and actual != original
    if isinstance(expected, dict):
        orig = original if isinstance(original, dict) else {}
        return isinstance(actual, dict) and set(expected) == set(actual) and all(matches(v, actual[k], orig.get(k)) for k, v in expected.items())
    if isinstance(expected, list):
        orig = original if isinstance(original, list) else []
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            matches(e, a, orig[i] if i < len(orig) else None) for i, (e, a) in enumerate(zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def test_doc_has_yaml_profiles_with_examples() -> None:
    assert len(examples()) >= 4


@pytest.mark.parametrize("index", range(len(examples())))
def test_doc_example_runs_as_documented(tmp_path: Path, index: int) -> None:
    profile_yaml, example = examples()[index]
    (tmp_path / "p.yaml").write_text(profile_yaml, encoding="utf-8")
    name = next(iter(load_profiles(tmp_path)))
    engine = Deidentifier(keyring=Keyring({"k1": "doc-key-0123456789abcdef0123456789"}), profiles_dir=tmp_path,
                          redactor=KnownValuesRedactor(), today=date(2025, 6, 1))  # fmt: skip
    result = engine.deidentify(example["payload"], format=example["format"], profile=name, hospital=example["hospital"])
    assert result.ok, (result.reason, result.detail)
    if "expect_segments" in example:
        segs = [s.to_text(hl7.parse(result.payload).separators) for s in hl7.parse(result.payload).segments]  # type: ignore[arg-type]
        assert len(segs) == len(example["expect_segments"])
        for want, got in zip(example["expect_segments"], segs, strict=True):
            pattern = re.escape(want).replace(re.escape("<pseudonym>"), PSEUDONYM.pattern)
            assert re.fullmatch(pattern, got), (want, got)
    else:
        assert matches(example["expect"], result.payload, example["payload"]), result.payload


def test_every_operator_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in OPERATORS:
        assert f"### {name}" in text


@pytest.mark.parametrize("model,prefix", [(Profile, ""), (CsvRules, ""), (Hl7Rules, ""), (Hl7SegmentRule, "segments.SEG."), (FhirRules, "")])
def test_every_profile_field_is_documented(model: type, prefix: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    for field in model.model_fields:  # type: ignore[attr-defined]
        assert f"`{prefix}{field}" in text, f"{model.__name__}.{field} is not documented"
