"""Issue 8, item 4: a `keep` never passes free text - refused at profile load on text-bearing fields, and at
run time a kept string without a value shape, or holding the record's own identifiers, is redacted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.operators.keep import has_shape
from deid.profile import ProfileError, load_profiles
from deid_kit import KnownValuesRedactor

KEYS = Keyring({"k1": "kept-text-key-0123456789abcdef01234"}, current="k1")


def write(tmp_path: Path, name: str, body: str) -> Path:
    (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("formats: [hl7v2]\nhl7v2:\n  segments:\n    PV2: {fields: {3: keep}}\n", "PV2-3"),
        ("formats: [hl7v2]\nhl7v2:\n  segments:\n    NK1: {fields: {3: {components: {1: keep, 2: keep}}}}\n", "NK1-3.2"),
        ("formats: [hl7v2]\nhl7v2:\n  segments:\n    OBR: {fields: {4: keep}}\n", "OBR-4"),
        ("formats: [fhir]\nfhir:\n  resources:\n    Encounter: {paths: {reasonCode.text: keep}}\n", "reasonCode.text"),
        ("formats: [fhir]\nfhir:\n  common: {note: keep}\n  resources:\n    Condition: {default: keep}\n", "note"),
        ("formats: [csv]\ncsv:\n  columns:\n    test_name: keep\n", "test_name"),
    ],
)
def test_given_keep_on_text_bearing_field_then_profile_load_stops_naming_file_and_field(
    tmp_path: Path, body: str, field: str
) -> None:
    write(tmp_path, "bad.yaml", "name: bad\n" + body)
    with pytest.raises(ProfileError) as err:
        load_profiles(tmp_path)
    assert "bad.yaml" in str(err.value) and field in str(err.value)


def test_given_shipped_profiles_then_they_load() -> None:
    assert {"hl7v2-safe-harbor", "fhir-safe-harbor", "csv-lab-safe-harbor", "gbt-39725-zh"} <= set(
        load_profiles(Path(__file__).resolve().parents[2] / "policies" / "deid")
    )


@given(st.from_regex(r"[A-Z]{1,4}[0-9]{0,3}(\^[A-Z0-9]{1,5}){0,2}", fullmatch=True))
def test_given_code_shaped_values_then_they_have_the_code_shape(value: str) -> None:
    assert has_shape(value)


@given(st.lists(st.from_regex(r"[A-Za-z]{2,10}", fullmatch=True), min_size=2, max_size=6))
def test_given_words_with_spaces_then_they_are_not_codes(words: list[str]) -> None:
    assert not has_shape(" ".join(words))


@pytest.fixture(scope="module")
def known_engine() -> Deidentifier:
    profiles = Path(__file__).resolve().parents[2] / "policies" / "deid"
    return Deidentifier(keyring=KEYS, profiles_dir=profiles, redactor=KnownValuesRedactor(), today=date(2025, 6, 1))


def test_given_patient_name_in_pv2_admit_reason_text_then_it_is_redacted(known_engine: Deidentifier) -> None:
    msg = (
        "MSH|^~\\&|APP|FAC|||20240314||ADT^A01|1|P|2.5\r"
        "PID|1||778899^^^FAC^MR||QUAXWORTH^ZEBULON||19700102|M\r"
        "PV2|||I10^Quaxworth fell at home^ICD10\r"
    )
    result = known_engine.deidentify(msg, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h1")
    assert result.ok and isinstance(result.payload, str)
    pv2 = next(s for s in result.payload.split("\r") if s.startswith("PV2"))
    assert "I10" in pv2 and "ICD10" in pv2 and "fell at home" in pv2
    assert "QUAXWORTH" not in pv2.upper()


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["value", "unit", "flag", "test_code"]), st.sampled_from(["{}", "see {} re: result", "{} 555"]))
def test_given_patient_name_in_any_kept_csv_column_then_it_never_passes(
    known_engine: Deidentifier, column: str, form: str
) -> None:
    row = {"mrn": "A-1", "patient_name": "QUAXWORTH, ZEBULON", "birth_date": "1970-01-02", "sex": "M",
           "test_code": "GLU", "value": "5.4", "unit": "mg/dL", "flag": "H"}
    row[column] = form.format("Quaxworth")
    result = known_engine.deidentify(row, format="csv", profile="csv-lab-safe-harbor", hospital="h1")
    assert result.ok and isinstance(result.payload, dict)
    assert "quaxworth" not in str(result.payload).lower()
    assert result.payload["sex"] == "M"


def test_given_code_in_kept_csv_column_then_it_is_kept(known_engine: Deidentifier) -> None:
    row = {"mrn": "A-1", "patient_name": "QUAXWORTH, ZEBULON", "birth_date": "1970-01-02", "sex": "F",
           "test_code": "2345-7", "value": "<0.5", "unit": "mmol/L", "flag": "L"}
    result = known_engine.deidentify(row, format="csv", profile="csv-lab-safe-harbor", hospital="h1")
    assert result.ok and isinstance(result.payload, dict)
    assert {k: result.payload[k] for k in ("test_code", "value", "unit", "flag")} == {
        "test_code": "2345-7", "value": "<0.5", "unit": "mmol/L", "flag": "L"}


def test_given_name_shaped_unknown_resource_type_then_dead_letter_detail_does_not_echo_it(
    known_engine: Deidentifier,
) -> None:
    result = known_engine.deidentify({"resourceType": "ZebulonQuaxworth", "id": "1"}, format="fhir",
                                     profile="fhir-safe-harbor", hospital="h1")
    assert not result.ok and result.reason == "fhir_unknown_resource"
    assert "Quaxworth" not in str(result.detail)
