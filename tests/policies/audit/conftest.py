from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from policies.audit import AuditLog


@pytest.fixture
def catalog_db(tmp_path: Path) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    path = tmp_path / "catalog.duckdb"
    con = duckdb.connect(str(path))
    yield path, con
    con.close()


@pytest.fixture
def audit(catalog_db: tuple[Path, duckdb.DuckDBPyConnection]) -> AuditLog:
    _, con = catalog_db
    log = AuditLog(con.cursor, threading.Lock())
    log.ensure_schema()
    return log
