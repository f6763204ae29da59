"""Kafka clients configured the same way everywhere (kafka-python; any Kafka or the embedded broker)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

# kafka-python logs connection chatter at INFO/WARNING; keep our logs readable.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


# Throughput settings, measured against the embedded broker (docs/performance.md): records are batched per
# partition for up to LINGER_MS and compressed with lz4 (kafka-python computes the batch CRC32C over the
# compressed bytes: with the `crc32c` C extension installed that is cheap, without it the pure-Python CRC is the
# bottleneck), and consumers fetch large batches.
LINGER_MS = 10
BATCH_BYTES = 256 * 1024
COMPRESSION = "lz4"


def make_producer(bootstrap: str, *, client_id: str = "hds", security: dict[str, Any] | None = None,
                  linger_ms: int = LINGER_MS, deadline_ms: int | None = None) -> KafkaProducer:
    """`security`: kafka-python TLS/SASL options (Settings.kafka_security()); none for a plaintext broker.
    Callers send asynchronously and flush once per batch (a flush sends at once, whatever the linger).
    `deadline_ms`: every send is acknowledged or failed within about this long (the MLLP listener answers its
    client in seconds); default: kafka-python's two minutes, with 30 s per request and for metadata."""
    timeouts: dict[str, int] = {"request_timeout_ms": 30_000, "max_block_ms": 30_000}
    if deadline_ms is not None:
        timeouts = {"request_timeout_ms": deadline_ms, "max_block_ms": deadline_ms,
                    "delivery_timeout_ms": deadline_ms + linger_ms + 5}
    return KafkaProducer(
        **(security or {}),
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        retries=5,
        linger_ms=linger_ms,
        batch_size=BATCH_BYTES,
        compression_type=COMPRESSION,
        max_in_flight_requests_per_connection=1,  # keep order per partition across retries
        **timeouts,
    )


def make_consumer(
    bootstrap: str,
    *,
    group_id: str,
    session_timeout_ms: int = 6000,
    client_id: str = "hds",
    max_poll_records: int = 1000,
    security: dict[str, Any] | None = None,
    group_instance_id: str | None = None,
) -> KafkaConsumer:
    """`group_instance_id`: static group membership (KIP-345) for group mode: a replica restarted within the
    session timeout gets its partitions back without a rebalance."""
    return KafkaConsumer(
        **(security or {}),
        group_instance_id=group_instance_id,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,  # offsets are committed only after the outputs are acknowledged
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(500, session_timeout_ms // 6),
        metadata_max_age_ms=2000,  # pick up new hds.raw.* / hds.deid.* topics quickly
        max_poll_records=max_poll_records,
        max_poll_interval_ms=300_000,
        fetch_max_bytes=32 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )


def headers_dict(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers or []:
        try:
            out[k] = (v or b"").decode("utf-8")
        except UnicodeDecodeError:
            out[k] = ""
    return out


def ensure_topics(bootstrap: str, names: list[str], *, partitions: int = 4,
                  security: dict[str, Any] | None = None) -> list[str]:
    """Create the topics that do not exist yet (idempotent). Returns the names created.

    Consumers subscribe by pattern; creating the known topics before they join means the first group join
    already covers them (joining while topics appear forces extra rebalances). Where the cluster forbids
    topic creation (city scale: topics come from the Helm chart's job), failures are logged and ignored.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    log = logging.getLogger(__name__)
    try:
        admin = KafkaAdminClient(**(security or {}), bootstrap_servers=bootstrap, client_id="hds-admin")
    except Exception as exc:
        log.warning("cannot reach Kafka to create topics (%s); relying on existing topics", type(exc).__name__)
        return []
    try:
        existing = set(admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing])
            except Exception as exc:
                log.warning("could not create %d topics (%s)", len(missing), type(exc).__name__)
                return []
        return missing
    finally:
        admin.close()


def is_loopback(bootstrap: str) -> bool:
    hosts = [part.rsplit(":", 1)[0].strip("[]") for part in bootstrap.split(",") if part.strip()]
    return bool(hosts) and all(h in {"127.0.0.1", "localhost", "::1"} or h.startswith("127.") for h in hosts)


def resolve_assignment(mode: str, bootstrap: str) -> str:
    """`group` (consumer-group rebalancing: N replicas share partitions), `static` (this process reads every
    partition of every matching topic, no rebalances), or `auto`: static on a loopback broker (one machine,
    the embedded tansu broker, whose rebalances on new topics stall with kafka-python), group elsewhere."""
    if mode not in {"auto", "group", "static"}:
        raise ValueError("assignment mode must be auto, group or static")
    if mode == "auto":
        return "static" if is_loopback(bootstrap) else "group"
    return mode


class PatternFollower:
    """Static assignment that follows a topic pattern: every few seconds, every partition of every matching
    topic is assigned to this consumer (new topics and partitions included). Positions of partitions already
    assigned are kept; new ones start from the group's committed offset (or the earliest) unless `on_new`
    seeks them elsewhere. Commits still go to the consumer group, so `group` and `static` share offsets."""

    def __init__(self, consumer, pattern: str, *, refresh_s: float = 2.0,  # type: ignore[no-untyped-def]
                 on_new: "Callable[[set], None] | None" = None) -> None:
        import re

        self._consumer = consumer
        self._pattern = re.compile(pattern)
        self._refresh_s = refresh_s
        self._on_new = on_new
        self._last = 0.0
        self.assigned: set = set()

    def refresh(self) -> None:
        import time

        from kafka.structs import TopicPartition

        now = time.monotonic()
        if now - self._last < self._refresh_s:
            return
        self._last = now
        try:
            topics = self._consumer.topics()
        except Exception:
            return
        wanted = set()
        for t in topics:
            if self._pattern.match(t):
                for p in self._consumer.partitions_for_topic(t) or ():
                    wanted.add(TopicPartition(t, p))
        if wanted == self.assigned or not wanted:
            return
        new = wanted - self.assigned
        self._consumer.assign(sorted(wanted))
        self.assigned = wanted
        if new and self._on_new is not None:
            self._on_new(new)


class AssignmentWatchdog:
    """Detects a group member that stays out of a working assignment (group mode).

    Seen with the embedded tansu broker and kafka-python 3.0: when a pattern subscription picks up a new topic,
    the follow-up rebalance can stall after JoinGroup (the member never gets its new assignment and fetches
    nothing), and a join racing with topic creation can leave an empty assignment. The owner then recreates
    its consumer. A real Kafka cluster does not need this; it only fires after `grace_s`. On one machine use
    static assignment instead (`resolve_assignment`)."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._since: float | None = None

    @staticmethod
    def _unsettled(consumer) -> bool:  # type: ignore[no-untyped-def]
        if not consumer.subscription():
            return False
        return not consumer.assignment()

    def stuck(self, consumer) -> bool:  # type: ignore[no-untyped-def]
        import time

        if not self._unsettled(consumer):
            self._since = None
            return False
        now = time.monotonic()
        if self._since is None:
            self._since = now
            return False
        if now - self._since > self.grace_s:
            self._since = None
            return True
        return False


class KafkaUnreachable(ConnectionError):
    """No bootstrap server accepted a connection (the message names the servers, nothing else)."""


def check_reachable(bootstrap: str, *, timeout_s: float = 5.0) -> None:
    """Fail fast, with one clear message, when no bootstrap server accepts a TCP connection (kafka-python
    would otherwise spend its 30 s metadata timeout before raising)."""
    import socket

    for part in (p.strip() for p in bootstrap.split(",")):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return
        except OSError:
            continue
    raise KafkaUnreachable(f"cannot reach Kafka at {bootstrap}")
