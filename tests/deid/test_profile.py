"""Profiles as data: the shipped profiles load; a bad profile names file, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.profile import ProfileError, load_profiles
from paths_kit import PROFILES

REQUIRED = {"hl7v2-safe-harbor", "fhir-safe-harbor", "csv-lab-safe-harbor", "gbt-39725-zh"}
CSV_COLUMNS = "mrn,patient_name,birth_date,sex,phone,address,zip,specimen_id,collected_at,test_code,test_name,value,unit,reference_range,flag,comment"


def test_shipped_profiles_load_and_include_the_named_ones() -> None:
    profiles = load_profiles(PROFILES)
    assert REQUIRED <= set(profiles)
    assert set(profiles["gbt-39725-zh"].formats) == {"hl7v2", "fhir", "csv"}
    assert profiles["gbt-39725-zh"].lang == "zh"


def test_csv_lab_profile_covers_exactly_the_contract_columns() -> None:
    csv = load_profiles(PROFILES)["csv-lab-safe-harbor"].csv
    assert csv is not None and list(csv.columns) == CSV_COLUMNS.split(",")


def test_hl7_profile_covers_every_identifying_segment() -> None:
    hl7 = load_profiles(PROFILES)["hl7v2-safe-harbor"].hl7v2
    assert hl7 is not None
    for seg in ("MSH", "PID", "PD1", "NK1", "PV1", "PV2", "GT1", "IN1", "IN2", "ORC", "OBR", "OBX", "NTE", "TXA"):
        assert seg in hl7.segments
    assert hl7.z_segments == "drop" and hl7.unknown_segments == "drop"


def test_fhir_profile_covers_the_required_resources() -> None:
    fhir = load_profiles(PROFILES)["fhir-safe-harbor"].fhir
    assert fhir is not None and fhir.unknown_resources == "reject"
    for rtype in ("Patient", "RelatedPerson", "Practitioner", "PractitionerRole", "Organization", "Location", "Encounter",
                  "Observation", "Condition", "Procedure", "MedicationRequest", "DiagnosticReport", "DocumentReference"):  # fmt: skip
        assert rtype in fhir.resources


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    "text,field,line",
    [
        ("name: x\nformats: [csv]\ncsv:\n  columns:\n    a: scramble\n", "csv.columns.a", 5),
        ("name: x\nformats: [csv]\ncsv:\n  columns:\n    a: {op: generalise, kind: colour}\n", "csv.columns.a", 5),
        ("name: x\nformats: [hl7v2]\nhl7v2:\n  segments:\n    PID:\n      fields:\n        0: keep\n", "hl7v2.segments.PID.fields", 6),
        ("name: x\nformats: [fhir]\n", "", 1),
        ("name: x\nformats: [csv]\ncsv:\n  colums: {}\n", "csv.colums", 4),
        ("name: x\nformats: [csv]\ncsv:\n  columns:\n    a: {op: keep, role: shoe_size}\n", "csv.columns.a", 5),
    ],
)
def test_given_bad_profile_then_error_names_file_field_and_line(tmp_path: Path, text: str, field: str, line: int) -> None:
    with pytest.raises(ProfileError) as err:
        load_profiles(write(tmp_path, text))
    assert err.value.file == "bad.yaml"
    assert err.value.field == field
    assert err.value.line == line
    assert "bad.yaml" in str(err.value)


def test_given_invalid_yaml_then_error_has_line(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        load_profiles(write(tmp_path, "name: x\nformats: [csv\n"))
    assert err.value.line is not None and "invalid YAML" in str(err.value)


def test_given_bad_profile_then_engine_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ProfileError):
        Deidentifier(keyring=Keyring({"k1": "k" * 32}), profiles_dir=write(tmp_path, "name: x\nformats: [csv]\ncsv: {columns: {a: nope}}\n"))


def test_given_duplicate_names_then_error(tmp_path: Path) -> None:
    write(tmp_path, "name: x\nformats: [csv]\ncsv: {columns: {a: {op: keep, shape: code}}}\n", "a.yaml")
    write(tmp_path, "name: x\nformats: [csv]\ncsv: {columns: {a: {op: keep, shape: code}}}\n", "b.yaml")
    with pytest.raises(ProfileError, match="duplicate"):
        load_profiles(tmp_path)


def test_given_inherit_from_missing_profile_then_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as err:
        load_profiles(write(tmp_path, "name: x\nformats: [hl7v2]\ninherit: {hl7v2: nowhere}\n"))
    assert err.value.field == "inherit.hl7v2" and err.value.line == 3


def test_given_empty_directory_then_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no"):
        load_profiles(tmp_path)


def test_given_fhir_rules_under_a_dropped_path_then_error(tmp_path: Path) -> None:
    text = "name: x\nformats: [fhir]\nfhir:\n  resources:\n    Patient:\n      paths:\n        address: drop\n        address.state: keep\n"
    with pytest.raises(ProfileError) as err:
        load_profiles(write(tmp_path, text))
    assert err.value.field == "fhir.resources.Patient.paths" and "never apply" in str(err.value)
