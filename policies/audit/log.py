"""The audit log in the catalog's DuckDB file: append-only, hash-chained, verified on demand.

Tables (schema `governance`): `audit_log` (the records), `audit_head` (seq and hash of the last record, updated in
the same transaction, so truncating the tail is detected) and `audit_sessions` (sha256 of token sessions already
seen, so a login is recorded once per session).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import duckdb

from policies.audit.chain import VerifyReport, verify_chain
from policies.audit.record import GENESIS_HASH, AuditRecord, canonical_json, sanitise_details, seal, sha256_hex
from policies.audit.transaction import CursorFactory, WriteLock, read_cursor, write_transaction
from policies.principal import Principal

SYSTEM_ACTOR = "system"

_SCHEMA = (
    "CREATE SCHEMA IF NOT EXISTS governance",
    """CREATE TABLE IF NOT EXISTS governance.audit_log (
        seq BIGINT PRIMARY KEY,
        ts VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        subjects VARCHAR NOT NULL,
        details VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS governance.audit_head (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS governance.audit_sessions (
        session_sha256 VARCHAR PRIMARY KEY,
        first_seen VARCHAR NOT NULL)""",
)

_COLUMNS = "seq, ts, actor, action, subjects, details, prev_hash, hash"


def actor_name(actor: Principal | str) -> str:
    return actor.username if isinstance(actor, Principal) else actor


def session_key(principal: Principal) -> str:
    """The token's session: Keycloak `sid` (or `session_state`), else `jti`, else subject + issue time."""
    claims = principal.claims or {}
    for claim in ("sid", "session_state", "jti"):
        value = claims.get(claim)
        if isinstance(value, str) and value:
            return f"{claim}:{value}"
    return f"sub-iat:{principal.subject}:{claims.get('iat', '')}"


class AuditLog:
    def __init__(self, cursor_factory: CursorFactory, write_lock: WriteLock,
                 now: Callable[[], datetime] | None = None) -> None:
        self._cursor_factory = cursor_factory
        self._write_lock = write_lock
        self._now = now or (lambda: datetime.now(UTC))
        self._seen_sessions: set[str] = set()
        self._seen_guard = threading.Lock()

    # -- schema -------------------------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            for statement in _SCHEMA:
                cur.execute(statement)

    # -- writing ------------------------------------------------------------------------------------------------
    def append(self, action: str, actor: Principal | str, subjects: Sequence[str] = (), **details: Any) -> AuditRecord:
        """Append one record in its own transaction, serialised under the catalog write lock."""
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            return self.append_in(cur, action, actor, subjects, **details)

    def append_in(self, cur: duckdb.DuckDBPyConnection, action: str, actor: Principal | str,
                  subjects: Sequence[str] = (), **details: Any) -> AuditRecord:
        """Append inside a write transaction the caller already holds (state change and audit commit together)."""
        clean = sanitise_details(details)
        last = cur.execute("SELECT seq, hash FROM governance.audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS_HASH)
        ts = self._now().astimezone(UTC).isoformat(timespec="microseconds")
        record = seal(seq=seq, ts=ts, actor=actor_name(actor), action=action, subjects=[str(s) for s in subjects],
                      details=clean, prev_hash=prev_hash)
        cur.execute(
            f"INSERT INTO governance.audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [record.seq, record.ts, record.actor, record.action, canonical_json(list(record.subjects)),
             canonical_json(record.details), record.prev_hash, record.hash],
        )
        cur.execute("INSERT OR REPLACE INTO governance.audit_head (id, seq, hash) VALUES (1, ?, ?)",
                    [record.seq, record.hash])
        return record

    def record_login(self, principal: Principal) -> bool:
        """Audit the first sight of a token session (deduplicated across restarts); True when newly recorded."""
        session = sha256_hex(session_key(principal))
        with self._seen_guard:
            if session in self._seen_sessions:
                return False
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            known = cur.execute("SELECT 1 FROM governance.audit_sessions WHERE session_sha256 = ?", [session]).fetchone()
            if not known:
                cur.execute("INSERT INTO governance.audit_sessions VALUES (?, ?)",
                            [session, self._now().astimezone(UTC).isoformat()])
                self.append_in(cur, "login", principal, [f"user:{principal.subject}"], session_sha256=session,
                               roles=sorted(principal.roles))
        with self._seen_guard:
            self._seen_sessions.add(session)
        return not known

    # -- reading ------------------------------------------------------------------------------------------------
    def records(self, *, after_seq: int = 0, limit: int = 100, action: str | None = None,
                subject: str | None = None, before_seq: int | None = None, actor: str | None = None,
                newest_first: bool = False) -> list[AuditRecord]:
        """Records with after_seq < seq (< before_seq), in seq order or newest first, optionally only one action,
        one actor and/or one subject id (e.g. `grant:<id>`: everything that happened under a grant)."""
        where, params = self._where(after_seq, before_seq, action, subject, actor)
        sql = f"SELECT {_COLUMNS} FROM governance.audit_log WHERE {where}"
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
        params.append(limit)
        with read_cursor(self._cursor_factory) as cur:
            return [_row_to_record(row) for row in cur.execute(sql, params).fetchall()]

    @staticmethod
    def _where(after_seq: int, before_seq: int | None, action: str | None, subject: str | None,
               actor: str | None) -> tuple[str, list[Any]]:
        clauses, params = ["seq > ?"], [after_seq]
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        if action:
            clauses.append("action = ?")
            params.append(action)
        if actor:
            clauses.append("actor = ?")
            params.append(actor)
        if subject:
            clauses.append("list_contains(from_json(subjects, '[\"VARCHAR\"]'), ?)")
            params.append(subject)
        return " AND ".join(clauses), params

    def count(self, *, action: str | None = None, subject: str | None = None, actor: str | None = None) -> int:
        where, params = self._where(0, None, action, subject, actor)
        with read_cursor(self._cursor_factory) as cur:
            return int(cur.execute(f"SELECT count(*) FROM governance.audit_log WHERE {where}", params).fetchone()[0])

    def verify(self) -> VerifyReport:
        with read_cursor(self._cursor_factory) as cur:
            return verify_cursor(cur)


def verify_cursor(cur: duckdb.DuckDBPyConnection) -> VerifyReport:
    """Verify the chain through any cursor (also a read-only connection opened by `hds audit verify`)."""
    try:
        head_row = cur.execute("SELECT seq, hash FROM governance.audit_head WHERE id = 1").fetchone()
        result = cur.execute(f"SELECT {_COLUMNS} FROM governance.audit_log ORDER BY seq")
    except duckdb.CatalogException:
        return VerifyReport(False, 0, None, "missing_table", None)
    head = (int(head_row[0]), str(head_row[1])) if head_row else None

    def rows() -> Any:
        while batch := result.fetchmany(1000):
            for row in batch:
                yield _row_to_record(row)

    return verify_chain(rows(), head)


def _row_to_record(row: tuple[Any, ...]) -> AuditRecord:
    seq, ts, actor, action, subjects, details, prev_hash, hash_ = row
    subject_list = _loads(subjects)
    return AuditRecord(int(seq), str(ts), str(actor), str(action),
                       tuple(subject_list) if isinstance(subject_list, list) else (str(subjects),),
                       _loads(details), str(prev_hash), str(hash_))


def _loads(text: str) -> Any:
    """Stored JSON; text edited into invalid JSON is kept raw, so its hash no longer matches (hash_mismatch)."""
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text}
