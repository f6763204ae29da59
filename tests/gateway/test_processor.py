"""The gateway's per-message logic: de-identified envelope or dead letter, with the real deid engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.processor import Processor
from gateway.runtime import build_processor
from policies.settings import Settings

ADT = (
    "MSH|^~\\&|EPIC|STL|HDS|CITY|20250314083000||ADT^A01|MSG0001|P|2.5\r"
    "EVN|A01|20250314083000\r"
    "PID|1||8812345^^^STL^MR||WHITAKER^MARGARET^A||19520607|F|||742 Evergreen Terrace^^Springfield^IL^62704||(217)555-0143\r"
    "PV1|1|I|4W^402^1^STL||||1234^HOUSE^GREGORY|||MED|||||||||V998877|||||||||||||||||||||||||20250314083000\r"
)


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory) -> Processor:
    s = Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path_factory.mktemp("d")),
                           "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef"})
    return build_processor(s)


def headers(**kw: str) -> dict[str, str]:
    return {"hospital": "st-luke", "feed": "adt", "format": "hl7v2", **kw}


def test_given_a_valid_adt_message_then_a_deidentified_envelope_goes_to_the_dataset_topic(processor: Processor) -> None:
    out = processor.process("hds.raw.st-luke.adt", b"mid-1", ADT.encode(), headers())
    assert not out.dead_letter, out.reason
    assert out.topic == "hds.deid.admissions"
    env = json.loads(out.value)
    assert env["dataset"] == "admissions" and env["hospital"] == "st-luke" and env["feed"] == "adt"
    assert env["patient_pseudonym"] and env["record_id"]
    text = out.value.decode()
    for raw in ("WHITAKER", "MARGARET", "8812345", "555-0143", "Evergreen", "V998877", "HOUSE"):
        assert raw.lower() not in text.lower(), f"identifier kind leaked ({len(raw)} chars)"
    assert env["columns"]["sex"] == "F"
    assert env["columns"]["event_type"] == "A01"


def test_given_the_same_message_twice_then_the_record_id_is_stable(processor: Processor) -> None:
    a = processor.process("hds.raw.st-luke.adt", b"mid-1", ADT.encode(), headers())
    b = processor.process("hds.raw.st-luke.adt", b"mid-1", ADT.encode(), headers())
    assert json.loads(a.value)["record_id"] == json.loads(b.value)["record_id"]


@pytest.mark.parametrize(
    ("topic", "value", "hdrs", "reason"),
    [
        ("hds.raw.st-luke.unknownfeed", ADT.encode(), {}, "unknown_feed"),
        ("hds.raw.nowhere.adt", ADT.encode(), {}, "unknown_feed"),
        ("hds.raw.st-luke", ADT.encode(), {}, "bad_topic"),
        ("hds.raw.st-luke.adt", ADT.encode(), {"hospital": "riverside"}, "header_mismatch"),
        ("hds.raw.st-luke.adt", ADT.encode(), {"format": "fhir"}, "format_mismatch"),
        ("hds.raw.st-luke.adt", b"", {}, "empty_message"),
        ("hds.raw.st-luke.adt", "MSH|^~\\&|X|Y\rPID|1||Müller".encode("latin-1"), {}, "encoding_error"),
        ("hds.raw.st-luke.fhir", b'{"resourceType": "Patient", ', {}, "invalid_json"),
        ("hds.raw.st-luke.fhir", b'[1, 2]', {}, "invalid_fhir"),
        ("hds.raw.st-luke.lab", b'"just a string"', {}, "invalid_csv_row"),
    ],
)
def test_given_bad_input_then_it_is_dead_lettered_with_a_reason(
    processor: Processor, topic: str, value: bytes, hdrs: dict[str, str], reason: str
) -> None:
    out = processor.process(topic, b"k", value, hdrs, 2, 41)
    assert out.dead_letter and out.reason == reason
    assert out.topic.startswith("hds.dlq.")
    h = {k: v.decode() for k, v in out.headers}
    assert h["dlq-reason"] == reason and h["dlq-source-offset"] == "41"
    assert out.value == value  # the restricted DLQ keeps the raw bytes so the hospital can fix and resend


@pytest.mark.parametrize("text", [
    "MSH|^~\\&|EPIC|STL|HDS|CITY|20250314||ADT^A01|M|P|2.5\rPID|1||88123",  # truncated PID
    "PID|1||8812345^^^STL^MR||WHITAKER^MARGARET\r",  # no MSH
    "MSH|\r",
])
def test_given_a_broken_hl7_message_then_it_never_moves_downstream(processor: Processor, text: str) -> None:
    out = processor.process("hds.raw.st-luke.adt", b"k", text.encode(), headers())
    if not out.dead_letter:  # a truncated-but-parsable message may pass, but only de-identified
        assert "8812345" not in out.value.decode() and "WHITAKER" not in out.value.decode()
    else:
        assert out.reason and "WHITAKER" not in json.dumps(dict((k, v.decode()) for k, v in out.headers))


def test_given_an_engine_that_raises_then_the_message_is_dead_lettered(processor: Processor) -> None:
    class Exploding:
        def deidentify(self, *a: object, **k: object) -> object:
            raise RuntimeError("boom with WHITAKER inside")

    from policies.feeds import FeedRegistry

    p = Processor(FeedRegistry.load(Path("policies/feeds.yaml")), Exploding(), record_key=b"k" * 32, key_id="k1")
    out = p.process("hds.raw.st-luke.adt", b"k", ADT.encode(), headers())
    assert out.dead_letter and out.reason == "internal_error"
    assert "WHITAKER" not in json.dumps([(k, v.decode()) for k, v in out.headers])


def test_given_an_unknown_fhir_type_then_the_dead_letter_never_echoes_a_free_text_type(processor: Processor) -> None:
    value = json.dumps({"resourceType": "Smith, John 617-555-0101", "id": "x"}).encode()
    out = processor.process("hds.raw.st-luke.fhir", b"k", value, {})
    assert out.dead_letter and out.reason == "fhir_unknown_resource"
    headers = json.dumps([(k, v.decode()) for k, v in out.headers])
    assert "Smith" not in headers and "555" not in headers
    named = processor.process("hds.raw.st-luke.fhir", b"k", b'{"resourceType": "Appointment"}', {})
    # a real R4 type name the profile does not handle is named; a name-shaped value that is no R4 type is not
    assert named.dead_letter and dict((k, v.decode()) for k, v in named.headers)["dlq-detail"] == "Appointment"
    shaped = processor.process("hds.raw.st-luke.fhir", b"k", b'{"resourceType": "JohnSmith"}', {})
    assert shaped.dead_letter and "John" not in dict((k, v.decode()) for k, v in shaped.headers)["dlq-detail"]


def test_given_a_csv_published_without_its_header_then_the_dead_letter_names_no_value(processor: Processor) -> None:
    # Row objects built from a header-less file: the first data row became the column names.
    row = {"6512330": "6512331", "ADEYEMI, GREGORY N": "OKAFOR, ADA", "1952-01-07": "1960-02-02"}
    out = processor.process("hds.raw.st-luke.lab", b"k", json.dumps(row).encode(), {})
    assert out.dead_letter and out.reason == "csv_unknown_column"
    headers = json.dumps([(k, v.decode()) for k, v in out.headers])
    assert "ADEYEMI" not in headers and "6512330" not in headers and "column 1" in headers


ORU = (
    "MSH|^~\\&|LAB|STL|HDS|CITY|20250314083000||ORU^R01^ORU_R01|LAB0001|P|2.5\r"
    "PID|1||8812345^^^STL^MR||WHITAKER^MARGARET\rOBR|1|||GLU\rOBX|1|NM|GLU||5.4|mmol/L|||||F\r"
)


@pytest.mark.parametrize(("feed", "value", "reason", "detail"), [
    ("adt", ORU, "message_type_not_accepted", "MSH-9 ORU"),  # an ORU on the ADT feed
    ("adt", ADT.replace("ADT^A01", "ADT^A40"), "event_not_accepted", "MSH-9 ADT^A40"),
    ("adt", "\r".join(s for s in ADT.split("\r") if not s.startswith("PID")), "missing_segment", "PID"),
    ("oru", ADT.replace("ADT^A01", "ORU^R01"), "missing_segment", "OBR"),
    ("oru", ORU[: ORU.index("OBX|") + 6], "hl7_parse_error", "hl7_truncated_segment segment 4 OBX (2 of 3 fields)"),
])
def test_given_a_message_the_feed_does_not_take_then_it_is_dead_lettered_with_the_rule_it_broke(
        processor: Processor, feed: str, value: str, reason: str, detail: str) -> None:
    out = processor.process(f"hds.raw.st-luke.{feed}", b"mid-9", value.encode(), headers(feed=feed))
    assert out.dead_letter and out.reason == reason
    got = dict((k, v.decode()) for k, v in out.headers)
    assert got["dlq-detail"] == detail
    assert "WHITAKER" not in json.dumps(got)


def test_given_the_registry_then_hl7_feeds_declare_types_and_segments_and_others_may_not(tmp_path: Path) -> None:
    from policies.feeds import FeedRegistry, FeedRegistryError

    reg = FeedRegistry.load(Path("policies/feeds.yaml"))
    adt = reg.lookup("st-luke", "adt")
    assert adt is not None and "ADT^A01" in adt.message_types and adt.required_segments == ("PID",)
    bad = tmp_path / "feeds.yaml"
    bad.write_text("hospitals: {h: {name: H}}\nfeeds:\n  lab: {format: csv, profile: p, dataset: d, "
                   "message_types: [ORU^R01]}\n")
    with pytest.raises(FeedRegistryError, match="feeds.lab.message_types"):
        FeedRegistry.load(bad)
    bad.write_text("hospitals: {h: {name: H}}\nfeeds:\n  adt: {format: hl7v2, profile: p, dataset: d, "
                   "message_types: [adt-a01]}\n")
    with pytest.raises(FeedRegistryError, match="feeds.adt.message_types"):
        FeedRegistry.load(bad)


# --- caches never carry one record's verdict to another (issue 10: reuse of kept-value screening) ------------
def _adt(control_id: str, mrn: str, family: str, given: str) -> bytes:
    return (
        f"MSH|^~\\&|EPIC|STL|HDS|CITY|20250314083000||ADT^A01|{control_id}|P|2.5\r"
        "EVN|A01|20250314083000\r"
        f"PID|1||{mrn}^^^STL^MR||{family}^{given}||19520607|F\r"
        "PV1|1|I|4W^402^1^STL||||1234^HOUSE^GREGORY|||MED\r"
        "PV2|||G20^Parkinson disease^I10\r"
    ).encode()


def _pv2(out_value: bytes) -> str:
    payload = json.loads(out_value)["payload"]
    return next(s for s in payload.split("\r") if s.startswith("PV2"))


def test_given_a_kept_text_that_names_only_the_second_records_patient_then_only_that_record_loses_it(
    processor: Processor,
) -> None:
    # Record A keeps "Parkinson disease" (an eponym, not A's patient); the screening of that text is then
    # cached. Record B's patient is named Parkinson: in B the same text must lose the name.
    a = processor.process("hds.raw.st-luke.adt", b"cache-a", _adt("CA1", "5550001", "JONES", "ALMA"), headers())
    b = processor.process("hds.raw.st-luke.adt", b"cache-b", _adt("CB1", "5550002", "PARKINSON", "EDITH"), headers())
    a2 = processor.process("hds.raw.st-luke.adt", b"cache-a2", _adt("CA2", "5550003", "JONES", "ALMA"), headers())
    assert not (a.dead_letter or b.dead_letter or a2.dead_letter)
    assert "Parkinson disease" in _pv2(a.value) and "Parkinson disease" in _pv2(a2.value)
    assert "G20" in _pv2(b.value) and "disease" in _pv2(b.value)
    assert "parkinson" not in b.value.decode().lower()


def test_given_a_planted_cache_leak_then_the_record_check_above_catches_it(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    import deid.text.redactor as redactor_module

    # a cache that ignores the record's identifiers: B's text would be answered from A's verdict
    monkeypatch.setattr(redactor_module, "_finds_any", lambda recognizer, text: False)
    processor.process("hds.raw.st-luke.adt", b"leak-a", _adt("LA1", "5550011", "JONES", "ALMA"), headers())
    b = processor.process("hds.raw.st-luke.adt", b"leak-b", _adt("LB1", "5550012", "PARKINSON", "EDITH"), headers())
    assert "parkinson" in b.value.decode().lower()


def _lab_row(mrn: str, name: str) -> bytes:
    return json.dumps({
        "mrn": mrn, "patient_name": name, "birth_date": "1952-06-07", "sex": "F", "phone": "217-555-0143",
        "address": "742 Evergreen Terrace, Springfield", "zip": "62704", "specimen_id": f"S{mrn}",
        "collected_at": "2025-03-14T08:30:00", "test_code": "2345-7", "test_name": "Parkinson disease panel",
        "value": "5.4", "unit": "mmol/L", "reference_range": "3.9-5.6", "flag": "N", "comment": "",
    }).encode()


def test_given_a_csv_test_name_that_names_only_the_second_rows_patient_then_only_that_row_loses_it(
    processor: Processor,
) -> None:
    a = processor.process("hds.raw.st-luke.lab", b"lab-a", _lab_row("6660001", "Jones, Alma"), {})
    b = processor.process("hds.raw.st-luke.lab", b"lab-b", _lab_row("6660002", "Parkinson, Edith"), {})
    assert not (a.dead_letter or b.dead_letter), (a.reason, b.reason)
    assert json.loads(a.value)["payload"]["test_name"] == "Parkinson disease panel"
    assert "parkinson" not in b.value.decode().lower()
    assert "panel" in json.loads(b.value)["payload"]["test_name"]
