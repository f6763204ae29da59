"""The loader against the real broker over TCP and a real DuckDB file."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from pipeline_kit import Faulty, wait_for
from kafka import KafkaProducer

from catalog.loader import Loader, validate_envelope
from catalog.store import CatalogStore
from gateway.consume_loop import LoopConfig

pytestmark = pytest.mark.integration


def envelope(rid: str, dataset: str) -> bytes:
    return json.dumps({
        "record_id": rid, "dataset": dataset, "hospital": "riverside", "feed": "lab", "format": "csv",
        "profile": "csv-lab-safe-harbor", "key_id": "k1", "patient_pseudonym": "k1-X",
        "columns": {"test_code": "2345-7", "value": "5.4"}, "column_types": {}, "payload": {"test_code": "2345-7"},
    }).encode()


def run_loader(store: CatalogStore, bootstrap: str, group: str) -> tuple[Loader, threading.Event, threading.Thread]:
    loader = Loader(store, bootstrap=bootstrap, group_id=group, session_timeout_ms=6000)
    stop = threading.Event()
    t = threading.Thread(target=loader.run, args=(stop,), daemon=True)
    t.start()
    return loader, stop, t


def rows(store: CatalogStore, dataset: str) -> int:
    s = store.dataset_summary(dataset)
    return 0 if s is None else s["rows"]


def test_given_a_restart_with_a_new_group_then_rows_are_neither_lost_nor_duplicated(broker: str, tmp_path: Path) -> None:
    dataset = "ds_" + uuid.uuid4().hex[:8]
    topic = f"hds.deid.{dataset}"
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for i in range(30):
        producer.send(topic, key=f"r{i}".encode(), value=envelope(f"r{i}", dataset))
    producer.flush()

    path = tmp_path / "catalog.duckdb"
    store = CatalogStore(path)
    loader, stop, t = run_loader(store, broker, "g-" + uuid.uuid4().hex)
    assert wait_for(lambda: rows(store, dataset) == 30)
    stop.set()
    t.join(20)
    store.close()

    for i in range(30, 50):  # new messages arrive while the catalog is down
        producer.send(topic, key=f"r{i}".encode(), value=envelope(f"r{i}", dataset))
    producer.send(topic, value=envelope("r5", dataset))  # a redelivered record (gateway retry)
    producer.flush()

    store = CatalogStore(path)
    # A different consumer group has no Kafka-committed offsets: only the offsets stored in DuckDB prevent a replay.
    loader, stop, t = run_loader(store, broker, "g-" + uuid.uuid4().hex)
    assert wait_for(lambda: loader.stats.consumed >= 21)
    time.sleep(1.0)
    stop.set()
    t.join(20)
    assert rows(store, dataset) == 50
    assert loader.stats.consumed == 21, "records already stored must not be consumed again"
    assert loader.stats.duplicates == 1
    producer.close()
    store.close()


def test_given_malformed_records_then_they_are_rejected_and_skipped(broker: str, tmp_path: Path) -> None:
    dataset = "ds_" + uuid.uuid4().hex[:8]
    topic = f"hds.deid.{dataset}"
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    producer.send(topic, value=b"{not json")
    producer.send(topic, value=envelope("x1", "another_dataset"))  # dataset does not match its topic
    producer.send(topic, value=envelope("ok1", dataset))
    producer.flush()
    store = CatalogStore(tmp_path / "c.duckdb")
    loader, stop, t = run_loader(store, broker, "g-" + uuid.uuid4().hex)
    assert wait_for(lambda: loader.stats.consumed >= 3)
    stop.set()
    t.join(20)
    assert loader.stats.rejected == 2
    assert rows(store, dataset) == 1
    assert sum(o for (tp, _), o in store.stored_offsets().items() if tp == topic) == 3
    producer.close()
    store.close()


@pytest.mark.parametrize("value", [b"", b"[]", b'{"record_id": 5, "dataset": "d"}', b'{"dataset": "d"}'])
def test_given_a_value_that_is_not_an_envelope_then_validation_refuses(value: bytes) -> None:
    assert validate_envelope("hds.deid.d", value) is None


def test_given_a_failing_catalog_write_then_the_loader_retries_and_loads_every_row(broker: str, tmp_path: Path) -> None:
    dataset = "ds_" + uuid.uuid4().hex[:8]
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for i in range(25):
        producer.send(f"hds.deid.{dataset}", key=f"w{i}".encode(), value=envelope(f"w{i}", dataset))
    producer.flush()
    producer.close()
    store = CatalogStore(tmp_path / "c.duckdb")
    faulty = Faulty(store, {"apply_messages": 2})  # the real store; its first two writes fail
    loader = Loader(faulty, bootstrap=broker, group_id="ld-" + uuid.uuid4().hex,  # type: ignore[arg-type]
                    loop=LoopConfig(max_backoff_s=0.5))
    stop = threading.Event()
    t = threading.Thread(target=loader.run, args=(stop,), daemon=True)
    t.start()
    assert wait_for(lambda: rows(store, dataset) == 25, timeout=90)
    stop.set()
    t.join(30)
    assert faulty.fail["apply_messages"] == 0 and loader.stats.loop.retries == 2
    assert faulty.calls["apply_messages"] >= 3
    store.close()
