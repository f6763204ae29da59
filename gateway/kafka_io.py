"""Kafka clients configured the same way everywhere (kafka-python; any Kafka or the embedded broker)."""

from __future__ import annotations

import logging

from kafka import KafkaConsumer, KafkaProducer

# kafka-python logs connection chatter at INFO/WARNING; keep our logs readable.
logging.getLogger("kafka").setLevel(logging.CRITICAL)


def make_producer(bootstrap: str, *, client_id: str = "hds") -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        retries=5,
        linger_ms=5,
        max_in_flight_requests_per_connection=1,  # keep order per partition across retries
        request_timeout_ms=30_000,
        max_block_ms=30_000,
    )


def make_consumer(
    bootstrap: str,
    *,
    group_id: str,
    session_timeout_ms: int = 6000,
    client_id: str = "hds",
    max_poll_records: int = 500,
) -> KafkaConsumer:
    return KafkaConsumer(
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
    )


def headers_dict(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers or []:
        try:
            out[k] = (v or b"").decode("utf-8")
        except UnicodeDecodeError:
            out[k] = ""
    return out


def encode_headers(values: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode("utf-8")) for k, v in values.items()]


def ensure_topics(bootstrap: str, names: list[str], *, partitions: int = 4) -> list[str]:
    """Create the topics that do not exist yet (idempotent). Returns the names created.

    Consumers subscribe by pattern; creating the known topics before they join means the first group join
    already covers them (joining while topics appear forces extra rebalances). Where the cluster forbids
    topic creation (city scale: topics come from the Helm chart's job), failures are logged and ignored.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    log = logging.getLogger(__name__)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hds-admin")
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


class AssignmentWatchdog:
    """Detects a group member left without partitions while its pattern matches topics.

    Seen with the embedded broker: a join that races with topic creation can leave the member with an empty
    assignment after the follow-up rebalance. The owner then recreates its consumer (a fresh join)."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._since: float | None = None

    def stuck(self, consumer) -> bool:  # type: ignore[no-untyped-def]
        import time

        if consumer.assignment() or not consumer.subscription():
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
