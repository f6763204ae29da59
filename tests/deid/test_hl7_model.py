"""The small HL7 v2 model: separators, addressing, escapes, envelopes, errors."""

from __future__ import annotations

import pytest

from deid import hl7

MSG = (
    "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240314101500||ORU^R01^ORU_R01|CTRL1|P|2.5\r"
    "PID|1||MRN1^^^HOSP^MR~SSN9^^^USA^SS||DOE^JANE^Q||19700102|F\r"
    "OBX|1|TX|NOTE^Note||Line one\\.br\\has a pipe \\F\\ here||||||F\r"
)


def test_given_cr_message_then_values_address_fields_components_and_repetitions() -> None:
    m = hl7.parse(MSG)
    assert [s.name for s in m.segments] == ["MSH", "PID", "OBX"]
    assert m.value("MSH-1") == "|"
    assert m.value("MSH-2") == "^~\\&"
    assert m.value("MSH-9.2") == "R01"
    assert m.value("PID-5.1") == "DOE"
    assert m.value("PID-3[2].1") == "SSN9"
    assert m.value("PID-3.4") == "HOSP"
    assert m.value("PID-99") == ""


def test_given_lf_crlf_and_bom_then_same_model_as_cr() -> None:
    for variant in (MSG.replace("\r", "\n"), MSG.replace("\r", "\r\n"), "\ufeff" + MSG):
        assert hl7.parse(variant).to_text() == hl7.parse(MSG).to_text()


def test_given_custom_separators_then_they_are_read_from_msh() -> None:
    m = hl7.parse("MSH#*@!$#A#B#C#D#20240101##ADT*A01#1#P#2.5\rPID#1##X1*Y*Z")
    assert m.value("PID-3.2") == "Y"
    assert m.value("MSH-9.2") == "A01"
    assert hl7.parse(m.to_text()).value("PID-3.3") == "Z"


def test_given_escape_sequences_then_preserved_in_values_and_round_trip() -> None:
    m = hl7.parse(MSG)
    raw = m.value("OBX-5")
    assert "\\.br\\" in raw and "\\F\\" in raw
    assert m.to_text() == MSG
    assert m.unescape(raw) == "Line one\nhas a pipe | here"
    assert m.escape(m.unescape(raw)) == raw


def test_given_second_occurrence_address_then_second_segment_value() -> None:
    m = hl7.parse(MSG + "OBX|2|NM|GLU||5.4\r")
    assert m.value("OBX[2]-5") == "5.4"


@pytest.mark.parametrize(
    "text,reason",
    [
        ("", "hl7_empty"),
        ("PID|1||X", "hl7_no_msh"),
        ("MSH|^~\\&|A", "hl7_truncated_header"),
        ("MSH|^~\\&|A|B|C|D|2024", "hl7_truncated_header"),
        ("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rpid|1", "hl7_bad_segment"),
        ("MSH|^~^&|A|B|C|D|2024||ADT^A01|1|P|2.5", "hl7_bad_separators"),
        ("BHS|^~\\&|A\rEVN|A04\rBTS|1", "hl7_no_msh"),
        ("MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5\rFHS|^~\\&|A", "hl7_misplaced_envelope"),
    ],
)
def test_given_malformed_text_then_parse_error_with_reason_and_no_content(text: str, reason: str) -> None:
    with pytest.raises(hl7.HL7ParseError) as err:
        hl7.parse(text)
    assert err.value.reason == reason
    assert "2024" not in str(err.value)


def test_given_batch_envelope_then_messages_are_split() -> None:
    batch = "BHS|^~\\&|A\r" + MSG + MSG + "BTS|2\r"
    m = hl7.parse(batch)
    ranges = hl7.split_messages(m)
    assert len(ranges) == 2
    assert [m.segments[s].name for s, _ in ranges] == ["MSH", "MSH"]
    assert all(m.segments[e - 1].name == "OBX" for _, e in ranges)
