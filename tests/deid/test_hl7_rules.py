"""HL7 v2 rules of the Safe Harbor profile on a synthetic ADT/ORU message."""

from __future__ import annotations

from datetime import date, timedelta

from deid import hl7
from deid.engine import Deidentifier

MESSAGE = "\r".join(
    [
        "MSH|^~\\&|ADT|GENERAL HOSP|EHR|CITY|20240314101500||ADT^A01^ADT_A01|MSG000123|P|2.5",
        "EVN|A01|20240314101500",
        "PID|1||MRN778899^^^GH^MR~123-45-6789^^^USA^SS||OBRIEN^MARGARET^ANN||19550704|F|||12 ELM STREET^APT 4^SPRINGFIELD^IL^62704^USA||(217)555-0142^PRN^PH~^NET^Internet^maggie@example.org|||M||ACCT55667788|123-45-6789",
        "PD1|||SPRINGFIELD CLINIC^^1234",
        "NK1|1|OBRIEN^PATRICK|SPO^Spouse|12 ELM STREET^^SPRINGFIELD^IL^62704|(217)555-0199",
        "PV1|1|I|4W^401^A|||||1234^HOUSE^GREGORY^^^DR|||MED||||||||VISIT445566|||||||||||||||||||||||||20240314101500",
        "GT1|1||OBRIEN^PATRICK||12 ELM STREET^^SPRINGFIELD^IL^62704|(217)555-0199",
        "IN1|1|PLAN01|INS99|ACME INSURANCE||||||||||||OBRIEN^MARGARET|SEL||||||||||||||||||||POL-887766",
        "OBR|1|ORD11223|FIL44556|24323-8^Metabolic panel^LN|||20240314090000",
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|3.9-5.5|N|||F|||20240314090000",
        "OBX|2|TX|11506-3^Progress note^LN||Mrs OBRIEN (MRN778899) seen with husband Patrick; call (217)555-0142.\\.br\\Stable.||||||F",
        "OBX|3|ED|PDF^Report||^application^pdf^Base64^JVBERi0xLjQK||||||F",
        "NTE|1||Margaret prefers morning visits at 12 ELM STREET",
        "ZPI|1|SECRET LOCAL FIELD MARGARET",
    ]
)
IDENTIFIERS = [
    "MRN778899", "123-45-6789", "OBRIEN", "MARGARET", "12 ELM STREET", "SPRINGFIELD", "62704", "(217)555-0142",
    "maggie@example.org", "ACCT55667788", "PATRICK", "(217)555-0199", "VISIT445566", "HOUSE", "GREGORY",
    "POL-887766", "19550704", "MSG000123", "ORD11223", "FIL44556", "SECRET LOCAL",
]  # fmt: skip


def run(engine: Deidentifier, text: str = MESSAGE, hospital: str = "general") -> hl7.Message:
    result = engine.deidentify(text, format="hl7v2", profile="hl7v2-safe-harbor", hospital=hospital)
    assert result.ok, (result.reason, result.detail)
    assert isinstance(result.payload, str)
    return hl7.parse(result.payload)


def test_given_adt_message_then_no_structured_identifier_survives_anywhere(engine: Deidentifier) -> None:
    out = run(engine).to_text()
    for value in IDENTIFIERS:
        assert value.lower() not in out.lower(), f"identifier #{IDENTIFIERS.index(value)} survived"


def test_given_adt_message_then_output_is_valid_hl7_with_cr_separators(engine: Deidentifier) -> None:
    out = run(engine)
    text = out.to_text()
    assert "\n" not in text and text.count("\r") == len(out.segments)
    assert out.value("MSH-9.2") == "A01" and out.value("MSH-12") == "2.5"
    assert out.value("MSH-2") == "^~\\&"


def test_given_z_segment_then_dropped_and_known_segments_kept_in_order(engine: Deidentifier) -> None:
    names = [s.name for s in run(engine).segments]
    assert "ZPI" not in names
    assert names == ["MSH", "EVN", "PID", "PD1", "NK1", "PV1", "GT1", "IN1", "OBR", "OBX", "OBX", "OBX", "NTE"]


def test_given_identifiers_then_pseudonymised_with_key_id_and_type_code_kept(engine: Deidentifier) -> None:
    out = run(engine)
    assert out.value("PID-3[1].1").startswith("k1-")
    assert out.value("PID-3[1].5") == "MR"
    assert out.value("PID-3[1].4") == ""  # assigning authority dropped
    assert out.value("PV1-19.1").startswith("k1-")
    assert out.value("OBR-2.1").startswith("k1-")


def test_given_same_mrn_at_two_hospitals_then_local_pseudonyms_differ_but_patient_pseudonym_same(engine: Deidentifier) -> None:
    a = engine.deidentify(MESSAGE, format="hl7v2", profile="hl7v2-safe-harbor", hospital="general")
    b = engine.deidentify(MESSAGE, format="hl7v2", profile="hl7v2-safe-harbor", hospital="other")
    assert hl7.parse(a.payload).value("PID-3.1") != hl7.parse(b.payload).value("PID-3.1")  # type: ignore[arg-type]
    assert a.patient is not None and a.patient == b.patient


def test_given_dates_then_shifted_consistently_and_birth_date_generalised(engine: Deidentifier) -> None:
    out = run(engine)
    assert out.value("PID-7") == "1955"
    admitted = out.value("PV1-44")
    observed = out.value("OBX[1]-14")
    assert admitted != "20240314101500" and len(admitted) == 14
    d_adm = date(int(admitted[:4]), int(admitted[4:6]), int(admitted[6:8]))
    d_obs = date(int(observed[:4]), int(observed[4:6]), int(observed[6:8]))
    assert d_adm == d_obs  # same day before, same day after: intervals preserved
    assert timedelta(days=1) <= date(2024, 3, 14) - d_adm <= timedelta(days=365)
    assert admitted[8:] == "101500"  # time of day kept


def test_given_zip_then_three_digits_and_state_kept(engine: Deidentifier) -> None:
    out = run(engine)
    assert out.value("PID-11.5") == "627"
    assert out.value("PID-11.4") == "IL"
    assert out.value("PID-11.1") == "" and out.value("PID-11.3") == ""


def test_given_text_obx_and_nte_then_redacted_numeric_kept_binary_dropped(known_only_engine: Deidentifier) -> None:
    out = run(known_only_engine)
    assert out.value("OBX[1]-5") == "5.4"
    note = out.value("OBX[2]-5")
    assert "[REDACTED]" in note and "\\.br\\Stable." in note
    assert out.value("OBX[3]-5") == ""
    assert "[REDACTED]" in out.value("NTE-3") and "morning visits" in out.value("NTE-3")


def test_given_escaped_delimiters_in_note_then_redaction_keeps_them_escaped(engine: Deidentifier) -> None:
    msg = MESSAGE.replace("Stable.", "A \\F\\ B \\S\\ C")
    out = run(engine, msg)
    assert out.value("OBX[2]-5").endswith("A \\F\\ B \\S\\ C")


def test_given_patient_aged_over_89_then_birth_date_removed(engine: Deidentifier) -> None:
    out = run(engine, MESSAGE.replace("19550704", "19300704"))
    assert out.value("PID-7") == ""


def test_given_unknown_segment_then_dropped(engine: Deidentifier) -> None:
    out = run(engine, MESSAGE + "\rXYZ|1|MARGARET OBRIEN")
    assert "XYZ" not in [s.name for s in out.segments]


def test_given_batch_of_two_patients_then_each_gets_own_pseudonym_context(engine: Deidentifier) -> None:
    other = MESSAGE.replace("OBRIEN^MARGARET^ANN", "NGUYEN^LINH").replace("123-45-6789", "987-65-4321")
    batch = "BHS|^~\\&|ADT|GENERAL HOSP\r" + MESSAGE + "\r" + other + "\rBTS|2"
    result = engine.deidentify(batch, format="hl7v2", profile="hl7v2-safe-harbor", hospital="general")
    assert result.ok
    out = hl7.parse(result.payload)  # type: ignore[arg-type]
    assert [s.name for s in out.segments].count("MSH") == 2
    assert "NGUYEN" not in result.payload and "LINH" not in result.payload  # type: ignore[operator]


def test_given_coded_obx_value_then_codes_kept_and_text_parts_redacted(known_only_engine: Deidentifier) -> None:
    msg = MESSAGE + "\rOBX|4|CWE|8867-4^Finding^LN||260385009^Negative per MARGARET^SCT^^^^^^Margaret said negative||||||F"
    out = run(known_only_engine, msg)
    value = out.value("OBX[4]-5")
    parts = value.split("^")
    assert parts[0] == "260385009" and parts[2] == "SCT"
    assert "MARGARET" not in value.upper() and parts[1].startswith("Negative per ")


def test_given_bytes_payload_then_decoded_as_utf8(engine: Deidentifier) -> None:
    assert engine.deidentify(MESSAGE.encode(), format="hl7v2", profile="hl7v2-safe-harbor", hospital="h").ok
    bad = engine.deidentify(b"MSH|\xff\xfe", format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
    assert bad.reason == "hl7_not_utf8"
