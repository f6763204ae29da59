"""Research columns for the catalog, projected from a record AFTER de-identification.

Only the de-identified payload is read here, so nothing the de-identification removed can reach a column.
Each projector returns (columns, column_types); the catalog adds the columns to the dataset's table as they
appear. Values that do not parse are left empty rather than guessed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from deid.hl7 import Message
from deid.hl7 import parse as parse_hl7

Columns = dict[str, Any]
Types = dict[str, str]

_DATE = re.compile(r"^(\d{4})(?:-?(\d{2}))?(?:-?(\d{2}))?")


def _iso_date(value: str | None) -> str | None:
    """HL7 TS (YYYYMMDD[HHMM...]) or FHIR date/dateTime -> 'YYYY-MM-DD' when a full date is there."""
    if not value:
        return None
    m = _DATE.match(value.strip())
    if not m or not m.group(2) or not m.group(3):
        return None
    y, mo, d = m.group(1), m.group(2), m.group(3)
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
        return None
    return f"{y}-{mo}-{d}"


def _year(value: str | None) -> int | None:
    if not value:
        return None
    m = re.match(r"^\s*(\d{4})", value)
    return int(m.group(1)) if m else None


# --- HL7 v2 ---------------------------------------------------------------------------------------------------

def _v(m: Message, address: str) -> str | None:
    """First repetition of a field/component, or None when empty."""
    return m.value(address) or None


def _hl7_common(m: Message) -> Columns:
    birth = _v(m, "PID-7")
    return {
        "message_type": "^".join(x for x in (_v(m, "MSH-9.1"), _v(m, "MSH-9.2")) if x) or None,
        "event_type": _v(m, "MSH-9.2") or _v(m, "EVN-1"),
        "sex": _v(m, "PID-8"),
        "birth_year": _year(birth),
        "age_group": "90+" if birth and "90+" in birth else None,
        "zip3": (_v(m, "PID-11.5") or "")[:3] or None,
    }


def project_hl7_adt(payload: str) -> tuple[Columns, Types]:
    m = parse_hl7(payload)
    cols = _hl7_common(m)
    cols.update({
        "patient_class": _v(m, "PV1-2"),
        "ward": _v(m, "PV1-3.1"),
        "admission_type": _v(m, "PV1-4"),
        "hospital_service": _v(m, "PV1-10"),
        "admit_date": _iso_date(_v(m, "PV1-44")) or _iso_date(_v(m, "EVN-2")),
        "discharge_date": _iso_date(_v(m, "PV1-45")),
        "diagnosis_code": _v(m, "DG1-3.1"),
        "diagnosis_system": _v(m, "DG1-3.3"),
    })
    types = {k: "VARCHAR" for k in cols}
    types.update({"birth_year": "BIGINT", "admit_date": "DATE", "discharge_date": "DATE"})
    return cols, types


def project_hl7_oru(payload: str) -> tuple[Columns, Types]:
    m = parse_hl7(payload)
    cols = _hl7_common(m)
    seps = m.separators
    obx = [seg for seg in m.segments if seg.name == "OBX"]
    notes: list[str] = []
    codes: list[str] = []
    for seg in obx:
        code = seg.field(3).split(seps.repetition)[0].split(seps.component)[0]
        if code:
            codes.append(code)
        if seg.field(2) in {"TX", "FT", "ST"} and seg.field(5):
            notes.append(m.unescape(" ".join(seg.field(5).split(seps.repetition))))
    for seg in m.segments:
        if seg.name == "NTE" and seg.field(3):
            notes.append(m.unescape(" ".join(seg.field(3).split(seps.repetition))))
    cols.update({
        "order_code": _v(m, "OBR-4.1"),
        "order_name": _v(m, "OBR-4.2"),
        "observed_date": _iso_date(_v(m, "OBR-7")) or _iso_date(_v(m, "OBX-14")),
        "result_count": len(obx),
        "result_codes": ",".join(dict.fromkeys(codes)) or None,
        "note": "\n".join(n for n in notes if n) or None,
    })
    types = {k: "VARCHAR" for k in cols}
    types.update({"birth_year": "BIGINT", "observed_date": "DATE", "result_count": "BIGINT"})
    return cols, types


# --- FHIR ------------------------------------------------------------------------------------------------------

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
        "birth_year": _year(patient.get("birthDate")),
        "zip3": (((patient.get("address") or [{}])[0] or {}).get("postalCode") or "")[:3] or None,
        "encounter_class": enc_class.get("code") if isinstance(enc_class, dict) else None,
        "encounter_start": _iso_date(period.get("start")),
        "encounter_end": _iso_date(period.get("end")),
        "condition_codes": ",".join(dict.fromkeys(cond_codes)) or None,
        "observation_codes": ",".join(dict.fromkeys(obs_codes)) or None,
        "observation_count": len(by_type.get("Observation", [])),
        "note": "\n".join(notes) or None,
    }
    types = {k: "VARCHAR" for k in cols}
    types.update({"resource_count": "BIGINT", "birth_year": "BIGINT", "encounter_start": "DATE",
                  "encounter_end": "DATE", "observation_count": "BIGINT"})
    return cols, types


# --- CSV -------------------------------------------------------------------------------------------------------

_SAFE_COL = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def project_csv(payload: dict[str, Any]) -> tuple[Columns, Types]:
    cols: Columns = {}
    types: Types = {}
    for k, v in payload.items():
        name = re.sub(r"[^a-z0-9_]", "_", str(k).strip().lower())
        if not _SAFE_COL.match(name) or name in {"record_id", "hospital", "feed", "loaded_at", "payload", "patient_pseudonym"}:
            continue
        cols[name] = None if v in (None, "") else str(v)
        types[name] = "VARCHAR"
    if "value" in cols:
        try:
            cols["value_num"] = float(cols["value"]) if cols["value"] is not None else None
        except ValueError:
            cols["value_num"] = None
        types["value_num"] = "DOUBLE"
    return cols, types


def projector_for(format: str, payload: Any) -> Callable[[Any], tuple[Columns, Types]]:
    if format == "fhir":
        return project_fhir
    if format == "csv":
        return project_csv
    if format == "hl7v2":
        head = payload[:400] if isinstance(payload, str) else ""
        return project_hl7_oru if "ORU" in head.split("\r", 1)[0] else project_hl7_adt
    raise ValueError("unknown format")


def project(format: str, payload: Any) -> tuple[Columns, Types]:
    return projector_for(format, payload)(payload)
