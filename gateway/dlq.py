"""Reading the dead-letter topics for operators: where and why, never what.

The DLQ keeps raw messages (restricted zone) so a hospital can fix and resend them; a listing shows only
headers that are codes and positions, the message id and the size."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from gateway.kafka_io import PatternFollower, headers_dict, make_consumer

DLQ_PATTERN = r"^hds\.dlq\..+"
LISTED_HEADERS = ("dlq-reason", "dlq-detail", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset",
                  "dlq-failed-at", "message-id", "hospital", "feed", "format")


def list_dead_letters(bootstrap: str, *, pattern: str = DLQ_PATTERN, idle_s: float = 2.0, limit: int | None = None,
                      security: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every dead letter currently on the matching topics, oldest first per partition (no consumer group)."""
    consumer = make_consumer(bootstrap, group_id=None, security=security)  # type: ignore[arg-type]
    follower = PatternFollower(consumer, pattern, refresh_s=0)
    try:
        follower.refresh()
        if not follower.assigned:
            return
        consumer.seek_to_beginning(*follower.assigned)
        seen = 0
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s:
            batch = consumer.poll(timeout_ms=300)
            if not batch:
                continue
            quiet_since = time.monotonic()
            for tp, records in batch.items():
                for r in records:
                    h = headers_dict(r.headers)
                    item: dict[str, Any] = {"topic": r.topic, "partition": r.partition, "offset": r.offset,
                                            "bytes": len(r.value or b"")}
                    item.update({k.removeprefix("dlq-").replace("-", "_"): h[k] for k in LISTED_HEADERS if k in h})
                    yield item
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
    finally:
        consumer.close()
