"""Access requests and grants in the catalog's DuckDB file (schema `governance`); SQL only, no decisions.

Timestamps are stored as naive UTC TIMESTAMPs and come back as aware UTC datetimes. Lists and column maps are
stored as canonical JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb

from policies.access.model import (
    AccessRequest,
    MirrorChange,
    Columns,
    Grant,
    GrantStatus,
    HistoryEntry,
    Party,
    RequestStatus,
)

SCHEMA = (
    "CREATE SCHEMA IF NOT EXISTS governance",
    """CREATE TABLE IF NOT EXISTS governance.access_requests (
        id VARCHAR PRIMARY KEY,
        requester_username VARCHAR NOT NULL,
        requester_subject VARCHAR NOT NULL,
        datasets VARCHAR NOT NULL,
        columns VARCHAR,
        purpose VARCHAR NOT NULL,
        project VARCHAR,
        legal_basis VARCHAR,
        duration_days INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        history VARCHAR NOT NULL,
        grant_id VARCHAR,
        decision_reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS governance.grants (
        id VARCHAR PRIMARY KEY,
        request_id VARCHAR NOT NULL,
        grantee_username VARCHAR NOT NULL,
        grantee_subject VARCHAR NOT NULL,
        datasets VARCHAR NOT NULL,
        columns VARCHAR,
        purpose VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        revoked_at TIMESTAMP,
        revoke_reason VARCHAR,
        mirrored BOOLEAN NOT NULL)""",
    # Changes the identity provider has not acknowledged yet, in the order they were decided (the grant mirror's
    # outbox: written in the same transaction as the decision, delivered after the commit, deleted when done).
    """CREATE TABLE IF NOT EXISTS governance.grant_mirror_outbox (
        seq BIGINT PRIMARY KEY,
        grant_id VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL,
        username VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        enqueued_at TIMESTAMP NOT NULL,
        attempts INTEGER NOT NULL)""",
)

_REQUEST_COLUMNS = ("id, requester_username, requester_subject, datasets, columns, purpose, project, legal_basis, "
                    "duration_days, status, created_at, updated_at, history, grant_id, decision_reason")
_GRANT_COLUMNS = ("id, request_id, grantee_username, grantee_subject, datasets, columns, purpose, created_at, "
                  "expires_at, status, revoked_at, revoke_reason, mirrored")

Cursor = duckdb.DuckDBPyConnection


def ensure_schema(cur: Cursor) -> None:
    for statement in SCHEMA:
        cur.execute(statement)


def _ts(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _dump_columns(columns: Columns | None) -> str | None:
    return None if columns is None else json.dumps({k: list(v) for k, v in columns.items()}, sort_keys=True)


def _load_columns(text: str | None) -> Columns | None:
    return None if text is None else {k: tuple(v) for k, v in json.loads(text).items()}


# -- requests ---------------------------------------------------------------------------------------------------
def save_request(cur: Cursor, r: AccessRequest) -> None:
    """Insert or replace the whole request row (it is small; history travels with it)."""
    cur.execute(
        f"INSERT OR REPLACE INTO governance.access_requests ({_REQUEST_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [r.id, r.requester.username, r.requester.subject, json.dumps(list(r.datasets)), _dump_columns(r.columns),
         r.purpose, r.project, r.legal_basis, r.duration_days, r.status.value, _ts(r.created_at), _ts(r.updated_at),
         json.dumps([h.to_public() for h in r.history]), r.grant_id, r.decision_reason],
    )


def get_request(cur: Cursor, request_id: str) -> AccessRequest | None:
    row = cur.execute(f"SELECT {_REQUEST_COLUMNS} FROM governance.access_requests WHERE id = ?",
                      [request_id]).fetchone()
    return None if row is None else _request(row)


def list_requests(cur: Cursor, *, requester_subject: str | None = None, status: str | None = None) -> list[AccessRequest]:
    sql = f"SELECT {_REQUEST_COLUMNS} FROM governance.access_requests WHERE 1 = 1"
    params: list[Any] = []
    if requester_subject is not None:
        sql += " AND requester_subject = ?"
        params.append(requester_subject)
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    return [_request(row) for row in cur.execute(sql + " ORDER BY created_at, id", params).fetchall()]


def _request(row: tuple[Any, ...]) -> AccessRequest:
    (id_, username, subject, datasets, columns, purpose, project, legal_basis, duration, status, created, updated,
     history, grant_id, reason) = row
    return AccessRequest(
        id=id_, requester=Party(username, subject), datasets=tuple(json.loads(datasets)),
        columns=_load_columns(columns), purpose=purpose, project=project, legal_basis=legal_basis,
        duration_days=int(duration), status=RequestStatus(status), created_at=_aware(created),  # type: ignore[arg-type]
        updated_at=_aware(updated),  # type: ignore[arg-type]
        history=tuple(HistoryEntry.from_public(h) for h in json.loads(history)), grant_id=grant_id,
        decision_reason=reason,
    )


# -- grants -----------------------------------------------------------------------------------------------------
def save_grant(cur: Cursor, g: Grant) -> None:
    cur.execute(
        f"INSERT OR REPLACE INTO governance.grants ({_GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [g.id, g.request_id, g.grantee.username, g.grantee.subject, json.dumps(list(g.datasets)),
         _dump_columns(g.columns), g.purpose, _ts(g.created_at), _ts(g.expires_at), g.status.value,
         _ts(g.revoked_at), g.revoke_reason, g.mirrored],
    )


def get_grant(cur: Cursor, grant_id: str) -> Grant | None:
    row = cur.execute(f"SELECT {_GRANT_COLUMNS} FROM governance.grants WHERE id = ?", [grant_id]).fetchone()
    return None if row is None else _grant(row)


def list_grants(cur: Cursor, *, grantee_subject: str | None = None) -> list[Grant]:
    sql = f"SELECT {_GRANT_COLUMNS} FROM governance.grants"
    params: list[Any] = []
    if grantee_subject is not None:
        sql += " WHERE grantee_subject = ?"
        params.append(grantee_subject)
    return [_grant(row) for row in cur.execute(sql + " ORDER BY created_at, id", params).fetchall()]


def grants_to_sweep(cur: Cursor, now: datetime) -> list[Grant]:
    """Active grants past expiry, and ended grants still mirrored (an earlier unmirror failed)."""
    rows = cur.execute(
        f"SELECT {_GRANT_COLUMNS} FROM governance.grants "
        "WHERE (status = 'active' AND expires_at <= ?) OR (status <> 'active' AND mirrored) ORDER BY id",
        [_ts(now)],
    ).fetchall()
    return [_grant(row) for row in rows]


def _grant(row: tuple[Any, ...]) -> Grant:
    (id_, request_id, username, subject, datasets, columns, purpose, created, expires, status, revoked_at, reason,
     mirrored) = row
    return Grant(
        id=id_, request_id=request_id, grantee=Party(username, subject), datasets=tuple(json.loads(datasets)),
        columns=_load_columns(columns), purpose=purpose, created_at=_aware(created),  # type: ignore[arg-type]
        expires_at=_aware(expires),  # type: ignore[arg-type]
        status=GrantStatus(status), revoked_at=_aware(revoked_at), revoke_reason=reason, mirrored=bool(mirrored),
    )


# -- the grant mirror's outbox ----------------------------------------------------------------------------------
def enqueue_mirror(cur: Cursor, grant: Grant, action: str, now: datetime) -> None:
    """One change per dataset of the grant, after every change already queued (call inside the decision's
    transaction, so the decision and its changes for the identity provider commit together)."""
    if action == "revoke":  # a grant not yet delivered need not be: cancel it (the revoke still goes out)
        cur.execute("DELETE FROM governance.grant_mirror_outbox WHERE grant_id = ? AND action = 'grant'", [grant.id])
    row = cur.execute("SELECT coalesce(max(seq), 0) FROM governance.grant_mirror_outbox").fetchone()
    last = int(row[0]) if row else 0
    for i, dataset in enumerate(grant.datasets, start=1):
        cur.execute("INSERT INTO governance.grant_mirror_outbox VALUES (?, ?, ?, ?, ?, ?, 0)",
                    [last + i, grant.id, dataset, grant.grantee.username, action, _ts(now)])


def pending_mirror(cur: Cursor) -> list[MirrorChange]:
    """Fresh changes first: one the identity provider keeps refusing must not hold back the others. (Each grant
    and dataset has at most one change queued — a revocation cancels its grant's — so the order is free.)"""
    rows = cur.execute("SELECT seq, grant_id, dataset, username, action, attempts "
                       "FROM governance.grant_mirror_outbox ORDER BY attempts, seq").fetchall()
    return [MirrorChange(int(seq), g, d, u, a, int(n)) for seq, g, d, u, a, n in rows]


def has_pending_mirror(cur: Cursor, grant_id: str, action: str | None = None) -> bool:
    sql, params = "SELECT 1 FROM governance.grant_mirror_outbox WHERE grant_id = ?", [grant_id]
    if action is not None:
        sql, params = sql + " AND action = ?", [grant_id, action]
    return cur.execute(sql + " LIMIT 1", params).fetchone() is not None


def mirror_delivered(cur: Cursor, change: MirrorChange) -> None:
    cur.execute("DELETE FROM governance.grant_mirror_outbox WHERE seq = ?", [change.seq])


def mirror_failed(cur: Cursor, change: MirrorChange) -> None:
    cur.execute("UPDATE governance.grant_mirror_outbox SET attempts = attempts + 1 WHERE seq = ?", [change.seq])


def set_mirrored(cur: Cursor, grant_id: str, mirrored: bool) -> None:
    cur.execute("UPDATE governance.grants SET mirrored = ? WHERE id = ?", [mirrored, grant_id])


def live_grants(cur: Cursor, now: datetime) -> list[Grant]:
    """Grants that are active and not past expiry: exactly what the identity provider should hold."""
    rows = cur.execute(f"SELECT {_GRANT_COLUMNS} FROM governance.grants WHERE status = 'active' AND expires_at > ? "
                       "ORDER BY id", [_ts(now)]).fetchall()
    return [_grant(row) for row in rows]
