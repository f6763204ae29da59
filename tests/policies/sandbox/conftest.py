"""Fixtures: a real DuckDB catalog file (external access disabled, configuration locked), policies, history."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from sandbox_kit import build_catalog

from policies.sandbox.differencing import QueryHistory
from policies.sandbox.scope import GrantScope, grant_scope_from_catalog
from policies.sandbox.tiers import DatasetPolicies, load_dataset_policies


@pytest.fixture(scope="module")
def sandbox_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = build_catalog(tmp_path_factory.mktemp("sandbox") / "catalog.duckdb")
    yield con
    con.close()


@pytest.fixture
def cursor(sandbox_catalog: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cur = sandbox_catalog.cursor()
    yield cur
    cur.close()


@pytest.fixture
def policies() -> DatasetPolicies:
    return load_dataset_policies()


@pytest.fixture
def history() -> QueryHistory:
    return QueryHistory(key=b"test-key-not-a-secret")


ADMISSIONS_GRANT = [
    "event_type",
    "sex",
    "birth_year",
    "age_group",
    "zip3",
    "admit_date",
    "ward",
    "diagnosis_code",
    "hospital",
]


@pytest.fixture
def scope(cursor: duckdb.DuckDBPyConnection) -> GrantScope:
    """Admissions with a column subset (no record_id, no patient_pseudonym), lab_results and clinical_records whole."""
    return grant_scope_from_catalog(
        cursor, {"admissions": ADMISSIONS_GRANT, "lab_results": None, "clinical_records": None}
    )
