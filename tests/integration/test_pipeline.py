"""End to end on one machine, all real: tansu over TCP, kafka-python, the gateway with the real deid engine,
the loader into a real DuckDB file, and the FastAPI app over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer

from gateway.broker import free_port
from gateway.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BAD_MESSAGES = [
    # (hospital, feed, value, expected reason family)
    ("st-luke", "adt", "MSH|^~\\&|EPIC|STL|HDS|CITY|20250314||ADT^A01|M1|P|2.5\rPID|1||99".encode(), None),
    ("st-luke", "adt", "MSH|^~\\&|EPIC|STL\rPID|1||Müller^Jürgen".encode("latin-1"), "encoding_error"),
    ("riverside", "fhir", b'{"resourceType": "Bundle", "entry": [', "invalid_json"),
    ("riverside", "pharmacy", b"MSH|^~\\&|X", "unknown_feed"),
]


@dataclass
class Pipeline:
    settings: Settings
    catalog: Any
    gateway: Any
    manifest: dict[str, Any]
    published: int
    bad: int
    token: str
    dlq_reasons: dict[str, int]


def _wait(cond, timeout: float = 180.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.3)
    return cond()


@pytest.fixture(scope="module")
def pipeline(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    from catalog.server import start_catalog
    from gateway.kafka_io import make_producer
    from gateway.publish import publish_files
    from gateway.runtime import build_processor
    from gateway.service import GatewayService
    from gateway.synth import generate
    from policies.identity.dev_issuer import DevIssuer

    base = tmp_path_factory.mktemp("pipeline")
    settings = Settings.from_env({
        "HDS_ENV": "test", "HDS_DATA_DIR": str(base), "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef",
        "HDS_KAFKA_BOOTSTRAP": broker, "HDS_API_PORT": str(free_port()),
        "HDS_GATEWAY_GROUP": f"gw-{base.name}", "HDS_LOADER_GROUP": f"ld-{base.name}",
    })
    stop = threading.Event()
    processor = build_processor(settings)
    gateway = GatewayService(processor, bootstrap=broker, group_id=settings.gateway_group,
                             topics=processor.registry.raw_topics() + processor.registry.deid_topics())
    gthread = threading.Thread(target=gateway.run, args=(stop,), daemon=True)
    gthread.start()
    catalog = start_catalog(settings)

    generate(base / "feeds", seed=3, patients=24)
    manifest = json.loads((base / "feeds" / "manifest.json").read_text())
    producer = make_producer(broker)
    published = 0
    for hospital, h in manifest["hospitals"].items():
        for feed, f in h["feeds"].items():
            p = Path(f["file"])
            published += publish_files(producer, [p if p.is_absolute() else base / "feeds" / p],
                                       hospital=hospital, feed=feed).messages
    raw = KafkaProducer(bootstrap_servers=broker, acks="all")
    for hospital, feed, value, _ in BAD_MESSAGES:
        raw.send(f"hds.raw.{hospital}.{feed}", value=value, headers=[("hospital", hospital.encode())])
    raw.flush()
    raw.close()
    producer.close()

    dlq = KafkaConsumer(bootstrap_servers=broker, group_id=None, auto_offset_reset="earliest",
                        metadata_max_age_ms=1000)
    dlq.subscribe(pattern=r"^hds\.dlq\..+")
    reasons: dict[str, int] = {}

    def done() -> bool:
        for _tp, msgs in dlq.poll(timeout_ms=200).items():
            for m in msgs:
                r = dict((k, v.decode()) for k, v in m.headers).get("dlq-reason", "?")
                reasons[r] = reasons.get(r, 0) + 1
        loaded = catalog.loader.stats.loaded if catalog.loader else 0
        return loaded + sum(reasons.values()) >= published + len(BAD_MESSAGES)

    assert _wait(done), f"pipeline did not finish: loaded={catalog.loader.stats.loaded}, dlq={reasons}"
    dlq.close()
    token = DevIssuer.from_settings(settings).issue("alice", ["researcher"])
    yield Pipeline(settings, catalog, gateway, manifest, published, len(BAD_MESSAGES), token, reasons)
    stop.set()
    gthread.join(20)
    catalog.stop()


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
    from gateway.demo import _identifier_leaks

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
        assert d["rows"] > 0 and d["tier"] in {"aggregate", "record", "extract"}
        assert len(d["hospitals"]) == 3
    one = httpx.get(f"{url}/api/datasets/admissions", headers=h).json()
    assert one["rows"] > 0 and one["deid_profiles"] == ["hl7v2-safe-harbor"] and one["last_update"]
    assert {c["name"] for c in one["schema"]} >= {"record_id", "patient_pseudonym", "sex", "birth_year"}
    assert {s["feed"] for s in one["sources"]} == {"adt"}
    assert httpx.get(f"{url}/api/datasets/nope", headers=h).status_code == 404
    assert "/api/query" in httpx.get(f"{url}/openapi.json").json()["paths"]
    metrics = httpx.get(f"{url}/metrics", headers=h)
    assert metrics.status_code == 200 and 'hds_dataset_rows{dataset="admissions"}' in metrics.text
