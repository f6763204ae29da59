"""The catalog loader: consume hds.deid.* into DuckDB, offsets stored in the same transaction as the rows."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka.structs import OffsetAndMetadata, TopicPartition

from catalog.store import CatalogStore, LoadedRecord
from gateway.kafka_io import PatternFollower, ensure_topics, make_consumer
from policies.topics import DEID_PATTERN, dataset_of

log = logging.getLogger(__name__)


@dataclass
class LoaderStats:
    consumed: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    high_water: dict[tuple[str, int], int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)

    def lag(self) -> int:
        return sum(max(0, hw - self.positions.get(tp, 0)) for tp, hw in self.high_water.items())


def validate_envelope(topic: str, value: bytes | None) -> dict | None:
    """The envelope the gateway writes, or None when it is not one (never loaded; fail closed)."""
    if not value:
        return None
    try:
        env = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(env, dict):
        return None
    dataset = dataset_of(topic)
    if dataset is None or env.get("dataset") != dataset:
        return None
    if not isinstance(env.get("record_id"), str) or not env["record_id"]:
        return None
    if not isinstance(env.get("columns", {}), dict) or not isinstance(env.get("column_types", {}), dict):
        return None
    return env


class Loader:
    def __init__(
        self,
        store: CatalogStore,
        *,
        bootstrap: str,
        group_id: str = "hds-catalog-loader",
        session_timeout_ms: int = 6000,
        on_batch: Callable[[LoaderStats], None] | None = None,
        topics: list[str] | None = None,
        security: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._session_timeout_ms = session_timeout_ms
        self._on_batch = on_batch
        self._topics = topics or []
        self._security = security
        self.stats = LoaderStats()
        self.ready = threading.Event()
        self.consumer = None  # type: ignore[assignment]

    def run(self, stop: threading.Event) -> LoaderStats:
        if self._topics:
            ensure_topics(self._bootstrap, self._topics, security=self._security)
        # One loader owns the catalog, so it reads every partition itself (static assignment, no rebalances)
        # and positions each new partition at the offset stored in DuckDB with the rows.
        self.consumer = make_consumer(self._bootstrap, group_id=self._group_id, security=self._security,
                                      session_timeout_ms=self._session_timeout_ms, client_id="hds-catalog-loader",
                                      max_poll_records=2000)
        follower = PatternFollower(self.consumer, DEID_PATTERN, on_new=self._seek_to_stored)
        self.ready.set()
        try:
            while not stop.is_set():
                follower.refresh()
                if not follower.assigned:
                    stop.wait(0.5)
                    continue
                batch = self.consumer.poll(timeout_ms=500, max_records=2000)
                if batch:
                    self._handle(batch, stop)
                self._update_high_water()
        finally:
            self.consumer.close()
        return self.stats

    def _seek_to_stored(self, partitions: set) -> None:  # type: ignore[type-arg]
        stored = self.store.stored_offsets()
        for tp in partitions:
            pos = stored.get((tp.topic, tp.partition))
            if pos is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, pos)

    def _handle(self, batch: dict, stop: threading.Event) -> None:  # type: ignore[no-untyped-def]
        records: list[LoadedRecord] = []
        skipped: dict[tuple[str, int], int] = {}
        for tp, msgs in batch.items():
            for m in msgs:
                env = validate_envelope(m.topic, m.value)
                if env is None:
                    self.stats.rejected += 1
                    log.warning("rejected a malformed record on %s[%d]@%d", m.topic, m.partition, m.offset)
                    skipped[(m.topic, m.partition)] = m.offset + 1
                    continue
                records.append(LoadedRecord(env, m.topic, m.partition, m.offset))
        attempt = 0
        while True:
            try:
                inserted = self.store.apply_batch(records, skipped)
                break
            except Exception as exc:
                attempt += 1
                log.error("catalog write failed (%s); retrying (attempt %d)", type(exc).__name__, attempt)
                if stop.wait(min(10.0, 0.5 * 2 ** min(attempt, 5))):
                    return  # stopping: neither rows nor offsets were written; the batch is read again on restart
        n = sum(len(v) for v in batch.values())
        self.stats.consumed += n
        self.stats.loaded += inserted
        self.stats.duplicates += len(records) - inserted
        self.stats.batches += 1
        for tp, msgs in batch.items():
            self.stats.positions[(tp.topic, tp.partition)] = msgs[-1].offset + 1
        try:  # informational (lag dashboards); the source of truth is the offsets table in DuckDB
            self.consumer.commit({tp: OffsetAndMetadata(msgs[-1].offset + 1, "", -1) for tp, msgs in batch.items()})
        except Exception:
            pass
        log.debug("loaded %d rows (%d duplicates skipped, %d rejected)", inserted, len(records) - inserted,
                 self.stats.rejected)
        if self._on_batch:
            self._on_batch(self.stats)

    def _update_high_water(self) -> None:
        # The broker's ListOffsets is unreliable on tansu (STACK.md); the high-water mark from fetch responses is.
        for tp in self.consumer.assignment():
            hw = self.consumer.highwater(tp)
            if hw is not None:
                self.stats.high_water[(tp.topic, tp.partition)] = hw
            if (tp.topic, tp.partition) not in self.stats.positions:
                try:
                    self.stats.positions[(tp.topic, tp.partition)] = self.consumer.position(TopicPartition(tp.topic, tp.partition))
                except Exception:
                    pass
