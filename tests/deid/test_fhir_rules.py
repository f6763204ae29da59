"""FHIR R4 rules of the Safe Harbor profile: person resources, references, narratives, attachments."""

from __future__ import annotations

import base64
import json
from typing import Any

from deid.engine import Deidentifier

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "pat-42",
    "meta": {"lastUpdated": "2024-03-01T10:00:00Z", "profile": ["http://example.org/p"]},
    "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Margaret O'Brien, MRN 778899</div>"},
    "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": "Kowalski"},
        {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"},
    ],
    "identifier": [{"system": "urn:oid:1.2.3", "type": {"coding": [{"code": "MR"}]}, "value": "778899"},
                   {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "123-45-6789"}],
    "name": [{"use": "official", "family": "O'Brien", "given": ["Margaret", "Ann"]}],
    "telecom": [{"system": "phone", "value": "(217) 555-0142"}, {"system": "email", "value": "maggie@example.org"}],
    "gender": "female",
    "birthDate": "1955-07-04",
    "address": [{"line": ["12 Elm Street"], "city": "Springfield", "state": "IL", "postalCode": "62704", "country": "US"}],
    "photo": [{"contentType": "image/jpeg", "data": "AAAA"}],
    "contact": [{"name": {"family": "O'Brien", "given": ["Patrick"]}}],
    "managingOrganization": {"reference": "Organization/org-1", "display": "Springfield General"},
}  # fmt: skip


def note(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "id": "b1",
    "type": "collection",
    "entry": [
        {"fullUrl": "urn:uuid:11111111-1111-1111-1111-111111111111", "resource": PATIENT},
        {"fullUrl": "urn:uuid:22222222-2222-2222-2222-222222222222", "resource": {
            "resourceType": "Encounter", "id": "enc-9", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111", "display": "Margaret O'Brien"},
            "period": {"start": "2024-03-14T08:00:00Z", "end": "2024-03-16T12:00:00Z"},
            "hospitalization": {"preAdmissionIdentifier": {"value": "PRE-5566"}},
        }},
        {"fullUrl": "urn:uuid:33333333-3333-3333-3333-333333333333", "resource": {
            "resourceType": "Observation", "id": "obs-1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
            "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
            "encounter": {"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"},
            "effectiveDateTime": "2024-03-14T09:00:00Z",
            "valueQuantity": {"value": 5.4, "unit": "mmol/L"},
            "note": [{"authorString": "Dr Gregory House", "text": "Margaret fasting since 8pm"}],
        }},
        {"fullUrl": "urn:uuid:44444444-4444-4444-4444-444444444444", "resource": {
            "resourceType": "DocumentReference", "id": "doc-1", "status": "current",
            "subject": {"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"},
            "content": [{"attachment": {"contentType": "text/plain", "data": note("Discharge: Margaret O'Brien, 12 Elm Street. Aspirin daily."), "url": "http://h/doc/1"}},
                        {"attachment": {"contentType": "application/pdf", "data": "JVBERi0xLjQK"}}],
        }},
        {"fullUrl": "urn:uuid:55555555-5555-5555-5555-555555555555", "resource": {
            "resourceType": "DiagnosticReport", "id": "dr-1", "status": "final",
            "code": {"text": "Panel"}, "subject": {"reference": "Patient/pat-42"},
            "result": [{"reference": "urn:uuid:33333333-3333-3333-3333-333333333333"}],
            "conclusion": "Normal for Margaret", "presentedForm": [{"contentType": "text/plain", "data": note("O'Brien: normal")}],
        }},
    ],
}  # fmt: skip
IDENTIFIERS = ["778899", "123-45-6789", "O'Brien", "Margaret", "555-0142", "maggie@", "Springfield", "12 Elm", "62704",
               "Kowalski", "Patrick", "1955-07-04", "PRE-5566", "Gregory", "pat-42", "enc-9", "11111111-1111"]  # fmt: skip


def run(engine: Deidentifier, payload: Any, hospital: str = "general") -> dict[str, Any]:
    result = engine.deidentify(payload, format="fhir", profile="fhir-safe-harbor", hospital=hospital)
    assert result.ok, (result.reason, result.detail)
    assert isinstance(result.payload, dict)
    return result.payload


def decoded(payload: dict[str, Any]) -> str:
    """The output as text, with base64 attachments decoded so the leak check sees inside them."""
    parts = [json.dumps(payload)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("data"), str):
                parts.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload)
    return "\n".join(parts)


def test_given_bundle_then_no_identifier_survives_anywhere_including_attachments(engine: Deidentifier) -> None:
    text = decoded(run(engine, BUNDLE)).lower()
    for value in IDENTIFIERS:
        assert value.lower() not in text, f"identifier #{IDENTIFIERS.index(value)} survived"


def test_given_patient_then_only_safe_elements_remain(engine: Deidentifier) -> None:
    out = run(engine, PATIENT)
    assert set(out) == {"resourceType", "id", "meta", "text", "extension", "identifier", "gender", "birthDate", "address", "managingOrganization"}
    assert out["birthDate"] == "1955"
    assert out["address"] == [{"state": "IL", "postalCode": "627", "country": "US"}]
    assert out["meta"] == {"profile": ["http://example.org/p"]}
    assert [e["url"] for e in out["extension"]] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"]
    assert "display" not in out["managingOrganization"]
    assert out["text"]["div"].startswith("<div xmlns=\"http://www.w3.org/1999/xhtml\">")


def test_given_bundle_then_references_rewritten_consistently(engine: Deidentifier) -> None:
    out = run(engine, BUNDLE)
    entries = out["entry"]
    patient_url = entries[0]["fullUrl"]
    assert patient_url.startswith("urn:uuid:") and patient_url != BUNDLE["entry"][0]["fullUrl"]
    assert entries[1]["resource"]["subject"] == {"reference": patient_url}
    assert entries[2]["resource"]["encounter"]["reference"] == entries[1]["fullUrl"]
    assert entries[4]["resource"]["subject"]["reference"] == "Patient/" + entries[0]["resource"]["id"]
    assert entries[4]["resource"]["result"][0]["reference"] == entries[2]["fullUrl"]


def test_given_bundle_then_dates_shift_together_and_times_kept(engine: Deidentifier) -> None:
    out = run(engine, BUNDLE)
    period = out["entry"][1]["resource"]["period"]
    assert period["start"].endswith("T08:00:00Z") and period["end"].endswith("T12:00:00Z")
    assert period["start"][:10] != "2024-03-14"
    from datetime import date

    start, end = date.fromisoformat(period["start"][:10]), date.fromisoformat(period["end"][:10])
    assert (end - start).days == 2
    assert out["entry"][2]["resource"]["effectiveDateTime"][:10] == period["start"][:10]


def test_given_attachments_then_text_redacted_and_reencoded_binary_dropped(engine: Deidentifier) -> None:
    content = run(engine, BUNDLE)["entry"][3]["resource"]["content"]
    text = base64.b64decode(content[0]["attachment"]["data"]).decode()
    assert "Aspirin daily." in text and "Margaret" not in text
    assert "url" not in content[0]["attachment"]
    assert "data" not in content[1]["attachment"]


def test_given_diagnostic_report_then_conclusion_and_presented_form_redacted(engine: Deidentifier) -> None:
    dr = run(engine, BUNDLE)["entry"][4]["resource"]
    assert dr["conclusion"].startswith("Normal for ") and "Margaret" not in dr["conclusion"]
    assert "O'Brien" not in base64.b64decode(dr["presentedForm"][0]["data"]).decode()


def test_given_note_then_author_dropped_and_text_redacted(known_only_engine: Deidentifier) -> None:
    obs = run(known_only_engine, BUNDLE)["entry"][2]["resource"]
    assert obs["note"] == [{"text": "[REDACTED] fasting since 8pm"}]
    assert obs["valueQuantity"] == {"value": 5.4, "unit": "mmol/L"}


def test_given_json_string_payload_then_same_as_dict(engine: Deidentifier) -> None:
    assert run(engine, json.dumps(PATIENT)) == run(engine, PATIENT)


def test_given_unknown_resource_type_then_rejected(engine: Deidentifier) -> None:
    result = engine.deidentify({"resourceType": "Basic", "id": "x"}, format="fhir", profile="fhir-safe-harbor", hospital="h")
    assert not result.ok and result.reason == "fhir_unknown_resource" and result.payload is None


def test_given_contained_resources_then_processed_with_their_rules(engine: Deidentifier) -> None:
    obs = {"resourceType": "Observation", "status": "final", "contained": [{**PATIENT, "id": "p1"}],
           "subject": {"reference": "#p1"}}  # fmt: skip
    out = run(engine, obs)
    assert out["subject"] == {"reference": "#" + out["contained"][0]["id"]}
    assert out["contained"][0]["id"] != "p1"
    assert "name" not in out["contained"][0] and out["contained"][0]["birthDate"] == "1955"


def test_given_age_of_90_or_more_then_aggregated(engine: Deidentifier) -> None:
    fmh = {"resourceType": "FamilyMemberHistory", "status": "completed", "patient": {"reference": "Patient/p"},
           "relationship": {"text": "father"}, "ageAge": {"value": 94, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"},
           "condition": [{"code": {"text": "stroke"}, "onsetAge": {"value": 61, "unit": "a"}}]}  # fmt: skip
    out = run(engine, fmh)
    assert out["ageAge"] == {"comparator": ">=", "value": 90, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    assert out["condition"][0]["onsetAge"] == {"value": 61, "unit": "a"}


def test_given_organization_then_address_reduced_to_state_and_zip3(engine: Deidentifier) -> None:
    org = {"resourceType": "Organization", "name": "General", "telecom": [{"value": "555"}],
           "address": [{"line": ["1 Main"], "city": "Town", "state": "WA", "postalCode": "98101"}]}  # fmt: skip
    out = run(engine, org)
    assert out["address"] == [{"state": "WA", "postalCode": "981"}] and "telecom" not in out and out["name"] == "General"


def test_given_unlisted_notes_in_kept_resource_then_each_redacted_and_kept(known_only_engine: Deidentifier) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": PATIENT},
        {"resource": {"resourceType": "Condition", "subject": {"reference": "Patient/pat-42"},
                      "note": [{"text": "Margaret reports pain", "authorReference": {"reference": "Practitioner/dr1", "display": "Dr X"}},
                               {"text": "stable"}]}},
    ]}  # fmt: skip
    cond = run(known_only_engine, bundle)["entry"][1]["resource"]
    assert cond["note"] == [{"text": "[REDACTED] reports pain"}, {"text": "stable"}]
