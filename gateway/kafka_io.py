"""Kafka clients configured the same way everywhere (kafka-python; any Kafka or the embedded broker)."""

from __future__ import annotations

import logging

from kafka import KafkaConsumer, KafkaProducer

# kafka-python logs connection chatter at INFO/WARNING; keep our logs readable.
logging.getLogger("kafka").setLevel(logging.ERROR)


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
