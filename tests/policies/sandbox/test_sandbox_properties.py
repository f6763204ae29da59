"""Property-based tests (hypothesis) of the guard, the suppression algorithm and the executor."""

from __future__ import annotations

from collections import defaultdict

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.errors import status_for
from policies.sandbox.differencing import QueryHistory
from policies.sandbox.disclosure import AggregatePlan, EffectivePolicy, LineageStats, Measure, MeasureStats
from policies.sandbox.errors import QueryRefused
from policies.sandbox.executor import run_query
from policies.sandbox.scope import GrantScope
from policies.sandbox.sql_guard import check
from policies.sandbox.suppression import suppress
from policies.sandbox.tiers import parse_dataset_policies

COLUMNS = ("record_id", "patient_pseudonym", "ward", "sex", "age_group", "zip3", "diagnosis_code", "birth_year")
OTHER = ("record_id", "patient_pseudonym", "test_code", "unit", "value")

# Templates placing the forbidden column {x} somewhere; {g} is a granted column of the same table.
TEMPLATES = (
    "SELECT {x} FROM admissions",
    "SELECT {g}, {x} FROM admissions",
    "SELECT {g} FROM admissions WHERE {x} IS NOT NULL",
    "SELECT {g} FROM admissions WHERE lower(CAST({x} AS VARCHAR)) = 'v'",
    "SELECT count(*) FROM admissions GROUP BY {x}",
    "SELECT {g} FROM admissions ORDER BY {x}",
    "SELECT {g} FROM admissions GROUP BY {g} HAVING count(DISTINCT {x}) > 1",
    "WITH c AS (SELECT {x} AS y FROM admissions) SELECT y FROM c",
    "WITH c AS (SELECT * FROM admissions) SELECT {g} FROM c",
    "SELECT s.y FROM (SELECT {x} AS y FROM admissions) s",
    "SELECT * FROM admissions",
    "SELECT a.* FROM admissions a",
    "SELECT {g} FROM admissions a WHERE EXISTS (SELECT 1 FROM admissions b WHERE b.{x} = a.{g})",
    "SELECT {g} FROM admissions WHERE {g} IN (SELECT {x} FROM admissions)",
    "SELECT CASE WHEN {x} = 'v' THEN {g} END AS k FROM admissions",
    "SELECT a.{g} FROM admissions a JOIN admissions b ON a.{x} = b.{g}",
    "SELECT a.{g} FROM admissions a JOIN admissions b USING ({x})",
    "SELECT {g} FROM admissions UNION SELECT {x} FROM admissions",
    "SELECT coalesce({x}, {g}) AS k FROM admissions",
    "FROM admissions SELECT {x}",
)


@st.composite
def grants_with_forbidden_column(draw: st.DrawFn) -> tuple[frozenset[str], str, str]:
    granted = draw(st.sets(st.sampled_from(COLUMNS), min_size=1, max_size=len(COLUMNS) - 1))
    forbidden = draw(st.sampled_from(sorted(set(COLUMNS) - granted)))
    some_granted = draw(st.sampled_from(sorted(granted)))
    return frozenset(granted), forbidden, some_granted


@settings(max_examples=300, deadline=None)
@given(grants_with_forbidden_column(), st.sampled_from(TEMPLATES), st.booleans())
def test_given_any_query_reading_a_non_granted_column_then_guard_refuses(case, template, upper) -> None:
    granted, forbidden, some_granted = case
    scope = GrantScope(columns={"admissions": granted}, table_columns={"admissions": COLUMNS})
    x = forbidden.upper() if upper else forbidden
    sql = template.format(x=x, g=some_granted)
    with pytest.raises(QueryRefused) as refused:
        check(sql, scope)
    assert refused.value.code in {"column_not_granted", "unresolved_column"}


GRANTED_TEMPLATES = (
    "SELECT {g} FROM admissions",
    "SELECT {g}, count(*) FROM admissions GROUP BY {g}",
    "WITH c AS (SELECT {g} FROM admissions) SELECT * FROM c",
    "SELECT s.{g} FROM (SELECT {g} FROM admissions) s ORDER BY 1",
    "SELECT {g} FROM admissions WHERE {g} IS NOT NULL",
)


@settings(max_examples=150, deadline=None)
@given(st.sets(st.sampled_from(COLUMNS), min_size=1), st.data())
def test_given_query_over_granted_columns_only_then_guard_accepts(granted, data) -> None:
    scope = GrantScope(columns={"admissions": frozenset(granted)}, table_columns={"admissions": COLUMNS})
    column = data.draw(st.sampled_from(sorted(granted)))
    sql = data.draw(st.sampled_from(GRANTED_TEMPLATES)).format(g=column)
    guarded = check(sql, scope)
    assert guarded.columns_used["admissions"] <= granted


# --- suppression as a pure function ----------------------------------------------------------------------------

# Row layout: a, b, n, patients, rows, digest, total contribution, largest contributions.
PLAN = AggregatePlan(
    sql="",
    output_columns=("a", "b", "n"),
    key_indices=(0, 1),
    measures=(Measure(index=2, function="COUNT", is_count=True, rounded=True),),
    grouping_fingerprint="",
    rows_index=4,
    lineages=(LineageStats(patients=3, digest=5, measures={2: MeasureStats(contributors=3, total=6, largest=7)}),),
    population_index=8,
)


@st.composite
def two_way_tables(draw: st.DrawFn) -> list[tuple]:
    rows_keys = draw(st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=5, unique=True))
    col_keys = draw(st.lists(st.sampled_from("xyz"), min_size=1, max_size=3, unique=True))
    rows = []
    for i, a in enumerate(rows_keys):
        for j, b in enumerate(col_keys):
            if draw(st.booleans()) or (i == 0 and j == 0):
                patients = draw(st.integers(min_value=1, max_value=60))
                count = patients + draw(st.integers(min_value=0, max_value=20))
                rows.append((a, b, count, patients, count, i * 10 + j + 1, count, [1 + count - patients, 1]))
    return rows


@settings(max_examples=400, deadline=None)
@given(two_way_tables(), st.integers(min_value=2, max_value=15), st.sampled_from([None, 1, 5, 10]))
def test_given_any_table_then_no_released_count_is_below_threshold(rows, k, base) -> None:
    result = suppress(rows, PLAN, EffectivePolicy(min_cell_count=k, min_patients=1, rounding=base))
    for released, original in zip(result.rows, [rows[i] for i in result.order], strict=True):
        assert released[2] is None or released[2] >= k
        if original[3] < k:
            assert released == (None, None, None)  # value and the keys that would reveal the group
        if base is not None and released[2] is not None:
            assert released[2] % base == 0


@settings(max_examples=400, deadline=None)
@given(two_way_tables(), st.integers(min_value=2, max_value=15))
def test_given_any_table_then_no_line_has_exactly_one_suppressed_cell(rows, k) -> None:
    """A lone suppressed cell in a row or column could be recovered as line total minus released cells."""
    result = suppress(rows, PLAN, EffectivePolicy(min_cell_count=k, min_patients=1, rounding=None))
    for dimension in (0, 1):
        lines: dict[object, list[tuple]] = defaultdict(list)
        for released, original in zip(result.rows, [rows[i] for i in result.order], strict=True):
            lines[original[1 - dimension]].append(released)
        for members in lines.values():
            hidden = sum(1 for r in members if r[2] is None)
            if len(members) >= 2:
                assert hidden != 1


# --- the executor end to end on random data ---------------------------------------------------------------------

POLICIES = parse_dataset_policies(
    {"default": {"tier": "aggregate", "min_cell_count": 10, "rounding": 5, "min_patients": 1}}
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=25), min_size=1, max_size=6))
def test_given_random_group_sizes_then_executor_never_releases_a_small_count(sizes) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (record_id VARCHAR, patient_pseudonym VARCHAR, g VARCHAR)")
    rows = [(f"r{i}-{j}", f"p{i}-{j}", f"G{i}") for i, size in enumerate(sizes) for j in range(size)]
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    con.execute("SET enable_external_access=false")
    con.execute("SET lock_configuration=true")
    scope = GrantScope(columns={"t": frozenset({"g"})}, table_columns={"t": ("record_id", "patient_pseudonym", "g")})
    outcome = run_query(
        con.cursor(),
        "SELECT g, count(*) AS n FROM t GROUP BY g",
        scope=scope,
        policies=POLICIES,
        history=QueryHistory(),
        grant_id="g",
    )
    released = [n for _, n in outcome.rows]
    assert all(n is None or n >= 10 for n in released)
    assert sum(1 for n in released if n is None) != 1 or len(released) == 1
    con.close()


SQL_ALPHABET = st.sampled_from(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP BY",
        "admissions",
        "ward",
        "sex",
        "record_id",
        "*",
        ",",
        "(",
        ")",
        ";",
        "'x'",
        "count(*)",
        "UNION",
        "JOIN",
        "ON",
        "=",
        "AS",
        "t",
        "WITH",
        "read_csv('f')",
        "governance.secret",
        "1",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(SQL_ALPHABET, max_size=14).map(" ".join)))
def test_given_arbitrary_text_then_guard_either_accepts_or_refuses_cleanly(sql: str) -> None:
    scope = GrantScope(columns={"admissions": frozenset({"ward", "sex"})}, table_columns={"admissions": COLUMNS})
    try:
        guarded = check(sql, scope)
    except QueryRefused as refused:
        assert 400 <= status_for(refused) < 500
        return
    assert guarded.datasets <= {"admissions"}
    assert guarded.columns_used.get("admissions", frozenset()) <= {"ward", "sex"}
