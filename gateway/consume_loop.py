"""The one consume loop of the gateway and the catalog loader.

    poll a batch -> hand it to the handler in bounded slices -> the handler makes its outputs durable
    (produce + flush, or a DuckDB transaction) -> commit the slice's offsets -> next slice

Slices are bounded by count (`slice_records`) and by time (`slice_seconds`: the handler is given a deadline and
stops early), so a crash redelivers at most one slice per partition, and SIGTERM waits for one slice at most: the
stop flag is checked between slices and handlers check it inside a slice. A handler that raises is retried on the
same records after an exponential backoff (records are held in memory; nothing is committed meanwhile). The
loop never commits offsets of records whose outputs were not made durable.

Partition assignment is `static` (every partition of every topic matching the pattern, no rebalances; one
process per cluster) or `group` (Kafka consumer-group rebalancing, N replicas). Group mode carries one
work-around for kafka-python 3.0.12 (see `JoinGuard` and docs/architecture.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka.structs import OffsetAndMetadata, TopicPartition

from gateway.kafka_io import AssignmentWatchdog, PatternFollower

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopConfig:
    max_records: int = 1000  # per poll
    slice_records: int = 250  # commit at least every N records ...
    slice_seconds: float = 1.0  # ... and at least every T seconds of work
    poll_timeout_ms: int = 200
    max_backoff_s: float = 10.0


class SliceHandler(Protocol):
    def __call__(self, records: Sequence[Any], deadline: float, stop: threading.Event) -> int:
        """Handle a prefix of `records` (at least one) and make its outputs durable; stop early once
        `time.monotonic()` passes `deadline` or `stop` is set. Returns how many records were handled.
        Raise to have the same records retried after a backoff."""


@dataclass
class LoopStats:
    """Counts of this process's life (Prometheus counters: they restart at zero with the process)."""

    polled: int = 0  # polls that returned (ready once assigned and polled)
    records: int = 0  # records handled and committed
    redelivered: int = 0  # records handled again: a retried slice, or an offset this process had passed
    slices: int = 0
    retries: int = 0
    commit_failures: int = 0
    log_resets: int = 0  # partitions found ending before our position (the broker lost its data)
    slice_sizes: list[int] = field(default_factory=list)  # drained by the metrics collector
    high_water: dict[tuple[str, int], int] = field(default_factory=dict)
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    assigned: bool = False
    last_loop: float = field(default_factory=time.monotonic)

    def caught_up_known(self) -> bool:
        """True once `lag()` means something: the consumer is assigned and a fetch response has reported the
        high-water mark of its partitions. Before that, lag() is 0 because nothing is known, not because
        nothing is left."""
        return self.assigned and bool(self.high_water)

    def lag(self) -> int:
        """Records on assigned partitions not handled yet, from the high-water marks of fetch responses
        (ListOffsets is wrong on the embedded broker, so end_offsets() is never used)."""
        return sum(max(0, hw - self.positions.get(tp, hw)) for tp, hw in self.high_water.items())


class JoinGuard:
    """kafka-python 3.0.12: the JoinGroup/SyncGroup round runs as a task in the client's I/O thread, and its
    result (new assignment, heartbeats re-enabled) is applied only by a `poll()` that is awaiting the task when
    it finishes. A task finishing between two polls is thrown away (the next poll sends a fresh JoinGroup,
    forever when the application works between polls), and one finishing as a poll times out can leave the
    member with heartbeats off until the broker evicts it. The guard keeps a poll waiting while a join is in
    flight, with a timeout longer than the broker holds a JoinGroup, so the result is always applied."""

    def __init__(self, wait_ms: int) -> None:
        self.wait_ms = wait_ms

    @staticmethod
    def joining(consumer: Any) -> bool:
        task = getattr(getattr(consumer, "_coordinator", None), "_join_task", None)
        return task is not None and not getattr(task, "is_done", True)

    def poll(self, consumer: Any, *, timeout_ms: int, max_records: int, stop: threading.Event) -> dict:  # type: ignore[type-arg]
        batch = consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        while not batch and self.joining(consumer) and not stop.is_set():
            batch = consumer.poll(timeout_ms=self.wait_ms, max_records=max_records)
        return batch  # type: ignore[no-any-return]


def flatten(batch: dict) -> list[Any]:  # type: ignore[type-arg]
    """A poll's records, partition after partition, each in offset order."""
    return [r for tp in sorted(batch, key=lambda t: (t.topic, t.partition)) for r in batch[tp]]


def next_offsets(records: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    out: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        out[tp] = max(out.get(tp, 0), r.offset + 1)
    return {tp: OffsetAndMetadata(o, "", -1) for tp, o in out.items()}


class ConsumeLoop:
    def __init__(
        self,
        make_consumer: Callable[[], Any],
        handler: SliceHandler,
        *,
        pattern: str,
        assignment: str,
        commit: Callable[[Any, dict[TopicPartition, OffsetAndMetadata]], None] | None = None,
        on_new_partitions: Callable[[Any, set[TopicPartition]], None] | None = None,
        config: LoopConfig | None = None,
        session_timeout_ms: int = 6000,
        stats: LoopStats | None = None,
        name: str = "consumer",
    ) -> None:
        """`commit(consumer, offsets)` stores progress after a slice (default: commit to the consumer group;
        a failure is logged and counted, the records are then redelivered). `on_new_partitions(consumer, tps)`
        positions newly assigned partitions (static mode)."""
        if assignment not in {"group", "static"}:
            raise ValueError("assignment must be group or static")
        self._make_consumer = make_consumer
        self._handler = handler
        self._pattern = pattern
        self._group = assignment == "group"
        self._commit = commit or self._commit_to_group
        self._on_new = on_new_partitions
        self.config = config or LoopConfig()
        self._session_timeout_ms = session_timeout_ms
        self._guard = JoinGuard(wait_ms=max(10_000, 2 * session_timeout_ms))
        self.stats = stats or LoopStats()
        self._name = name
        self._seen: dict[tuple[str, int], int] = {}  # highest offset handled per partition in this process
        self.consumer: Any = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> LoopStats:
        self.consumer = self._subscribe()
        follower = None if self._group else PatternFollower(
            self.consumer, self._pattern, on_new=(lambda tps: self._on_new(self.consumer, tps)) if self._on_new else None)
        watchdog = AssignmentWatchdog(grace_s=max(20.0, 4 * self._session_timeout_ms / 1000))
        try:
            while not stop.is_set():
                self.stats.last_loop = time.monotonic()
                if follower is not None:
                    follower.refresh()
                    if not follower.assigned:
                        stop.wait(0.5)
                        continue
                batch = self._guard.poll(self.consumer, timeout_ms=self.config.poll_timeout_ms,
                                         max_records=self.config.max_records, stop=stop)
                self.stats.polled += 1
                self.stats.assigned = bool(self.consumer.assignment())
                if batch:
                    self._handle(flatten(batch), stop)
                elif self._group and watchdog.stuck(self.consumer):
                    log.warning("%s: no partitions assigned although topics match; rejoining the group", self._name)
                    self.consumer.close()
                    self.consumer = self._subscribe()
                self._update_lag()
        finally:
            try:
                self.consumer.close()
            except Exception:  # noqa: BLE001 - closing a consumer of a dead broker
                pass
        return self.stats

    def _subscribe(self) -> Any:
        consumer = self._make_consumer()
        if self._group:
            consumer.subscribe(pattern=self._pattern)
        return consumer

    # -- one poll's records, slice by slice -----------------------------------------------------------------
    def _handle(self, records: list[Any], stop: threading.Event) -> None:
        start = 0
        while start < len(records) and not stop.is_set():
            chunk = records[start:start + self.config.slice_records]
            n = self._handle_slice(chunk, stop)
            if n == 0:  # stopping during a retry: nothing committed, the rest is redelivered on restart
                return
            start += n

    def _handle_slice(self, chunk: list[Any], stop: threading.Event) -> int:
        attempt = 0
        while True:
            self._count_redelivered(chunk, retry=attempt > 0)
            try:
                n = self._handler(chunk, time.monotonic() + self.config.slice_seconds, stop)
            except Exception as exc:  # noqa: BLE001 - the handler failed: nothing of this slice is committed
                attempt += 1
                self.stats.retries += 1
                log.warning("%s: slice of %d records failed (%s); retry %d", self._name, len(chunk),
                            type(exc).__name__, attempt)
                if stop.wait(min(self.config.max_backoff_s, 0.25 * 2 ** min(attempt, 6))):
                    return 0
                continue
            n = max(1, min(n, len(chunk)))
            done = chunk[:n]
            for r in done:
                key = (r.topic, r.partition)
                self._seen[key] = max(self._seen.get(key, -1), r.offset)
                self.stats.positions[key] = max(self.stats.positions.get(key, 0), r.offset + 1)
            try:
                self._commit(self.consumer, next_offsets(done))
            except Exception as exc:  # noqa: BLE001 - outputs are durable; the records come again (deduplicated)
                self.stats.commit_failures += 1
                log.warning("%s: offset commit failed (%s); %d records will be redelivered", self._name,
                            type(exc).__name__, n)
            self.stats.records += n
            self.stats.slices += 1
            if len(self.stats.slice_sizes) < 10_000:
                self.stats.slice_sizes.append(n)
            return n

    def _count_redelivered(self, chunk: list[Any], *, retry: bool) -> None:
        if retry:
            self.stats.redelivered += len(chunk)
            return
        self.stats.redelivered += sum(1 for r in chunk if r.offset <= self._seen.get((r.topic, r.partition), -1))

    @staticmethod
    def _commit_to_group(consumer: Any, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        consumer.commit(offsets=offsets)

    def _update_lag(self) -> None:
        try:
            assigned = self.consumer.assignment()
        except Exception:  # noqa: BLE001
            return
        for tp in assigned:
            key = (tp.topic, tp.partition)
            hw = self.consumer.highwater(tp)
            if hw is None:
                continue
            self.stats.high_water[key] = hw
            try:
                pos = self.consumer.position(tp)
            except Exception:  # noqa: BLE001
                continue
            if pos is not None and hw < pos:
                self._log_went_back(tp, pos, hw)
                continue
            if key not in self.stats.positions:
                self.stats.positions[key] = pos
        gone = set(self.stats.high_water) - {(tp.topic, tp.partition) for tp in assigned}
        for key in gone:  # partitions handed to another replica are its lag, not ours
            self.stats.high_water.pop(key, None)

    def _log_went_back(self, tp: TopicPartition, pos: int, hw: int) -> None:
        """The partition now ends before our position: the broker lost its log (the embedded broker keeps
        messages in memory only, so a restart empties every topic). Kafka would leave this consumer waiting
        at its old offset for records that will never come, and skip the new log's first records; read the
        new log from its start instead, and say so."""
        key = (tp.topic, tp.partition)
        log.error("%s: %s[%d] now ends at offset %d, before this consumer's position %d: the broker lost its "
                  "data (a memory-only broker restarted?). Reading the partition again from its start; records "
                  "published before the loss are gone from the broker and must be published again.",
                  self._name, tp.topic, tp.partition, hw, pos)
        self.stats.log_resets += 1
        self._seen.pop(key, None)
        self.stats.positions[key] = 0
        self.consumer.seek(tp, 0)  # out of range on a log that starts later: auto_offset_reset=earliest applies
