"""The aggregate-dp tier on the real DuckDB sandbox: shapes, public cells, calibrated noise, budgets across grants."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.sandbox.budget import PrivacyLedger
from policies.sandbox.differencing import QueryHistory
from policies.sandbox.errors import QueryRefused
from policies.sandbox.executor import PrivacyContext, run_query
from policies.sandbox.scope import grant_scope_from_catalog
from policies.sandbox.tiers import parse_dataset_policies

POLICIES = parse_dataset_policies({"datasets": {"admissions": {
    "tier": "aggregate-dp", "dp_max_contributions": 2,
    "dp_bounds": {"birth_year": [1900, 2030]}, "dp_domains": {"sex": ["F", "M", "X"], "ward": ["W_A", "W_B"]}}}})


@pytest.fixture
def dp_scope(cursor):  # type: ignore[no-untyped-def]
    return grant_scope_from_catalog(cursor, {"admissions": None})


def run(cursor, scope, sql, ctx, grant_id="g"):  # type: ignore[no-untyped-def]
    return run_query(cursor, sql, scope=scope, policies=POLICIES, history=QueryHistory(key=b"k"),
                     grant_id=grant_id, privacy=ctx)


def test_given_a_grouped_query_then_every_public_cell_and_only_those_are_released(cursor, dp_scope) -> None:
    ctx = PrivacyContext(PrivacyLedger(), "researcher:a", granted=5.0, epsilon=1.0)
    out = run(cursor, dp_scope, "SELECT sex, count(*) AS n FROM admissions GROUP BY sex ORDER BY sex", ctx)
    assert [r[0] for r in out.rows] == ["F", "M", "X"]  # X has no one and still appears; nothing else does
    assert out.privacy == {"epsilon_spent": 1.0, "epsilon_spent_total": 1.0, "epsilon_remaining": 4.0,
                           "epsilon_budget": 5.0}


def test_given_repeated_counts_then_noise_has_the_calibrated_laplace_spread(cursor, dp_scope) -> None:
    """Count of one cell, epsilon 1, m = 2: Laplace scale 2, standard deviation 2*sqrt(2) ~ 2.83."""
    ctx = PrivacyContext(PrivacyLedger(), "researcher:a", granted=1000.0, epsilon=1.0)
    true = cursor.execute("SELECT count(*) FROM admissions WHERE ward = 'W_A'").fetchone()[0]
    samples = [run(cursor, dp_scope, "SELECT count(*) FROM admissions WHERE ward = 'W_A'", ctx).rows[0][0]
               for _ in range(300)]
    assert abs(statistics.mean(samples) - true) < 1.0
    assert 2.2 < statistics.stdev(samples) < 3.5
    assert len(set(samples)) > 5  # not a constant


def test_given_count_of_a_column_then_it_is_answered_like_count_star(cursor, dp_scope) -> None:
    """COUNT(col) is a documented shape (docs/query-sandbox.md): it must be answered, not refused, and counts only the
    rows where the column is set (sensitivity m, like COUNT(*))."""
    ctx = PrivacyContext(PrivacyLedger(), "researcher:a", granted=1000.0, epsilon=5.0)
    true = cursor.execute("SELECT count(birth_year) FROM admissions").fetchone()[0]
    assert true > 0
    answers = [run(cursor, dp_scope, "SELECT count(birth_year) AS n FROM admissions", ctx).rows[0][0] for _ in range(20)]
    assert abs(statistics.mean(answers) - true) < 3
    grouped = run(cursor, dp_scope, "SELECT sex, count(ward) AS n FROM admissions GROUP BY sex ORDER BY sex", ctx)
    assert [r[0] for r in grouped.rows] == ["F", "M", "X"]


def test_given_one_patient_with_many_rows_then_only_m_rows_count(cursor, dp_scope) -> None:
    ctx = PrivacyContext(PrivacyLedger(), "researcher:a", granted=1000.0, epsilon=5.0)
    # 200 patients with 2 rows each; m = 2, so all rows count: the noisy total stays near 400, not above it
    totals = [run(cursor, dp_scope, "SELECT count(*) FROM admissions", ctx).rows[0][0] for _ in range(20)]
    assert abs(statistics.mean(totals) - 400) < 3


def test_given_the_budget_then_it_holds_across_grants_of_the_same_researcher(cursor, dp_scope) -> None:
    ledger = PrivacyLedger()
    first = PrivacyContext(ledger, "researcher:a", granted=0.3, epsilon=0.1)
    for _ in range(3):
        run(cursor, dp_scope, "SELECT count(*) FROM admissions", first, "grant-1")
    second_grant = PrivacyContext(ledger, "researcher:a", granted=0.3, epsilon=0.1)
    with pytest.raises(QueryRefused) as refused:
        run(cursor, dp_scope, "SELECT count(*) FROM admissions", second_grant, "grant-2")
    assert refused.value.code == "budget_exhausted"
    other = PrivacyContext(ledger, "researcher:b", granted=0.3, epsilon=0.1)
    assert run(cursor, dp_scope, "SELECT count(*) FROM admissions", other, "grant-3").privacy["epsilon_remaining"] \
        == pytest.approx(0.2)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([
    "SELECT zip3, count(*) FROM admissions GROUP BY zip3",  # no public domain
    "SELECT sum(zip3) FROM admissions",  # no bounds
    "SELECT count(*) FROM admissions a JOIN admissions b ON a.zip3 = b.zip3",
    "SELECT count(*) FROM (SELECT * FROM admissions) t",
    "SELECT max(birth_year) FROM admissions",
    "SELECT count(DISTINCT zip3) FROM admissions",
    "SELECT sex, count(*) FROM admissions GROUP BY sex HAVING count(*) > 3",
    "SELECT count(*) FROM admissions WHERE ward IN (SELECT ward FROM admissions WHERE zip3 = '101')",
]))
def test_given_shapes_outside_the_tier_then_refused_without_spending(cursor, dp_scope, sql) -> None:
    ledger = PrivacyLedger()
    ctx = PrivacyContext(ledger, "researcher:a", granted=1.0, epsilon=0.5)
    with pytest.raises(QueryRefused) as refused:
        run(cursor, dp_scope, sql, ctx)
    assert refused.value.code.startswith("dp_")
    assert ledger.status("researcher:a", ["admissions"], 1.0).spent == 0


def test_given_no_budget_context_then_refused(cursor, dp_scope) -> None:
    with pytest.raises(QueryRefused) as refused:
        run(cursor, dp_scope, "SELECT count(*) FROM admissions", None)
    assert refused.value.code == "no_budget"


def test_given_a_persisted_ledger_then_spending_survives_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    ledger = PrivacyLedger(con.cursor)
    ledger.set_budget("req-1", 0.5)
    ledger.spend("researcher:a", ["admissions"], granted=0.5, epsilon=0.4, grant_id="g")
    again = PrivacyLedger(con.cursor)
    assert again.budget("req-1") == 0.5
    with pytest.raises(QueryRefused):
        again.spend("researcher:a", ["admissions"], granted=0.5, epsilon=0.2, grant_id="g2")
    con.close()
