"""What a feed accepts beyond its format: HL7 v2 message types and required segments (``policies/feeds.yaml``).

One check, used at every edge (``hds publish``, ``POST /api/ingest``, ``hds mllp``) and again by the gateway,
which dead-letters a message that breaks it (a topic can be written by anyone who may write it, not only by
this project's publisher). Reasons are codes; details name a segment or a message type code, never a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deid import hl7
from gateway.feeds import FeedConfig

_TYPE_CODE = re.compile(r"[A-Z0-9]{3}")


@dataclass(frozen=True)
class FeedRuleViolation:
    reason: str  # message_type_not_accepted | event_not_accepted | missing_segment
    detail: str


def message_type(msg: hl7.Message, msh: hl7.Segment) -> tuple[str, str]:
    """(MSH-9.1, MSH-9.2): the message type and trigger event codes, e.g. ("ADT", "A01")."""
    parts = msh.field(9).split(msg.separators.component)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _shown(code: str) -> str:
    """A code echoed in a detail only when it has the shape of one (three upper-case letters or digits)."""
    return code if _TYPE_CODE.fullmatch(code) else "?"


def check_hl7(msg: hl7.Message, feed: FeedConfig) -> FeedRuleViolation | None:
    """The first rule of ``feed`` that one of the messages in ``msg`` breaks, else None."""
    for start, end in hl7.split_messages(msg):
        segments = msg.segments[start:end]
        kind, event = message_type(msg, segments[0])
        if feed.message_types:
            accepted = set(feed.message_types)
            if f"{kind}^{event}" not in accepted and kind not in accepted:
                same_kind = any(t.split("^")[0] == kind for t in accepted)
                if same_kind:
                    return FeedRuleViolation("event_not_accepted", f"MSH-9 {_shown(kind)}^{_shown(event)}")
                return FeedRuleViolation("message_type_not_accepted", f"MSH-9 {_shown(kind)}")
        present = {seg.name for seg in segments}
        for name in feed.required_segments:
            if name not in present:
                return FeedRuleViolation("missing_segment", name)
    return None
