from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from catalog.store import CatalogStore, LoadedRecord, StoreError


def env(rid: str, dataset: str = "admissions", **columns: object) -> dict:
    return {
        "record_id": rid, "dataset": dataset, "hospital": "st-luke", "feed": "adt", "format": "hl7v2",
        "profile": "hl7v2-safe-harbor", "key_id": "k1", "patient_pseudonym": "k1-P" + rid,
        "columns": columns or {"sex": "F", "birth_year": 1970},
        "column_types": {"sex": "VARCHAR", "birth_year": "BIGINT", "admit_date": "DATE"},
        "payload": "MSH|^~\\&|X",
    }


def rec(e: dict, offset: int, topic: str = "hds.deid.admissions", partition: int = 0) -> LoadedRecord:
    return LoadedRecord(e, topic, partition, offset)


def test_given_a_batch_then_rows_and_offsets_are_stored_together(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    n = store.apply_batch([rec(env("a"), 0), rec(env("b"), 1)])
    assert n == 2
    assert store.stored_offsets() == {("hds.deid.admissions", 0): 2}
    summary = store.dataset_summary("admissions")
    assert summary is not None and summary["rows"] == 2
    assert summary["hospitals"] == ["st-luke"] and summary["deid_profiles"] == ["hl7v2-safe-harbor"]
    assert {"name": "birth_year", "type": "BIGINT"} in summary["schema"]


def test_given_a_replayed_batch_then_no_row_is_duplicated(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([rec(env("a"), 0), rec(env("b"), 1)])
    assert store.apply_batch([rec(env("a"), 0), rec(env("b"), 1), rec(env("c"), 2)]) == 1
    assert store.dataset_summary("admissions")["rows"] == 3  # type: ignore[index]


def test_given_new_columns_then_the_table_grows_and_old_rows_read_null(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([rec(env("a"), 0)])
    store.apply_batch([rec(env("b", sex="M", admit_date="2024-02-29"), 1)])
    rows = store.cursor().execute("SELECT record_id, admit_date FROM admissions ORDER BY record_id").fetchall()
    assert rows[0][1] is None and str(rows[1][1]) == "2024-02-29"


def test_given_a_failure_inside_the_batch_then_neither_rows_nor_offsets_change(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([rec(env("a"), 0)])
    broken = env("b")
    del broken["record_id"]
    with pytest.raises(KeyError):
        store.apply_batch([rec(env("c"), 1), rec(broken, 2)])
    assert store.stored_offsets() == {("hds.deid.admissions", 0): 1}
    assert store.dataset_summary("admissions")["rows"] == 1  # type: ignore[index]


def test_given_a_restart_then_offsets_and_rows_survive(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    store = CatalogStore(path)
    store.apply_batch([rec(env("a"), 0), rec(env("b"), 7, partition=3)])
    store.close()
    again = CatalogStore(path)
    assert again.stored_offsets() == {("hds.deid.admissions", 0): 1, ("hds.deid.admissions", 3): 8}
    assert again.dataset_summary("admissions")["rows"] == 2  # type: ignore[index]


def test_given_the_locked_down_connection_then_files_and_settings_are_out_of_reach(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    cur = store.cursor()
    with pytest.raises(duckdb.Error):
        cur.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    with pytest.raises(duckdb.Error):
        cur.execute("SET enable_external_access=true")
    with pytest.raises(duckdb.Error):
        cur.execute(f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'")
    assert not (tmp_path / "out.csv").exists()


def test_given_a_second_process_then_the_file_is_reported_locked(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    store = CatalogStore(path)
    code = (
        "import sys\nfrom catalog.store import CatalogStore, StoreError\n"
        f"try:\n    CatalogStore(__import__('pathlib').Path({str(path)!r}))\nexcept StoreError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3 and "locked" in out.stdout
    store.close()


def test_given_a_bad_memory_limit_then_the_store_refuses(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        CatalogStore(tmp_path / "c.duckdb", memory_limit="1GB'; SET x=1; --")


def test_given_duplicates_inside_one_batch_then_one_row_is_kept(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    assert store.apply_batch([rec(env("a"), 0), rec(env("a"), 1), rec(env("b"), 2)]) == 2
    assert store.stored_offsets() == {("hds.deid.admissions", 0): 3}


def test_given_a_large_batch_then_every_row_is_inserted(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    assert store.apply_batch([rec(env(f"r{i}"), i) for i in range(1234)]) == 1234


def test_given_datasets_then_row_counts_match_their_summaries(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([rec(env("a"), 0), rec(env("b"), 1), rec(env("c", dataset="lab_results"), 0, "hds.deid.lab_results")])
    assert store.row_counts() == {"admissions": 2, "lab_results": 1}
