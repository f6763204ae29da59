"""One write transaction on the catalog connection: a fresh cursor, the catalog's write lock, BEGIN/COMMIT.

The catalog has one DuckDB connection and one writer; every governance write (request transitions, grants,
audit records) runs inside `write_transaction` so a state change and its audit record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import duckdb

CursorFactory = Callable[[], duckdb.DuckDBPyConnection]
WriteLock = AbstractContextManager[Any]  # threading.Lock or RLock: the catalog's one write lock


@contextmanager
def write_transaction(cursor_factory: CursorFactory, write_lock: WriteLock) -> Iterator[duckdb.DuckDBPyConnection]:
    with write_lock:
        cursor = cursor_factory()
        try:
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        finally:
            cursor.close()


@contextmanager
def read_cursor(cursor_factory: CursorFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor = cursor_factory()
    try:
        yield cursor
    finally:
        cursor.close()
