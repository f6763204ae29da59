"""What every feed format shares: the message a reader returns, its errors, its id, and the format interface.

A feed format is one module in this package (``hl7v2``, ``fhir``, ``csv``) defining a ``FeedFormat`` and
registering it by name (``gateway.formats.registry``): how a file or body is split into messages (``read``),
how a raw message is recognised (``sniff``, ``suffixes``), and what the feed accepts (``accept``, used by the
publisher before sending and by the gateway before de-identifying). The de-identification adapter
(``deid/formats/<name>.py``) and the projection (``gateway/projection/<name>.py``) register under the same name.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class FeedMessage:
    payload: bytes  # UTF-8: HL7 message (CR-separated), FHIR JSON (compact) or a CSV row as a JSON object
    format: str  # "hl7v2" | "fhir" | "csv"
    content_type: str  # "application/hl7-v2" | "application/fhir+json" | "application/json"
    message_id: str  # sha256(hospital|feed|normalised message), first 32 hex digits
    position: str  # where in the file, e.g. "message 3 (line 57)", "line 12", "row 40 (line 41)"


class FeedReadError(ValueError):
    """A feed file that cannot be published. Names the file and position, never the content."""

    def __init__(self, path: Path | str, position: str, reason: str) -> None:
        self.path = str(path)
        self.position = position
        self.reason = reason
        super().__init__(f"{self.path}: {position}: {reason}")


def message_id(hospital: str, feed: str, normalised: bytes) -> str:
    """Stable id of a message: the same content from the same hospital and feed gets the same id."""
    digest = hashlib.sha256(f"{hospital}|{feed}|".encode() + normalised)
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class Rejection:
    """Why a feed does not take a message: a reason code and a position or code detail, never content."""

    reason: str
    detail: str = ""


class FeedRules(Protocol):
    """What a format may ask of the feed's registry entry (``policies/feeds.yaml``)."""

    feed: str
    format: str
    message_types: tuple[str, ...]
    required_segments: tuple[str, ...]


class FeedFormat(ABC):
    name: str
    content_type: str  # of the published Kafka message
    suffixes: tuple[str, ...] = ()  # file name suffixes that say this format

    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes carry this format's signature (content decides before the suffix)."""
        return False

    @abstractmethod
    def read(self, path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
        """Every message of ``data`` in order, or FeedReadError naming ``path`` and a position."""

    @abstractmethod
    def accept(self, text: str, feed: FeedRules) -> tuple[Any, Rejection | None]:
        """One raw message (UTF-8 text) -> (the record for de-identification, None) or (None, why not)."""


def decode_utf8(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FeedReadError(path, f"line {line}", "bytes are not valid UTF-8") from None


