"""HL7 v2.5 ADT^A01/A04/A08 and ORU^R01 messages for synthetic visits.

Segments are separated by CR as on the wire; the file writer puts a LF between messages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from catalog.cli.synth.people import Person, phone_variants
from catalog.cli.synth.visits import Hospital, Result, Visit

SEGMENT_SEPARATOR = "\r"


def _ts(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def segment(name: str, fields: dict[int, str]) -> str:
    """``name|f1|f2...`` with the given 1-based fields set and the others empty."""
    width = max(fields) if fields else 0
    values = [fields.get(i, "") for i in range(1, width + 1)]
    return "|".join([name, *values])


def _name(hospital: Hospital, family: str, given: str, middle: str = "") -> str:
    parts = [family, given] + ([middle] if middle else [])
    text = "^".join(parts)
    return text.upper() if hospital.upper_names else text


def _patient_name(hospital: Hospital, person: Person) -> str:
    middle = person.middle_initial if hospital.middle_initial else ""
    return _name(hospital, person.family, person.given, middle)


def _address(person: Person) -> str:
    return f"{person.street}^^{person.city}^{person.state}^{person.zip}^USA^H"


def _hl7_phone(phone: str) -> str:
    return phone_variants(phone)[1]  # (617)555-0143


def _doctor(visit: Visit) -> str:
    ident, family, given = visit.doctor
    return f"{ident}^{family}^{given}^^^Dr^MD"


def msh(visit: Visit, when: datetime, message_type: str, control_id: str) -> str:
    h = visit.hospital
    return "|".join(
        [
            "MSH", "^~\\&", h.application, h.facility, "HDS", "CITYHEALTH", _ts(when), "",
            message_type, control_id, "P", "2.5", "", "", "AL", "NE", "USA", "UNICODE UTF-8",
        ]
    )


def pid(visit: Visit) -> str:
    p, h = visit.person, visit.hospital
    fields = {
        1: "1",
        3: f"{visit.mrn}^^^{h.authority}^MR",
        5: _patient_name(h, p),
        7: p.birth_date.strftime("%Y%m%d"),
        8: p.sex,
        10: "2106-3^White^CDCREC" if p.key % 3 == 0 else "2054-5^Black or African American^CDCREC"
        if p.key % 3 == 1 else "2028-9^Asian^CDCREC",
        11: _address(p),
        13: _hl7_phone(p.phone),
        15: "ENG",
        16: "M" if p.key % 2 else "S",
        18: f"{visit.account}^^^{h.authority}^AN",
    }
    if p.ssn:
        fields[19] = p.ssn
    return segment("PID", fields)


def nk1(visit: Visit) -> str:
    p, h = visit.person, visit.hospital
    r = p.relative
    return segment(
        "NK1",
        {
            1: "1",
            2: _name(h, r.family, r.given),
            3: f"{r.relation_code}^{r.relation_text}^HL70063",
            4: _address(p) if r.family == p.family else "",
            5: _hl7_phone(r.phone),
            7: "EC^Emergency Contact^HL70131",
        },
    )


def pv1(visit: Visit) -> str:
    h = visit.hospital
    return segment(
        "PV1",
        {
            1: "1",
            2: visit.patient_class,
            3: f"{visit.unit}^{visit.room}^A^{h.facility}",
            4: "E" if visit.patient_class == "E" else "R",
            7: _doctor(visit),
            10: "MED",
            14: "7" if visit.patient_class == "E" else "1",
            17: _doctor(visit),
            18: visit.patient_class + "P",
            19: f"{visit.visit_number}^^^{h.authority}^VN",
            44: _ts(visit.admitted),
        },
    )


def adt_messages(visit: Visit, control_ids: list[str]) -> list[str]:
    """An A01 (inpatient/emergency admit) or A04 (outpatient registration), optionally an A08."""
    h, p = visit.hospital, visit.person
    event = "A04" if visit.patient_class == "O" else "A01"
    code, text, _snomed, reason = visit.diagnosis
    body = [
        segment("EVN", {1: event, 2: _ts(visit.admitted)}),
        pid(visit),
        segment("PD1", {3: f"{h.facility} PRIMARY CARE^^{h.authority}01", 4: _doctor(visit)}),
        nk1(visit),
        pv1(visit),
        segment("PV2", {3: f"^{reason}"}),
        segment(
            "GT1",
            {
                1: "1",
                3: _patient_name(h, p),
                5: _address(p),
                6: _hl7_phone(p.phone),
                8: p.birth_date.strftime("%Y%m%d"),
                9: p.sex,
                11: "SEL^Self^HL70063",
            },
        ),
        segment(
            "IN1",
            {
                1: "1",
                2: "BCPPO^Blue Cross PPO",
                3: "BCBS01",
                4: "BLUE CROSS BLUE SHIELD",
                5: "PO Box 105187^^Atlanta^GA^30348",
                8: f"GRP{visit.account[-5:]}",
                16: _patient_name(h, p),
                17: "SEL^Self^HL70063",
                18: p.birth_date.strftime("%Y%m%d"),
                36: f"XJH{visit.account[1:]}",
            },
        ),
        segment("DG1", {1: "1", 3: f"{code}^{text}^I10", 5: _ts(visit.admitted), 6: "A"}),
    ]
    if visit.mrn[-1] in "02468":
        body.append(segment("ZPD", {1: "1", 2: "EN", 3: "N", 4: "PORTAL-ENROLLED"}))
    messages = [
        SEGMENT_SEPARATOR.join(
            [msh(visit, visit.admitted, f"ADT^{event}^ADT_A01", control_ids[0]), *body]
        )
    ]
    if visit.updated:
        when = visit.admitted + timedelta(hours=3)
        update = [segment("EVN", {1: "A08", 2: _ts(when)}), *body[1:]]
        messages.append(
            SEGMENT_SEPARATOR.join(
                [msh(visit, when, "ADT^A08^ADT_A01", control_ids[1]), *update]
            )
        )
    return messages


def _obx_nm(set_id: int, result: Result, when: datetime) -> str:
    t = result.test
    return segment(
        "OBX",
        {
            1: str(set_id), 2: "NM", 3: f"{t.loinc}^{t.name}^LN", 5: result.value, 6: f"{t.unit}^^UCUM",
            7: result.reference_range, 8: result.flag, 11: "F", 14: _ts(when),
        },
    )


def oru_message(visit: Visit, control_id: str, *, free_text: str) -> str:
    """ORU^R01 with numeric results, a note as TX lines or one FT field, and an NTE comment.

    ``free_text`` is ``"TX"`` (one OBX per sentence, as many lab systems send notes) or ``"FT"``
    (one OBX, sentences joined by the ``\\.br\\`` line-break escape).
    """
    h = visit.hospital
    placer, filler = f"ORD{visit.specimen_id[2:]}", f"FIL{visit.specimen_id[2:]}"
    reported = visit.collected + timedelta(hours=2)
    segments = [
        msh(visit, reported, "ORU^R01^ORU_R01", control_id),
        pid(visit),
        nk1(visit),
        pv1(visit),
        segment("ORC", {1: "RE", 2: f"{placer}^{h.application}", 3: f"{filler}^LAB", 5: "CM",
                        12: _doctor(visit)}),
        segment("OBR", {1: "1", 2: f"{placer}^{h.application}", 3: f"{filler}^LAB",
                        4: "24323-8^Comprehensive metabolic panel^LN", 7: _ts(visit.collected),
                        16: _doctor(visit), 22: _ts(reported), 25: "F"}),
    ]
    set_id = 0
    for result in (*visit.results, *visit.vitals):
        set_id += 1
        segments.append(_obx_nm(set_id, result, visit.collected))
    note_code = "11506-3^Progress note^LN"
    if free_text == "TX":
        for sub_id, sentence in enumerate(visit.note, start=1):
            set_id += 1
            segments.append(segment("OBX", {1: str(set_id), 2: "TX", 3: note_code, 4: str(sub_id),
                                            5: sentence, 11: "F"}))
    else:
        set_id += 1
        segments.append(segment("OBX", {1: str(set_id), 2: "FT", 3: note_code,
                                        5: "\\.br\\".join(visit.note), 11: "F"}))
    comments = [r.comment for r in visit.results if r.comment]
    for index, comment in enumerate(comments or ["Results reviewed."], start=1):
        segments.append(segment("NTE", {1: str(index), 2: "L", 3: comment}))
    return SEGMENT_SEPARATOR.join(segments)
