"""Rows leave the sandbox with per-grant (project) pseudonyms, never the city-wide linkage pseudonym."""

from __future__ import annotations

import pytest
from sandbox_kit import CLINICAL_COLUMNS, LAB_COLUMNS

from policies.sandbox.errors import QueryRefused
from policies.sandbox.executor import run_query
from policies.sandbox.tiers import DatasetPolicies, parse_dataset_policies


def record_tier() -> DatasetPolicies:
    return parse_dataset_policies({"default": {"tier": "aggregate"},
                                   "datasets": {"lab_results": {"tier": "record", "columns": LAB_COLUMNS, "row_cap": 5000},
                                                "clinical_records": {"tier": "record", "columns": CLINICAL_COLUMNS, "row_cap": 5000}}})


def run(cursor, sql, scope, history, grant_id="grant-1"):  # type: ignore[no-untyped-def]
    return run_query(cursor, sql, scope=scope, policies=record_tier(), history=history, grant_id=grant_id)


def stored(cursor) -> set[str]:  # type: ignore[no-untyped-def]
    return {r[0] for r in cursor.execute("SELECT DISTINCT patient_pseudonym FROM lab_results").fetchall()}


def test_given_record_rows_then_patient_pseudonyms_are_not_the_city_wide_ones(cursor, scope, history) -> None:
    out = run(cursor, "SELECT patient_pseudonym, test_code FROM lab_results", scope, history)
    released = {r[0] for r in out.rows}
    assert released and not (released & stored(cursor))
    assert len(released) == len(stored(cursor))  # one project pseudonym per person: counts survive


def test_given_the_same_grant_then_pseudonyms_are_stable_and_another_grant_gets_unlinkable_ones(cursor, scope, history) -> None:
    sql = "SELECT l.patient_pseudonym FROM lab_results AS l ORDER BY l.record_id"
    a1 = [r[0] for r in run(cursor, sql, scope, history, "grant-a").rows]
    a2 = [r[0] for r in run(cursor, sql, scope, history, "grant-a").rows]
    b = [r[0] for r in run(cursor, sql, scope, history, "grant-b").rows]
    assert a1 == a2
    assert not set(a1) & set(b)


def test_given_star_and_derived_expressions_then_no_city_wide_pseudonym_leaves(cursor, scope, history) -> None:
    originals = stored(cursor)
    for sql in ("SELECT * FROM lab_results",
                "SELECT upper(patient_pseudonym) || '' AS p FROM lab_results",
                "SELECT x.p FROM (SELECT patient_pseudonym AS p FROM lab_results) AS x"):
        out = run(cursor, sql, scope, history)
        text = " ".join(str(v) for row in out.rows for v in row).lower()
        assert not any(o.lower() in text for o in originals), sql


def test_given_a_join_within_the_grant_then_people_still_link_across_datasets(cursor, scope, history) -> None:
    joined = run(cursor, "SELECT count(*) FROM lab_results l JOIN clinical_records c USING (patient_pseudonym)",
                 scope, history)
    direct = cursor.execute(
        "SELECT count(*) FROM lab_results l JOIN clinical_records c USING (patient_pseudonym)").fetchone()[0]
    assert direct > 0 and joined.rows[0][0] == direct


def test_given_a_cte_named_like_a_dataset_then_the_query_is_refused(cursor, scope, history) -> None:
    with pytest.raises(QueryRefused):
        run(cursor, "WITH lab_results AS (SELECT 1 AS patient_pseudonym) SELECT * FROM lab_results", scope, history)


def test_given_record_ids_then_they_are_rekeyed_per_grant_too(cursor, scope, history) -> None:
    ids = {r[0] for r in cursor.execute("SELECT record_id FROM lab_results").fetchall()}
    a = {r[0] for r in run(cursor, "SELECT record_id FROM lab_results", scope, history, "grant-a").rows}
    b = {r[0] for r in run(cursor, "SELECT record_id FROM lab_results", scope, history, "grant-b").rows}
    assert len(a) == len(ids) and not (a & ids) and not (a & b)
