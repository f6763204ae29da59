"""FHIR R4 Bundles (Patient, Encounter, Observations, Condition, DocumentReference) per visit."""

from __future__ import annotations

import base64
import random
import uuid
from typing import Any

from catalog.cli.synth.visits import Result, Visit

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

JSON = dict[str, Any]


def _uuid(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _patient(visit: Visit, full_url: str) -> JSON:
    p, h = visit.person, visit.hospital
    given = [p.given] + ([f"{p.middle_initial}."] if h.middle_initial else [])
    name: JSON = {"use": "official", "family": p.family, "given": given}
    if h.code == "north-general":
        name["text"] = f"{p.given} {p.family}"
    rel = p.relative
    return {
        "resourceType": "Patient",
        "id": full_url.removeprefix("urn:uuid:"),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                     "code": "MR"}]},
                "system": h.fhir_system,
                "value": visit.mrn,
            }
        ],
        "name": [name],
        "telecom": [{"system": "phone", "value": p.phone, "use": "home"}],
        "gender": "male" if p.sex == "M" else "female",
        "birthDate": p.birth_date.isoformat(),
        "address": [
            {"use": "home", "line": [p.street], "city": p.city, "state": p.state,
             "postalCode": p.zip, "country": "US"}
        ],
        "contact": [
            {
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                              "code": "C"}],
                                  "text": rel.relation_text}],
                "name": {"family": rel.family, "given": [rel.given]},
                "telecom": [{"system": "phone", "value": rel.phone}],
            }
        ],
    }


def _encounter(visit: Visit, patient_url: str, full_url: str) -> JSON:
    classes = {"I": ("IMP", "inpatient encounter"), "O": ("AMB", "ambulatory"),
               "E": ("EMER", "emergency")}
    code, display = classes[visit.patient_class]
    return {
        "resourceType": "Encounter",
        "id": full_url.removeprefix("urn:uuid:"),
        "identifier": [{"system": f"{visit.hospital.fhir_system}/visit", "value": visit.visit_number}],
        "status": "in-progress" if visit.patient_class == "I" else "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code,
                  "display": display},
        "subject": {"reference": patient_url},
        "period": {"start": visit.admitted.isoformat()},
        "reasonCode": [{"text": visit.diagnosis[3]}],
        "serviceProvider": {"display": visit.hospital.facility},
    }


def _observation(visit: Visit, result: Result, patient_url: str, encounter_url: str,
                 full_url: str, category: str) -> JSON:
    t = result.test
    return {
        "resourceType": "Observation",
        "id": full_url.removeprefix("urn:uuid:"),
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": t.loinc, "display": t.name}]},
        "subject": {"reference": patient_url},
        "encounter": {"reference": encounter_url},
        "effectiveDateTime": visit.collected.isoformat(),
        "valueQuantity": {"value": float(result.value) if t.decimals else int(result.value),
                          "unit": t.unit, "system": UCUM, "code": t.unit},
        "interpretation": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": result.flag}]}],
        "referenceRange": [{"low": {"value": t.low, "unit": t.unit},
                            "high": {"value": t.high, "unit": t.unit}}],
    }


def _condition(visit: Visit, patient_url: str, encounter_url: str, full_url: str) -> JSON:
    icd, text, snomed, _reason = visit.diagnosis
    return {
        "resourceType": "Condition",
        "id": full_url.removeprefix("urn:uuid:"),
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {
            "coding": [
                {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd, "display": text},
                {"system": "http://snomed.info/sct", "code": snomed},
            ],
            "text": text,
        },
        "subject": {"reference": patient_url},
        "encounter": {"reference": encounter_url},
        "onsetDateTime": visit.admitted.isoformat(),
    }


def _document(visit: Visit, patient_url: str, encounter_url: str, full_url: str) -> JSON:
    text = "\n".join(visit.note)
    return {
        "resourceType": "DocumentReference",
        "id": full_url.removeprefix("urn:uuid:"),
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": "11506-3", "display": "Progress note"}]},
        "subject": {"reference": patient_url},
        "date": visit.collected.isoformat() + "Z",
        "description": "Progress note",
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                    "language": "en-US",
                                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii")}}],
        "context": {"encounter": [{"reference": encounter_url}]},
    }


def bundle(visit: Visit, *, transaction: bool) -> JSON:
    rng = random.Random(visit.uuid_seed)
    patient_url, encounter_url = _uuid(rng), _uuid(rng)
    resources: list[tuple[str, JSON]] = [
        (patient_url, _patient(visit, patient_url)),
        (encounter_url, _encounter(visit, patient_url, encounter_url)),
    ]
    for result in visit.vitals:
        url = _uuid(rng)
        resources.append((url, _observation(visit, result, patient_url, encounter_url, url, "vital-signs")))
    for result in visit.results[:2]:
        url = _uuid(rng)
        resources.append((url, _observation(visit, result, patient_url, encounter_url, url, "laboratory")))
    url = _uuid(rng)
    resources.append((url, _condition(visit, patient_url, encounter_url, url)))
    url = _uuid(rng)
    resources.append((url, _document(visit, patient_url, encounter_url, url)))
    entries: list[JSON] = []
    for full_url, resource in resources:
        entry: JSON = {"fullUrl": full_url, "resource": resource}
        if transaction:
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        entries.append(entry)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": "transaction" if transaction else "collection",
        "timestamp": visit.collected.isoformat() + "Z",
        "entry": entries,
    }
