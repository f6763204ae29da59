"""`hds audit verify`: JSON report as last line, exit 0 intact / 1 tampered / 2 unreadable or locked."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import duckdb

from policies.audit import AuditLog
from catalog.cli.main import add_audit_commands as register

REPO = Path(__file__).resolve().parents[3]


def _verify(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "catalog.cli.main", "audit", "verify", "--db", str(db)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def _closed_db_with_records(tmp_path: Path, n: int = 3) -> Path:
    import threading

    path = tmp_path / "catalog.duckdb"
    con = duckdb.connect(str(path))
    log = AuditLog(con.cursor, threading.Lock())
    log.ensure_schema()
    for i in range(n):
        log.append("grant.created", "admin", [f"grant:g{i}"], purpose="study")
    con.close()
    return path


def test_given_register_then_audit_verify_subcommand_parses_db() -> None:
    parser = argparse.ArgumentParser(prog="hds")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["audit", "verify", "--db", "x.duckdb"])
    assert args.db == Path("x.duckdb") and callable(args.func)


def test_given_intact_chain_then_exit_0_and_json_report(tmp_path: Path) -> None:
    db = _closed_db_with_records(tmp_path)
    result = _verify(db)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr
    assert report["ok"] is True and report["records"] == 3 and len(report["head_hash"]) == 64


def test_given_edited_record_then_exit_1_naming_seq(tmp_path: Path) -> None:
    db = _closed_db_with_records(tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE governance.audit_log SET details = '{}' WHERE seq = 2")
    result = _verify(db)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1
    assert report == {**report, "ok": False, "first_bad_seq": 2, "problem": "hash_mismatch"}


def test_given_catalog_holding_the_file_then_exit_2_suggests_api(tmp_path: Path) -> None:
    db = _closed_db_with_records(tmp_path)
    with duckdb.connect(str(db)):  # a running catalog owns the file
        result = _verify(db)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 2
    assert report["error"] == "database_locked"
    assert "GET /api/audit/verify" in result.stderr


def test_given_missing_file_then_exit_2(tmp_path: Path) -> None:
    result = _verify(tmp_path / "absent.duckdb")
    assert result.returncode == 2
    assert json.loads(result.stdout.strip().splitlines()[-1])["error"] == "database_not_found"


def test_given_hds_entry_point_then_audit_verify_reports_tampering(tmp_path: Path) -> None:
    hds = Path(sys.executable).parent / "hds"
    if not hds.exists():
        import pytest

        pytest.skip("the hds console script is not installed in this environment")
    db = _closed_db_with_records(tmp_path, 4)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM governance.audit_log WHERE seq = 4")
    result = subprocess.run([str(hds), "audit", "verify", "--db", str(db)], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1 and report["problem"] == "head_mismatch" and report["first_bad_seq"] == 4


def test_given_no_db_flag_then_settings_db_path_is_used(tmp_path: Path) -> None:
    import os

    db = _closed_db_with_records(tmp_path, 2)
    result = subprocess.run([sys.executable, "-m", "catalog.cli.main", "audit", "verify"], capture_output=True, text=True,
                            cwd=REPO, timeout=120, env={**os.environ, "HDS_CATALOG_DB": str(db)})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0 and report["records"] == 2 and report["db"] == str(db)
