"""Shared fixtures: the real embedded Kafka-protocol broker, the third-party sample data, settings, and one real
pipeline per session (tansu over TCP, gateway, loader, DuckDB, API over HTTP)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer
from pipeline_kit import BAD_MESSAGES, LogCollector, Pipeline, wait_for

from gateway.broker import free_port
from policies.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HDS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party sample data not found at {SHARED_DATA} (../shared/data beside the repository)")
    return SHARED_DATA


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One real Chromium (Debian's, driven by Playwright) for the whole session. Playwright's sync API allows one
    running instance per thread, so every browser test shares this one instead of launching its own."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """A real tansu broker over TCP on a free loopback port; yields the bootstrap address."""
    from gateway.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        yield b.bootstrap


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "data"),
                              "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef"})


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Its own broker, so topics other tests leave behind cannot mix into its catalog."""
    from gateway.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        yield from _pipeline(b.bootstrap, tmp_path_factory)


def _pipeline(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    from catalog.server import start_catalog
    from gateway.dlq import DeadLetterCounter
    from gateway.kafka_io import make_producer
    from gateway.publish import publish_files
    from gateway.runtime import build_processor
    from gateway.service import GatewayService
    from catalog.cli.synth.feeds import generate
    from policies.identity.dev_issuer import DevIssuer

    base = tmp_path_factory.mktemp("pipeline")
    logs: list[str] = []
    collector = LogCollector(logs)
    collector.install()
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

    dlq = DeadLetterCounter(broker)
    reasons = dlq.reasons

    def done() -> bool:
        dlq.poll()
        loaded = catalog.loader.stats.loaded if catalog.loader else 0
        return loaded + dlq.count >= published + len(BAD_MESSAGES)

    assert wait_for(done, timeout=180), f"pipeline did not finish: loaded={catalog.loader.stats.loaded}, dlq={reasons}"
    dlq.close()
    token = DevIssuer.from_settings(settings).issue("alice", ["researcher"])
    yield Pipeline(settings, catalog, gateway, manifest, published, len(BAD_MESSAGES), token, reasons, logs)
    stop.set()
    gthread.join(20)
    catalog.stop()
    collector.remove()


