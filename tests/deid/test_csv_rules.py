"""CSV lab rows under csv-lab-safe-harbor, and the Chinese profile's CSV section."""

from __future__ import annotations

from typing import Any

from deid.engine import Deidentifier

ROW: dict[str, Any] = {
    "mrn": "778899", "patient_name": "O'BRIEN, MARGARET", "birth_date": "1955-07-04", "sex": "F",
    "phone": "217-555-0142", "address": "12 Elm Street, Springfield", "zip": "62704", "specimen_id": "SP-2024-001",
    "collected_at": "2024-03-14 09:00", "test_code": "2345-7", "test_name": "Glucose", "value": "5.4",
    "unit": "mmol/L", "reference_range": "3.9-5.5", "flag": "N",
    "comment": "Margaret O'Brien called from 217-555-0142 re SP-2024-001",
}  # fmt: skip


def run(engine: Deidentifier, row: dict[str, Any], profile: str = "csv-lab-safe-harbor", hospital: str = "lab1") -> dict[str, Any]:
    result = engine.deidentify(row, format="csv", profile=profile, hospital=hospital)
    assert result.ok, (result.reason, result.detail)
    assert isinstance(result.payload, dict)
    return result.payload


def test_given_lab_row_then_columns_follow_profile_and_pseudonym_added(engine: Deidentifier) -> None:
    out = run(engine, ROW)
    assert list(out) == ["mrn", "birth_date", "sex", "zip", "specimen_id", "collected_at", "test_code", "test_name",
                         "value", "unit", "reference_range", "flag", "comment", "patient_pseudonym"]  # fmt: skip
    assert out["mrn"].startswith("k1-") and out["specimen_id"].startswith("k1-")
    assert out["birth_date"] == "1955" and out["sex"] == "F" and out["zip"] == "627"
    assert out["collected_at"].endswith(" 09:00") and out["collected_at"] != ROW["collected_at"]
    assert {k: out[k] for k in ("test_code", "value", "unit", "reference_range", "flag")} == {
        k: ROW[k] for k in ("test_code", "value", "unit", "reference_range", "flag")
    }
    assert out["patient_pseudonym"].startswith("k1-")


def test_given_lab_row_then_no_identifier_survives_in_any_column(engine: Deidentifier) -> None:
    text = repr(run(engine, ROW)).lower()
    for value in ("778899", "o'brien", "margaret", "555-0142", "elm street", "springfield", "62704", "sp-2024-001", "1955-07-04"):
        assert value not in text


def test_given_old_patient_then_birth_year_replaced_by_90_plus(engine: Deidentifier) -> None:
    assert run(engine, {**ROW, "birth_date": "1929-01-01"})["birth_date"] == "90+"


def test_given_unknown_column_then_row_rejected_without_value_in_detail(engine: Deidentifier) -> None:
    result = engine.deidentify({**ROW, "ssn": "123-45-6789"}, format="csv", profile="csv-lab-safe-harbor", hospital="lab1")
    assert not result.ok and result.reason == "csv_unknown_column"
    assert "123-45" not in (result.detail or "")


def test_given_chinese_row_then_direct_identifiers_removed_and_quasi_generalised(engine: Deidentifier) -> None:
    row = {"name": "张伟", "resident_id": "11010519491231002X", "phone": "13812345678", "address": "北京市朝阳区建国路88号",
           "inpatient_no": "ZY20240001", "birth_date": "1980-05-06", "sex": "男", "postcode": "100022",
           "admission_date": "2024年3月14日", "diagnosis": "2型糖尿病", "note": "患者张伟，电话13812345678，血糖控制可。"}  # fmt: skip
    out = run(engine, row, profile="gbt-39725-zh")
    assert "name" not in out and "resident_id" not in out and "phone" not in out and "address" not in out
    assert out["postcode"] == "10" and out["birth_date"] == "1980" and out["diagnosis"] == "2型糖尿病"
    assert out["admission_date"].endswith("日") and out["admission_date"] != row["admission_date"]
    assert "张伟" not in out["note"] and "13812345678" not in out["note"] and "血糖控制可" in out["note"]
