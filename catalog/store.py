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
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import accumulate
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from policies.topics import dataset_of

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


# The envelope's top-level fields, each kept as JSON by one parse (from_json); validated below.
ENVELOPE_FIELDS = ("record_id", "dataset", "hospital", "feed", "patient_pseudonym", "format", "profile", "key_id",
                   "columns", "column_types", "payload")
_ENVELOPE = json.dumps({k: "JSON" for k in ENVELOPE_FIELDS})


def _text(field: str) -> str:
    """A field as text: a JSON string unquoted, anything else as its JSON text (NULL when absent or null)."""
    return f"CASE WHEN json_type(j.{field}) = 'VARCHAR' THEN j.{field} ->> '$' ELSE j.{field}::VARCHAR END"


# Set-wise validation, the same rules as `catalog.loader.validate_envelope` (a test holds them together): a JSON
# object whose `dataset` names its topic's dataset, a non-empty string `record_id`, `columns`/`column_types`
# objects when present, and hospital/feed/patient_pseudonym strings when present. Anything else is rejected. A
# value that is JSON but not an object reads as all-NULL fields (no record_id: rejected).
_PARSE_SELECT = f"""
SELECT idx, topic, "partition", "offset", ds,
       coalesce(json_type(j.dataset) = 'VARCHAR' AND (j.dataset ->> '$') = ds
                AND json_type(j.record_id) = 'VARCHAR' AND (j.record_id ->> '$') <> ''
                AND coalesce(json_type(j.columns), 'OBJECT') = 'OBJECT'
                AND coalesce(json_type(j.column_types), 'OBJECT') = 'OBJECT'
                AND coalesce(json_type(j.hospital), 'VARCHAR') = 'VARCHAR'
                AND coalesce(json_type(j.feed), 'VARCHAR') = 'VARCHAR'
                AND coalesce(json_type(j.patient_pseudonym), 'VARCHAR') = 'VARCHAR', false) AS valid,
       j.record_id ->> '$' AS record_id, j.hospital ->> '$' AS hospital, j.feed ->> '$' AS feed,
       j.patient_pseudonym ->> '$' AS patient_pseudonym,
       {_text("format")} AS format, {_text("profile")} AS profile, {_text("key_id")} AS key_id,
       j.columns AS columns, j.column_types AS column_types,
       coalesce({_text("payload")}, 'null') AS payload
FROM (SELECT *, from_json({{value}}, '{_ENVELOPE}') AS j FROM hds_raw_slice)
"""
# Every value parsed as it is (the common case: a slice of well-formed JSON) ...
_PARSE_SQL = _PARSE_SELECT.replace("{value}", "v")
# ... or, when some value is not JSON at all (from_json raises), with such values replaced by an empty object.
_PARSE_GUARDED_SQL = _PARSE_SELECT.replace("{value}", "CASE WHEN json_valid(v) THEN v ELSE '{}' END")


# Each dataset of a slice: its row in the dataset registry, profiles and key ids merged with those held.
_TOUCH_DATASETS_SQL = f"""
INSERT INTO {INTERNAL}.datasets
SELECT ds, arg_min(format, idx),
       to_json(list_sort(coalesce(list(DISTINCT profile) FILTER (WHERE profile <> ''), []))),
       to_json(list_sort(coalesce(list(DISTINCT key_id) FILTER (WHERE key_id <> ''), []))), ?::TIMESTAMP, ?::TIMESTAMP
FROM hds_slice GROUP BY ds
ON CONFLICT (id) DO UPDATE SET
    profiles = to_json(list_sort(list_distinct(list_concat(from_json(profiles, '["VARCHAR"]'),
                                                           from_json(excluded.profiles, '["VARCHAR"]'))))),
    key_ids = to_json(list_sort(list_distinct(list_concat(from_json(key_ids, '["VARCHAR"]'),
                                                          from_json(excluded.key_ids, '["VARCHAR"]'))))),
    last_update = excluded.last_update
"""


@dataclass(frozen=True)
class ParsedSlice:
    """A slice decoded and validated in DuckDB: the valid records (Arrow, columns of `_PARSE_SQL`), the positions
    of rejected ones, and the next offset of every partition in the slice."""

    valid: pa.Table
    rejected: list[tuple[str, int, int]]
    next_offsets: dict[tuple[str, int], int]


@dataclass(frozen=True)
class SliceResult:
    inserted: int  # rows new to the catalog
    record_ids: list[str]  # every valid record of the slice (new or already held)
    rejected: list[tuple[str, int, int]]  # (topic, partition, offset) of messages that are not envelopes


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
        """Insert envelopes given as dicts (in-process callers) and advance the offsets in one transaction.
        Returns rows newly inserted. Any record that is not a valid envelope for its topic fails the whole batch
        (StoreError, nothing written). `skipped` holds next offsets of messages consumed but not loaded."""
        values = []
        for r in records:
            try:
                values.append(json.dumps(r.envelope, ensure_ascii=False, default=str).encode())
            except (TypeError, ValueError):
                values.append(b"")
        parsed = self.parse([(r.topic, r.partition, r.offset, v) for r, v in zip(records, values)])
        if parsed.rejected:
            t, p, o = parsed.rejected[0]
            raise StoreError(f"not a valid envelope for its topic: {t}[{p}]@{o} ({len(parsed.rejected)} in the batch)")
        offsets = dict(skipped or {})
        for (t, p), o in parsed.next_offsets.items():
            offsets[(t, p)] = max(offsets.get((t, p), 0), o)
        return self.write(parsed, offsets).inserted

    def warm_up(self) -> None:
        """Parse one envelope (nothing written) so the first slice does not pay for loading the JSON and Arrow
        machinery (about a second on a busy machine: it would be the first records' freshness)."""
        sample = json.dumps({"record_id": "warm-up", "dataset": "warm_up", "columns": {"a": 1}, "payload": {}})
        self.parse([("hds.deid.warm_up", 0, 0, sample.encode())])

    def apply_messages(self, messages: Sequence[Any]) -> SliceResult:
        """The loader's slice: Kafka records (`.topic`, `.partition`, `.offset`, `.value` bytes) validated and
        loaded set-wise, rows and the next offsets of every message (rejected ones included) in one
        transaction."""
        parsed = self.parse([(m.topic, m.partition, m.offset, m.value) for m in messages])
        return self.write(parsed, parsed.next_offsets)

    def parse(self, messages: Sequence[tuple[str, int, int, bytes | None]]) -> ParsedSlice:
        """Decode and validate a slice of envelopes in DuckDB (one JSON parse per record, no Python per-row work
        beyond collecting the bytes). Runs on its own cursor, outside the write lock."""
        raw = _raw_table(messages)
        cur = self.cursor()
        try:
            cur.register("hds_raw_slice", raw)
            try:
                parsed = cur.sql(_PARSE_SQL).to_arrow_table()
            except duckdb.InvalidInputException:  # malformed JSON somewhere in the slice
                parsed = cur.sql(_PARSE_GUARDED_SQL).to_arrow_table()
        finally:
            cur.close()
        valid = parsed.filter(parsed.column("valid"))
        bad = parsed.filter(pc.invert(parsed.column("valid")))
        rejected = list(zip(bad.column("topic").to_pylist(), bad.column("partition").to_pylist(),
                            bad.column("offset").to_pylist()))
        offsets: dict[tuple[str, int], int] = {}
        for t, p, o, _ in messages:
            key = (t, p)
            if o + 1 > offsets.get(key, 0):
                offsets[key] = o + 1
        return ParsedSlice(valid, rejected, offsets)

    def write(self, parsed: ParsedSlice, offsets: dict[tuple[str, int], int]) -> SliceResult:
        """Rows of a parsed slice and the offsets in ONE transaction; duplicate record ids (already held, or twice
        in the slice) are ignored by the primary key (INSERT OR IGNORE)."""
        table = parsed.valid
        record_ids = table.column("record_id").to_pylist()
        if not record_ids and not offsets:
            return SliceResult(0, [], parsed.rejected)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        inserted = 0
        with self.write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                if record_ids:
                    cur.register("hds_slice", table)
                    keys: dict[str, list[tuple[str, int]]] = {}
                    for ds, k, first in cur.execute(
                            "SELECT ds, k, min(idx) FROM (SELECT ds, idx, unnest(json_keys(columns)) AS k "
                            "FROM hds_slice WHERE columns IS NOT NULL) GROUP BY ds, k ORDER BY ds, min(idx), k"
                    ).fetchall():
                        keys.setdefault(ds, []).append((k, first))
                    for dataset in sorted(set(table.column("ds").to_pylist())):
                        inserted += self._insert(cur, dataset, keys.get(dataset, []), now)
                    cur.execute(_TOUCH_DATASETS_SQL, [now, now])
                    cur.unregister("hds_slice")
                if offsets:
                    cur.execute(
                        f"""INSERT INTO {INTERNAL}.offsets VALUES {", ".join(["(?, ?, ?, ?)"] * len(offsets))}
                            ON CONFLICT (topic, "partition") DO UPDATE SET next_offset = excluded.next_offset,
                            updated_at = excluded.updated_at""",
                        [x for (t, p), o in offsets.items() for x in (t, p, o, now)])
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                self._columns.clear()  # DDL may have been rolled back too
                raise
            finally:
                cur.close()
        return SliceResult(inserted, record_ids, parsed.rejected)

    def _table_columns(self, cur: duckdb.DuckDBPyConnection, dataset: str) -> dict[str, str]:
        cols = self._columns.get(dataset)
        if cols is None:
            rows = cur.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name='main' AND table_name=?",
                [dataset]).fetchall()
            cols = {n: t for n, t in rows}
            self._columns[dataset] = cols
        return cols

    def _insert(self, cur: duckdb.DuckDBPyConnection, dataset: str, keys: list[tuple[str, int]],
                now: datetime) -> int:
        """One dataset's rows of the registered slice `hds_slice`: new columns added (type from the first
        record naming them), then one INSERT OR IGNORE ... SELECT that converts every column in SQL. Returns the
        rows inserted (record ids already held, or twice in the slice, are ignored by the primary key)."""
        table = q(dataset)
        cols = self._table_columns(cur, dataset)
        names = [n for n, _ in keys if n not in RESERVED and _IDENT.match(n)]
        new = {n: first for n, first in keys if n in names and n not in cols}
        types: dict[str, str] = {}
        if new:  # the type of a new column: as the first record naming it declares (VARCHAR when unknown)
            rows = cur.execute(
                "SELECT k, json_extract_string(column_types, '$.\"' || k || '\"') FROM hds_slice "
                "JOIN (SELECT unnest(?::VARCHAR[]) AS k, unnest(?::BIGINT[]) AS first) ON idx = first",
                [list(new), list(new.values())]).fetchall()
            declared = {k: str(t).upper() for k, t in rows if t is not None}
            types = {n: declared.get(n) if declared.get(n) in ALLOWED_TYPES else "VARCHAR" for n in new}
        if not cols:  # a new dataset: its table with every column of this slice in one statement
            ddl = ", ".join(f"{q(n)} {t}" for n, t in BASE_COLUMNS + list(types.items()) + TAIL_COLUMNS)
            cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({ddl})")
            cols.update({n: t.split()[0] for n, t in BASE_COLUMNS + TAIL_COLUMNS})
        else:
            for n, t in types.items():
                cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {q(n)} {t}")
        cols.update(types)
        targets = ["record_id", "hospital", "feed", "patient_pseudonym", "loaded_at", "payload", *names]
        select = ["record_id", "hospital", "feed", "patient_pseudonym", "?::TIMESTAMP", "payload",
                  *(_sql_convert(f"c.{q(n)}", cols[n]) for n in names)]
        struct = json.dumps({n: "VARCHAR" for n in names})
        source = (f"(SELECT *, from_json(columns, '{struct}') AS c FROM hds_slice WHERE ds = ?)"
                  if names else "(SELECT * FROM hds_slice WHERE ds = ?)")
        row = cur.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(q(n) for n in targets)}) "
                          f"SELECT {', '.join(select)} FROM {source}", [now, dataset]).fetchone()
        return int(row[0]) if row else 0

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


def _sql_convert(expr: str, duck_type: str) -> str:
    """A column value (JSON scalar as text: strings unquoted, numbers and booleans as written, objects and
    arrays as JSON text) converted to the column's type; values that do not convert load as NULL."""
    if duck_type == "DATE":
        return f"TRY_CAST(left({expr}, 10) AS DATE)"
    if duck_type == "TIMESTAMP":  # an offset is converted to UTC; a naive time is kept as written
        return (f"CASE WHEN regexp_matches({expr}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
                f"THEN timezone('UTC', TRY_CAST({expr} AS TIMESTAMPTZ)) ELSE TRY_CAST({expr} AS TIMESTAMP) END")
    if duck_type in {"BIGINT", "DOUBLE", "BOOLEAN"}:
        return f"TRY_CAST({expr} AS {duck_type})"
    return expr


def _raw_table(messages: Sequence[tuple[str, int, int, bytes | None]]) -> pa.Table:
    """The slice as Arrow columns (topic, partition, offset, the topic's dataset, the value as text). Values
    are concatenated into one buffer (one Arrow string array, no per-value conversion); a value that is not
    UTF-8 becomes empty (rejected by validation)."""
    values = [v or b"" for _, _, _, v in messages]
    topics = [t for t, _, _, _ in messages]
    datasets = {t: dataset_of(t) for t in set(topics)}
    text = _string_array(values)
    if text is None:  # some value is not UTF-8: find it (rare path)
        clean = []
        for v in values:
            try:
                v.decode("utf-8")
                clean.append(v)
            except UnicodeDecodeError:
                clean.append(b"")
        text = _string_array(clean)
    return pa.table({
        "idx": pa.array(range(len(values)), pa.int64()),
        "topic": pa.array(topics, pa.string()),
        "partition": pa.array([p for _, p, _, _ in messages], pa.int32()),
        "offset": pa.array([o for _, _, o, _ in messages], pa.int64()),
        "ds": pa.array([datasets[t] for t in topics], pa.string()),
        "v": text,
    })


def _string_array(values: list[bytes]) -> pa.Array | None:
    offsets = array("q", [0])
    offsets.extend(accumulate(map(len, values)))
    arr = pa.Array.from_buffers(pa.large_string(), len(values),
                                [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))])
    try:
        arr.validate(full=True)  # UTF-8 checked in C++
    except pa.ArrowInvalid:
        return None
    return arr


