"""The executor on a real DuckDB catalog file (external access disabled, configuration locked)."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
from pathlib import Path

import duckdb
import pytest
from sandbox_kit import LAB_COLUMNS, RARE_WARD, SECRET_VALUE

from policies.sandbox.differencing import QueryHistory
from policies.sandbox.errors import QueryRefused, Refusal
from policies.sandbox.executor import export_rows, run_query
from policies.sandbox.scope import GrantScope
from policies.sandbox.tiers import DatasetPolicies, Tier, parse_dataset_policies


def run(cursor, sql, scope, policies, history, grant_id="grant-1", **kw):
    return run_query(cursor, sql, scope=scope, policies=policies, history=history, grant_id=grant_id, **kw)


def released_values(outcome, column: int) -> list:
    return [row[column] for row in outcome.rows]


# --- the configuration the catalog runs with --------------------------------------------------------------


def test_given_locked_catalog_then_files_and_settings_are_out_of_reach_even_without_the_guard(cursor) -> None:
    with pytest.raises(duckdb.PermissionException):
        cursor.execute("SELECT * FROM read_csv('/etc/hostname')")
    with pytest.raises(duckdb.Error):
        cursor.execute("SET enable_external_access = true")


# --- aggregate tier: suppression ----------------------------------------------------------------------------


def test_given_grouped_count_with_rare_ward_then_small_cell_and_a_complement_are_suppressed(
    cursor, scope, policies, history
) -> None:
    outcome = run(
        cursor, "SELECT ward, count(*) AS n FROM admissions GROUP BY ward ORDER BY ward", scope, policies, history
    )
    assert outcome.tier is Tier.AGGREGATE
    assert outcome.columns == ["ward", "n"]
    assert (None, None) in outcome.rows  # the rare ward: value and key hidden
    assert RARE_WARD not in [w for w, _ in outcome.rows]
    assert outcome.suppressed == 2  # the rare ward, plus the smallest other ward (secondary)
    assert sum(1 for _, v in outcome.rows if v is None) == 2
    secondary = [w for w, v in outcome.rows if v is None and w is not None]
    assert len(secondary) == 1  # a large cell hidden to protect the small one keeps its key
    for _, value in outcome.rows:
        assert value is None or (value >= 10 and value % 5 == 0)


def test_given_suppressed_cells_then_their_positions_follow_the_released_row_order(
    cursor, scope, policies, history
) -> None:
    """Small rows are released last; `suppressed_cells` is numbered as released, so it points at the NULLs."""
    outcome = run(
        cursor, "SELECT ward, count(*) AS n FROM admissions GROUP BY ward ORDER BY ward DESC", scope, policies, history
    )
    cells = set(outcome.suppressed_cells)
    assert len(cells) == 3  # the rare ward's key and count, and the secondary cell's count
    small = len(outcome.rows) - 1
    assert outcome.rows[small] == (None, None) and {(small, 0), (small, 1)} <= cells
    for r, row in enumerate(outcome.rows):
        for c, value in enumerate(row):
            assert ((r, c) in cells) == (value is None)


def test_given_suppressed_cell_then_total_minus_released_cells_does_not_isolate_it(
    cursor, scope, policies, history
) -> None:
    total = run(cursor, "SELECT count(*) FROM admissions", scope, policies, history, grant_id="g-total").rows[0][0]
    grouped = run(
        cursor, "SELECT ward, count(*) FROM admissions GROUP BY ward", scope, policies, history, grant_id="g-total"
    )
    hidden = [w for w, v in grouped.rows if v is None]
    assert len(hidden) >= 2
    remainder = total - sum(v for _, v in grouped.rows if v is not None)
    assert remainder > 6  # the rare ward has 6 rows; the remainder mixes it with at least one larger cell


def test_given_group_by_unique_value_then_every_cell_is_suppressed(cursor, scope, policies, history) -> None:
    outcome = run(cursor, "SELECT admit_date, count(*) FROM admissions GROUP BY admit_date", scope, policies, history)
    assert outcome.rows and all(row[1] is None for row in outcome.rows)
    assert outcome.suppressed == len(outcome.rows)


def test_given_group_by_expression_combining_quasi_identifiers_then_small_cells_are_suppressed(
    cursor, scope, policies, history
) -> None:
    outcome = run(
        cursor,
        "SELECT CAST(admit_date AS VARCHAR) || zip3 || sex AS k, count(*) FROM admissions GROUP BY k",
        scope,
        policies,
        history,
    )
    assert all(row[1] is None for row in outcome.rows)


def test_given_boolean_complement_grouping_then_both_cells_are_suppressed(cursor, scope, policies, history) -> None:
    outcome = run(
        cursor,
        f"SELECT ward = '{RARE_WARD}' AS is_rare, count(*) FROM admissions GROUP BY is_rare",
        scope,
        policies,
        history,
    )
    assert [row[1] for row in outcome.rows] == [None, None]


@pytest.mark.parametrize(
    "sql,code",
    [
        (
            "SELECT ward, count(*) FROM admissions GROUP BY ward UNION ALL SELECT 'x', count(*) FROM admissions",
            "set_operation",
        ),
        ("SELECT count(*) FROM admissions WHERE ward = 'W_A' UNION SELECT count(*) FROM admissions", "set_operation"),
        ("SELECT ward, count(*) OVER (PARTITION BY ward) FROM admissions", "window"),
        ("SELECT ward, count(*), sum(count(*)) OVER () FROM admissions GROUP BY ward", "window"),
        ("SELECT ward, count(*) FROM admissions GROUP BY ward HAVING count(*) < 10", "having"),
        ("SELECT ward, count(*) AS n FROM admissions GROUP BY ward ORDER BY n", "order_by"),
        ("SELECT ward, count(*) FROM admissions GROUP BY ward LIMIT 1", "limit"),
        ("SELECT ward, sex FROM admissions", "raw_output"),
        ("SELECT ward FROM admissions GROUP BY ward", "raw_output"),
        ("SELECT ward, zip3, count(*) FROM admissions GROUP BY ward", "raw_output"),
        (
            "SELECT ward, sum(CASE WHEN zip3 = '101' THEN 1 ELSE 0 END) FROM admissions GROUP BY ward",
            "aggregate_argument",
        ),
        ("SELECT ward, count(*) FILTER (WHERE zip3 = '101') FROM admissions GROUP BY ward", "filter"),
        ("SELECT ward, max(birth_year) FROM admissions GROUP BY ward", "aggregate_function"),
        ("SELECT ward, count(*) / 2 FROM admissions GROUP BY ward", "output_shape"),
        ("SELECT ward, count(*) FROM admissions GROUP BY ROLLUP (ward)", "group_by"),
        ("SELECT ward, count(*) FROM admissions GROUP BY ALL", "group_by"),
        ("SELECT DISTINCT ward, count(*) FROM admissions GROUP BY ward", "distinct"),
        ("SELECT sum(n) FROM (SELECT ward, count(*) AS n FROM admissions GROUP BY ward) t", "derived_table"),
        (
            "SELECT ward, count(*) FROM admissions WHERE ward IN "
            "(SELECT ward FROM admissions WHERE zip3 = '101' AND birth_year = 1947) GROUP BY ward",
            "subquery",
        ),
        (
            "SELECT ward, count(*) FROM admissions a WHERE EXISTS "
            "(SELECT 1 FROM admissions b WHERE b.ward = a.ward AND b.admit_date = DATE '2025-01-02') GROUP BY ward",
            "subquery",
        ),
        (
            "WITH target AS (SELECT ward FROM admissions WHERE admit_date = DATE '2025-01-02') "
            "SELECT ward, count(*) FROM admissions WHERE ward IN (SELECT ward FROM target) GROUP BY ward",
            "subquery",
        ),
    ],
    ids=[
        "union-of-aggregates",
        "union-total-and-part",
        "window-partition",
        "window-over-aggregate",
        "having",
        "order-by-aggregate",
        "limit",
        "raw-rows",
        "distinct-keys-only",
        "ungrouped-column",
        "case-in-aggregate",
        "filter-clause",
        "max-releases-a-value",
        "arithmetic-on-aggregate",
        "rollup-totals",
        "group-by-all",
        "select-distinct",
        "aggregate-of-aggregate",
        "singling-out-in-where-subquery",
        "singling-out-in-exists",
        "singling-out-through-cte-subquery",
    ],
)
def test_given_suppression_bypass_attempt_then_aggregate_tier_refuses(
    cursor, scope, policies, history, sql, code
) -> None:
    with pytest.raises(QueryRefused) as refused:
        run(cursor, sql, scope, policies, history)
    assert refused.value.code == code
    assert "101" not in refused.value.public_reason and RARE_WARD not in refused.value.public_reason


def test_given_individual_singled_out_in_joined_derived_table_then_their_group_is_hidden(
    cursor, scope, policies, history
) -> None:
    """Joining a one-person derived table on ward would reveal that person's ward through which group
    appears; the derived table's patients are a lineage of their own, which covers one patient: refused."""
    for join in ("JOIN", "LEFT JOIN"):
        with pytest.raises(QueryRefused) as refused:
            run(
                cursor,
                f"SELECT a.ward, count(*) FROM admissions a {join} "
                "(SELECT ward FROM admissions WHERE admit_date = DATE '2025-01-10') s ON a.ward = s.ward GROUP BY a.ward",
                scope,
                policies,
                history,
                grant_id=f"g-{join}",
            )
        assert (refused.value.code, refused.value.audit_reason) == ("disclosure", "too_few_patients")


def test_given_complementary_query_then_differencing_refuses(cursor, scope, policies, history) -> None:
    run(cursor, "SELECT count(*) FROM admissions", scope, policies, history)
    with pytest.raises(QueryRefused) as refused:
        run(cursor, f"SELECT count(*) FROM admissions WHERE ward <> '{RARE_WARD}'", scope, policies, history)
    assert refused.value.code == "disclosure" and refused.value.audit_reason.startswith("differencing") and refused.value.kind is Refusal.DISCLOSURE
    with pytest.raises(QueryRefused):
        run(
            cursor, f"SELECT avg(birth_year) FROM admissions WHERE NOT (ward = '{RARE_WARD}')", scope, policies, history
        )


def test_given_complement_grouped_query_then_cell_differencing_refuses(cursor, scope, policies, history) -> None:
    run(cursor, "SELECT sex, count(*) FROM admissions GROUP BY sex", scope, policies, history)
    with pytest.raises(QueryRefused) as refused:
        run(
            cursor,
            f"SELECT sex, count(*) FROM admissions WHERE ward <> '{RARE_WARD}' GROUP BY sex",
            scope,
            policies,
            history,
        )
    assert refused.value.code == "disclosure" and refused.value.audit_reason.startswith("differencing")


def test_given_other_grant_then_history_does_not_cross_grants(cursor, scope, policies, history) -> None:
    run(cursor, "SELECT count(*) FROM admissions", scope, policies, history, grant_id="grant-a")
    outcome = run(
        cursor,
        f"SELECT count(*) FROM admissions WHERE ward <> '{RARE_WARD}'",
        scope,
        policies,
        history,
        grant_id="grant-b",
    )
    assert outcome.rows[0][0] is not None


def test_given_secondarily_suppressed_cell_then_asking_for_it_alone_stays_suppressed(
    cursor, scope, policies, history
) -> None:
    grouped = run(cursor, "SELECT ward, count(*) FROM admissions GROUP BY ward", scope, policies, history)
    secondary = [w for w, v in grouped.rows if v is None and w is not None]
    assert len(secondary) == 1
    alone = run(cursor, f"SELECT count(*) FROM admissions WHERE ward = '{secondary[0]}'", scope, policies, history)
    assert alone.rows == [(None,)] and alone.suppressed == 1


def test_given_too_few_patients_then_aggregate_is_refused(cursor, scope, history) -> None:
    policies = _policies({"clinical_records": {"tier": "aggregate", "min_patients": 20}})
    with pytest.raises(QueryRefused) as refused:
        run(cursor, "SELECT code, count(*) FROM clinical_records GROUP BY code", scope, policies, history)
    assert refused.value.code == "disclosure" and refused.value.audit_reason == "too_few_patients"
    with pytest.raises(QueryRefused):
        run(cursor, f"SELECT count(*) FROM admissions WHERE ward = '{RARE_WARD}'", scope, policies, history)


def test_given_sum_over_cte_then_contributors_and_rounding_apply(cursor, scope, policies, history) -> None:
    outcome = run(
        cursor,
        "WITH f AS (SELECT ward, birth_year FROM admissions WHERE sex = 'F') "
        "SELECT ward, sum(birth_year) AS s, avg(birth_year) AS a FROM f GROUP BY ward",
        scope,
        policies,
        history,
    )
    assert RARE_WARD not in [r[0] for r in outcome.rows]
    assert (None, None, None) in outcome.rows
    assert all(r[1] is None or r[1] % 5 == 0 for r in outcome.rows)


def test_given_join_with_record_tier_dataset_then_most_restrictive_tier_applies(
    cursor, scope, policies, history
) -> None:
    outcome = run(
        cursor,
        "SELECT a.ward, count(*) FROM admissions a JOIN lab_results l ON a.hospital = l.hospital GROUP BY a.ward",
        scope,
        policies,
        history,
    )
    assert outcome.tier is Tier.AGGREGATE
    assert (None, None) in outcome.rows and RARE_WARD not in dict(outcome.rows)


# --- record and extract tiers ---------------------------------------------------------------------------------


def _policies(text_overrides: dict) -> DatasetPolicies:
    return parse_dataset_policies({"default": {"tier": "aggregate"}, "datasets": text_overrides})


def test_given_record_tier_then_rows_are_capped(cursor, scope, history) -> None:
    policies = _policies({"lab_results": {"tier": "record", "columns": LAB_COLUMNS, "row_cap": 50}})
    outcome = run(cursor, "SELECT test_code, value FROM lab_results", scope, policies, history)
    assert outcome.tier is Tier.RECORD
    assert outcome.row_count == 50 and outcome.truncated
    assert outcome.suppressed == 0


def test_given_record_tier_then_max_rows_argument_caps_too(cursor, scope, policies, history) -> None:
    outcome = run(cursor, "SELECT * FROM lab_results", scope, policies, history, max_rows=7)
    assert outcome.row_count == 7 and outcome.truncated
    assert outcome.columns[:4] == ["record_id", "hospital", "feed", "patient_pseudonym"]


def test_given_extract_tier_then_export_rows_writes_csv(cursor, scope, history) -> None:
    policies = _policies({"lab_results": {"tier": "extract", "columns": LAB_COLUMNS}})
    outcome = run(
        cursor, "SELECT test_code, value, collected_at FROM lab_results ORDER BY collected_at", scope, policies, history
    )
    assert outcome.tier is Tier.EXTRACT
    parsed = list(csv.reader(io.StringIO(export_rows(outcome).decode("utf-8"))))
    assert parsed[0] == ["test_code", "value", "collected_at"]
    assert len(parsed) == 301
    assert parsed[1][0] == "HB" and parsed[1][2].startswith("2025-03-01T")


def test_given_extract_tier_then_export_rows_writes_parquet_that_reads_back(cursor, scope, history) -> None:
    policies = _policies({"lab_results": {"tier": "extract", "columns": LAB_COLUMNS}})
    outcome = run(cursor, "SELECT test_code, value FROM lab_results ORDER BY record_id", scope, policies, history)
    data = export_rows(outcome, format="parquet")
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    reader = duckdb.connect(":memory:")
    path = Path(tempfile.mkdtemp()) / "x.parquet"
    path.write_bytes(data)
    rows = reader.execute(f"SELECT test_code, value FROM read_parquet('{path}')").fetchall()
    assert len(rows) == 300 and rows[0] == tuple(outcome.rows[0])


def test_given_non_extract_outcome_then_export_is_refused(cursor, scope, history) -> None:
    policies = _policies({"lab_results": {"tier": "record", "columns": LAB_COLUMNS}})
    outcome = run(cursor, "SELECT test_code FROM lab_results", scope, policies, history)
    with pytest.raises(QueryRefused):
        export_rows(outcome)


# --- limits and errors -----------------------------------------------------------------------------------------


def test_given_query_over_time_limit_then_interrupted_with_public_reason(cursor, scope, policies, history) -> None:
    sql = (
        "SELECT count(*) FROM lab_results a, lab_results b, lab_results c, lab_results d "
        "WHERE a.test_code || b.test_code || c.test_code || d.test_code = 'never'"
    )
    with pytest.raises(QueryRefused) as refused:
        run(cursor, sql, scope, policies, history, timeout_s=0.2)
    assert refused.value.code == "timeout" and refused.value.kind is Refusal.TIMEOUT
    # the cursor is usable afterwards
    assert run(cursor, "SELECT test_code FROM lab_results", scope, policies, history).row_count == 300


def test_given_conversion_error_then_reason_does_not_echo_the_value(cursor, scope, policies, history) -> None:
    with pytest.raises(QueryRefused) as refused:
        run(cursor, "SELECT CAST(test_name AS INTEGER) FROM lab_results", scope, policies, history)
    assert refused.value.code == "conversion"
    assert "Glucose" not in str(refused.value) and "Haemoglobin" not in str(refused.value)


def test_given_governance_table_then_refused_and_secret_never_returned(cursor, scope, policies, history) -> None:
    for sql in (
        "SELECT * FROM governance.secret",
        "SELECT test_code FROM lab_results WHERE test_code IN (SELECT note FROM governance.secret)",
        "SELECT * FROM main.governance",
    ):
        with pytest.raises(QueryRefused) as refused:
            run(cursor, sql, scope, policies, history)
        assert SECRET_VALUE not in str(refused.value)


def test_given_column_outside_grant_then_refused_by_executor(cursor, policies, history) -> None:
    narrow = GrantScope(columns={"admissions": frozenset({"ward"})}, table_columns={"admissions": ("ward", "sex")})
    with pytest.raises(QueryRefused) as refused:
        run(cursor, "SELECT sex, count(*) FROM admissions GROUP BY sex", narrow, policies, history)
    assert refused.value.code == "column_not_granted"


def test_given_any_query_then_outcome_carries_sql_hash_not_sql(cursor, scope, policies, history) -> None:
    sql = "SELECT test_code FROM lab_results"
    outcome = run(cursor, sql, scope, policies, history)
    assert outcome.sql_hash == hashlib.sha256(sql.encode()).hexdigest()


def test_given_queries_and_refusals_then_nothing_identifying_is_logged(
    cursor, scope, policies, history, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    run(cursor, "SELECT ward, count(*) FROM admissions GROUP BY ward", scope, policies, history)
    run(cursor, "SELECT patient_pseudonym, value FROM lab_results", scope, policies, history)
    for sql in ("SELECT ward FROM admissions WHERE ward = 'LEAKME'; LOAD httpfs", "CALL pragma_version('LEAKME')"):
        with pytest.raises(QueryRefused):
            run(cursor, sql, scope, policies, history)
    assert "LEAKME" not in caplog.text
    assert "pp0" not in caplog.text


def test_given_new_history_then_it_uses_a_random_key_by_default() -> None:
    assert QueryHistory().salt != QueryHistory().salt
    assert QueryHistory(key=b"k").salt == QueryHistory(key=b"k").salt


def test_given_policy_naming_a_missing_patient_column_then_aggregate_fails_closed(cursor, scope, history) -> None:
    policies = _policies({"admissions": {"tier": "aggregate", "patient_column": "no_such_column"}})
    with pytest.raises(QueryRefused) as refused:
        run(cursor, "SELECT ward, count(*) FROM admissions GROUP BY ward", scope, policies, history)
    assert refused.value.code == "policy_misconfigured"
