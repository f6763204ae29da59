"""The gateway service: consume hds.raw.* in a consumer group, process, produce, then commit.

Delivery: at-least-once into hds.deid.* (input offsets are committed only after every output of the batch has
been acknowledged by the broker); the catalog loader makes it effectively-once by record id. A failed produce
rewinds the batch and retries it, so nothing is lost and nothing half-processed is committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka.structs import OffsetAndMetadata

from gateway.kafka_io import (
    AssignmentWatchdog,
    PatternFollower,
    ensure_topics,
    headers_dict,
    make_consumer,
    make_producer,
    resolve_assignment,
)
from gateway.processor import Processor
from policies.topics import RAW_PATTERN

log = logging.getLogger(__name__)


@dataclass
class GatewayStats:
    consumed: int = 0
    produced: int = 0
    dead_lettered: int = 0
    retries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"consumed": self.consumed, "produced": self.produced, "dead_lettered": self.dead_lettered,
                "retries": self.retries, "reasons": dict(self.reasons)}


class GatewayService:
    def __init__(
        self,
        processor: Processor,
        *,
        bootstrap: str,
        group_id: str = "hds-gateway",
        session_timeout_ms: int = 6000,
        pattern: str = RAW_PATTERN,
        on_batch: Callable[[GatewayStats], None] | None = None,
        topics: list[str] | None = None,
        assignment: str = "auto",
        security: dict[str, Any] | None = None,
    ) -> None:
        """`topics`: topics to create before joining (the registry's raw topics), so the first join covers them."""
        self._processor = processor
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._session_timeout_ms = session_timeout_ms
        self._pattern = pattern
        self._on_batch = on_batch
        self._topics = topics or []
        self._assignment = resolve_assignment(assignment, bootstrap)
        self._security = security
        self.stats = GatewayStats()
        self.ready = threading.Event()
        self.running = False
        self.last_poll = time.monotonic()

    def run(self, stop: threading.Event) -> GatewayStats:
        if self._topics:
            ensure_topics(self._bootstrap, self._topics, security=self._security)
        consumer = self._subscribe()
        producer = make_producer(self._bootstrap, client_id="hds-gateway", security=self._security)
        watchdog = AssignmentWatchdog(grace_s=max(10.0, 2 * self._session_timeout_ms / 1000))
        follower = PatternFollower(consumer, self._pattern) if self._assignment == "static" else None
        self.ready.set()
        self.running = True
        try:
            while not stop.is_set():
                self.last_poll = time.monotonic()
                if follower is not None:
                    follower.refresh()
                    if not follower.assigned:
                        stop.wait(0.5)
                        continue
                batch = consumer.poll(timeout_ms=500, max_records=500)
                if batch:
                    self._handle(batch, consumer, producer, stop)
                elif follower is None and watchdog.stuck(consumer):
                    log.warning("no partitions assigned although topics match; rejoining the group")
                    consumer.close()
                    consumer = self._subscribe()
        finally:
            self.running = False
            try:
                producer.flush(timeout=10)
            finally:
                producer.close(timeout=5)
                consumer.close()
        return self.stats

    def _subscribe(self):  # type: ignore[no-untyped-def]
        consumer = make_consumer(self._bootstrap, group_id=self._group_id, security=self._security,
                                 session_timeout_ms=self._session_timeout_ms, client_id="hds-gateway")
        if self._assignment == "group":
            consumer.subscribe(pattern=self._pattern)
        return consumer

    def _handle(self, batch: dict, consumer, producer, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
        attempt = 0
        while True:
            futures = []
            dead = 0
            reasons: dict[str, int] = {}
            for tp, records in batch.items():
                for r in records:
                    out = self._processor.process(r.topic, r.key, r.value, headers_dict(r.headers), r.partition, r.offset)
                    futures.append(producer.send(out.topic, key=out.key, value=out.value, headers=out.headers))
                    if out.dead_letter:
                        dead += 1
                        reasons[out.reason or "?"] = reasons.get(out.reason or "?", 0) + 1
            try:
                producer.flush(timeout=30)
                for f in futures:
                    f.get(timeout=30)
            except Exception as exc:
                attempt += 1
                self.stats.retries += 1
                log.warning("produce failed (%s); retrying batch, attempt %d", type(exc).__name__, attempt)
                if stop.wait(min(10.0, 0.5 * 2 ** min(attempt, 5))):
                    return  # stopping: nothing committed, the batch is redelivered on restart
                continue
            offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()}
            try:
                consumer.commit(offsets=offsets)
            except Exception as exc:  # a rebalance took the partitions: the new owner reprocesses; the loader dedups
                log.warning("offset commit failed (%s); records will be reprocessed by the partition owner",
                            type(exc).__name__)
            n = sum(len(v) for v in batch.values())
            self.stats.consumed += n
            self.stats.produced += n - dead
            self.stats.dead_lettered += dead
            for k, v in reasons.items():
                self.stats.reasons[k] = self.stats.reasons.get(k, 0) + v
            log.debug("batch: %d in, %d de-identified, %d dead-lettered", n, n - dead, dead)
            if self._on_batch:
                self._on_batch(self.stats)
            return

