"""Synthetic (non-personal) dataset tables in a real DuckDB file, configured like the catalog's."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

COMMON = "record_id VARCHAR PRIMARY KEY, hospital VARCHAR, feed VARCHAR, patient_pseudonym VARCHAR, loaded_at TIMESTAMP"
SECRET_VALUE = "GOVERNANCE-SECRET-7f3a"
RARE_WARD = "W_RARE"  # 3 patients: always below the threshold
LOADED = datetime(2026, 1, 1, 12, 0, 0)


def _admissions() -> list[tuple[object, ...]]:
    rows = []
    wards = ["W_A"] * 9 + ["W_B"] * 6 + ["W_C"] * 4  # pattern over patients
    for patient in range(200):
        ward = RARE_WARD if patient < 3 else wards[patient % len(wards)]
        sex = "F" if patient % 3 else "M"
        birth_year = 1940 + (patient * 7) % 70
        for visit in range(2):
            record = patient * 2 + visit
            rows.append(
                (
                    f"adm-{record:04d}",
                    "H1" if patient % 2 else "H2",
                    "adt",
                    f"pp{patient:04d}",
                    LOADED,
                    "A01" if visit == 0 else "A03",
                    "I",
                    sex,
                    birth_year,
                    f"{(birth_year // 10) * 10}s",
                    f"{100 + patient % 5}",
                    date(2025, 1, 1) + timedelta(days=patient),
                    None,
                    ward,
                    f"I{10 + patient % 4}",
                )
            )
    return rows


def _lab_results() -> list[tuple[object, ...]]:
    rows = []
    for record in range(300):
        patient = record % 100
        rows.append(
            (
                f"lab-{record:04d}",
                "H1",
                "lab_csv",
                f"pp{patient:04d}",
                LOADED,
                "GLU" if record % 2 else "HB",
                "Glucose" if record % 2 else "Haemoglobin",
                float(record % 17) + 0.5,
                "mmol/L",
                "N",
                datetime(2025, 3, 1) + timedelta(hours=record),
            )
        )
    return rows


def build_catalog(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(
        f"CREATE TABLE admissions ({COMMON}, event_type VARCHAR, patient_class VARCHAR, sex VARCHAR, "
        "birth_year INTEGER, age_group VARCHAR, zip3 VARCHAR, admit_date DATE, discharge_date DATE, ward VARCHAR, "
        "diagnosis_code VARCHAR)"
    )
    con.executemany(f"INSERT INTO admissions VALUES ({', '.join('?' * 15)})", _admissions())
    con.execute(
        f"CREATE TABLE lab_results ({COMMON}, test_code VARCHAR, test_name VARCHAR, value DOUBLE, unit VARCHAR, "
        "flag VARCHAR, collected_at TIMESTAMP)"
    )
    con.executemany(f"INSERT INTO lab_results VALUES ({', '.join('?' * 11)})", _lab_results())
    con.execute(f"CREATE TABLE clinical_records ({COMMON}, resource_type VARCHAR, code VARCHAR)")
    con.executemany(
        "INSERT INTO clinical_records VALUES (?, 'H1', 'fhir', ?, ?, 'Condition', 'C1')",
        [(f"cr-{i}", f"pp{i:04d}", LOADED) for i in range(5)],
    )
    con.execute("CREATE SCHEMA governance")
    con.execute("CREATE TABLE governance.secret (note VARCHAR)")
    con.execute("INSERT INTO governance.secret VALUES (?)", [SECRET_VALUE])
    con.execute("CREATE SCHEMA hds_internal")
    con.execute("CREATE TABLE hds_internal.offsets (topic VARCHAR, part INTEGER, next_offset BIGINT)")
    # What the catalog does at start-up.
    con.execute("SET memory_limit='512MB'")
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")
    return con


# Column declarations the record and extract tiers need (policies/datasets.yaml `columns`).
_BASE_DECLARED = {"record_id": "rekey", "patient_pseudonym": "rekey", "hospital": "safe", "feed": "safe",
                  "loaded_at": "safe"}
LAB_COLUMNS = {**_BASE_DECLARED, **dict.fromkeys(("test_code", "test_name", "value", "unit", "flag", "collected_at"),
                                                 "safe")}
CLINICAL_COLUMNS = {**_BASE_DECLARED, "resource_type": "safe", "code": "safe"}
