"""The differencing rule and its persistence in governance.query_history."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from policies.sandbox.differencing import Population, QueryFingerprint, QueryHistory, population_difference
from policies.sandbox.errors import QueryRefused
from policies.sandbox.fingerprint_store import FingerprintStore


def population(members: range | list[int], rows: int | None = None) -> Population:
    hashes = sorted({(m * 2654435761) % (2**64) for m in members})
    digest = 0
    for h in hashes:
        digest ^= h
    return Population(
        patients=len(hashes),
        rows=rows if rows is not None else len(hashes),
        digest=digest,
        sketch=tuple(hashes[:256]),
        sketch_size=256,
    )


def fingerprint(members, rows=None, grouping="g0", cells=None, datasets=("admissions",)) -> QueryFingerprint:
    return QueryFingerprint(frozenset(datasets), grouping, population(members, rows), cells or {})


def test_given_all_but_one_patient_then_population_difference_is_one() -> None:
    assert population_difference(population(range(100)), population(range(1, 100))) == 1


def test_given_unrelated_populations_of_similar_size_then_not_near_identical() -> None:
    assert population_difference(population(range(1000)), population(range(5000, 6003))) is None


def test_given_large_near_identical_populations_then_estimated_by_sketch() -> None:
    assert population_difference(population(range(2000)), population(range(2000 - 3))) == 3


def test_given_all_then_all_but_one_then_refused() -> None:
    history = QueryHistory()
    history.record("g", fingerprint(range(100)))
    with pytest.raises(QueryRefused) as refused:
        history.check("g", fingerprint(range(1, 100)), min_cell_count=10)
    assert refused.value.code == "disclosure" and refused.value.audit_reason.startswith("differencing")


def test_given_difference_of_at_least_k_then_allowed() -> None:
    history = QueryHistory()
    history.record("g", fingerprint(range(100)))
    history.check("g", fingerprint(range(10, 100)), min_cell_count=10)


def test_given_same_patients_but_few_rows_fewer_then_refused() -> None:
    history = QueryHistory()
    history.record("g", fingerprint(range(50), rows=120))
    with pytest.raises(QueryRefused):
        history.check("g", fingerprint(range(50), rows=118), min_cell_count=10)
    history.check("g", fingerprint(range(50), rows=120), min_cell_count=10)  # the same query again is fine


def test_given_same_grouping_and_a_cell_differing_by_one_then_refused() -> None:
    history = QueryHistory()
    history.record("g", fingerprint(range(200), cells={"wardA": (80, 160), "wardB": (120, 240)}))
    candidate = fingerprint(range(200), rows=199, cells={"wardA": (80, 159), "wardB": (120, 240)})
    with pytest.raises(QueryRefused):
        history.check("g", candidate, min_cell_count=10)


def test_given_another_dataset_then_populations_are_still_compared() -> None:
    """Patients are the same people in every dataset: joining another dataset to drop one person is differencing."""
    history = QueryHistory()
    history.record("researcher:r1", fingerprint(range(100)))
    with pytest.raises(QueryRefused) as refused:
        history.check("researcher:r1", fingerprint(range(1, 100), datasets=("lab_reports",)), min_cell_count=10)
    assert refused.value.audit_reason == "differencing_population"


def test_given_an_unrelated_subject_then_not_compared_but_a_shared_subject_is() -> None:
    history = QueryHistory()
    history.record(["researcher:r1", "project:p"], fingerprint(range(100)))
    history.check(["researcher:r2", "project:q"], fingerprint(range(1, 100)), min_cell_count=10)
    with pytest.raises(QueryRefused):  # a team member of project p, under a grant of their own
        history.check(["researcher:r3", "project:p"], fingerprint(range(1, 100)), min_cell_count=10)


def test_given_store_then_history_survives_a_restart(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "catalog.duckdb"))
    store = FingerprintStore(con.cursor, threading.Lock())
    first = QueryHistory(key=b"stable", store=store)
    first.record("g", fingerprint(range(100), cells={"k": (100, 100)}), suppressed_digests=[2**63 + 5])
    restarted = QueryHistory(key=b"stable", store=FingerprintStore(con.cursor))
    assert restarted.suppressed_digests("g") == {2**63 + 5}
    assert restarted.released("g")[0].cells == {"k": (100, 100)}
    with pytest.raises(QueryRefused):
        restarted.check("g", fingerprint(range(1, 100)), min_cell_count=10)
    count = con.execute("SELECT count(*) FROM governance.query_history").fetchone()
    assert count == (1,)
    con.close()
