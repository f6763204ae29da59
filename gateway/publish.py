"""Hospital-side publishing: feed files -> one Kafka message each on hds.raw.<hospital>.<feed>.

Every file is read and validated completely before the first message is sent, so a bad file (or any bad file
among several) publishes nothing. Errors name the file and the position, never content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.formats import format_for
from gateway.readers import FeedMessage, FeedReadError, detect_format, read_feed_bytes, read_feed_file
from policies.feeds import FeedConfig
from policies.topics import raw_topic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishReport:
    topic: str
    files: int
    messages: int

    def as_dict(self) -> dict[str, object]:
        return {"topic": self.topic, "files": self.files, "messages": self.messages}


class PublishError(RuntimeError):
    pass


def headers_for(hospital: str, feed: str, m: FeedMessage) -> list[tuple[str, bytes]]:
    return [
        ("hospital", hospital.encode()),
        ("feed", feed.encode()),
        ("format", m.format.encode()),
        ("content-type", m.content_type.encode()),
        ("message-id", m.message_id.encode()),
    ]


def send_messages(producer, hospital: str, feed: str, messages: Sequence[FeedMessage],  # type: ignore[no-untyped-def]
                  progress: Callable[[int, int], None] | None = None) -> int:
    """Send and wait for every acknowledgement; raise PublishError if any send failed."""
    topic = raw_topic(hospital, feed)
    futures = []
    for i, m in enumerate(messages, 1):
        futures.append(producer.send(topic, key=m.message_id.encode(), value=m.payload,
                                     headers=headers_for(hospital, feed, m)))
        if progress and (i % 500 == 0 or i == len(messages)):
            progress(i, len(messages))
    producer.flush(timeout=60)
    failed = 0
    for f in futures:
        try:
            f.get(timeout=60)
        except Exception:
            failed += 1
    if failed:
        raise PublishError(f"{failed} of {len(futures)} messages to {topic} were not acknowledged by the broker")
    return len(futures)


def check_for_feed(source: Path | str, messages: Sequence[FeedMessage], feed: FeedConfig) -> None:
    """What the feed accepts beyond the file's structure, message by message (the feed format's ``accept``,
    the same check the gateway makes): for HL7 v2 the whole grammar (``deid.hl7``: truncated segments, open
    escapes), the message types and required segments of ``policies/feeds.yaml``. Raises FeedReadError naming
    the source, the message's position and a reason code; never content."""
    fmt = format_for(feed.format)
    if fmt is None:
        raise FeedReadError(source, "file", f"no reader for format {feed.format}")
    for m in messages:
        _, rejected = fmt.accept(m.payload.decode("utf-8"), feed)
        if rejected is None:
            continue
        if rejected.reason == "hl7_parse_error":
            raise FeedReadError(source, m.position, rejected.detail.replace(" ", " at ", 1))
        raise FeedReadError(source, m.position, f"{rejected.reason} ({rejected.detail}): feed '{feed.feed}' "
                            "does not take it")


def read_for_feed(source: Path | str, data: bytes, feed: FeedConfig, *, format: str | None = None) -> list[FeedMessage]:
    """Read bytes (a file's, an HTTP body) for ``feed``: their format must be the feed's, every message must be
    one the feed accepts. All or nothing, like ``read_feed_file``."""
    if format is not None and format != feed.format:
        raise FeedReadError(source, "file", f"--format {format} does not match feed '{feed.feed}' ({feed.format})")
    if data.strip():
        try:
            detected = detect_format(Path(source), data[:4096])
        except FeedReadError:
            detected = feed.format  # no clear signature: the feed's reader decides
        if detected != feed.format:
            raise FeedReadError(source, "file", f"looks like {detected}, but feed '{feed.feed}' takes {feed.format}")
    messages = read_feed_bytes(data, source=source, hospital=feed.hospital, feed=feed.feed, format=feed.format)
    check_for_feed(source, messages, feed)
    return messages


def read_all(paths: Sequence[Path], *, hospital: str, feed: str, format: str | None = None,
             feed_config: FeedConfig | None = None) -> list[FeedMessage]:
    """Every message of every file, validated before anything is sent (against the feed when it is given)."""
    messages: list[FeedMessage] = []
    for p in paths:
        if feed_config is None:
            messages.extend(read_feed_file(Path(p), hospital=hospital, feed=feed, format=format))
            continue
        try:
            data = Path(p).read_bytes()
        except OSError as exc:
            raise FeedReadError(p, "file", f"cannot be read ({type(exc).__name__})") from None
        messages.extend(read_for_feed(p, data, feed_config, format=format))
    return messages


def publish_files(producer, paths: Sequence[Path], *, hospital: str, feed: str,  # type: ignore[no-untyped-def]
                  format: str | None = None, progress: Callable[[int, int], None] | None = None,
                  feed_config: FeedConfig | None = None) -> PublishReport:
    topic = raw_topic(hospital, feed)  # validates names before anything is read
    messages = read_all(paths, hospital=hospital, feed=feed, format=format, feed_config=feed_config)
    n = send_messages(producer, hospital, feed, messages, progress)
    log.info("published %d messages from %d files to %s", n, len(paths), topic)
    return PublishReport(topic, len(paths), n)
