"""End to end on one machine, all real: tansu over TCP, kafka-python, the gateway with the real deid engine,
the loader into a real DuckDB file, and the FastAPI app over HTTP."""

from __future__ import annotations

import httpx
import pytest

from pipeline_kit import BAD_MESSAGES, Pipeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_given_three_hospitals_then_every_feed_reaches_the_catalog(pipeline: Pipeline) -> None:
    reached = set()
    for ds in pipeline.catalog.store.dataset_ids():
        for src in pipeline.catalog.store.dataset_summary(ds)["sources"]:
            reached.add((src["hospital"], src["feed"]))
    expected = {(h, f) for h, v in pipeline.manifest["hospitals"].items() for f in v["feeds"]}
    assert len(expected) >= 12 and expected <= reached


def test_given_malformed_input_then_it_is_dead_lettered_and_the_pipeline_keeps_going(pipeline: Pipeline) -> None:
    for _, _, _, reason in BAD_MESSAGES:
        if reason:
            assert pipeline.dlq_reasons.get(reason, 0) >= 1, pipeline.dlq_reasons
    assert pipeline.catalog.loader.stats.loaded >= pipeline.published - sum(pipeline.dlq_reasons.values())


def test_given_the_catalog_then_no_raw_identifier_of_a_synthetic_patient_is_in_the_duckdb_file(pipeline: Pipeline) -> None:
    from catalog.cli.demo import _identifier_leaks

    leaks = _identifier_leaks(pipeline.catalog.store, pipeline.manifest["identifiers"])
    assert sum(leaks.values()) == 0, f"identifier kinds found: {leaks}"
    assert sum(len(v) for v in pipeline.manifest["identifiers"].values()) > 50


def test_given_shared_patients_then_the_same_person_links_across_hospitals(pipeline: Pipeline) -> None:
    cur = pipeline.catalog.store.cursor()
    linked = cur.execute(
        "SELECT count(*) FROM (SELECT patient_pseudonym FROM ("
        " SELECT patient_pseudonym, hospital FROM admissions UNION ALL SELECT patient_pseudonym, hospital FROM clinical_records"
        " UNION ALL SELECT patient_pseudonym, hospital FROM lab_results) WHERE patient_pseudonym IS NOT NULL"
        " GROUP BY patient_pseudonym HAVING count(DISTINCT hospital) > 1)").fetchone()[0]
    assert linked >= 1 and pipeline.manifest["shared_patients"] >= 1


def test_given_the_api_over_http_then_datasets_show_rows_from_three_hospitals(pipeline: Pipeline) -> None:
    url = pipeline.catalog.url
    h = {"Authorization": f"Bearer {pipeline.token}"}
    assert httpx.get(f"{url}/health").status_code == 200
    assert httpx.get(f"{url}/api/datasets").status_code == 401
    r = httpx.get(f"{url}/api/datasets", headers=h)
    assert r.status_code == 200
    body = r.json()
    ids = {d["id"] for d in body}
    assert {"admissions", "lab_reports", "clinical_records", "lab_results"} <= ids
    for d in body:
        assert d["rows"] > 0 and d["tier"] in {"aggregate-dp", "aggregate", "record", "extract"}
        assert len(d["hospitals"]) == 3
    one = httpx.get(f"{url}/api/datasets/admissions", headers=h).json()
    assert one["rows"] > 0 and one["deid_profiles"] == ["hl7v2-safe-harbor"] and one["last_update"]
    assert {c["name"] for c in one["schema"]} >= {"record_id", "patient_pseudonym", "sex", "birth_year"}
    assert {s["feed"] for s in one["sources"]} == {"adt"}
    assert httpx.get(f"{url}/api/datasets/nope", headers=h).status_code == 404
    assert "/api/query" in httpx.get(f"{url}/openapi.json").json()["paths"]
    metrics = httpx.get(f"{url}/metrics", headers=h)
    assert metrics.status_code == 200 and 'hds_dataset_rows{dataset="admissions"}' in metrics.text


def test_given_the_whole_run_then_no_identifier_reached_any_log_record(pipeline: Pipeline) -> None:
    assert pipeline.logs, "the collector saw no log records at all"
    text = "\n".join(pipeline.logs).lower()
    needles = {v.lower() for values in pipeline.manifest["identifiers"].values() for v in values if len(v) >= 4}
    needles |= {"müller", "jürgen"}  # from the malformed messages
    leaked = sorted(n for n in needles if n in text)
    assert leaked == [], f"{len(leaked)} identifiers found in log records"
