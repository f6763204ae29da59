"""One raw message in, one outcome out: a de-identified record for hds.deid.<dataset>, or a dead letter.

No Kafka here (the service around it moves bytes); errors are values. Fail closed: every failure, expected or
not, becomes a dead letter with a PHI-free reason code, and nothing of that message moves downstream.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from deid.text.propagation import FindingsCache
from gateway.formats import format_for
from gateway.projection import project
from policies.feeds import FeedRegistry
from policies.topics import deid_topic, dlq_topic, parse_raw_topic

log = logging.getLogger(__name__)


class Engine(Protocol):
    def deidentify(self, payload: Any, *, format: str, profile: str, hospital: str, findings: Any = None) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    dead_letter: bool
    reason: str | None = None
    dataset: str | None = None
    source: dict[str, str] = field(default_factory=dict)


class Processor:
    def __init__(
        self,
        registry: FeedRegistry,
        engine: Engine,
        *,
        record_key: bytes,
        key_id: str,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._registry = registry
        self._engine = engine
        self._findings = FindingsCache()  # patient-level propagation: in memory, bounded, never logged
        self._record_key = record_key
        self._key_id = key_id
        self._now = now

    @property
    def registry(self) -> FeedRegistry:
        return self._registry

    def warm_up(self) -> None:
        """Build what the engine builds lazily (the free-text redactor: seconds), before the first message,
        so readiness means ready and a stop signal is not held up by a first message."""
        build = getattr(self._engine, "redactor", None)
        if callable(build):
            build()

    def record_id(self, hospital: str, feed: str, message_key: bytes | None, value: bytes) -> str:
        basis = message_key if message_key else hashlib.sha256(value).hexdigest().encode()
        mac = hmac.new(self._record_key, b"record\x1f" + hospital.encode() + b"\x1f" + feed.encode() + b"\x1f" + basis,
                       hashlib.sha256)
        return mac.hexdigest()[:32]

    def process(
        self, topic: str, key: bytes | None, value: bytes | None, headers: dict[str, str],
        partition: int = 0, offset: int = -1,
    ) -> Outcome:
        parsed = parse_raw_topic(topic)
        hospital, feed = parsed if parsed else ("unknown", "unknown")
        where = {"topic": topic, "partition": str(partition), "offset": str(offset)}
        try:
            return self._process(topic, parsed, key, value or b"", headers, where)
        except Exception as exc:  # fail closed: anything unexpected is a dead letter, never a pass-through
            log.warning("internal error on %s[%s]@%s: %s", topic, partition, offset, type(exc).__name__)
            return self._dead(hospital, feed, key, value or b"", headers, where, "internal_error", type(exc).__name__)

    def _process(
        self, topic: str, parsed: tuple[str, str] | None, key: bytes | None, value: bytes,
        headers: dict[str, str], where: dict[str, str],
    ) -> Outcome:
        if parsed is None:
            return self._dead("unknown", "unknown", key, value, headers, where, "bad_topic", "topic is not hds.raw.<hospital>.<feed>")
        hospital, feed = parsed
        dead = lambda reason, detail="": self._dead(hospital, feed, key, value, headers, where, reason, detail)  # noqa: E731
        for h, expected in (("hospital", hospital), ("feed", feed)):
            if headers.get(h) and headers[h] != expected:
                return dead("header_mismatch", f"header '{h}' does not match the topic")
        cfg = self._registry.lookup(hospital, feed)
        if cfg is None:
            return dead("unknown_feed", "no entry for this hospital and feed in the feed registry")
        if headers.get("format") and headers["format"] != cfg.format:
            return dead("format_mismatch", f"feed expects {cfg.format}")
        if not value:
            return dead("empty_message")
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return dead("encoding_error", f"payload is not UTF-8 (byte {exc.start})")
        feed_format = format_for(cfg.format)
        if feed_format is None:
            return dead("unknown_format", f"no reader registered for {cfg.format}")
        payload, rejected = feed_format.accept(text, cfg)  # grammar and the feed's rules, as at the edges
        if rejected is not None:
            return dead(rejected.reason, rejected.detail)
        result = self._engine.deidentify(
            payload, format=cfg.format, profile=cfg.profile, hospital=hospital, findings=self._findings
        )
        if not getattr(result, "ok", False):
            return dead(str(getattr(result, "reason", None) or "deid_error"), str(getattr(result, "detail", None) or ""))
        try:
            columns, types = project(cfg.format, result.payload)
        except Exception as exc:
            return dead("projection_error", type(exc).__name__)
        record_id = self.record_id(hospital, feed, key, value)
        envelope = {
            "record_id": record_id,
            "dataset": cfg.dataset,
            "hospital": hospital,
            "feed": feed,
            "format": cfg.format,
            "profile": getattr(result, "profile", cfg.profile),
            "key_id": getattr(result, "key_id", self._key_id),
            "patient_pseudonym": getattr(result, "patient", None),
            "deidentified_at": self._now().isoformat(),
            "columns": columns,
            "column_types": types,
            "payload": result.payload,
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        out_headers = [
            ("hospital", hospital.encode()), ("feed", feed.encode()), ("dataset", cfg.dataset.encode()),
            ("format", cfg.format.encode()), ("profile", cfg.profile.encode()),
            ("content-type", b"application/json"),
        ]
        return Outcome(deid_topic(cfg.dataset), record_id.encode(), body, out_headers, False, dataset=cfg.dataset,
                       source=where)

    def _dead(
        self, hospital: str, feed: str, key: bytes | None, value: bytes, headers: dict[str, str],
        where: dict[str, str], reason: str, detail: str = "",
    ) -> Outcome:
        # The dead-letter topic is in the restricted zone: it keeps the raw bytes so the hospital can fix and
        # resend, and a PHI-free reason. Reason and detail are codes and positions, never values.
        out = {k: v for k, v in headers.items() if k in {"hospital", "feed", "format", "content-type", "message-id"}}
        out.update({
            "dlq-reason": reason,
            "dlq-detail": detail[:200],
            "dlq-source-topic": where.get("topic", ""),
            "dlq-source-partition": where.get("partition", ""),
            "dlq-source-offset": where.get("offset", ""),
            "dlq-failed-at": self._now().isoformat(),
            "dlq-source-key": key.hex() if key else "",  # so a replay sends the message under its own key
        })
        # Keyed by the id this message would have had as a record: the same input dead-letters under the same
        # key however often it is redelivered or replayed, so readers (and a compacted topic) deduplicate.
        dlq_id = self.record_id(hospital, feed, key, value)
        out["dlq-id"] = dlq_id
        log.info("dead-lettered a message (%s)", reason, extra={
            "record_id": dlq_id, "reason": reason, "source_topic": where.get("topic", ""),
            "source_partition": where.get("partition", ""), "source_offset": where.get("offset", "")})
        topic = dlq_topic(hospital, feed) if hospital != "unknown" else "hds.dlq.unknown"
        return Outcome(topic, dlq_id.encode(), value, [(k, v.encode()) for k, v in out.items()], True, reason=reason,
                       source=where)
