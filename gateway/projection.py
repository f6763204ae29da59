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

class _Hl7:
    """Just enough HL7 v2 reading for projection: first occurrence of a segment, field, component."""

    def __init__(self, text: str) -> None:
        segs = [s for s in re.split(r"\r\n|\r|\n", text.lstrip("\ufeff")) if s.strip()]
        if not segs or not segs[0].startswith("MSH") or len(segs[0]) < 8:
            raise ValueError("not an HL7 v2 message")
        self.fs = segs[0][3]
        enc = segs[0][4:8]
        self.cs, self.rs = enc[0], enc[1]
        self.segments: list[tuple[str, list[str]]] = []
        for s in segs:
            parts = s.split(self.fs)
            if parts[0] == "MSH":  # MSH-1 is the separator itself: shift so MSH-n is parts[n]
                parts = ["MSH", self.fs] + parts[1:]
            self.segments.append((parts[0], parts))

    def all(self, seg: str) -> list[list[str]]:
        return [p for name, p in self.segments if name == seg]

    def get(self, seg: str, field: int, comp: int = 1, parts: list[str] | None = None) -> str | None:
        if parts is None:
            found = self.all(seg)
            if not found:
                return None
            parts = found[0]
        if field >= len(parts):
            return None
        value = parts[field].split(self.rs)[0]
        comps = value.split(self.cs)
        if comp - 1 >= len(comps):
            return None
        return comps[comp - 1] or None


_HL7_ESCAPES = {"\\.br\\": "\n", "\\F\\": "|", "\\S\\": "^", "\\T\\": "&", "\\R\\": "~", "\\E\\": "\\"}


def _unescape(text: str) -> str:
    """HL7 escape sequences in text fields -> plain text (line breaks and the delimiter characters)."""
    if "\\" not in text:
        return text
    return re.sub(r"\\(?:\.br|F|S|T|R|E)\\", lambda m: _HL7_ESCAPES[m.group(0)], text)


def _hl7_common(m: _Hl7) -> Columns:
    birth = m.get("PID", 7)
    return {
        "message_type": "^".join(x for x in (m.get("MSH", 9, 1), m.get("MSH", 9, 2)) if x) or None,
        "event_type": m.get("MSH", 9, 2) or m.get("EVN", 1),
        "sex": m.get("PID", 8),
        "birth_year": _year(birth),
        "age_group": "90+" if birth and "90+" in birth else None,
        "zip3": (m.get("PID", 11, 5) or "")[:3] or None,
    }


def project_hl7_adt(payload: str) -> tuple[Columns, Types]:
    m = _Hl7(payload)
    cols = _hl7_common(m)
    cols.update({
        "patient_class": m.get("PV1", 2),
        "ward": m.get("PV1", 3, 1),
        "admission_type": m.get("PV1", 4),
        "hospital_service": m.get("PV1", 10),
        "admit_date": _iso_date(m.get("PV1", 44)) or _iso_date(m.get("EVN", 2)),
        "discharge_date": _iso_date(m.get("PV1", 45)),
        "diagnosis_code": m.get("DG1", 3, 1),
        "diagnosis_system": m.get("DG1", 3, 3),
    })
    types = {k: "VARCHAR" for k in cols}
    types.update({"birth_year": "BIGINT", "admit_date": "DATE", "discharge_date": "DATE"})
    return cols, types


def project_hl7_oru(payload: str) -> tuple[Columns, Types]:
    m = _Hl7(payload)
    cols = _hl7_common(m)
    obx = m.all("OBX")
    notes: list[str] = []
    codes: list[str] = []
    for parts in obx:
        vtype = m.get("OBX", 2, parts=parts) or ""
        code = m.get("OBX", 3, 1, parts=parts)
        if code:
            codes.append(code)
        if vtype in {"TX", "FT", "ST"} and len(parts) > 5:
            notes.append(_unescape(" ".join(parts[5].split(m.rs))))
    for parts in m.all("NTE"):
        if len(parts) > 3:
            notes.append(_unescape(" ".join(parts[3].split(m.rs))))
    cols.update({
        "order_code": m.get("OBR", 4, 1),
        "order_name": m.get("OBR", 4, 2),
        "observed_date": _iso_date(m.get("OBR", 7)) or _iso_date(m.get("OBX", 14)),
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
