"""The one consume loop against the real broker, with faults injected at the client boundary: a thin wrapper
around the real kafka-python producer/consumer (or the real DuckDB store) that fails chosen calls, then
delegates. Nothing of Kafka is mocked; the records really travel through the embedded broker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from pipeline_kit import Faulty, lab_messages, wait_for

from gateway.consume_loop import ConsumeLoop, JoinGuard, LoopConfig, flatten, next_offsets
from gateway.kafka_io import make_consumer, make_producer
from gateway.publish import send_messages
from gateway.readers import read_feed_file
from gateway.runtime import build_processor
from gateway.service import GatewayService
from policies.settings import Settings
from catalog.cli.synth.feeds import generate

pytestmark = pytest.mark.integration
KEY = "test-key-0123456789-0123456789-abcdef"


@pytest.fixture()
def broker() -> Iterator[str]:
    """A broker of this test alone (it starts in milliseconds), so counts are exact."""
    from gateway.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        yield b.bootstrap


def record_ids(broker: str, topic: str) -> list[str]:
    c = KafkaConsumer(topic, bootstrap_servers=broker, group_id=None, auto_offset_reset="earliest",
                      consumer_timeout_ms=3000)
    keys = [m.key.decode() for m in c]
    c.close()
    return keys


def settings_for(tmp_path: Path) -> Settings:
    return Settings.from_env({"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "d"), "HDS_DEID_KEY": KEY})


def run(service: Any) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    t = threading.Thread(target=service.run, args=(stop,), daemon=True)
    t.start()
    return stop, t


def test_given_failing_produces_then_the_slice_is_retried_and_nothing_is_lost(broker: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    processor = build_processor(settings)
    hospital = "riverside"
    msgs = lab_messages(tmp_path, 40)
    expected = {processor.record_id(hospital, "lab", m.message_id.encode(), m.payload) for m in msgs}
    producer = make_producer(broker)
    send_messages(producer, hospital, "lab", msgs)
    producer.close()

    wrapped: list[Faulty] = []
    faults = {"flush": 2}  # shared: a failed send makes the service renew its producer

    def wrap(client: Any) -> Any:
        if hasattr(client, "send"):  # the producers: the first two flushes fail
            wrapped.append(Faulty(client, faults))
            return wrapped[-1]
        return client

    service = GatewayService(processor, bootstrap=broker, group_id="gw-" + uuid.uuid4().hex, assignment="static",
                             client_wrapper=wrap, loop=LoopConfig(slice_records=10, max_backoff_s=0.5))
    stop, t = run(service)
    assert wait_for(lambda: service.stats.consumed >= 40, timeout=90)
    stop.set()
    t.join(30)
    assert faults["flush"] == 0, "the injected failures were not reached"
    assert len(wrapped) == 3, "each failed send renews the producer"
    assert service.stats.loop.retries == 2
    assert service.stats.loop.redelivered >= 2, "a retried slice handles its records again"
    assert service.stats.produced == 40
    got = record_ids(broker, "hds.deid.lab_results")
    assert set(got) == expected, "every record arrives after the retries"


def test_given_a_failing_commit_then_the_records_come_again_after_a_restart(broker: str, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    processor = build_processor(settings)
    msgs = lab_messages(tmp_path, 30)
    producer = make_producer(broker)
    send_messages(producer, "riverside", "lab", msgs)
    producer.close()
    group = "gw-" + uuid.uuid4().hex
    consumers: list[Faulty] = []

    def wrap(client: Any) -> Any:
        if hasattr(client, "poll"):  # the consumer: every commit fails
            consumers.append(Faulty(client, {"commit": 10**6}))
            return consumers[-1]
        return client

    a = GatewayService(processor, bootstrap=broker, group_id=group, assignment="static", client_wrapper=wrap)
    stop, t = run(a)
    assert wait_for(lambda: a.stats.consumed >= 30, timeout=90)
    stop.set()
    t.join(30)
    assert a.stats.loop.commit_failures >= 1 and consumers[0].calls["commit"] == a.stats.loop.commit_failures
    # Nothing was committed: the next life of the gateway handles the same records again (at-least-once);
    # their record ids are the same, so the catalog keeps one row each.
    b = GatewayService(processor, bootstrap=broker, group_id=group, assignment="static")
    stop, t = run(b)
    assert wait_for(lambda: b.stats.consumed >= 30, timeout=90)
    stop.wait(2.0)
    stop.set()
    t.join(30)
    assert a.stats.consumed == 30 and b.stats.consumed == 30, "exactly what was not committed comes again"


def test_given_a_stop_during_a_slice_then_the_handler_stops_early_and_only_its_part_is_committed(
        broker: str, tmp_path: Path) -> None:
    topic = "loop-stop-" + uuid.uuid4().hex[:8]
    producer = make_producer(broker)
    for i in range(50):
        producer.send(topic, key=str(i).encode(), value=b"v", partition=0)
    producer.flush()
    producer.close()
    stop = threading.Event()
    handled: list[int] = []

    def handler(records: Any, deadline: float, stop_: threading.Event) -> int:
        n = 0
        for r in records:
            handled.append(r.offset)
            n += 1
            if len(handled) == 7:
                stop_.set()  # SIGTERM arrives in the middle of the slice
            if stop_.is_set():
                break
        return n

    group = "loop-" + uuid.uuid4().hex
    loop = ConsumeLoop(lambda: make_consumer(broker, group_id=group), handler, pattern=f"^{topic}$",
                       assignment="static", config=LoopConfig(slice_records=20))
    loop.run(stop)
    assert handled == list(range(7))
    c = make_consumer(broker, group_id=group)
    from kafka.structs import TopicPartition

    assert c.committed(TopicPartition(topic, 0)) == 7
    c.close()


def test_given_offsets_then_slices_commit_the_next_offset_of_each_partition() -> None:
    from kafka.consumer.fetcher import ConsumerRecord
    from kafka.structs import TopicPartition

    def rec(p: int, o: int) -> Any:
        return ConsumerRecord("t", p, -1, o, 0, 0, None, b"v", [], None, 0, 1, 0)

    batch = {TopicPartition("t", 1): [rec(1, 5), rec(1, 6)], TopicPartition("t", 0): [rec(0, 9)]}
    flat = flatten(batch)
    assert [(r.partition, r.offset) for r in flat] == [(0, 9), (1, 5), (1, 6)]
    offsets = next_offsets(flat[:2])
    assert {tp.partition: o.offset for tp, o in offsets.items()} == {0: 10, 1: 6}
    assert JoinGuard.joining(object()) is False


def test_given_a_broker_that_lost_its_data_then_the_loop_says_so_and_reads_the_new_log(
        caplog: pytest.LogCaptureFixture) -> None:
    from gateway.broker import EmbeddedBroker

    broker = EmbeddedBroker().start()
    try:
        topic = "loop-restart"
        producer = make_producer(broker.bootstrap)
        for i in range(30):
            producer.send(topic, value=b"old-%d" % i, partition=0)
        producer.flush()
        got: list[bytes] = []

        def handler(records: Any, deadline: float, stop_: threading.Event) -> int:
            got.extend(r.value for r in records)
            return len(records)

        loop = ConsumeLoop(lambda: make_consumer(broker.bootstrap, group_id="g-restart"), handler,
                           pattern=f"^{topic}$", assignment="static")
        stop = threading.Event()
        t = threading.Thread(target=loop.run, args=(stop,), daemon=True)
        t.start()
        assert wait_for(lambda: len(got) == 30, timeout=60)
        broker.stop()  # memory-only: every topic and committed offset is gone
        broker.start()
        producer.close()
        producer = make_producer(broker.bootstrap)  # the old one's producer id died with the broker
        for f in [producer.send(topic, value=b"new-%d" % i, partition=0) for i in range(5)]:
            f.get(timeout=30)
        assert wait_for(lambda: len(got) == 35, timeout=60), "the records of the new log are read"
        stop.set()
        t.join(30)
        producer.close()
        assert got[30:] == [b"new-%d" % i for i in range(5)]
        assert loop.stats.log_resets >= 1
        assert any("lost its data" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    finally:
        broker.stop()
