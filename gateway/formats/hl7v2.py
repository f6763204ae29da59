"""HL7 v2 feeds: files of one or more messages, read with the one HL7 grammar (``deid.hl7``), and the feed's
rules beyond the format: message types and required segments (``policies/feeds.yaml``).

The same ``accept`` runs at every edge (``hds publish``, ``POST /api/ingest``, ``hds mllp``) and again in the
gateway, which dead-letters a message that breaks it (anyone who may write a raw topic can bypass the
publisher). Reasons are codes; details name a segment, a position or a type code, never a value.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from deid import hl7
from gateway.formats.base import FeedFormat, FeedMessage, FeedReadError, FeedRules, Rejection, message_id
from gateway.formats.registry import register

_BOM = codecs.BOM_UTF8
_TYPE_CODE = re.compile(r"[A-Z0-9]{3}")
CONTENT_TYPE = "application/hl7-v2"


def read_hl7(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FeedReadError(path, "start of file", "UTF-16 is not supported; send UTF-8")
    try:
        messages = hl7.split_file(data.removeprefix(_BOM))
    except hl7.HL7FileError as exc:
        raise FeedReadError(path, exc.position, exc.reason) from None
    if not messages:
        raise FeedReadError(path, "file", "no HL7 message (no MSH segment) in file")
    out: list[FeedMessage] = []
    for message in messages:
        normalised = message.text.encode("utf-8")
        out.append(FeedMessage(payload=normalised, format="hl7v2", content_type=CONTENT_TYPE,
                               message_id=message_id(hospital, feed, normalised),
                               position=f"message {message.number} (line {message.first_line})"))
    return out


def message_type(msg: hl7.Message, msh: hl7.Segment) -> tuple[str, str]:
    """(MSH-9.1, MSH-9.2): the message type and trigger event codes, e.g. ("ADT", "A01")."""
    parts = msh.field(9).split(msg.separators.component)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _shown(code: str) -> str:
    """A code echoed in a detail only when it has the shape of one (three upper-case letters or digits)."""
    return code if _TYPE_CODE.fullmatch(code) else "?"


def check_hl7(msg: hl7.Message, feed: FeedRules) -> Rejection | None:
    """The first rule of ``feed`` that one of the messages in ``msg`` breaks, else None:
    ``message_type_not_accepted``, ``event_not_accepted`` or ``missing_segment``."""
    for start, end in hl7.split_messages(msg):
        segments = msg.segments[start:end]
        kind, event = message_type(msg, segments[0])
        if feed.message_types:
            accepted = set(feed.message_types)
            if f"{kind}^{event}" not in accepted and kind not in accepted:
                if any(t.split("^")[0] == kind for t in accepted):
                    return Rejection("event_not_accepted", f"MSH-9 {_shown(kind)}^{_shown(event)}")
                return Rejection("message_type_not_accepted", f"MSH-9 {_shown(kind)}")
        present = {seg.name for seg in segments}
        for name in feed.required_segments:
            if name not in present:
                return Rejection("missing_segment", name)
    return None


class Hl7v2Format(FeedFormat):
    name = "hl7v2"
    content_type = CONTENT_TYPE
    suffixes = (".hl7", ".hl7v2", ".er7", ".msg")

    def sniff(self, head: bytes) -> bool:
        return hl7.looks_like_hl7(head)

    def read(self, path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
        return read_hl7(path, data, hospital, feed)

    def accept(self, text: str, feed: FeedRules) -> tuple[Any, Rejection | None]:
        """The text itself (the de-identification parses it again) once the grammar and the feed's rules hold."""
        try:
            broken = check_hl7(hl7.parse(text), feed)
        except hl7.HL7ParseError as exc:
            return None, Rejection("hl7_parse_error", f"{exc.reason} {exc.position}".strip())
        return (None, broken) if broken is not None else (text, None)


register(Hl7v2Format())
