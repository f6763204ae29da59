"""Hospital-side publishing: feed files -> one Kafka message each on hds.raw.<hospital>.<feed>.

Every file is read and validated completely before the first message is sent, so a bad file (or any bad file
among several) publishes nothing. Errors name the file and the position, never content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.readers import FeedMessage, read_feed_file
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


def read_all(paths: Sequence[Path], *, hospital: str, feed: str, format: str | None = None) -> list[FeedMessage]:
    messages: list[FeedMessage] = []
    for p in paths:
        messages.extend(read_feed_file(Path(p), hospital=hospital, feed=feed, format=format))
    return messages


def publish_files(producer, paths: Sequence[Path], *, hospital: str, feed: str,  # type: ignore[no-untyped-def]
                  format: str | None = None, progress: Callable[[int, int], None] | None = None) -> PublishReport:
    topic = raw_topic(hospital, feed)  # validates names before anything is read
    messages = read_all(paths, hospital=hospital, feed=feed, format=format)
    n = send_messages(producer, hospital, feed, messages, progress)
    log.info("published %d messages from %d files to %s", n, len(paths), topic)
    return PublishReport(topic, len(paths), n)
