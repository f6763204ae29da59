"""Columns of an HL7 v2 message (ADT: admissions; ORU: lab reports), from the de-identified message."""

from __future__ import annotations

from deid.hl7 import Message
from deid.hl7 import parse as parse_hl7
from gateway.projection.common import Columns, Types, iso_date, year
from gateway.projection.registry import register


def _v(m: Message, address: str) -> str | None:
    """First repetition of a field/component, or None when empty."""
    return m.value(address) or None


def _hl7_common(m: Message) -> Columns:
    birth = _v(m, "PID-7")
    return {
        "message_type": "^".join(x for x in (_v(m, "MSH-9.1"), _v(m, "MSH-9.2")) if x) or None,
        "event_type": _v(m, "MSH-9.2") or _v(m, "EVN-1"),
        "sex": _v(m, "PID-8"),
        "birth_year": year(birth),
        "age_group": "90+" if birth and "90+" in birth else None,
        "zip3": (_v(m, "PID-11.5") or "")[:3] or None,
    }


def project_hl7_adt(payload: str) -> tuple[Columns, Types]:
    m = parse_hl7(payload, complete=False)
    cols = _hl7_common(m)
    cols.update({
        "patient_class": _v(m, "PV1-2"),
        "ward": _v(m, "PV1-3.1"),
        "admission_type": _v(m, "PV1-4"),
        "hospital_service": _v(m, "PV1-10"),
        "admit_date": iso_date(_v(m, "PV1-44")) or iso_date(_v(m, "EVN-2")),
        "discharge_date": iso_date(_v(m, "PV1-45")),
        "diagnosis_code": _v(m, "DG1-3.1"),
        "diagnosis_system": _v(m, "DG1-3.3"),
    })
    types = {k: "VARCHAR" for k in cols}
    types.update({"birth_year": "BIGINT", "admit_date": "DATE", "discharge_date": "DATE"})
    return cols, types


def project_hl7_oru(payload: str) -> tuple[Columns, Types]:
    m = parse_hl7(payload, complete=False)
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
        "observed_date": iso_date(_v(m, "OBR-7")) or iso_date(_v(m, "OBX-14")),
        "result_count": len(obx),
        "result_codes": ",".join(dict.fromkeys(codes)) or None,
        "note": "\n".join(n for n in notes if n) or None,
    })
    types = {k: "VARCHAR" for k in cols}
    types.update({"birth_year": "BIGINT", "observed_date": "DATE", "result_count": "BIGINT"})
    return cols, types


def project_hl7(payload: str) -> tuple[Columns, Types]:
    """ORU messages project as lab reports, every other message type as an admission event."""
    head = payload[:400] if isinstance(payload, str) else ""
    return project_hl7_oru(payload) if "ORU" in head.split("\r", 1)[0] else project_hl7_adt(payload)


register("hl7v2", project_hl7)
