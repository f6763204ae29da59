"""The gateway service against the real broker: commits only after outputs are acknowledged, resumes exactly."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from pipeline_kit import wait_for
from kafka import KafkaConsumer

from gateway.kafka_io import make_producer
from gateway.publish import send_messages
from gateway.readers import read_feed_file
from gateway.runtime import build_processor
from gateway.service import GatewayService
from policies.settings import Settings
from catalog.cli.synth.feeds import generate

pytestmark = pytest.mark.integration
ONLY_LAB = r"^hds\.raw\.riverside\.lab$"  # other tests leave raw messages on the shared broker


def run(service: GatewayService) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    t = threading.Thread(target=service.run, args=(stop,), daemon=True)
    t.start()
    return stop, t


def count_topic(broker: str, topic: str) -> int:
    c = KafkaConsumer(topic, bootstrap_servers=broker, group_id=None, auto_offset_reset="earliest",
                      consumer_timeout_ms=3000)
    n = sum(1 for _ in c)
    c.close()
    return n


def test_given_a_restart_then_the_gateway_resumes_after_its_committed_offsets(broker: str, tmp_path: Path) -> None:
    generate(tmp_path / "feeds", seed=5, patients=24)  # enough lab rows for two slices of 20 and 5
    messages = read_feed_file(tmp_path / "feeds" / "riverside" / "lab.csv", hospital="riverside", feed="lab")
    assert len(messages) > 25
    first, second = messages[:20], messages[20:25]
    settings = Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "d"),
                                  "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef"})
    processor = build_processor(settings)
    group = "gw-" + uuid.uuid4().hex
    before = count_topic(broker, "hds.deid.lab_results")
    producer = make_producer(broker)
    send_messages(producer, "riverside", "lab", first)

    a = GatewayService(processor, bootstrap=broker, group_id=group, assignment="static", pattern=ONLY_LAB)
    stop, t = run(a)
    assert wait_for(lambda: a.stats.consumed >= 20)
    stop.set()
    t.join(30)
    assert a.stats.produced == 20 and a.stats.dead_lettered == 0

    send_messages(producer, "riverside", "lab", second)
    b = GatewayService(processor, bootstrap=broker, group_id=group, assignment="static", pattern=ONLY_LAB)
    stop, t = run(b)
    assert wait_for(lambda: b.stats.consumed >= 5)
    time.sleep(2.0)
    stop.set()
    t.join(30)
    assert b.stats.consumed == 5, "messages committed by the first run must not be processed again"
    assert count_topic(broker, "hds.deid.lab_results") - before == 25
    producer.close()


def test_given_an_unknown_feed_then_its_messages_are_dead_lettered_and_the_rest_flows(broker: str, tmp_path: Path) -> None:
    settings = Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "d"),
                                  "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef"})
    processor = build_processor(settings)
    producer = make_producer(broker)
    feed = "x" + uuid.uuid4().hex[:8]
    producer.send(f"hds.raw.north-general.{feed}", value=b"MSH|^~\\&|A|B").get(10)
    service = GatewayService(processor, bootstrap=broker, group_id="gw-" + uuid.uuid4().hex, assignment="static",
                             pattern=rf"^hds\.raw\.north-general\.{feed}$")  # not other tests' backlog
    stop, t = run(service)
    assert wait_for(lambda: service.stats.reasons.get("unknown_feed", 0) >= 1)
    stop.set()
    t.join(30)
    c = KafkaConsumer(f"hds.dlq.north-general.{feed}", bootstrap_servers=broker, group_id=None,
                      auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = list(c)
    c.close()
    assert len(letters) == 1
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["dlq-reason"] == "unknown_feed" and headers["dlq-source-topic"].endswith(feed)
    producer.close()
    assert "MSH" not in json.dumps(headers)  # the listing-safe headers never carry the payload


def test_given_a_metrics_port_then_health_and_counts_are_served(broker: str, tmp_path: Path) -> None:
    import httpx

    from gateway.broker import free_port
    from gateway.metrics import start_metrics_server

    settings = Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "d"),
                                  "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef"})
    feed = "y" + uuid.uuid4().hex[:8]
    service = GatewayService(build_processor(settings), bootstrap=broker, group_id="gw-" + uuid.uuid4().hex,
                             assignment="static", pattern=rf"^hds\.raw\.st-luke\.{feed}$")  # not others' backlog
    port = free_port()
    server = start_metrics_server(service, port, host="127.0.0.1")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 503  # not running yet
        producer = make_producer(broker)
        producer.send(f"hds.raw.st-luke.{feed}", value=b"MSH|^~\\&|A|B").get(10)
        producer.close()
        stop, t = run(service)
        assert wait_for(lambda: service.stats.dead_lettered >= 1)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'hds_gateway_dead_letters_total{reason="unknown_feed"}' in metrics
        assert "MSH" not in metrics
        stop.set()
        t.join(30)
    finally:
        server.shutdown()
