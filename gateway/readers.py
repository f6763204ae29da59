"""Feed-file readers: HL7 v2, FHIR JSON/NDJSON and CSV files or bodies -> one ``FeedMessage`` per message.

The publisher (``hds publish``, ``POST /api/ingest``, ``hds mllp``) turns each ``FeedMessage`` into one Kafka
record. A reader validates the whole input before returning anything, so a bad file is refused as a whole and
nothing is half-published. Errors are ``FeedReadError``: they name the file, a position (message number, line,
row, column) and a reason, never the content. Each format is a module of ``gateway.formats``, registered by
name; this module finds the right one. See docs/feeds.md.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from gateway.formats import FeedMessage, FeedReadError, all_formats, format_for, message_id, names

__all__ = ["CONTENT_TYPES", "FORMATS", "FeedMessage", "FeedReadError", "detect_format", "message_id",
           "read_feed_bytes", "read_feed_file"]

FORMATS = names()
CONTENT_TYPES = {f.name: f.content_type for f in all_formats()}
_BOM = codecs.BOM_UTF8
_MLLP_START = b"\x0b"


def detect_format(path: Path, head: bytes) -> str:
    """The format from the first bytes of the file (a format's signature), else from its suffix, else a comma
    in the first line means CSV."""
    for fmt in all_formats():
        if fmt.sniff(head):
            return fmt.name
    suffix = Path(path).suffix.lower()
    for fmt in all_formats():
        if suffix in fmt.suffixes:
            return fmt.name
    start = head.removeprefix(_BOM).lstrip(b" \t\r\n" + _MLLP_START)
    if b"," in start.split(b"\n", 1)[0]:
        return "csv"
    raise FeedReadError(path, "start of file", "cannot tell the format (expected HL7 v2, FHIR JSON or CSV)")


def read_feed_file(
    path: Path, *, hospital: str, feed: str, format: str | None = None
) -> list[FeedMessage]:
    """Read and validate a whole feed file; return its messages in file order.

    Raises ``FeedReadError`` (and returns nothing) if any part of the file is unreadable.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FeedReadError(path, "file", f"cannot be read ({type(exc).__name__})") from None
    return read_feed_bytes(data, source=path, hospital=hospital, feed=feed, format=format)


def read_feed_bytes(
    data: bytes, *, source: Path | str, hospital: str, feed: str, format: str | None = None
) -> list[FeedMessage]:
    """Like ``read_feed_file`` for bytes already in hand (an HTTP body, an MLLP block). ``source`` names them
    in errors; its suffix (``.ndjson``, ``.csv``, ...) helps format detection as a file name's would."""
    path = Path(source)
    if not data.removeprefix(_BOM).strip():
        raise FeedReadError(path, "file", "empty file")
    reader = format_for(format or detect_format(path, data[:4096]))
    if reader is None:
        raise FeedReadError(path, "file", f"unknown format (expected one of {', '.join(FORMATS)})")
    return reader.read(path, data, hospital, feed)
