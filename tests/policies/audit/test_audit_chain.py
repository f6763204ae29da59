"""The audit chain detects every kind of tampering done directly in DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from policies.audit import GENESIS_HASH, AuditLog
from policies.audit.record import sha256_hex
from policies.principal import Principal

DB = tuple[Path, duckdb.DuckDBPyConnection]


def _fill(audit: AuditLog, n: int = 6) -> None:
    for i in range(n):
        audit.append("request.submitted", "alice", [f"request:r{i}"], purpose="study", datasets=["d1"])


def test_given_appended_records_then_chain_verifies_and_links(audit: AuditLog) -> None:
    _fill(audit, 4)
    records = audit.records()
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(records, records[1:]))
    report = audit.verify()
    assert report.ok and report.records == 4 and report.head_hash == records[-1].hash


def test_given_empty_log_then_verify_is_ok(audit: AuditLog) -> None:
    report = audit.verify()
    assert report.ok and report.records == 0


def test_given_sql_detail_then_only_its_sha256_is_stored(audit: AuditLog, catalog_db: DB) -> None:
    sql = "SELECT count(*) FROM visits WHERE name = 'Jane Roe'"
    audit.append("query", "alice", ["grant:g1"], sql=sql, rows=3, suppressed=1, reason="patient Jane Roe asked")
    _, con = catalog_db
    stored = " ".join(str(v) for v in con.execute("SELECT * FROM governance.audit_log").fetchone())
    assert "Jane Roe" not in stored
    details = audit.records()[0].details
    assert details["sql_sha256"] == sha256_hex(sql) and "sql" not in details
    assert "reason_sha256" in details and details["rows"] == 3


def test_given_unserialisable_detail_then_append_refuses(audit: AuditLog) -> None:
    with pytest.raises(TypeError):
        audit.append("query", "alice", [], payload=object())
    assert audit.count() == 0


def test_given_edited_record_then_verify_reports_hash_mismatch(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    con.execute("UPDATE governance.audit_log SET actor = 'mallory' WHERE seq = 3")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 3 and report.problem == "hash_mismatch"


def test_given_edited_details_json_then_verify_fails(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    con.execute("""UPDATE governance.audit_log SET details = '{"purpose":"other"' WHERE seq = 2""")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 2


def test_given_removed_middle_record_then_verify_reports_sequence_broken(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    con.execute("DELETE FROM governance.audit_log WHERE seq = 4")
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 4 and report.problem == "sequence_broken"


def test_given_removed_and_renumbered_record_then_chain_broken(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    con.execute("DELETE FROM governance.audit_log WHERE seq = 4")
    for seq in (5, 6):  # an attacker closes the gap; the hashes still name the old predecessors
        con.execute("UPDATE governance.audit_log SET seq = ? WHERE seq = ?", [seq - 1, seq])
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 4


def test_given_removed_last_record_then_verify_reports_head_mismatch(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    con.execute("DELETE FROM governance.audit_log WHERE seq = 6")
    report = audit.verify()
    assert not report.ok and report.problem == "head_mismatch" and report.first_bad_seq == 6


def test_given_whole_log_truncated_then_verify_fails(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    con.execute("DELETE FROM governance.audit_log")
    report = audit.verify()
    assert not report.ok and report.problem == "head_mismatch"


def test_given_inserted_record_then_verify_fails(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    # shift seq 4..6 up and insert a forged record, correctly hashed against record 3, at seq 4
    for seq in (6, 5, 4):
        con.execute("UPDATE governance.audit_log SET seq = ? WHERE seq = ?", [seq + 1, seq])
    prev = con.execute("SELECT hash FROM governance.audit_log WHERE seq = 3").fetchone()[0]
    from policies.audit.record import canonical_json, seal

    forged = seal(seq=4, ts="2026-01-01T00:00:00+00:00", actor="mallory", action="grant.revoked",
                  subjects=["grant:x"], details={}, prev_hash=prev)
    con.execute("INSERT INTO governance.audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [forged.seq, forged.ts, forged.actor, forged.action, canonical_json(list(forged.subjects)),
                 canonical_json(forged.details), forged.prev_hash, forged.hash])
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 5


def test_given_reordered_records_then_verify_fails(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit)
    _, con = catalog_db
    rows = {r[0]: r for r in con.execute("SELECT * FROM governance.audit_log WHERE seq IN (2, 3)").fetchall()}
    con.execute("DELETE FROM governance.audit_log WHERE seq IN (2, 3)")
    for new_seq, old in ((2, rows[3]), (3, rows[2])):
        con.execute("INSERT INTO governance.audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [new_seq, *old[1:]])
    report = audit.verify()
    assert not report.ok and report.first_bad_seq == 2


def test_given_missing_table_then_verify_fails_closed(audit: AuditLog, catalog_db: DB) -> None:
    _fill(audit, 1)
    _, con = catalog_db
    con.execute("DROP TABLE governance.audit_log")
    report = audit.verify()
    assert not report.ok and report.problem == "missing_table"


def test_given_same_session_twice_then_login_is_audited_once(audit: AuditLog) -> None:
    alice = Principal("sub-a", "alice", frozenset({"researcher"}), claims={"sid": "s-1", "jti": "j-1"})
    again = Principal("sub-a", "alice", frozenset({"researcher"}), claims={"sid": "s-1", "jti": "j-2"})
    other = Principal("sub-a", "alice", frozenset({"researcher"}), claims={"sid": "s-2"})
    assert audit.record_login(alice) is True
    assert audit.record_login(again) is False
    assert audit.record_login(other) is True
    logins = audit.records(action="login")
    assert len(logins) == 2 and logins[0].actor == "alice"
    assert "s-1" not in json.dumps([r.to_public() for r in logins])


def test_given_restarted_log_then_known_sessions_stay_deduplicated(audit: AuditLog, catalog_db: DB) -> None:
    import threading

    alice = Principal("sub-a", "alice", frozenset({"researcher"}), claims={"jti": "j-9"})
    audit.record_login(alice)
    _, con = catalog_db
    restarted = AuditLog(con.cursor, threading.Lock())
    assert restarted.record_login(alice) is False
    assert restarted.count() == 1


def test_given_paging_then_records_after_seq_are_returned(audit: AuditLog) -> None:
    _fill(audit, 5)
    page = audit.records(after_seq=2, limit=2)
    assert [r.seq for r in page] == [3, 4]


def test_given_concurrent_appenders_then_chain_stays_linear(audit: AuditLog) -> None:
    import threading

    def work(i: int) -> None:
        for j in range(25):
            audit.append("query", f"user{i}", [f"grant:g{i}"], rows=j)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify()
    assert report.ok and report.records == 100


def test_given_subject_filter_then_only_records_naming_it_are_returned(audit: AuditLog) -> None:
    audit.append("grant.created", "ada", ["grant:g1", "request:r1"])
    audit.append("query", "alice", ["grant:g2"], rows=4)
    audit.append("query", "alice", ["grant:g1"], rows=9)
    assert [r.seq for r in audit.records(subject="grant:g1")] == [1, 3]
    assert [r.seq for r in audit.records(subject="grant:g1", action="query")] == [3]
    assert audit.records(subject="grant:g") == []
