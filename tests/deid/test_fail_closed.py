"""Fail closed: any problem while de-identifying a record -> ok=False with a PHI-free reason, never a payload."""

from __future__ import annotations

from typing import Any

import pytest

from deid.engine import DeidResult, Deidentifier
from deid.text.types import Entity, KnownIdentifiers

HL7 = "MSH|^~\\&|A|H|B|C|20240314||ORU^R01|1|P|2.5\rPID|1||M1^^^H^MR||DOE^JANE||19700101|F\rOBX|1|TX|N||Jane Doe is well||||||F"


class ExplodingRedactor:
    def analyze(self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None) -> list[Entity]:
        raise RuntimeError(text)  # an exception carrying the note text: it must not leak into the result

    def redact(self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None) -> tuple[str, list[Entity]]:
        raise RuntimeError(text)


def assert_rejected(result: DeidResult, reason: str) -> None:
    assert result.ok is False
    assert result.payload is None
    assert result.reason == reason
    for field in (result.reason, result.detail or ""):
        assert "Jane" not in field and "Doe" not in field


def test_given_redactor_exception_then_record_rejected_not_passed_through(keyring: Any, tmp_path: Any) -> None:
    from paths_kit import PROFILES

    engine = Deidentifier(keyring=keyring, profiles_dir=PROFILES, redactor=ExplodingRedactor())
    assert_rejected(engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h"), "deid_error")
    row = {"comment": "Jane Doe", "mrn": "1"}
    assert_rejected(engine.deidentify(row, format="csv", profile="csv-lab-safe-harbor", hospital="h"), "deid_error")


@pytest.mark.parametrize(
    "payload,fmt,profile,reason",
    [
        ("PID|1||X", "hl7v2", "hl7v2-safe-harbor", "hl7_parse_error"),
        (HL7[:20], "hl7v2", "hl7v2-safe-harbor", "hl7_parse_error"),
        ({"x": 1}, "hl7v2", "hl7v2-safe-harbor", "hl7_not_text"),
        ("{not json", "fhir", "fhir-safe-harbor", "fhir_parse_error"),
        ([1, 2], "fhir", "fhir-safe-harbor", "fhir_not_object"),
        ({"id": "no type"}, "fhir", "fhir-safe-harbor", "fhir_no_resource_type"),
        ({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Bundle"}}]}, "fhir", "fhir-safe-harbor", "fhir_nested_bundle"),
        ({"resourceType": "Patient", "photo": [{"contentType": "text/plain", "data": "***"}]}, "fhir", "fhir-safe-harbor", None),
        ("a,b", "csv", "csv-lab-safe-harbor", "csv_not_object"),
        (HL7, "hl7v2", "no-such-profile", "unknown_profile"),
        (HL7, "fhir", "hl7v2-safe-harbor", "format_not_in_profile"),
        (HL7, "xml", "hl7v2-safe-harbor", "unknown_format"),
    ],
)
def test_given_bad_input_then_rejected_with_reason(engine: Deidentifier, payload: Any, fmt: str, profile: str, reason: str | None) -> None:
    result = engine.deidentify(payload, format=fmt, profile=profile, hospital="h")
    if reason is None:  # photo is dropped by the Patient rules before it is ever decoded
        assert result.ok and "photo" not in result.payload  # type: ignore[operator]
        return
    assert_rejected(result, reason)


def test_given_undecodable_text_attachment_then_rejected(engine: Deidentifier) -> None:
    doc = {"resourceType": "DocumentReference", "content": [{"attachment": {"contentType": "text/plain", "data": "***"}}]}
    assert_rejected(engine.deidentify(doc, format="fhir", profile="fhir-safe-harbor", hospital="h"), "fhir_bad_attachment")


def test_given_missing_hospital_then_rejected(engine: Deidentifier) -> None:
    assert_rejected(engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital=" "), "missing_hospital")


def test_given_deeply_nested_fhir_then_rejected_not_crashed(engine: Deidentifier) -> None:
    node: dict[str, Any] = {"resourceType": "Observation", "status": "final"}
    cur = node
    for _ in range(5000):
        cur["extension"] = [{"url": "u", "extension": []}]
        cur = cur["extension"][0]
    result = engine.deidentify(node, format="fhir", profile="fhir-safe-harbor", hospital="h")
    assert result.ok or result.reason == "deid_error"
    assert result.ok is False or "extension" not in result.payload  # type: ignore[operator]


def test_given_records_then_nothing_identifying_is_logged(engine: Deidentifier, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
    engine.deidentify(HL7.replace("MSH|^~\\&", "MSH|^~\\&|"), format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
    engine.deidentify({"resourceType": "Patient", "name": [{"family": "Doe", "given": ["Jane"]}]}, format="fhir",
                      profile="fhir-safe-harbor", hospital="h")  # fmt: skip
    for record in caplog.records:
        message = record.getMessage()
        assert "Jane" not in message and "Doe" not in message and "M1" not in message


def test_given_no_redactor_then_built_lazily_only_when_text_needs_it(keyring: Any) -> None:
    from paths_kit import PROFILES

    engine = Deidentifier(keyring=keyring, profiles_dir=PROFILES)
    no_text = HL7.split("\rOBX")[0]
    assert engine.deidentify(no_text, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h").ok
    assert engine._redactor is None
    assert engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h").ok
    first = engine._redactor
    assert first is not None
    engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
    assert engine._redactor is first
