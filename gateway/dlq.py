"""The dead-letter topics (``hds.dlq.<hospital>.<feed>``): one reader for listing, counting and replaying.

The DLQ keeps raw messages (restricted zone) so a hospital can fix and resend them, or an operator can replay
them after a profile fix. A listing shows only headers that are codes and positions, the message id and the
size, never the bytes. Every consumer here comes from the shared client factory (``make_consumer``), so TLS and
SASL settings apply as everywhere else.

Replay re-publishes each dead letter's raw bytes to the topic it came from, with its original key (the stable
message id) and headers: the gateway processes it again under the current profiles and feed registry, and
derives the same record id as the first time, so the catalog keeps one row however often a message is replayed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gateway.kafka_io import PatternFollower, headers_dict, make_consumer
from policies.topics import check_name, parse_raw_topic

DLQ_PATTERN = r"^hds\.dlq\..+"
LISTED_HEADERS = ("dlq-reason", "dlq-detail", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset",
                  "dlq-failed-at", "message-id", "hospital", "feed", "format")
REPLAYED_HEADERS = ("hospital", "feed", "format", "content-type", "message-id")  # what the publisher sent


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes  # the raw message: restricted, never printed or logged
    headers: dict[str, str]

    @property
    def reason(self) -> str:
        return self.headers.get("dlq-reason", "?")

    @property
    def source_topic(self) -> str:
        return self.headers.get("dlq-source-topic", "")

    @property
    def source_key(self) -> bytes | None:
        """The key the message had on its raw topic (the record id derives from it): the ``dlq-source-key``
        header (hex; empty when it had none), else the dead letter's own key (letters written before the
        header existed were keyed like their source)."""
        if "dlq-source-key" not in self.headers:
            return self.key
        try:
            return bytes.fromhex(self.headers["dlq-source-key"]) or None
        except ValueError:
            return None

    @property
    def identity(self) -> tuple[str, str, str]:
        """The input record this letter is about: its raw topic, partition and offset. The gateway writes at least
        once, so a slice retried after a failed produce or commit dead-letters the same input again under a new
        DLQ offset; readers count and list each input once. A letter without a source position (written by a
        path that had none) is its own identity."""
        part, offset = self.headers.get("dlq-source-partition", ""), self.headers.get("dlq-source-offset", "")
        if self.source_topic and part != "" and offset != "":
            return (self.source_topic, part, offset)
        return (self.topic, str(self.partition), str(self.offset))

    def listing(self) -> dict[str, Any]:
        """What an operator may see: coordinates, codes, the message id and the size; never the content."""
        item: dict[str, Any] = {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                                "bytes": len(self.value)}
        item.update({k.removeprefix("dlq-").replace("-", "_"): self.headers[k] for k in LISTED_HEADERS
                     if k in self.headers})
        return item


def dlq_pattern(hospital: str | None = None, feed: str | None = None) -> str:
    """The topics of one hospital and/or feed (names checked, so a filter cannot become a wider pattern)."""
    h = re.escape(check_name("hospital", hospital)) if hospital else r"[^.]+"
    f = re.escape(check_name("feed", feed)) if feed else r"[^.]+"
    return rf"^hds\.dlq\.{h}\.{f}$"


class DeadLetterReader:
    """Reads the dead-letter topics matching ``pattern`` from the beginning (no consumer group, nothing
    committed). ``poll()`` returns what arrived since the last call; ``read_all()`` reads until idle."""

    def __init__(self, bootstrap: str, *, pattern: str = DLQ_PATTERN, security: dict[str, Any] | None = None,
                 client_id: str = "hds-dlq", refresh_s: float = 2.0) -> None:
        self._consumer = make_consumer(bootstrap, group_id=None, security=security,  # type: ignore[arg-type]
                                       client_id=client_id)
        self._follower = PatternFollower(self._consumer, pattern, refresh_s=refresh_s, on_new=self._from_start)
        self._identities: set[tuple[str, str, str]] = set()
        self.repeats = 0  # letters about an input record already read (at-least-once writes), skipped

    def _from_start(self, partitions: set) -> None:  # type: ignore[type-arg]
        self._consumer.seek_to_beginning(*partitions)

    def poll(self, timeout_ms: int = 300) -> list[DeadLetter]:
        self._follower.refresh()
        if not self._follower.assigned:
            time.sleep(timeout_ms / 1000)
            return []
        out: list[DeadLetter] = []
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            out.extend(DeadLetter(r.topic, r.partition, r.offset, r.key, r.value or b"", headers_dict(r.headers))
                       for r in records)
        return out

    def read_all(self, *, idle_s: float = 2.0, limit: int | None = None) -> Iterator[DeadLetter]:
        """Every dead letter on the matching topics now, oldest first per partition, each input record once (the
        first letter of an :attr:`DeadLetter.identity`; repeats are counted in ``repeats``); stops after
        ``idle_s`` without a new one."""
        self._follower.refresh()
        if not self._follower.assigned:
            return
        seen = 0
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle_s:
            batch = self.poll()
            if batch:
                quiet_since = time.monotonic()
            for item in self.first_letters(batch):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return

    def first_letters(self, batch: list[DeadLetter]) -> list[DeadLetter]:
        """The letters of ``batch`` whose input record this reader has not seen yet."""
        out = []
        for item in batch:
            if item.identity in self._identities:
                self.repeats += 1
                continue
            self._identities.add(item.identity)
            out.append(item)
        return out

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> "DeadLetterReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DeadLetterCounter:
    """Counts dead letters as they arrive, by reason (for the demo's progress line; values are never read)."""

    def __init__(self, bootstrap: str, *, security: dict[str, Any] | None = None, pattern: str = DLQ_PATTERN) -> None:
        self._reader = DeadLetterReader(bootstrap, pattern=pattern, security=security, client_id="hds-dlq-counter",
                                        refresh_s=1.0)
        self.count = 0
        self.reasons: dict[str, int] = {}

    def poll(self) -> int:
        for item in self._reader.first_letters(self._reader.poll(timeout_ms=200)):
            self.count += 1
            self.reasons[item.reason] = self.reasons.get(item.reason, 0) + 1
        return self.count

    def close(self) -> None:
        self._reader.close()


def list_dead_letters(bootstrap: str, *, pattern: str = DLQ_PATTERN, idle_s: float = 2.0, limit: int | None = None,
                      security: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every dead letter currently on the matching topics as a listing (no content)."""
    with DeadLetterReader(bootstrap, pattern=pattern, security=security) as reader:
        for item in reader.read_all(idle_s=idle_s, limit=limit):
            yield item.listing()


@dataclass
class ReplayReport:
    read: int = 0
    replayed: int = 0
    skipped_reason: int = 0  # did not match --reason
    duplicates: int = 0  # the same message dead-lettered more than once: replayed once
    unroutable: int = 0  # no hds.raw.<hospital>.<feed> source to send it back to

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "replayed": self.replayed, "skipped_reason": self.skipped_reason,
                "duplicates": self.duplicates, "unroutable": self.unroutable}


def replay_dead_letters(reader: DeadLetterReader, producer: Any, *, reason: str | None = None,
                        idle_s: float = 2.0) -> ReplayReport:
    """Send each matching dead letter back to its source raw topic, once per message, and wait for every
    acknowledgement (raises if any send failed: run it again, replay is idempotent)."""
    report = ReplayReport()
    sent: set[tuple[str, bytes]] = set()
    futures = []
    for item in reader.read_all(idle_s=idle_s):
        report.read += 1
        if reason is not None and item.reason != reason:
            report.skipped_reason += 1
            continue
        if parse_raw_topic(item.source_topic) is None:
            report.unroutable += 1
            continue
        key = item.source_key
        identity = (item.source_topic, key, None if key else item.value)
        if identity in sent:
            report.duplicates += 1
            continue
        sent.add(identity)
        headers = [(k, item.headers[k].encode()) for k in REPLAYED_HEADERS if k in item.headers]
        headers.append(("replayed-from", f"{item.topic}:{item.partition}:{item.offset}".encode()))
        futures.append(producer.send(item.source_topic, key=key, value=item.value, headers=headers))
        report.replayed += 1
    producer.flush(timeout=60)
    failed = 0
    for f in futures:
        try:
            f.get(timeout=60)
        except Exception:  # noqa: BLE001 - counted and reported; the caller exits non-zero
            failed += 1
    if failed:
        raise ReplayError(f"{failed} of {len(futures)} replayed messages were not acknowledged by the broker; "
                          "run the replay again (it is idempotent)")
    return report


class ReplayError(RuntimeError):
    pass
