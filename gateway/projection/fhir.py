"""Columns of a FHIR resource or Bundle (clinical records), from the de-identified resource."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gateway.projection.common import Columns, Types, iso_date, year
from gateway.projection.registry import register


def _resources(payload: dict[str, Any]) -> list[dict[str, Any]]:
    if payload.get("resourceType") == "Bundle":
        return [e["resource"] for e in payload.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return [payload]


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [c["code"] for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]


def project_fhir(payload: dict[str, Any]) -> tuple[Columns, Types]:
    res = _resources(payload)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in res:
        by_type.setdefault(str(r.get("resourceType")), []).append(r)
    patient = (by_type.get("Patient") or [{}])[0]
    enc = (by_type.get("Encounter") or [{}])[0]
    period = enc.get("period") or {}
    cond_codes = [c for r in by_type.get("Condition", []) for c in _codes(r.get("code"))]
    obs_codes = [c for r in by_type.get("Observation", []) for c in _codes(r.get("code"))]
    notes: list[str] = []
    for r in by_type.get("DocumentReference", []):
        for content in r.get("content") or []:
            data = ((content or {}).get("attachment") or {}).get("data")
            if data:
                try:
                    notes.append(base64.b64decode(data, validate=True).decode("utf-8"))
                except (binascii.Error, UnicodeDecodeError):
                    continue
    enc_class = enc.get("class")
    cols: Columns = {
        "resource_types": ",".join(sorted(by_type)) or None,
        "resource_count": len(res),
        "sex": patient.get("gender"),
        "birth_year": year(patient.get("birthDate")),
        "zip3": (((patient.get("address") or [{}])[0] or {}).get("postalCode") or "")[:3] or None,
        "encounter_class": enc_class.get("code") if isinstance(enc_class, dict) else None,
        "encounter_start": iso_date(period.get("start")),
        "encounter_end": iso_date(period.get("end")),
        "condition_codes": ",".join(dict.fromkeys(cond_codes)) or None,
        "observation_codes": ",".join(dict.fromkeys(obs_codes)) or None,
        "observation_count": len(by_type.get("Observation", [])),
        "note": "\n".join(notes) or None,
    }
    types = {k: "VARCHAR" for k in cols}
    types.update({"resource_count": "BIGINT", "birth_year": "BIGINT", "encounter_start": "DATE",
                  "encounter_end": "DATE", "observation_count": "BIGINT"})
    return cols, types


register("fhir", project_fhir)
