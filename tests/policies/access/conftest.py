from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from governance_kit import DATASETS, Clock, RecordingMirror

from policies.access import AccessService
from policies.audit import AuditLog


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(tmp_path / "catalog.duckdb"))
    yield c
    c.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mirror() -> RecordingMirror:
    return RecordingMirror()


@pytest.fixture
def lock() -> threading.Lock:
    return threading.Lock()  # the catalog has one write lock for every writer


@pytest.fixture
def audit(con: duckdb.DuckDBPyConnection, lock: threading.Lock, clock: Clock) -> AuditLog:
    log = AuditLog(con.cursor, lock, now=clock)
    log.ensure_schema()
    return log


@pytest.fixture
def service(con: duckdb.DuckDBPyConnection, lock: threading.Lock, audit: AuditLog, mirror: RecordingMirror,
            clock: Clock) -> AccessService:
    svc = AccessService(con.cursor, lock, audit=audit, mirror=mirror, dataset_exists=DATASETS.__contains__, now=clock)
    svc.ensure_schema()
    return svc
