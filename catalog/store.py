"""The catalog's DuckDB file, owned by one process: dataset tables, loader offsets, dataset metadata.

One connection per process (DuckDB locks the file); readers get cursors of it; every write goes through
`write_lock`. Dataset rows and the Kafka offsets they came from are written in ONE transaction, so a crash at
any point neither loses nor duplicates rows (the loader resumes from the offsets stored here, and record ids
are primary keys as a second guard).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

log = logging.getLogger(__name__)

INTERNAL = "hds_internal"
BASE_COLUMNS: list[tuple[str, str]] = [
    ("record_id", "VARCHAR PRIMARY KEY"),
    ("hospital", "VARCHAR"),
    ("feed", "VARCHAR"),
    ("patient_pseudonym", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
]
TAIL_COLUMNS: list[tuple[str, str]] = [("payload", "VARCHAR")]
ALLOWED_TYPES = {"VARCHAR", "BIGINT", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN"}
_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "DATE": pa.date32(),
          "TIMESTAMP": pa.timestamp("us"), "BOOLEAN": pa.bool_()}
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED = {name for name, _ in BASE_COLUMNS + TAIL_COLUMNS}


class StoreError(RuntimeError):
    pass


def q(ident: str) -> str:
    if not _IDENT.match(ident):
        raise StoreError("invalid identifier")
    return f'"{ident}"'


@dataclass(frozen=True)
class LoadedRecord:
    """A de-identified record envelope from hds.deid.<dataset> plus where it came from."""

    envelope: dict[str, Any]
    topic: str
    partition: int
    offset: int


class CatalogStore:
    def __init__(self, path: Path, *, memory_limit: str = "1GB", read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreError(f"{self.path} is locked by another process (one process owns the catalog)") from None
            raise StoreError(f"cannot open {self.path}: {type(exc).__name__}") from None
        self.write_lock = threading.RLock()
        self._columns: dict[str, dict[str, str]] = {}
        if not read_only:
            self._ensure_internal()
        self._lock_down(memory_limit)

    # -- set-up ---------------------------------------------------------------------------------------------
    def _ensure_internal(self) -> None:
        c = self._con
        c.execute(f"CREATE SCHEMA IF NOT EXISTS {INTERNAL}")
        c.execute(f"""CREATE TABLE IF NOT EXISTS {INTERNAL}.offsets (
            topic VARCHAR, "partition" INTEGER, next_offset BIGINT, updated_at TIMESTAMP,
            PRIMARY KEY (topic, "partition"))""")
        c.execute(f"""CREATE TABLE IF NOT EXISTS {INTERNAL}.datasets (
            id VARCHAR PRIMARY KEY, format VARCHAR, profiles VARCHAR, key_ids VARCHAR,
            created_at TIMESTAMP, last_update TIMESTAMP)""")

    def _lock_down(self, memory_limit: str) -> None:
        # Research SQL runs on cursors of this connection: no files, no network, no extension loading, no
        # configuration changes after this point (cursors inherit it).
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
            raise StoreError("memory limit must look like '1GB'")
        self._con.execute(f"SET memory_limit='{memory_limit}'")
        # A sandbox query that spills (a huge join) may not fill the disk: spilling stops at this size.
        self._con.execute("SET max_temp_directory_size='4GB'")
        self._con.execute("SET enable_external_access=false")
        self._con.execute("SET lock_configuration=true")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def close(self) -> None:
        with self.write_lock:
            try:
                self._con.execute("CHECKPOINT")
            except duckdb.Error:
                pass
            self._con.close()

    # -- loader side ----------------------------------------------------------------------------------------
    def stored_offsets(self) -> dict[tuple[str, int], int]:
        rows = self.cursor().execute(f'SELECT topic, "partition", next_offset FROM {INTERNAL}.offsets').fetchall()
        return {(t, p): o for t, p, o in rows}

    def apply_batch(self, records: list[LoadedRecord], skipped: dict[tuple[str, int], int] | None = None) -> int:
        """Insert the records and advance the offsets in one transaction. Returns rows newly inserted.

        `skipped` holds next offsets of messages consumed but not loaded (rejected envelopes), so they are not
        consumed again."""
        offsets: dict[tuple[str, int], int] = dict(skipped or {})
        if not records and not offsets:
            return 0
        by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            key = (r.topic, r.partition)
            offsets[key] = max(offsets.get(key, 0), r.offset + 1)
            by_dataset[r.envelope["dataset"]].append(r.envelope)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        inserted = 0
        with self.write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                for dataset, envs in by_dataset.items():
                    inserted += self._insert(cur, dataset, envs, now)
                cur.executemany(
                    f"""INSERT INTO {INTERNAL}.offsets VALUES (?, ?, ?, ?)
                        ON CONFLICT (topic, "partition") DO UPDATE SET next_offset = excluded.next_offset,
                        updated_at = excluded.updated_at""",
                    [(t, p, o, now) for (t, p), o in offsets.items()],
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                self._columns.clear()  # DDL may have been rolled back too
                raise
        return inserted

    def _table_columns(self, cur: duckdb.DuckDBPyConnection, dataset: str) -> dict[str, str]:
        cols = self._columns.get(dataset)
        if cols is None:
            rows = cur.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name='main' AND table_name=?",
                [dataset]).fetchall()
            cols = {n: t for n, t in rows}
            self._columns[dataset] = cols
        return cols

    def _insert(self, cur: duckdb.DuckDBPyConnection, dataset: str, envs: list[dict[str, Any]], now: datetime) -> int:
        table = q(dataset)
        cols = self._table_columns(cur, dataset)
        if not cols:
            ddl = ", ".join(f"{q(n)} {t}" for n, t in BASE_COLUMNS + TAIL_COLUMNS)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
            cols.update({n: t.split()[0] for n, t in BASE_COLUMNS + TAIL_COLUMNS})
        before = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        known: dict[tuple[str, ...], tuple[str, ...]] = {}  # an envelope's column names -> the ones loaded
        for env in envs:
            given = tuple(env.get("columns") or ())
            names = known.get(given)
            if names is None:
                types = env.get("column_types") or {}
                for name in given:
                    if name in RESERVED or not _IDENT.match(name) or name in cols:
                        continue
                    t = str(types.get(name, "VARCHAR")).upper()
                    t = t if t in ALLOWED_TYPES else "VARCHAR"
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {q(name)} {t}")
                    cols[name] = t
                names = known[given] = tuple(n for n in given if n in cols and n not in RESERVED)
            groups[names].append(env)
        for names, group in groups.items():
            self._append(cur, table, cols, names, group, now)
        after = cur.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        self._touch_dataset(cur, dataset, envs, now)
        return int(after - before)

    @staticmethod
    def _append(cur: duckdb.DuckDBPyConnection, table: str, cols: dict[str, str], names: tuple[str, ...],
                group: list[dict[str, Any]], now: datetime) -> None:
        """One Arrow table per group of records with the same columns, appended with one INSERT ... SELECT
        (row-by-row or multi-row VALUES statements are 50-100x slower). Duplicate record ids are ignored."""
        base = {
            "record_id": [e["record_id"] for e in group],
            "hospital": [e.get("hospital") for e in group],
            "feed": [e.get("feed") for e in group],
            "patient_pseudonym": [e.get("patient_pseudonym") for e in group],
            "loaded_at": [now] * len(group),
            "payload": [p if isinstance(p := e.get("payload"), str) else json.dumps(p, ensure_ascii=False)
                        for e in group],
        }
        arrays = {n: pa.array(v, type=_ARROW["TIMESTAMP" if n == "loaded_at" else "VARCHAR"]) for n, v in base.items()}
        for n in names:
            arrays[n] = pa.array([_convert(e["columns"].get(n), cols[n]) for e in group], type=_ARROW[cols[n]])
        batch = pa.table(arrays)  # noqa: F841 - read by DuckDB's replacement scan below
        all_names = ", ".join(q(n) for n in arrays)
        cur.register("hds_arrow_batch", batch)
        try:
            cur.execute(f"INSERT OR IGNORE INTO {table} ({all_names}) SELECT {all_names} FROM hds_arrow_batch")
        finally:
            cur.unregister("hds_arrow_batch")

    def _touch_dataset(self, cur: duckdb.DuckDBPyConnection, dataset: str, envs: list[dict[str, Any]], now: datetime) -> None:
        row = cur.execute(f"SELECT profiles, key_ids FROM {INTERNAL}.datasets WHERE id=?", [dataset]).fetchone()
        profiles = set(json.loads(row[0])) if row else set()
        key_ids = set(json.loads(row[1])) if row else set()
        profiles.update(str(e.get("profile")) for e in envs if e.get("profile"))
        key_ids.update(str(e.get("key_id")) for e in envs if e.get("key_id"))
        fmt = envs[0].get("format")
        cur.execute(
            f"""INSERT INTO {INTERNAL}.datasets VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET profiles = excluded.profiles, key_ids = excluded.key_ids,
                last_update = excluded.last_update""",
            [dataset, fmt, json.dumps(sorted(profiles)), json.dumps(sorted(key_ids)), now, now],
        )

    # -- read side ------------------------------------------------------------------------------------------
    def dataset_ids(self) -> list[str]:
        rows = self.cursor().execute(f"SELECT id FROM {INTERNAL}.datasets ORDER BY id").fetchall()
        return [r[0] for r in rows]

    def dataset_summary(self, dataset: str) -> dict[str, Any] | None:
        cur = self.cursor()
        meta = cur.execute(
            f"SELECT format, profiles, key_ids, created_at, last_update FROM {INTERNAL}.datasets WHERE id=?",
            [dataset]).fetchone()
        if meta is None:
            return None
        table = q(dataset)
        rows = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        sources = cur.execute(
            f"SELECT hospital, feed, count(*) FROM {table} GROUP BY ALL ORDER BY hospital, feed").fetchall()
        patients = cur.execute(f"SELECT count(DISTINCT patient_pseudonym) FROM {table}").fetchone()[0]  # type: ignore[index]
        schema = cur.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name='main' AND table_name=? "
            "ORDER BY column_index", [dataset]).fetchall()
        return {
            "id": dataset,
            "format": meta[0],
            "rows": int(rows),
            "patients": int(patients),
            "hospitals": sorted({s[0] for s in sources if s[0]}),
            "feeds": sorted({s[1] for s in sources if s[1]}),
            "sources": [{"hospital": h, "feed": f, "rows": int(n)} for h, f, n in sources],
            "deid_profiles": json.loads(meta[1]),
            "key_ids": json.loads(meta[2]),
            "created_at": _iso(meta[3]),
            "last_update": _iso(meta[4]),
            "schema": [{"name": n, "type": t} for n, t in schema],
        }

    def row_counts(self) -> dict[str, int]:
        """Rows per dataset table (cheap: for metrics scrapes)."""
        cur = self.cursor()
        return {ds: int(cur.execute(f"SELECT count(*) FROM {q(ds)}").fetchone()[0])  # type: ignore[index]
                for ds in self.dataset_ids()}

    def table_columns(self, dataset: str) -> list[str]:
        rows = self.cursor().execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name='main' AND table_name=? ORDER BY column_index",
            [dataset]).fetchall()
        return [r[0] for r in rows]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def _convert(value: Any, duck_type: str) -> Any:
    if value is None:
        return None
    try:
        if duck_type == "DATE":
            return date.fromisoformat(str(value)[:10])
        if duck_type == "TIMESTAMP":
            return datetime.fromisoformat(str(value))
        if duck_type == "BIGINT":
            return int(value)
        if duck_type == "DOUBLE":
            return float(value)
        if duck_type == "BOOLEAN":
            return bool(value)
    except (TypeError, ValueError):
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
