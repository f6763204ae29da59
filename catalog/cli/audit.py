"""`hds audit verify [--db PATH]`: check the audit hash chain in a catalog DuckDB file.

Prints a JSON report as its last line; exit 0 when the chain is intact, 1 when it is not, 2 when the file cannot
be read (missing, or locked by a running catalog: then ask the catalog itself with `GET /api/audit/verify`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policies.audit.log import verify_cursor
from policies.settings import Settings

EXIT_OK = 0
EXIT_TAMPERED = 1
EXIT_UNREADABLE = 2


def handle_verify(args: argparse.Namespace) -> int:
    db_path: Path | None = args.db
    if db_path is None:
        db_path = Settings.from_env(need_deid_keys=False).db_path
    if not db_path.exists():
        return _finish({"ok": False, "error": "database_not_found", "db": str(db_path)}, EXIT_UNREADABLE,
                       f"no catalog database at {db_path}")

    import duckdb

    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            return _finish(
                {"ok": False, "error": "database_locked", "db": str(db_path),
                 "hint": "GET /api/audit/verify with an authority-admin token"},
                EXIT_UNREADABLE,
                f"{db_path} is locked by a running catalog (one process owns the file); "
                "ask the running catalog instead: GET /api/audit/verify with an authority-admin token",
            )
        return _finish({"ok": False, "error": "database_unreadable", "db": str(db_path)}, EXIT_UNREADABLE,
                       f"cannot open {db_path} read-only")
    try:
        report = verify_cursor(con)
    finally:
        con.close()
    body = {**report.to_public(), "db": str(db_path)}
    return _finish(body, EXIT_OK if report.ok else EXIT_TAMPERED,
                   None if report.ok else f"audit chain broken at seq {report.first_bad_seq}: {report.problem}")


def _finish(report: dict[str, object], code: int, message: str | None) -> int:
    if message:
        print(message, file=sys.stderr)
    print(json.dumps(report, sort_keys=True))
    return code
