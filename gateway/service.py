"""The gateway service: consume hds.raw.*, de-identify, produce to hds.deid.* / hds.dlq.*, commit — in slices.

Each slice (bounded by count and time, `gateway.consume_loop`) is processed record by record, every output is
sent asynchronously, the producer is flushed once, every acknowledgement is checked, and only then are the
slice's input offsets committed. A failed produce retries the same slice after a backoff, so nothing is lost
and nothing half-processed is committed. Delivery is at-least-once into hds.deid.* (a crash redelivers at most
one slice per partition); the catalog loader makes it effectively-once by record id.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.consume_loop import ConsumeLoop, LoopConfig, LoopStats
from gateway.kafka_io import ensure_topics, headers_dict, make_consumer, make_producer, resolve_assignment
from gateway.processor import Processor
from policies.topics import RAW_PATTERN

log = logging.getLogger(__name__)


@dataclass
class GatewayStats:
    """Counts of this process's life; they move once a slice's outputs are acknowledged."""

    consumed: int = 0
    produced: int = 0
    dead_lettered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    loop: LoopStats = field(default_factory=LoopStats)
    deid_seconds: list[float] = field(default_factory=list)  # drained by the metrics collector

    @property
    def retries(self) -> int:
        return self.loop.retries

    def as_dict(self) -> dict[str, object]:
        return {"consumed": self.consumed, "produced": self.produced, "dead_lettered": self.dead_lettered,
                "retries": self.loop.retries, "redelivered": self.loop.redelivered,
                "commit_failures": self.loop.commit_failures, "reasons": dict(self.reasons)}


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
        loop: LoopConfig | None = None,
        client_wrapper: Callable[[Any], Any] | None = None,
        instance_id: str | None = None,
    ) -> None:
        """`topics`: topics to create before joining (the registry's raw topics), so the first join covers them.
        `client_wrapper`: wraps the producer and consumer at the client boundary (fault injection in tests)."""
        self._processor = processor
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._session_timeout_ms = session_timeout_ms
        self._pattern = pattern
        self._on_batch = on_batch
        self._topics = topics or []
        self.assignment = resolve_assignment(assignment, bootstrap)
        self._security = security
        self._loop_config = loop or LoopConfig()
        self._wrap = client_wrapper or (lambda c: c)
        self._instance_id = instance_id
        self.stats = GatewayStats()
        self.ready = threading.Event()  # set once the consumer has an assignment and has polled
        self.running = False
        self._producer: Any = None
        self._loop: ConsumeLoop | None = None

    @property
    def last_poll(self) -> float:
        return self.stats.loop.last_loop

    def is_ready(self) -> bool:
        return self.running and self.stats.loop.assigned and self.stats.loop.polled > 0

    def run(self, stop: threading.Event) -> GatewayStats:
        self._processor.warm_up()
        if self._topics:
            ensure_topics(self._bootstrap, self._topics, security=self._security)
        self._producer = self._wrap(make_producer(self._bootstrap, client_id="hds-gateway", security=self._security))
        self._loop = ConsumeLoop(self._make_consumer, self._handle, pattern=self._pattern, assignment=self.assignment,
                                 config=self._loop_config, session_timeout_ms=self._session_timeout_ms,
                                 stats=self.stats.loop, name="gateway")
        self.running = True
        watcher = threading.Thread(target=self._watch_ready, args=(stop,), name="gateway-ready", daemon=True)
        watcher.start()
        try:
            self._loop.run(stop)
        finally:
            self.running = False
            try:
                self._producer.flush(timeout=10)
            except Exception:  # noqa: BLE001 - nothing unflushed was committed; it is redelivered
                pass
            finally:
                self._producer.close(timeout=5)
        return self.stats

    def _renew_producer(self) -> None:
        """A failed send may leave the producer unusable (a restarted broker no longer knows its idempotent
        producer id: every later send fails); the retry of the slice goes through a new one."""
        old, self._producer = self._producer, self._wrap(
            make_producer(self._bootstrap, client_id="hds-gateway", security=self._security))
        try:
            old.close(timeout=2)
        except Exception:  # noqa: BLE001
            pass

    def _watch_ready(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.running and not self.ready.is_set():
            if self.is_ready():
                self.ready.set()
            stop.wait(0.1)

    def _make_consumer(self) -> Any:
        return self._wrap(make_consumer(
            self._bootstrap, group_id=self._group_id, security=self._security, client_id="hds-gateway",
            session_timeout_ms=self._session_timeout_ms, max_poll_records=self._loop_config.max_records,
            group_instance_id=self._instance_id if self.assignment == "group" else None))

    def _handle(self, records: Sequence[Any], deadline: float, stop: threading.Event) -> int:
        """One slice: process until the deadline, send everything, flush once, check every ack."""
        futures = []
        dead: dict[str, int] = {}
        timings: list[float] = []
        n = 0
        for r in records:
            t0 = time.perf_counter()
            out = self._processor.process(r.topic, r.key, r.value, headers_dict(r.headers), r.partition, r.offset)
            timings.append(time.perf_counter() - t0)
            futures.append(self._producer.send(out.topic, key=out.key, value=out.value, headers=out.headers))
            if out.dead_letter:
                dead[out.reason or "?"] = dead.get(out.reason or "?", 0) + 1
            n += 1
            if time.monotonic() >= deadline or stop.is_set():
                break
        try:
            self._producer.flush(timeout=30)
            for f in futures:
                f.get(timeout=30)  # raises on a failed send: the loop retries the slice, nothing is committed
        except Exception:
            self._renew_producer()
            raise
        ndead = sum(dead.values())
        self.stats.consumed += n
        self.stats.produced += n - ndead
        self.stats.dead_lettered += ndead
        for k, v in dead.items():
            self.stats.reasons[k] = self.stats.reasons.get(k, 0) + v
        if len(self.stats.deid_seconds) < 100_000:
            self.stats.deid_seconds.extend(timings)
        log.debug("slice: %d in, %d de-identified, %d dead-lettered", n, n - ndead, ndead)
        if self._on_batch:
            self._on_batch(self.stats)
        return n
