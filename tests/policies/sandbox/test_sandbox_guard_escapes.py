"""A catalogue of known escape attempts against the SQL guard: every one must be refused, without echo."""

from __future__ import annotations

import pytest

from catalog.errors import status_for
from policies.sandbox.errors import QueryRefused
from policies.sandbox.scope import GrantScope
from policies.sandbox.sql_guard import check

COMMON = ("record_id", "hospital", "feed", "patient_pseudonym", "loaded_at")
REAL = {
    "admissions": (*COMMON, "event_type", "sex", "birth_year", "age_group", "zip3", "ward", "diagnosis_code"),
    "lab_results": (*COMMON, "test_code", "value", "unit"),
    "lab_reports": (*COMMON, "test_code", "note"),
}
SCOPE = GrantScope(
    columns={
        "admissions": frozenset({"event_type", "sex", "age_group", "zip3", "ward", "diagnosis_code"}),
        "lab_results": frozenset(REAL["lab_results"]),
    },
    table_columns=REAL,
)

# (id, sql). Literal values that must never come back in a refusal are written as 'LEAKME...'.
ESCAPES: list[tuple[str, str]] = [
    # statements other than one SELECT
    ("attach", "ATTACH 'LEAKME.duckdb' AS other"),
    ("detach", "DETACH other"),
    ("copy-to", "COPY admissions TO 'LEAKME.csv'"),
    ("copy-from", "COPY admissions FROM 'LEAKME.csv'"),
    ("install", "INSTALL httpfs"),
    ("load", "LOAD httpfs"),
    ("pragma", "PRAGMA database_list"),
    ("set", "SET enable_external_access = true"),
    ("reset", "RESET lock_configuration"),
    ("call", "CALL pragma_version()"),
    ("export", "EXPORT DATABASE 'LEAKME'"),
    ("import", "IMPORT DATABASE 'LEAKME'"),
    ("create-table-as", "CREATE TABLE x AS SELECT ward FROM admissions"),
    ("create-view", "CREATE VIEW v AS SELECT * FROM admissions"),
    ("create-macro", "CREATE MACRO m(x) AS x"),
    ("insert", "INSERT INTO admissions (ward) VALUES ('LEAKME')"),
    ("update", "UPDATE admissions SET ward = 'LEAKME'"),
    ("delete", "DELETE FROM admissions"),
    ("drop", "DROP TABLE admissions"),
    ("alter", "ALTER TABLE admissions ADD COLUMN x INT"),
    ("describe", "DESCRIBE admissions"),
    ("summarize", "SUMMARIZE admissions"),
    ("show-tables", "SHOW TABLES"),
    ("use", "USE governance"),
    ("checkpoint", "CHECKPOINT"),
    ("stacked-statements", "SELECT ward FROM admissions; DROP TABLE admissions"),
    ("stacked-after-comment", "SELECT ward FROM admissions /* x */ ; ATTACH 'LEAKME' AS y"),
    ("select-into", "SELECT ward INTO newtable FROM admissions"),
    # table functions, files and URLs
    ("read-csv", "SELECT * FROM read_csv('LEAKME.csv')"),
    ("read-csv-auto", "SELECT * FROM read_csv_auto('/etc/passwd')"),
    ("read-parquet", "SELECT * FROM read_parquet('https://LEAKME.example/x.parquet')"),
    ("read-text", "SELECT * FROM read_text('/etc/hostname')"),
    ("read-blob", "SELECT * FROM read_blob('/etc/hostname')"),
    ("read-json", "SELECT * FROM read_json('LEAKME.json')"),
    ("glob", "SELECT * FROM glob('/LEAKME/*')"),
    ("file-literal-table", "SELECT * FROM 'LEAKME.csv'"),
    ("url-literal-table", "SELECT * FROM 'https://LEAKME.example/data.parquet'"),
    ("query-table", "SELECT * FROM query_table('admissions')"),
    ("query-function", "SELECT * FROM query('SELECT * FROM governance.secret')"),
    ("range", "SELECT * FROM range(10)"),
    ("table-function-in-join", "SELECT a.ward FROM admissions a JOIN read_csv('LEAKME') r ON true"),
    ("read-csv-in-subquery", "SELECT ward FROM admissions WHERE ward IN (SELECT * FROM read_csv('LEAKME'))"),
    # system catalogs and other schemas/databases
    ("information-schema", "SELECT * FROM information_schema.tables"),
    ("information-schema-columns", "SELECT column_name FROM information_schema.columns"),
    ("duckdb-tables", "SELECT * FROM duckdb_tables()"),
    ("duckdb-settings", "SELECT * FROM duckdb_settings()"),
    ("duckdb-secrets", "SELECT * FROM duckdb_secrets()"),
    ("duckdb-columns-view", "SELECT * FROM duckdb_columns"),
    ("pg-catalog", "SELECT * FROM pg_catalog.pg_tables"),
    ("pg-tables", "SELECT * FROM pg_tables"),
    ("sqlite-master", "SELECT * FROM sqlite_master"),
    ("pragma-table-info", "SELECT * FROM pragma_table_info('admissions')"),
    ("governance-table", "SELECT * FROM governance.secret"),
    ("governance-in-cte", "WITH s AS (SELECT * FROM governance.secret) SELECT * FROM s"),
    ("governance-in-subquery", "SELECT ward FROM admissions WHERE ward IN (SELECT note FROM governance.secret)"),
    ("governance-union", "SELECT ward FROM admissions UNION SELECT note FROM governance.secret"),
    ("hds-internal", "SELECT * FROM hds_internal.offsets"),
    ("other-database", "SELECT * FROM other.main.admissions"),
    ("temp-schema", "SELECT * FROM temp.main.admissions"),
    ("system-schema", "SELECT * FROM system.main.duckdb_tables"),
    ("catalog-qualified", "SELECT ward FROM memory.main.admissions"),
    ("cte-shadows-nothing", "WITH admissions AS (SELECT * FROM governance.secret) SELECT * FROM admissions"),
    # datasets and columns outside the grant
    ("dataset-not-granted", "SELECT note FROM lab_reports"),
    ("column-not-granted", "SELECT patient_pseudonym FROM admissions"),
    ("star-includes-not-granted", "SELECT * FROM admissions"),
    ("qualified-star", "SELECT a.* FROM admissions a"),
    ("star-in-cte", "WITH x AS (SELECT * FROM admissions) SELECT ward FROM x"),
    ("star-in-subquery", "SELECT ward FROM (SELECT * FROM admissions) s"),
    ("not-granted-in-where", "SELECT ward FROM admissions WHERE record_id = 'LEAKME'"),
    ("not-granted-in-group-by", "SELECT count(*) FROM admissions GROUP BY birth_year"),
    ("not-granted-in-order-by", "SELECT ward FROM admissions ORDER BY patient_pseudonym"),
    (
        "not-granted-in-join-on",
        "SELECT a.ward FROM admissions a JOIN lab_results l ON a.patient_pseudonym = l.patient_pseudonym",
    ),
    ("not-granted-in-using", "SELECT ward FROM admissions JOIN lab_results USING (patient_pseudonym)"),
    ("natural-join-on-not-granted", "SELECT ward FROM admissions NATURAL JOIN lab_results"),
    (
        "not-granted-in-correlated",
        "SELECT ward FROM admissions a WHERE EXISTS "
        "(SELECT 1 FROM lab_results l WHERE l.patient_pseudonym = a.patient_pseudonym)",
    ),
    ("not-granted-in-case", "SELECT CASE WHEN record_id = 'LEAKME' THEN 1 END FROM admissions"),
    ("not-granted-through-alias", "SELECT x FROM (SELECT patient_pseudonym AS x FROM admissions) t"),
    ("not-granted-quoted", 'SELECT "PATIENT_PSEUDONYM" FROM admissions'),
    ("exclude-not-enough", "SELECT * EXCLUDE (record_id) FROM admissions"),
    ("alias-shadowing-in-order-expression", "SELECT ward AS record_id FROM admissions ORDER BY record_id || ''"),
    ("alias-shadowing-in-order-function", "SELECT ward AS record_id FROM admissions ORDER BY lower(record_id)"),
    ("alias-shadowing-in-window-order", "SELECT ward AS record_id, count(*) OVER (ORDER BY record_id) FROM admissions"),
    ("alias-shadowing-in-having", "SELECT ward AS record_id FROM admissions GROUP BY ward HAVING max(record_id) > ''"),
    ("whole-row-reference", "SELECT admissions FROM admissions"),
    ("whole-row-alias-reference", "SELECT a FROM admissions a"),
    ("unknown-column", "SELECT LEAKME_column FROM admissions"),
    ("struct-pack-of-row", "SELECT struct_pack(a.*) FROM admissions a"),
    ("columns-regex", "SELECT COLUMNS('.*') FROM admissions"),
    ("columns-star-expression", "SELECT COLUMNS(*) FROM admissions"),
    ("positional-reference", "SELECT #1 FROM admissions"),
    # functions outside the allow-list
    ("getenv", "SELECT getenv('HOME')"),
    ("current-setting", "SELECT current_setting('memory_limit')"),
    ("getvariable", "SELECT getvariable('LEAKME')"),
    ("version", "SELECT version()"),
    ("hash-linkage", "SELECT hash(ward) FROM admissions"),
    ("md5", "SELECT md5(ward) FROM admissions"),
    ("list-agg-raw-values", "SELECT string_agg(ward, ',') FROM admissions"),
    ("json-extract", "SELECT ward->>'$.x' FROM admissions"),
    ("lambda", "SELECT list_transform([1, 2], x -> x + 1)"),
    ("random", "SELECT random()"),
    ("sleep-like-udf", "SELECT pg_sleep(10)"),
    ("function-in-where", "SELECT ward FROM admissions WHERE getenv('LEAKME') IS NOT NULL"),
    # parameters, recursion, pivots, unnest
    ("placeholder", "SELECT ward FROM admissions WHERE ward = ?"),
    ("dollar-parameter", "SELECT ward FROM admissions WHERE ward = $1"),
    ("recursive-cte", "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT n FROM t"),
    ("pivot", "PIVOT admissions ON ward USING count(*)"),
    ("unnest", "SELECT unnest([1, 2, 3])"),
    ("lateral", "SELECT a.ward FROM admissions a, LATERAL (SELECT 1) l"),
    # junk
    ("empty", "   "),
    ("comment-only", "-- nothing"),
    ("garbage", "SELEC ward FROM admissions"),
]


def test_given_the_catalogue_then_it_has_at_least_forty_distinct_attempts() -> None:
    assert len(ESCAPES) >= 40
    assert len({case_id for case_id, _ in ESCAPES}) == len(ESCAPES)


@pytest.mark.parametrize("sql", [sql for _, sql in ESCAPES], ids=[case_id for case_id, _ in ESCAPES])
def test_given_escape_attempt_then_guard_refuses_without_echo(sql: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check(sql, SCOPE)
    reason = refused.value.public_reason
    assert reason
    assert "LEAKME" not in reason and "LEAKME" not in str(refused.value)
    assert "/etc/" not in reason and "HOME" not in reason
    assert 400 <= status_for(refused.value) < 500


ACCEPTED: list[tuple[str, str, set[str]]] = [
    ("simple", "SELECT ward, sex FROM admissions", {"admissions"}),
    ("main-qualified", "SELECT ward FROM main.admissions", {"admissions"}),
    ("aggregate", "SELECT ward, count(*) AS n FROM admissions GROUP BY ward ORDER BY n", {"admissions"}),
    ("cte", "WITH x AS (SELECT ward FROM admissions WHERE sex = 'F') SELECT ward FROM x", {"admissions"}),
    ("subquery", "SELECT w FROM (SELECT ward AS w FROM admissions) s", {"admissions"}),
    ("full-grant-star", "SELECT * FROM lab_results", {"lab_results"}),
    (
        "exclude-to-granted",
        "SELECT * EXCLUDE (record_id, hospital, feed, patient_pseudonym, loaded_at, birth_year) FROM admissions",
        {"admissions"},
    ),
    (
        "join-granted-keys",
        "SELECT a.ward, l.value FROM admissions a JOIN lab_results l ON a.zip3 = l.unit",
        {"admissions", "lab_results"},
    ),
    (
        "in-subquery",
        "SELECT ward FROM admissions WHERE zip3 IN (SELECT unit FROM lab_results)",
        {"admissions", "lab_results"},
    ),
    ("union", "SELECT ward FROM admissions UNION ALL SELECT test_code FROM lab_results", {"admissions", "lab_results"}),
    ("from-first", "FROM admissions SELECT ward", {"admissions"}),
    ("bare-alias-order", "SELECT ward AS record_id FROM admissions ORDER BY record_id", {"admissions"}),
    ("trailing-semicolon", "SELECT ward FROM admissions;", {"admissions"}),
    (
        "functions",
        "SELECT lower(ward), coalesce(zip3, 'x'), CAST(age_group AS VARCHAR) FROM admissions",
        {"admissions"},
    ),
]


@pytest.mark.parametrize("sql,datasets", [(s, d) for _, s, d in ACCEPTED], ids=[i for i, _, _ in ACCEPTED])
def test_given_granted_query_then_guard_accepts_and_reports_tables(sql: str, datasets: set[str]) -> None:
    guarded = check(sql, SCOPE)
    assert guarded.datasets == datasets
    assert guarded.output_columns
    assert "governance" not in guarded.sql


def test_given_star_over_full_grant_then_output_columns_are_expanded_in_table_order() -> None:
    guarded = check("SELECT * FROM lab_results", SCOPE)
    assert guarded.output_columns == REAL["lab_results"]


def test_given_refused_column_then_reason_names_catalog_column_not_literal() -> None:
    with pytest.raises(QueryRefused) as refused:
        check("SELECT ward FROM admissions WHERE patient_pseudonym = 'LEAKME-42'", SCOPE)
    assert refused.value.code == "column_not_granted"
    assert "patient_pseudonym" in refused.value.public_reason
    assert "LEAKME" not in refused.value.public_reason


def test_given_accepted_query_then_executed_sql_is_regenerated_with_main_schema() -> None:
    guarded = check("select ward from admissions", SCOPE)
    assert '"main"."admissions"' in guarded.sql


def test_given_correlated_exists_over_granted_columns_then_accepted() -> None:
    guarded = check(
        "SELECT ward FROM admissions a WHERE EXISTS (SELECT 1 FROM lab_results l WHERE l.unit = a.zip3)", SCOPE
    )
    assert guarded.datasets == {"admissions", "lab_results"}
