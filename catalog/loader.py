"""The catalog loader: consume hds.deid.* into DuckDB, offsets stored in the same transaction as the rows."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.store import CatalogStore
from gateway.consume_loop import ConsumeLoop, LoopConfig, LoopStats
from gateway.kafka_io import ensure_topics, make_consumer
from policies.topics import DEID_PATTERN, dataset_of

log = logging.getLogger(__name__)


@dataclass
class LoaderStats:
    """Counts of this process's life. `duplicates`: records whose id the catalog already held — redeliveries
    (the gateway's at-least-once, or this loader re-reading after a crash), measured where they end."""

    consumed: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    running: bool = False  # the consume loop runs (set by Loader.run, cleared when it returns)
    loop: LoopStats = field(default_factory=LoopStats)

    def ready(self) -> bool:
        """Ready once the loop runs, its consumer has partitions and has polled (like the gateway)."""
        return self.running and self.loop.assigned and self.loop.polled > 0

    def loop_age_s(self) -> float:
        return time.monotonic() - self.loop.last_loop

    @property
    def high_water(self) -> dict[tuple[str, int], int]:
        return self.loop.high_water

    @property
    def positions(self) -> dict[tuple[str, int], int]:
        return self.loop.positions

    def lag(self) -> int:
        return self.loop.lag()


def validate_envelope(topic: str, value: bytes | None) -> dict | None:
    """The envelope the gateway writes, or None when it is not one (never loaded; fail closed).

    The reference definition, one value at a time; the loader applies the same rules set-wise in DuckDB
    (`catalog.store._PARSE_SQL`), and tests/catalog/test_store.py holds the two together."""
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
    for name in ("columns", "column_types"):
        if env.get(name) is not None and not isinstance(env[name], dict):
            return None
    for name in ("hospital", "feed", "patient_pseudonym"):
        if env.get(name) is not None and not isinstance(env[name], str):
            return None
    return env


class Loader:
    """One writer of the catalog: reads every partition of hds.deid.* itself (static assignment, no
    rebalances), positions each new partition at the offset stored in DuckDB with the rows, and writes each
    slice's rows and offsets in one transaction (`gateway.consume_loop` drives poll/slice/retry/stop)."""

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
        loop: LoopConfig | None = None,
        on_rows: Callable[[list[str]], None] | None = None,
    ) -> None:
        """`on_rows(record_ids)`: called after each committed slice with the ids it loaded (freshness bench)."""
        self.store = store
        self._on_rows = on_rows
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._session_timeout_ms = session_timeout_ms
        self._on_batch = on_batch
        self._topics = topics or []
        self._security = security
        self._loop_config = loop or LoopConfig(max_records=5000, slice_records=5000, slice_seconds=1.0)
        self.stats = LoaderStats()
        self.ready = threading.Event()
        self.consumer = None  # type: ignore[assignment]
        self._loop: ConsumeLoop | None = None

    def is_ready(self) -> bool:
        return self.stats.ready()

    def run(self, stop: threading.Event) -> LoaderStats:
        self.store.warm_up()
        if self._topics:
            ensure_topics(self._bootstrap, self._topics, security=self._security)
        self._loop = ConsumeLoop(self._make_consumer, self._handle, pattern=DEID_PATTERN, assignment="static",
                                 commit=_commit_informational, on_new_partitions=self._seek_to_stored,
                                 config=self._loop_config, session_timeout_ms=self._session_timeout_ms,
                                 stats=self.stats.loop, name="loader")
        self.ready.set()
        self.stats.loop.last_loop = time.monotonic()
        self.stats.running = True
        try:
            self._loop.run(stop)
        finally:
            self.stats.running = False
        return self.stats

    def _make_consumer(self) -> Any:
        self.consumer = make_consumer(self._bootstrap, group_id=self._group_id, security=self._security,
                                      session_timeout_ms=self._session_timeout_ms, client_id="hds-catalog-loader",
                                      max_poll_records=self._loop_config.max_records)
        return self.consumer

    def _seek_to_stored(self, consumer: Any, partitions: set) -> None:  # type: ignore[type-arg]
        stored = self.store.stored_offsets()
        for tp in partitions:
            pos = stored.get((tp.topic, tp.partition))
            if pos is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, pos)

    def _handle(self, msgs: Sequence[Any], deadline: float, stop: threading.Event) -> int:
        """One slice: decoded, validated and de-duplicated set-wise in DuckDB (`CatalogStore.apply_messages`),
        rows and offsets in one transaction; the loop commits the group offsets only after it returns."""
        result = self.store.apply_messages(msgs)  # raises: the loop retries the slice after a backoff
        for topic, partition, offset in result.rejected:
            log.warning("rejected a malformed record on %s[%d]@%d", topic, partition, offset)
        valid = len(result.record_ids)
        self.stats.consumed += len(msgs)
        self.stats.rejected += len(result.rejected)
        self.stats.loaded += result.inserted
        self.stats.duplicates += valid - result.inserted
        self.stats.batches += 1
        log.debug("loaded %d rows (%d duplicates skipped, %d rejected)", result.inserted, valid - result.inserted,
                  len(result.rejected))
        if self._on_batch:
            self._on_batch(self.stats)
        if self._on_rows:
            self._on_rows(result.record_ids)
        return len(msgs)


def _commit_informational(consumer: Any, offsets: dict) -> None:  # type: ignore[type-arg]
    """Lag dashboards read the group's offsets; the source of truth is the offsets table in DuckDB."""
    try:
        consumer.commit(offsets=offsets)
    except Exception:  # noqa: BLE001
        pass
