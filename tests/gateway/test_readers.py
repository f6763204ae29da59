"""Feed-file readers against real third-party samples, synthetic feeds and malformed files."""

from __future__ import annotations

import base64
import codecs
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.readers import FeedMessage, FeedReadError, detect_format, read_feed_file
from catalog.cli.synth.feeds import SynthManifest, generate

HL7_GOOD_COUNTS = {
    "rep_sample_hl7.hl7": 1, "sample_hl7.hl7": 1, "sample_msh.hl7": 1,
    "sample_batch.hl7": 1, "sample_batch1.hl7": 2, "sample_batch2.hl7": 2, "sample_batch3.hl7": 1,
    "sample_batch4.hl7": 1, "sample_file.hl7": 1, "sample_file1.hl7": 3, "sample_file2.hl7": 2,
    "sample_file3.hl7": 1, "sample_file4.hl7": 1, "sample_file5.hl7": 1, "sample_file6.hl7": 1,
}
# What is wrong with each deliberately malformed python-hl7 sample, and where the reader says so.
HL7_BAD = {
    "sample_bad_batch.hl7": ("line 2", "segment outside a message"),  # BHS then EVN: no MSH
    "sample_bad_batch1.hl7": ("line 4", "BHS inside an open batch"),  # second BHS mid-message
    "sample_bad_file.hl7": ("line 3", "segment outside a message"),  # FHS, BHS, EVN: no MSH
    "sample_bad_file1.hl7": ("line 5", "BHS inside an open batch"),  # BHS nested in a batch
    "sample_bad_file2.hl7": ("line 5", "FHS inside an open file envelope"),  # FHS nested in a file
    "sample_bad_file3.hl7": ("line 2", "segment outside a message"),  # FHS then EVN: no MSH
}


def _read(path: Path, feed: str = "adt", hospital: str = "st-luke") -> list[FeedMessage]:
    return read_feed_file(path, hospital=hospital, feed=feed)


# ------------------------------------------------------------------------- python-hl7 samples (BSD-3)


@pytest.mark.parametrize("name", sorted(HL7_GOOD_COUNTS))
def test_given_python_hl7_good_sample_then_each_message_is_read(shared_data: Path, name: str) -> None:
    messages = _read(shared_data / "python-hl7-samples" / name)
    assert len(messages) == HL7_GOOD_COUNTS[name]
    for m in messages:
        text = m.payload.decode("utf-8")
        assert text.startswith("MSH|") and "\n" not in text
        assert all(seg[:3] not in {"FHS", "BHS", "BTS", "FTS"} for seg in text.split("\r"))
        assert m.format == "hl7v2" and m.content_type == "application/hl7-v2"
        assert m.position.startswith("message ")


def test_python_hl7_sample_set_is_fully_covered(shared_data: Path) -> None:
    names = {p.name for p in (shared_data / "python-hl7-samples").glob("*.hl7")}
    assert names == set(HL7_GOOD_COUNTS) | set(HL7_BAD)


@pytest.mark.parametrize("name", sorted(HL7_BAD))
def test_given_python_hl7_bad_sample_then_error_names_file_and_position(shared_data: Path, name: str) -> None:
    path = shared_data / "python-hl7-samples" / name
    with pytest.raises(FeedReadError) as info:
        _read(path)
    position, reason = HL7_BAD[name]
    assert info.value.path == str(path) and info.value.position == position
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{path}: {position}: ")
    assert "XXXXXXXXXX" not in str(info.value) and "RICHMOND" not in str(info.value)


def test_given_batch_samples_then_messages_inside_envelopes_have_distinct_stable_ids(shared_data: Path) -> None:
    path = shared_data / "python-hl7-samples" / "sample_file1.hl7"
    first, again = _read(path), _read(path)
    assert [m.message_id for m in first] == [m.message_id for m in again]
    # messages 1 and 3 are byte-identical (same MSH-10): same content -> same id; message 2 differs
    assert first[0].message_id == first[2].message_id != first[1].message_id
    assert all(len(m.message_id) == 32 and int(m.message_id, 16) >= 0 for m in first)


# ----------------------------------------------------------------- FHIR-Converter HL7 v2 samples (MIT)


def test_given_fhir_converter_hl7v2_samples_then_all_read_with_bom_and_lf_handled(shared_data: Path) -> None:
    files = sorted((shared_data / "fhir-converter-hl7v2" / "hl7v2").glob("*.hl7"))
    assert len(files) >= 80
    with_bom = 0
    for path in files:
        with_bom += path.read_bytes().startswith(codecs.BOM_UTF8)
        messages = _read(path)
        assert len(messages) == 1, path.name
        payload = messages[0].payload
        assert payload.startswith(b"MSH") and b"\n" not in payload
        assert payload.count(b"\r") == path.read_bytes().strip().count(b"\n")
    assert with_bom > 20


def test_given_same_message_with_lf_crlf_or_cr_then_same_id_and_payload(shared_data: Path, tmp_path: Path) -> None:
    source = (shared_data / "fhir-converter-hl7v2" / "hl7v2" / "ADT-A01-01.hl7").read_bytes()
    lines = source.removeprefix(codecs.BOM_UTF8).strip().split(b"\n")
    variants = {"lf": b"\n".join(lines), "crlf": b"\r\n".join(lines) + b"\r\n",
                "cr": codecs.BOM_UTF8 + b"\r".join(lines) + b"\r"}
    read = []
    for name, content in variants.items():
        (tmp_path / f"{name}.hl7").write_bytes(content)
        read.append(_read(tmp_path / f"{name}.hl7")[0])
    assert len({(m.payload, m.message_id) for m in read}) == 1


def test_given_same_message_from_two_hospitals_then_ids_differ(shared_data: Path) -> None:
    path = shared_data / "python-hl7-samples" / "sample_hl7.hl7"
    a = read_feed_file(path, hospital="st-luke", feed="oru")[0]
    b = read_feed_file(path, hospital="riverside", feed="oru")[0]
    c = read_feed_file(path, hospital="st-luke", feed="adt")[0]
    assert a.payload == b.payload and len({a.message_id, b.message_id, c.message_id}) == 3


# -------------------------------------------------------------------------- US Core examples (CC0)


def test_given_us_core_examples_then_each_json_is_one_fhir_message(shared_data: Path) -> None:
    files = sorted((shared_data / "us-core-examples").glob("*.json"))
    assert len(files) > 200
    bundles = 0
    for path in files:
        messages = read_feed_file(path, hospital="st-luke", feed="fhir")
        assert len(messages) == 1
        m = messages[0]
        assert m.format == "fhir" and m.content_type == "application/fhir+json"
        resource = json.loads(m.payload)
        assert resource == json.loads(path.read_text(encoding="utf-8"))
        bundles += resource["resourceType"] == "Bundle"
        assert b"\n" not in m.payload
    assert bundles >= 1


# ---------------------------------------------------------------------------- synthetic feeds


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthManifest:
    return generate(tmp_path_factory.mktemp("feeds"), seed=3, patients=24)


def test_given_synthetic_feeds_then_reader_returns_manifest_message_counts(synth: SynthManifest) -> None:
    for hospital, feed, info, path in synth.feeds():
        messages = read_feed_file(path, hospital=hospital, feed=feed)
        assert len(messages) == info.messages
        assert {m.format for m in messages} == {info.format}
        assert detect_format(path, path.read_bytes()[:512]) == info.format
        assert len({m.message_id for m in messages}) == len(messages)


def test_given_synthetic_lab_csv_then_rows_become_string_objects(synth: SynthManifest) -> None:
    messages = read_feed_file(synth.feed_path("riverside", "lab"), hospital="riverside", feed="lab")
    first = json.loads(messages[0].payload)
    assert list(first)[:3] == ["mrn", "patient_name", "birth_date"] and len(first) == 16
    assert all(isinstance(v, str) for m in messages for v in json.loads(m.payload).values())
    assert messages[0].position == "row 1 (line 2)" and messages[0].content_type == "application/json"


def test_given_synthetic_fhir_then_bundle_and_note_survive_round_trip(synth: SynthManifest) -> None:
    path = synth.feed_path("north-general", "fhir")
    messages = read_feed_file(path, hospital="north-general", feed="fhir")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(m.payload) for m in messages] == [json.loads(line) for line in lines]
    doc = next(e["resource"] for e in json.loads(messages[0].payload)["entry"]
               if e["resource"]["resourceType"] == "DocumentReference")
    assert "MRN " in base64.b64decode(doc["content"][0]["attachment"]["data"]).decode("utf-8")


def test_given_synthetic_hl7_then_payload_is_the_message_as_written(synth: SynthManifest) -> None:
    path = synth.feed_path("st-luke", "oru")
    messages = read_feed_file(path, hospital="st-luke", feed="oru")
    written = [m for m in path.read_bytes().split(b"\r\n") if m]
    assert [m.payload for m in messages] == written


# ------------------------------------------------------------------------------ malformed files


def _expect_error(path: Path, position: str, reason: str, *, secret: str = "") -> FeedReadError:
    with pytest.raises(FeedReadError) as info:
        read_feed_file(path, hospital="st-luke", feed="x")
    assert info.value.position == position, str(info.value)
    assert reason in info.value.reason
    assert str(path) in str(info.value)
    if secret:
        assert secret not in str(info.value)
    return info.value


MSH = "MSH|^~\\&|APP|FAC|HDS|CITY|20250101120000||ADT^A01^ADT_A01|C1|P|2.5"
PID = "PID|1||1234567^^^H^MR||DOE^JANE||19800101|F"


def test_given_segment_line_that_is_not_a_segment_then_error_names_message_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.hl7"
    path.write_text("\r".join([MSH, PID, MSH.replace("C1", "C2"), PID, "pid|secret value"]) + "\r")
    _expect_error(path, "message 2 (line 5)", "does not look like an HL7 segment", secret="secret")


def test_given_continuation_line_inside_note_then_error_not_silent_merge(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.hl7"
    path.write_text(f"{MSH}\n{PID}\nOBX|1|TX|note||first half\nJane Doe second half\n")
    _expect_error(path, "message 1 (line 4)", "does not look like an HL7 segment", secret="Jane")


@pytest.mark.parametrize(
    ("msh", "reason"),
    [
        ("MSHX^~\\&|APP|FAC", "MSH-1"),
        ("MSH||APP|FAC|HDS|CITY|20250101||ADT^A01|C1|P|2.5", "MSH-2"),
        ("MSH|^~\\&|APP|FAC|HDS|CITY|20250101|||C1|P|2.5", "MSH-9"),
        ("MSH|^~\\&|APP|FAC", "MSH-9"),
    ],
)
def test_given_implausible_msh_then_error_names_the_field(tmp_path: Path, msh: str, reason: str) -> None:
    path = tmp_path / "msh.hl7"
    path.write_text(f"{msh}\r{PID}\r")
    _expect_error(path, "message 1 (line 1)", reason)


def test_given_truncated_message_with_msh_only_then_error(tmp_path: Path) -> None:
    path = tmp_path / "truncated.hl7"
    path.write_text(f"{MSH}\r{PID}\r\r\n{MSH}\r")
    _expect_error(path, "message 2 (line 4)", "no segment after MSH")


def test_given_bts_count_that_disagrees_then_error(tmp_path: Path) -> None:
    path = tmp_path / "batch.hl7"
    path.write_text(f"BHS|^~\\&|APP\r{MSH}\r{PID}\rBTS|2\r")
    _expect_error(path, "line 4", "BTS-1 declares 2 messages but the batch holds 1")


def test_given_latin1_bytes_and_msh18_8859_1_then_decoded_and_published_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.hl7"
    msh = MSH + "|||AL|NE|USA|8859/1"
    path.write_bytes(f"{msh}\rPID|1||1^^^H^MR||MÜLLER^JOSÉ\r".encode("latin-1"))
    [message] = read_feed_file(path, hospital="st-luke", feed="adt")
    assert "MÜLLER^JOSÉ" in message.payload.decode("utf-8")


def test_given_latin1_bytes_without_msh18_then_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.hl7"
    path.write_bytes(f"{MSH}\r{PID}\rNK1|1|MÜLLER^JOSÉ\r".encode("latin-1"))
    _expect_error(path, "message 1 (line 3)", "not valid UTF-8", secret="LLER")


def test_given_mllp_framing_and_blank_lines_then_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mllp.hl7"
    path.write_bytes(f"\x0b{MSH}\r{PID}\x1c\r\n\n\n\x0b{MSH}\r{PID}\x1c\r".encode())
    assert len(read_feed_file(path, hospital="st-luke", feed="adt")) == 2


def test_given_invalid_json_line_in_ndjson_then_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text('{"resourceType":"Patient","id":"a"}\n\n{"resourceType":"Patient","name":"Jane",}\n')
    _expect_error(path, "line 3, column 41", "invalid JSON", secret="Jane")


def test_given_json_without_resource_type_then_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    path.write_text('{\n  "name": "Jane Doe"\n}\n')
    _expect_error(path, "line 1", "without resourceType", secret="Jane")


def test_given_json_array_or_nan_then_error(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text('[{"resourceType":"Patient"}]')
    _expect_error(path, "line 1", "not an object")
    path = tmp_path / "nan.ndjson"
    path.write_text('{"resourceType":"Observation","valueQuantity":{"value":NaN}}\n')
    _expect_error(path, "line 1", "invalid JSON")


def test_given_several_json_values_in_a_json_file_then_read_as_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text('{"resourceType":"Patient","id":"a"}\n{"resourceType":"Patient","id":"b"}\n')
    messages = read_feed_file(path, hospital="st-luke", feed="fhir")
    assert [m.position for m in messages] == ["line 1", "line 2"]


def test_given_csv_row_with_wrong_column_count_then_error_names_row(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"mrn,name,value\r\n1,\"Doe, Jane\",5\r\n2,Roe Rick\r\n")
    _expect_error(path, "row 2 (line 3)", "expected 3 columns, found 2", secret="Roe")


def test_given_csv_with_bom_quoted_newline_and_blank_line_then_rows_read(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_bytes(codecs.BOM_UTF8 + b'mrn,comment\r\n1,"two\nlines"\r\n\r\n2,ok\r\n')
    messages = read_feed_file(path, hospital="st-luke", feed="lab")
    assert [json.loads(m.payload) for m in messages] == [{"mrn": "1", "comment": "two\nlines"},
                                                        {"mrn": "2", "comment": "ok"}]
    assert [m.position for m in messages] == ["row 1 (line 3)", "row 2 (line 5)"]


def test_given_csv_with_duplicate_header_or_unterminated_quote_then_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("mrn,mrn\n1,2\n")
    _expect_error(path, "header (line 1), column 2", "duplicate column name")
    path = tmp_path / "quote.csv"
    path.write_text('mrn,comment\n1,"never closed\n')
    _expect_error(path, "line 2", "malformed CSV")


def test_given_unknown_format_or_empty_file_then_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("free text about a patient\n")
    _expect_error(path, "start of file", "cannot tell the format")
    empty = tmp_path / "empty.hl7"
    empty.write_bytes(codecs.BOM_UTF8 + b"\r\n")
    _expect_error(empty, "file", "empty file")
    with pytest.raises(FeedReadError, match="cannot be read"):
        read_feed_file(tmp_path / "missing.hl7", hospital="st-luke", feed="adt")


def test_detect_format_prefers_content_over_suffix(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "upload.txt", codecs.BOM_UTF8 + b"MSH|^~\\&|A") == "hl7v2"
    assert detect_format(tmp_path / "upload.bin", b"FHS|^~\\&|A") == "hl7v2"
    assert detect_format(tmp_path / "x.hl7", b'  {"resourceType":"Patient"}') == "fhir"
    assert detect_format(tmp_path / "x.csv", b"mrn,name\n1,a\n") == "csv"
    assert detect_format(tmp_path / "x.dat", b"mrn,name\n1,a\n") == "csv"


def test_given_bad_message_late_in_file_then_nothing_is_returned(tmp_path: Path) -> None:
    good = "\r".join([MSH, PID]) + "\r"
    path = tmp_path / "mixed.hl7"
    path.write_text(good * 50 + "NOT A SEGMENT\r")
    with pytest.raises(FeedReadError) as info:
        read_feed_file(path, hospital="st-luke", feed="adt")
    assert info.value.position == "message 50 (line 101)"


# ------------------------------------------------------------------------------------- docs


def test_docs_feeds_examples_run() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "feeds.md"
    text = doc.read_text(encoding="utf-8")
    blocks = list(re.finditer(r"```python\n(.*?)```", text, flags=re.S))
    assert len(blocks) >= 2
    for block in blocks:
        padding = "\n" * text.count("\n", 0, block.start(1))  # tracebacks point at the doc's lines
        exec(compile(padding + block.group(1), str(doc), "exec"), {"__name__": "docs_feeds"})  # noqa: S102


# -------------------------------------------------------------------------- property: HL7 framing

_segment_names = st.from_regex(r"[A-Z][A-Z0-9]{2}", fullmatch=True).filter(
    lambda n: n not in {"MSH", "FHS", "BHS", "BTS", "FTS"}
)
_field_text = st.text(
    alphabet=st.characters(blacklist_characters="|\r\n\x0b\x1c", blacklist_categories=("Cs",)), max_size=12
)
_segment = st.builds(lambda name, fields: "|".join([name, *fields]), _segment_names,
                     st.lists(_field_text, min_size=1, max_size=5))
_message = st.builds(
    lambda trigger, body: ["MSH|^~\\&|APP|FAC|HDS|CITY|20250101||ADT^" + trigger + "|C|P|2.5", *body],
    st.sampled_from(["A01", "A04", "A08"]), st.lists(_segment, min_size=1, max_size=6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(_message, min_size=1, max_size=5),
    separator=st.sampled_from(["\r", "\n", "\r\n"]),
    bom=st.booleans(),
    blank_lines=st.integers(min_value=0, max_value=2),
)
def test_property_any_framing_gives_the_same_messages_and_ids(
    tmp_path: Path, messages: list[list[str]], separator: str, bom: bool, blank_lines: int
) -> None:
    gap = separator * blank_lines
    text = "".join(separator.join(m) + separator + gap for m in messages)
    path = tmp_path / "prop.hl7"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    read = read_feed_file(path, hospital="st-luke", feed="adt")
    assert [m.payload.decode("utf-8") for m in read] == ["\r".join(m) for m in messages]
    canonical = tmp_path / "canonical.hl7"
    canonical.write_bytes("".join("\r".join(m) + "\r" for m in messages).encode("utf-8"))
    assert [m.message_id for m in read_feed_file(canonical, hospital="st-luke", feed="adt")] == [
        m.message_id for m in read
    ]
