"""Attack families against the real DuckDB sandbox (hypothesis-generated), and the trusted-recomputation property.

Each family is one class of attack from the adversarial review: shadowed contributor columns, indicators inside
derived tables, differencing across grants, refusals as an oracle. The trusted recomputation evaluates the same
queries in plain Python over rows read straight from the base tables and compares the contributing patients
per output cell with what the sandbox used.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.sandbox.differencing import QueryHistory
from policies.sandbox.errors import UNIFORM_CODE, UNIFORM_KIND, UNIFORM_REASON, QueryRefused
from policies.sandbox.executor import run_query
from policies.sandbox.scope import grant_scope_from_catalog
from policies.sandbox.tiers import parse_dataset_policies

SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
OPEN = parse_dataset_policies({"default": {"tier": "aggregate", "min_patients": 1, "rounding": None}})
STRICT = parse_dataset_policies({"default": {"tier": "aggregate", "min_patients": 10, "rounding": None}})
FIELDS = ("record_id", "patient_pseudonym", "ward", "sex", "zip3", "birth_year", "admit_date")


@pytest.fixture
def wide_scope(cursor):  # type: ignore[no-untyped-def]
    """Admissions with record ids granted (the shadowing attack builds fake patient ids from them)."""
    return grant_scope_from_catalog(cursor, {"admissions": list(FIELDS)})


class BaseRows(list):
    def __repr__(self) -> str:  # hypothesis prints fixtures of failing examples
        return f"<{len(self)} admissions rows>"


@pytest.fixture
def base_rows(cursor) -> BaseRows:  # type: ignore[no-untyped-def]
    """The base table read directly (trusted code path, no sandbox)."""
    rows = cursor.execute(f"SELECT {', '.join(FIELDS)} FROM admissions").fetchall()
    return BaseRows(dict(zip(FIELDS, r, strict=True)) for r in rows)


def run(cursor, sql, scope, policies=OPEN, history=None, grant_id="g", subjects=None):  # type: ignore[no-untyped-def]
    return run_query(cursor, sql, scope=scope, policies=policies, history=history or QueryHistory(key=b"k"),
                     grant_id=grant_id, subjects=subjects)


# --- 1. reserved names: the researcher cannot produce, shadow or read lineage columns ---------------------------

reserved_names = st.tuples(
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", max_size=8),
    st.text(alphabet="ab_", max_size=3),
    st.booleans(),
).map(lambda t: (t[2] + "".join(c.upper() if up else c for c, up in zip("__hds", t[0], strict=True)) + t[1], t[3]))

RESERVED_PLACES = (
    "SELECT count(*) FROM (SELECT ward AS {n} FROM admissions) t",
    "SELECT t.{n}, count(*) FROM (SELECT a.record_id || b.record_id AS {n} FROM admissions a, admissions b) t GROUP BY t.{n}",
    "WITH {n} AS (SELECT ward FROM admissions) SELECT count(*) FROM {n}",
    "SELECT count(*) FROM admissions AS {n}",
    "SELECT ward AS {n}, count(*) FROM admissions GROUP BY ward",
    "SELECT count(*) FROM admissions WHERE ward = '{raw}'",
    "SELECT count(*) FROM (SELECT 1 AS x, ward FROM admissions) AS t WHERE t.x = 1 AND 'x' <> '{raw}'",
)


@SLOW
@given(reserved_names, st.sampled_from(RESERVED_PLACES))
def test_given_a_reserved_name_anywhere_then_the_guard_refuses(cursor, wide_scope, name, place) -> None:
    raw, quoted = name
    ident = f'"{raw}"' if quoted else (raw if raw.replace("_", "a").isalnum() and not raw[0].isdigit() else f'"{raw}"')
    sql = place.format(n=ident, raw=raw)
    with pytest.raises(QueryRefused) as refused:
        run(cursor, sql, wide_scope)
    assert refused.value.code == "reserved_name"
    assert raw == "__hds" or raw not in refused.value.public_reason  # the name itself is never echoed


# --- trusted recomputation: who contributes to each cell ----------------------------------------------------------

@st.composite
def lineage_queries(draw: st.DrawFn) -> dict:
    key = draw(st.sampled_from([None, "ward", "sex", "zip3"]))
    year = draw(st.integers(min_value=1935, max_value=2015))
    derived = draw(st.sampled_from(["table", "derived", "cte", "shadow"]))
    join = draw(st.booleans())
    return {"key": key, "year": year, "derived": derived, "join": join}


def _source(kind: str, year: int) -> str:
    cols = "record_id, patient_pseudonym AS pp, ward, sex, zip3, birth_year"
    if kind == "table":
        return "admissions"
    if kind == "cte":
        return "c"
    if kind == "shadow":  # a column that looks like a patient id but is unique per row: must not count as patients
        return (f"(SELECT record_id || '-' || CAST(birth_year AS VARCHAR) AS patient_pseudonym, ward, sex, zip3, "
                f"birth_year FROM admissions WHERE birth_year >= {year - 30})")
    return f"(SELECT {cols} FROM admissions WHERE birth_year >= {year - 30})"


def _sql(q: dict) -> str:
    a_src = _source(q["derived"], q["year"])
    with_ = ("WITH c AS (SELECT record_id, ward, sex, zip3, birth_year FROM admissions "
             f"WHERE birth_year >= {q['year'] - 30}) ") if q["derived"] == "cte" else ""
    join = " JOIN admissions b ON a.zip3 = b.zip3 AND a.sex = b.sex AND b.ward = 'W_A'" if q["join"] else ""
    key = q["key"]
    select = f"a.{key} AS k, count(*) AS n" if key else "count(*) AS n"
    group = f" GROUP BY a.{key}" if key else ""
    return f"{with_}SELECT {select} FROM {a_src} AS a{join} WHERE a.birth_year <= {q['year']}{group}"


def _trusted(q: dict, rows: list[dict]) -> list[tuple[int, ...]]:
    """Distinct patients per cell and lineage, from base-table rows in plain Python."""
    lower = q["year"] - 30
    a_rows = [r for r in rows if q["derived"] == "table" or r["birth_year"] >= lower]
    pairs: list[tuple[dict, dict | None]] = [(a, None) for a in a_rows]
    if q["join"]:
        bs = [b for b in rows if b["ward"] == "W_A"]
        pairs = [(a, b) for a in a_rows for b in bs if a["zip3"] == b["zip3"] and a["sex"] == b["sex"]]
    cells: dict[object, list[set]] = defaultdict(lambda: [set(), set()])
    for a, b in pairs:
        if a["birth_year"] > q["year"]:
            continue
        cell = cells[a[q["key"]] if q["key"] else None]
        cell[0].add(a["patient_pseudonym"])
        if b is not None:
            cell[1].add(b["patient_pseudonym"])
    if not cells and not q["key"]:
        cells[None]  # an ungrouped aggregate has one (empty) cell
    width = 2 if q["join"] else 1
    return sorted(tuple(len(s) for s in sets[:width]) for sets in cells.values())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(lineage_queries())
def test_given_any_accepted_aggregate_then_contributors_equal_a_trusted_recomputation(
    cursor, wide_scope, base_rows, q
) -> None:
    expected = _trusted(q, base_rows)
    if not expected or (len(expected) == 1 and min(expected[0]) == 0):
        with pytest.raises(QueryRefused):  # an empty population is refused, whatever min_patients says
            run(cursor, _sql(q), wide_scope)
        return
    outcome = run(cursor, _sql(q), wide_scope)
    assert sorted(outcome.cell_patients) == expected


def test_given_the_review_shadowing_attack_then_patient_level_rows_are_not_released(cursor, wide_scope) -> None:
    """The reviewed attack: a derived table makes every row a distinct 'patient' from record ids of a self join."""
    sql = ("SELECT t.fake, t.ward, t.admit_date, count(*) AS n FROM (SELECT a.record_id || b.record_id AS fake, "
           "a.ward, a.admit_date FROM admissions a CROSS JOIN admissions b WHERE b.record_id = 'adm-0001') t "
           "GROUP BY t.fake, t.ward, t.admit_date")
    outcome = run(cursor, sql, wide_scope)
    assert outcome.rows and all(row[3] is None and row[0] is None for row in outcome.rows)
    assert outcome.suppressed == len(outcome.rows)


# --- 2. indicators inside derived tables --------------------------------------------------------------------------

@SLOW
@given(st.integers(min_value=0, max_value=199), st.sampled_from([1, 7, 1000, 10**6]),
       st.sampled_from(["sum", "avg", "count"]), st.sampled_from([None, "sex", "zip3"]))
def test_given_an_indicator_for_one_person_in_a_derived_table_then_the_query_is_refused(
    cursor, wide_scope, base_rows, target, weight, agg, key
) -> None:
    person = sorted({r["patient_pseudonym"] for r in base_rows})[target]
    row = next(r for r in base_rows if r["patient_pseudonym"] == person)
    condition = (f"birth_year = {row['birth_year']} AND zip3 = '{row['zip3']}' AND sex = '{row['sex']}' "
                 f"AND admit_date = DATE '{row['admit_date'].isoformat()}'")
    value = f"CASE WHEN {condition} THEN {weight} ELSE {'NULL' if agg == 'count' else 0} END"
    select = f"t.{key}, {agg}(t.x) AS v" if key else f"{agg}(t.x) AS v"
    group = f" GROUP BY t.{key}" if key else ""
    derived = {
        "plain": f"(SELECT {value} AS x, sex, zip3 FROM admissions)",
        "cast": f"(SELECT CAST({value} AS DOUBLE) AS x, sex, zip3 FROM admissions)",
        "nested": f"(SELECT u.x, u.sex, u.zip3 FROM (SELECT {value} AS x, sex, zip3 FROM admissions) AS u)",
    }[["plain", "cast", "nested"][target % 3]]
    sql = f"SELECT {select} FROM {derived} AS t{group}"
    with pytest.raises(QueryRefused) as refused:
        run(cursor, sql, wide_scope)
    assert refused.value.code == "computed_measure"


@SLOW
@given(st.integers(min_value=0, max_value=199), st.sampled_from([100, 1000, 10**6]))
def test_given_one_dominant_contributor_then_the_cell_is_suppressed(cursor, wide_scope, base_rows, target, weight) -> None:
    person = sorted({r["patient_pseudonym"] for r in base_rows})[target]
    row = next(r for r in base_rows if r["patient_pseudonym"] == person)
    condition = f"birth_year = {row['birth_year']} AND admit_date = DATE '{row['admit_date'].isoformat()}'"
    # ELSE 1: everyone "contributes", and the top two stay under 90% of the total for weights up to ~2000, so
    # the dominance rules alone would release the sum (and with it whether the person matched the condition)
    sql = f"SELECT sum(t.x) AS v FROM (SELECT CASE WHEN {condition} THEN {weight} ELSE 1 END AS x FROM admissions) t"
    with pytest.raises(QueryRefused) as refused:
        run(cursor, sql, wide_scope)
    assert refused.value.code == "computed_measure"


def test_given_stored_values_through_derived_tables_then_aggregates_are_released(cursor, wide_scope) -> None:
    sql = ("SELECT t.sex, avg(t.y) AS a, sum(t.y) AS s FROM (SELECT sex, CAST(birth_year AS DOUBLE) AS y "
           "FROM (SELECT sex, birth_year FROM admissions) u) t GROUP BY t.sex ORDER BY t.sex")
    direct = cursor.execute("SELECT sex, avg(birth_year), sum(birth_year) FROM admissions GROUP BY sex "
                            "ORDER BY sex").fetchall()
    outcome = run(cursor, sql, wide_scope)
    assert [(k, pytest.approx(a), pytest.approx(s)) for k, a, s in direct] == outcome.rows


# --- 3. differencing across grants, refused queries included ------------------------------------------------------

@SLOW
@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2025, 7, 19)), st.booleans())
def test_given_the_complement_under_a_second_grant_then_refused_for_the_same_researcher_only(
    cursor, scope, target_day, team
) -> None:
    """avg(birth_year) over all, then over all but one person (admit dates are one per patient here)."""
    history = QueryHistory(key=b"k")
    first = ["researcher:alice"] + (["project:p1"] if team else [])
    run(cursor, "SELECT avg(birth_year) FROM admissions", scope, STRICT, history, "grant-1", first)
    complement = f"SELECT avg(birth_year) FROM admissions WHERE admit_date <> DATE '{target_day.isoformat()}'"
    second = ["researcher:bob", "project:p1"] if team else ["researcher:alice"]
    with pytest.raises(QueryRefused) as refused:
        run(cursor, complement, scope, STRICT, history, "grant-2", second)
    assert refused.value.audit_reason.startswith("differencing")
    run(cursor, complement, scope, STRICT, history, "grant-3", ["researcher:carol"])  # an unrelated researcher


def test_given_a_refused_query_then_it_is_remembered(cursor, scope) -> None:
    history = QueryHistory(key=b"k")
    subjects = ["researcher:alice"]
    run(cursor, "SELECT count(*) FROM admissions", scope, STRICT, history, "g1", subjects)
    with pytest.raises(QueryRefused):
        run(cursor, "SELECT count(*) FROM admissions WHERE admit_date <> DATE '2025-01-05'", scope, STRICT, history, "g1",
            subjects)
    assert history.refusals(subjects) == 1
    assert any(e.refused for e in history._earlier(subjects))


# --- 4. refusals are not an oracle --------------------------------------------------------------------------------

@SLOW
@given(st.integers(min_value=1940, max_value=2009), st.sampled_from(["W_A", "W_B", "W_C", "W_RARE"]))
def test_given_any_data_dependent_refusal_then_the_answer_is_the_same(cursor, scope, year, ward) -> None:
    history = QueryHistory(key=b"k")
    run(cursor, "SELECT count(*) FROM admissions", scope, STRICT, history)
    attempts = [
        f"SELECT count(*) FROM admissions WHERE birth_year = {year} AND ward = '{ward}' AND zip3 = '100'",  # few
        f"SELECT count(*) FROM admissions WHERE NOT (birth_year = {year} AND ward = '{ward}')",  # complement
        f"SELECT count(*) FROM admissions WHERE CAST(CASE WHEN birth_year = {year} AND ward = '{ward}' "
        "THEN 'x' ELSE '1' END AS INTEGER) = 1",  # a conversion error only when someone matches
    ]
    answers = set()
    for sql in attempts:
        try:
            run(cursor, sql, scope, STRICT, history)
        except QueryRefused as refused:
            answers.add((refused.code, refused.kind, refused.public_reason))
    assert answers <= {(UNIFORM_CODE, UNIFORM_KIND, UNIFORM_REASON)}
    assert answers  # the complement at least is always refused
