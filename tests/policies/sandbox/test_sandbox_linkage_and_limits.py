"""Cross-project linkage in the record/extract tiers, CSV formula cells, and resource blow-ups (real DuckDB)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.sandbox.differencing import QueryHistory
from policies.sandbox.errors import QueryRefused
from policies.sandbox.executor import export_rows, run_query
from policies.sandbox.scope import grant_scope_from_catalog
from policies.sandbox.tiers import load_dataset_policies, parse_dataset_policies

REPO = Path(__file__).resolve().parents[3]
DECLARED = {"record_id": "rekey", "patient_pseudonym": "rekey", "mrn": "rekey", "specimen_id": "rekey",
            "note": "safe", "test_code": "safe"}


@pytest.fixture(scope="module")
def linkable():  # type: ignore[no-untyped-def]
    con = duckdb.connect()
    con.execute("CREATE TABLE labs (record_id VARCHAR, patient_pseudonym VARCHAR, mrn VARCHAR, specimen_id VARCHAR, "
                "note VARCHAR, test_code VARCHAR, lot_number VARCHAR)")
    con.executemany("INSERT INTO labs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(f"r{i}", f"p{i % 40}", f"mrn-{i % 40}", f"sp-{i}", ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)",
                                                                      "\tx", "\rx", "plain"][i % 7], "GLU", f"lot{i}")
                     for i in range(120)])
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")
    yield con
    con.close()


def _run(con, sql, grant_id, tier="record", columns=None):  # type: ignore[no-untyped-def]
    policies = parse_dataset_policies({"datasets": {"labs": {"tier": tier, "columns": columns or DECLARED,
                                                              "row_cap": 5000}}})
    cur = con.cursor()
    scope = grant_scope_from_catalog(cur, {"labs": None})
    return run_query(cur, sql, scope=scope, policies=policies, history=QueryHistory(key=b"k"), grant_id=grant_id)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["mrn", "specimen_id", "patient_pseudonym", "record_id"]),
       st.sampled_from(["{c}", "upper({c})", "x.{c}"]), st.sampled_from(["record", "extract"]))
def test_given_two_projects_then_no_identifier_derived_column_links_their_rows(linkable, column, form, tier) -> None:
    expression = form.format(c=column)
    source = f"(SELECT {column}, test_code FROM labs) AS x" if expression.startswith("x.") else "labs"
    sql = f"SELECT {expression} AS v FROM {source}"
    a = {str(r[0]).lower() for r in _run(linkable, sql, "project-a", tier).rows}
    b = {str(r[0]).lower() for r in _run(linkable, sql, "project-b", tier).rows}
    stored = {str(r[0]).lower() for r in linkable.execute(f"SELECT {column} FROM labs").fetchall()}
    assert a and b and not (a & b) and not (a & stored) and len(a) == len(stored)


def test_given_an_undeclared_column_then_it_is_never_released(linkable) -> None:
    for sql in ("SELECT lot_number FROM labs", "SELECT * FROM labs", "SELECT x.l FROM (SELECT lot_number AS l FROM labs) x"):
        with pytest.raises(QueryRefused) as refused:
            _run(linkable, sql, "g")
        assert refused.value.code == "undeclared_column"
    released = _run(linkable, "SELECT * EXCLUDE (lot_number) FROM labs", "g")
    assert "lot_number" not in released.columns


def test_given_formula_cells_then_csv_extracts_neutralise_them(linkable) -> None:
    outcome = _run(linkable, "SELECT note FROM labs", "g", tier="extract")
    cells = [row[0] for row in csv.reader(io.StringIO(export_rows(outcome, format="csv").decode()))][1:]
    assert cells and all(not c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert "'=HYPERLINK(\"x\")" in cells and "plain" in cells


def test_given_the_csv_deid_profile_then_every_pseudonymised_column_is_rekeyed_in_the_dataset_policy() -> None:
    profile = yaml.safe_load((REPO / "policies" / "deid" / "csv-lab-safe-harbor.yaml").read_text(encoding="utf-8"))
    policy = load_dataset_policies().for_dataset("lab_results")
    pseudonymised = {name for name, rule in profile["csv"]["columns"].items()
                     if isinstance(rule, dict) and rule.get("op") == "pseudonymise"}
    assert pseudonymised and pseudonymised <= policy.rekeyed_columns()
    kept = {name for name, rule in profile["csv"]["columns"].items()
            if not (isinstance(rule, dict) and rule.get("op") == "drop")}
    assert kept <= policy.declared_columns()


# --- resource blow-ups --------------------------------------------------------------------------------------------

def _nested_replace(levels: int) -> str:
    expression = "note"
    for _ in range(levels):
        expression = f"replace({expression}, 'a', '{'b' * 40}')"
    return expression


growth = st.one_of(
    st.integers(min_value=3, max_value=8).map(  # 2 * 3 ** (n - 1) copies of a value
        lambda n: "WITH " + ", ".join(
            [f"c0 AS (SELECT note || note AS s FROM labs)"]
            + [f"c{i} AS (SELECT s || s || s AS s FROM c{i - 1})" for i in range(1, n)]
        ) + f" SELECT length(s) FROM c{n - 1}"),
    st.integers(min_value=10_001, max_value=10**9).map(lambda n: f"SELECT lpad(note, {n}, 'x') FROM labs"),
    st.just("SELECT lpad(note, length(note) * 100000, 'x') FROM labs"),
    st.integers(min_value=1, max_value=5).map(lambda n: f"SELECT {_nested_replace(n)} FROM labs"),
    st.just("SELECT replace(note, 'a', note) FROM labs"),
    st.integers(min_value=17, max_value=60).map(lambda n: "SELECT " + " || ".join(["note"] * n) + " FROM labs"),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(growth)
def test_given_string_blow_ups_then_refused_before_running(linkable, sql) -> None:
    with pytest.raises(QueryRefused) as refused:
        _run(linkable, sql, "g")
    assert refused.value.code == "resource_limit"


def test_given_ordinary_string_work_then_accepted(linkable) -> None:
    out = _run(linkable, "SELECT lpad(test_code, 8, '0') || '-' || upper(note) AS k FROM labs", "g")
    assert out.row_count == 120
