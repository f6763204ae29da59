"""The real third-party samples in ../shared/data: after de-identification no identifier value from the
input's structured identifying fields appears anywhere in the output (notes and attachments included);
malformed HL7 is rejected with a reason. Skips when the shared data is absent."""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

import pytest

from deid import hl7
from deid.engine import Deidentifier
from paths_kit import SHARED_DATA

# (segment, field, components) whose values identify the patient or a relative.
HL7_IDENTIFYING = [
    ("PID", 2, (1,)), ("PID", 3, (1,)), ("PID", 4, (1,)), ("PID", 5, (1, 2)), ("PID", 6, (1, 2)), ("PID", 11, (1, 3, 5)),
    ("PID", 13, (1,)), ("PID", 14, (1,)), ("PID", 18, (1,)), ("PID", 19, (1,)), ("PID", 20, (1,)), ("PID", 7, (1,)),
    ("NK1", 2, (1, 2)), ("NK1", 4, (1, 3, 5)), ("NK1", 5, (1,)), ("GT1", 3, (1, 2)), ("GT1", 5, (1, 3, 5)),
    ("GT1", 6, (1,)), ("IN1", 16, (1, 2)), ("IN1", 36, (1,)), ("PV1", 19, (1,)), ("MSH", 10, (1,)),
]  # fmt: skip


def _files(folder: str, pattern: str) -> list[Path]:
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"shared test data {folder} is not present at {path}")
    return sorted(path.glob(pattern))


def _hl7_identifiers(msg: hl7.Message) -> set[str]:
    s = msg.separators
    found: set[str] = set()
    for seg in msg.segments:
        for name, num, comps in HL7_IDENTIFYING:
            if seg.name != name:
                continue
            for rep in seg.field(num).split(s.repetition):
                parts = rep.split(s.component)
                for c in comps:
                    if c <= len(parts):
                        for sub in parts[c - 1].split(s.subcomponent):
                            value = msg.unescape(sub).strip()
                            if len(value) >= 4 and value != '""':
                                found.add(value)
    return found


def _fhir_identifiers(node: Any, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if isinstance(node, dict):
        if node.get("resourceType") in {"Patient", "RelatedPerson"}:
            for name in node.get("name", []):
                found.update(v for v in [name.get("family", ""), *name.get("given", [])] if isinstance(v, str))
            for ident in node.get("identifier", []):
                found.add(ident.get("value", ""))
            for tel in node.get("telecom", []):
                found.add(tel.get("value", ""))
            for addr in node.get("address", []):
                found.update([*addr.get("line", []), addr.get("city", ""), addr.get("postalCode", "")])
            found.add(node.get("birthDate", ""))
        for v in node.values():
            _fhir_identifiers(v, found)
    elif isinstance(node, list):
        for v in node:
            _fhir_identifiers(v, found)
    return {v for v in found if isinstance(v, str) and len(v) >= 4}


def _with_attachments(payload: Any) -> str:
    parts = [json.dumps(payload, ensure_ascii=False)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str):
                try:
                    parts.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
                except binascii.Error:
                    parts.append(node["data"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload)
    return "\n".join(parts)


def survives(value: str, output: str) -> bool:
    """Whether `value` appears in `output` as a whole token (case-insensitive), not inside a longer word
    nor inside a URL (code systems and profiles such as http://example.org/... are not record data)."""
    pattern = r"(?<![0-9a-z])" + re.escape(value.lower()) + r"(?![0-9a-z])"
    return re.search(pattern, _URL.sub(" ", output.lower())) is not None


_URL = re.compile(r"(?:https?|urn):[^\s\"|^~]+")


@pytest.mark.parametrize("folder,pattern", [("fhir-converter-hl7v2", "hl7v2/*.hl7"), ("python-hl7-samples", "*.hl7")])
def test_given_real_hl7_messages_then_no_structured_identifier_in_output(engine: Deidentifier, folder: str, pattern: str) -> None:
    checked = 0
    for path in _files(folder, pattern):
        text = path.read_text(encoding="utf-8")
        result = engine.deidentify(text, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h1")
        if "_bad_" in path.name:
            assert not result.ok and result.reason == "hl7_parse_error" and result.payload is None, path.name
            continue
        assert result.ok, (path.name, result.reason, result.detail)
        out = result.payload
        assert isinstance(out, str)
        hl7.parse(out)
        for value in _hl7_identifiers(hl7.parse(text)):
            assert not survives(value, out), f"{path.name}: an identifier from a structured field survived"
        checked += 1
    assert checked >= 10


def test_given_python_hl7_bad_files_then_each_rejected_with_position(engine: Deidentifier) -> None:
    bad = _files("python-hl7-samples", "sample_bad_*.hl7")
    assert len(bad) == 6
    for path in bad:
        result = engine.deidentify(path.read_text(encoding="utf-8"), format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
        assert result.reason == "hl7_parse_error" and result.detail and "segment" in result.detail


def test_given_truncated_real_messages_then_rejected_or_still_clean(engine: Deidentifier) -> None:
    for path in _files("fhir-converter-hl7v2", "hl7v2/ADT-A0*.hl7"):
        text = path.read_text(encoding="utf-8")
        for cut in (10, 40, len(text) // 2):
            result = engine.deidentify(text[:cut], format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
            if cut < 60:
                assert not result.ok and result.reason == "hl7_parse_error"
            elif result.ok:
                for value in _hl7_identifiers(hl7.parse(text[:cut])):
                    assert not survives(value, str(result.payload))


@pytest.mark.parametrize(
    "folder,pattern",
    [("us-core-examples", "*.json"), ("hl7-fhir-spec-examples", "*.json"), ("ms-fhir-anonymizer", "synthea-r4-bundles/*.json"),
     ("ms-fhir-anonymizer", "functional-test-pairs/*.json")],
)
def test_given_real_fhir_resources_then_no_identifier_in_output(engine: Deidentifier, folder: str, pattern: str) -> None:
    checked = 0
    for path in _files(folder, pattern):
        if path.name.endswith("-target.json"):  # the Microsoft anonymizer's outputs, not inputs
            continue
        resource = json.loads(path.read_text(encoding="utf-8-sig"))
        result = engine.deidentify(resource, format="fhir", profile="fhir-safe-harbor", hospital="h1")
        if not result.ok:
            assert result.reason == "fhir_unknown_resource" and result.payload is None, (path.name, result.reason)
            continue
        text = _with_attachments(result.payload)
        for value in _fhir_identifiers(resource):
            assert not survives(value, text), f"{path.name}: an identifier from a structured field survived"
        checked += 1
    assert checked >= 1
