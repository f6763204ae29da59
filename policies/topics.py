"""Topic names: the zones of the data flow, in one place."""

from __future__ import annotations

import re

RAW_PREFIX = "hds.raw."
DEID_PREFIX = "hds.deid."
DLQ_PREFIX = "hds.dlq."
RAW_PATTERN = r"^hds\.raw\..+"
DEID_PATTERN = r"^hds\.deid\..+"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{kind} must be lowercase letters, digits, '-' or '_' (1-63 chars, not starting with - or _)")
    return value


def raw_topic(hospital: str, feed: str) -> str:
    return f"{RAW_PREFIX}{check_name('hospital', hospital)}.{check_name('feed', feed)}"


def deid_topic(dataset: str) -> str:
    return f"{DEID_PREFIX}{check_name('dataset', dataset)}"


def dlq_topic(hospital: str, feed: str) -> str:
    return f"{DLQ_PREFIX}{hospital}.{feed}"


def parse_raw_topic(topic: str) -> tuple[str, str] | None:
    """`hds.raw.<hospital>.<feed>` -> (hospital, feed), or None when the topic does not have that shape."""
    if not topic.startswith(RAW_PREFIX):
        return None
    rest = topic[len(RAW_PREFIX):]
    hospital, sep, feed = rest.partition(".")
    if not sep or not _NAME.match(hospital) or not _NAME.match(feed):
        return None
    return hospital, feed


def dataset_of(topic: str) -> str | None:
    if not topic.startswith(DEID_PREFIX):
        return None
    name = topic[len(DEID_PREFIX):]
    return name if _NAME.match(name) else None
