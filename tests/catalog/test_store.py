from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.loader import validate_envelope
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


def test_given_an_invalid_envelope_in_the_batch_then_neither_rows_nor_offsets_change(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([rec(env("a"), 0)])
    broken = env("b")
    del broken["record_id"]
    with pytest.raises(StoreError, match="not a valid envelope"):
        store.apply_batch([rec(env("c"), 1), rec(broken, 2)])
    assert store.stored_offsets() == {("hds.deid.admissions", 0): 1}
    assert store.dataset_summary("admissions")["rows"] == 1  # type: ignore[index]


def test_given_a_write_failing_inside_the_transaction_then_neither_rows_nor_offsets_change(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([rec(env("a"), 0)])
    store.cursor().execute("CREATE VIEW zz_view AS SELECT 1 AS record_id")  # not a table: its INSERT fails
    with pytest.raises(duckdb.Error):
        store.apply_batch([rec(env("c"), 1), rec(env("d", dataset="zz_view"), 0, "hds.deid.zz_view")])
    assert store.stored_offsets() == {("hds.deid.admissions", 0): 1}
    assert store.dataset_summary("admissions")["rows"] == 1  # type: ignore[index]
    assert store.apply_batch([rec(env("c"), 1)]) == 1  # the store still works after the rollback


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


# -- set-wise validation (DuckDB) agrees with the reference `validate_envelope`, over a family of values --------
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                     st.text(max_size=8))
_json = st.recursive(_scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                       st.dictionaries(st.text(max_size=5), kids, max_size=3)),
                     max_leaves=6)
_field = st.one_of(_json, st.just("admissions"), st.just(""), st.just("lab_results"), st.text(min_size=1, max_size=6))


@st.composite
def _candidate(draw: st.DrawFn) -> bytes:
    """An envelope with some fields dropped, retyped or replaced; sometimes not JSON or not UTF-8 at all."""
    kind = draw(st.sampled_from(["envelope", "envelope", "envelope", "json", "garbage"]))
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    if kind == "json":
        return json.dumps(draw(_json)).encode()
    e = env(draw(st.text(min_size=0, max_size=6)) or "r")
    for name in sorted(e):  # every field kept, dropped or replaced independently
        action = draw(st.sampled_from(["keep", "keep", "keep", "keep", "keep", "drop", "replace"]))
        if action == "drop":
            del e[name]
        elif action == "replace":
            e[name] = draw(_field)
    return json.dumps(e, ensure_ascii=draw(st.booleans())).encode()


@pytest.fixture(scope="module")
def parse_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogStore]:
    store = CatalogStore(tmp_path_factory.mktemp("parse") / "c.duckdb")  # parse() only reads
    yield store
    store.close()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(_candidate(), min_size=1, max_size=12))
def test_given_any_values_then_setwise_validation_agrees_with_validate_envelope(parse_store: CatalogStore,
                                                                                values: list[bytes]) -> None:
    parsed = parse_store.parse([("hds.deid.admissions", 0, i, v) for i, v in enumerate(values)])
    expected_ok = [i for i, v in enumerate(values) if validate_envelope("hds.deid.admissions", v) is not None]
    assert parsed.valid.column("idx").to_pylist() == expected_ok
    assert [o for _, _, o in parsed.rejected] == [i for i in range(len(values)) if i not in expected_ok]
    assert parsed.valid.column("record_id").to_pylist() == [json.loads(values[i])["record_id"] for i in expected_ok]
    assert parsed.next_offsets == {("hds.deid.admissions", 0): len(values)}


def test_given_column_values_of_every_type_then_they_convert_like_the_column_type(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    e = env("a", n_int="1970", n_float=4.5, d="2024-02-29T10:00:00", bad_int="abc", obj={"k": [1, 2]}, flag=True,
            ts="2024-01-02T10:00:00+02:00")
    e["column_types"] = {"n_int": "BIGINT", "n_float": "DOUBLE", "d": "DATE", "bad_int": "BIGINT", "obj": "VARCHAR",
                         "flag": "VARCHAR", "ts": "TIMESTAMP"}
    e["payload"] = {"resourceType": "Bundle", "entry": []}
    assert store.apply_batch([rec(e, 0)]) == 1
    row = store.cursor().execute(
        "SELECT n_int, n_float, d, bad_int, obj, flag, ts, payload FROM admissions").fetchone()
    assert row is not None
    assert row[:4] == (1970, 4.5, date(2024, 2, 29), None)
    assert json.loads(row[4]) == {"k": [1, 2]} and row[5] == "true"
    assert row[6] == datetime(2024, 1, 2, 8, 0)  # converted to UTC
    assert json.loads(row[7]) == {"resourceType": "Bundle", "entry": []}
