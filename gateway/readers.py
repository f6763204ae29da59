"""Feed-file readers: HL7 v2, FHIR JSON/NDJSON and CSV files -> one ``FeedMessage`` per message.

The publisher (``hds publish``, ``POST /api/ingest``) turns each ``FeedMessage`` into one Kafka
record. A reader validates the whole file before returning anything, so a bad file is refused as a
whole and nothing is half-published. Errors are ``FeedReadError``: they name the file, a position
(message number, line, row, column) and a reason, never the content. See docs/feeds.md.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deid import hl7

FORMATS = ("hl7v2", "fhir", "csv")
CONTENT_TYPES = {
    "hl7v2": "application/hl7-v2",
    "fhir": "application/fhir+json",
    "csv": "application/json",
}
_SUFFIXES = {
    ".hl7": "hl7v2", ".hl7v2": "hl7v2", ".er7": "hl7v2", ".msg": "hl7v2",
    ".json": "fhir", ".ndjson": "fhir", ".jsonl": "fhir", ".fhir": "fhir",
    ".csv": "csv",
}
_BOM = codecs.BOM_UTF8
_MLLP_START = b"\x0b"


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


def detect_format(path: Path, head: bytes) -> str:
    """``hl7v2`` | ``fhir`` | ``csv`` from the first bytes of the file, else from its suffix."""
    if hl7.looks_like_hl7(head):
        return "hl7v2"
    start = head.removeprefix(_BOM).lstrip(b" \t\r\n" + _MLLP_START)
    if start[:1] in (b"{", b"["):
        return "fhir"
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    first_line = start.split(b"\n", 1)[0]
    if b"," in first_line:
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
    fmt = format or detect_format(path, data[:4096])
    if fmt not in FORMATS:
        raise FeedReadError(path, "file", f"unknown format (expected one of {', '.join(FORMATS)})")
    reader: Callable[[Path, bytes, str, str], list[FeedMessage]] = _READERS[fmt]
    return reader(path, data, hospital, feed)


# ----------------------------------------------------------------------------------------------- HL7 v2
# The grammar is deid.hl7's (the one HL7 v2 parser): split_file for files, parse for each message.


def _read_hl7(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
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
        out.append(
            FeedMessage(
                payload=normalised,
                format="hl7v2",
                content_type=CONTENT_TYPES["hl7v2"],
                message_id=message_id(hospital, feed, normalised),
                position=f"message {message.number} (line {message.first_line})",
            )
        )
    return out


# ------------------------------------------------------------------------------------------------- FHIR


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _read_fhir(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
    text = _decode_utf8(path, data.removeprefix(_BOM))
    values: list[tuple[int, Any]] = []
    ndjson = path.suffix.lower() in (".ndjson", ".jsonl")
    if not ndjson:
        try:
            values = [(_line_of(text, _first_char(text)), _json_loads(text))]
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data":
                raise FeedReadError(path, f"line {exc.lineno}, column {exc.colno}",
                                    f"invalid JSON ({exc.msg})") from None
            ndjson = True  # several JSON values: read it as NDJSON
        except ValueError as exc:
            raise FeedReadError(path, "document", f"invalid JSON ({exc})") from None
    if ndjson:
        values = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values.append((number, _json_loads(line)))
            except json.JSONDecodeError as exc:
                raise FeedReadError(path, f"line {number}, column {exc.colno}",
                                    f"invalid JSON ({exc.msg})") from None
            except ValueError as exc:
                raise FeedReadError(path, f"line {number}", f"invalid JSON ({exc})") from None
    out: list[FeedMessage] = []
    for number, value in values:
        if not isinstance(value, dict):
            raise FeedReadError(path, f"line {number}", "JSON value is not an object (expected a FHIR resource)")
        resource_type = value.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type:
            raise FeedReadError(path, f"line {number}", "JSON object without resourceType")
        payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        out.append(
            FeedMessage(
                payload=payload,
                format="fhir",
                content_type=CONTENT_TYPES["fhir"],
                message_id=message_id(hospital, feed, payload),
                position=f"line {number}",
            )
        )
    return out


def _json_loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _first_char(text: str) -> int:
    return len(text) - len(text.lstrip())


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# -------------------------------------------------------------------------------------------------- CSV


def _read_csv(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
    text = _decode_utf8(path, data.removeprefix(_BOM))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    out: list[FeedMessage] = []
    row_number = 0
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if header is None:
                header = [name.strip() for name in row]
                _check_header(path, reader.line_num, header)
                continue
            row_number += 1
            where = f"row {row_number} (line {reader.line_num})"
            if len(row) != len(header):
                raise FeedReadError(path, where, f"expected {len(header)} columns, found {len(row)}")
            payload = json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False,
                                 separators=(",", ":")).encode("utf-8")
            out.append(
                FeedMessage(
                    payload=payload,
                    format="csv",
                    content_type=CONTENT_TYPES["csv"],
                    message_id=message_id(hospital, feed, payload),
                    position=where,
                )
            )
    except csv.Error as exc:
        raise FeedReadError(path, f"line {reader.line_num}", f"malformed CSV ({_csv_reason(exc)})") from None
    if header is None:
        raise FeedReadError(path, "file", "no header row")
    return out


def _check_header(path: Path, line: int, header: list[str]) -> None:
    seen: set[str] = set()
    for column, name in enumerate(header, start=1):
        if not name:
            raise FeedReadError(path, f"header (line {line}), column {column}", "empty column name")
        if name in seen:
            raise FeedReadError(path, f"header (line {line}), column {column}", "duplicate column name")
        seen.add(name)


def _csv_reason(exc: csv.Error) -> str:
    # csv messages describe the syntax problem ("unexpected end of data", "',' expected after '\"'")
    # and may quote one delimiter character, never a field value.
    return str(exc)[:80]


# ------------------------------------------------------------------------------------------------ shared


def _decode_utf8(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FeedReadError(path, f"line {line}", "bytes are not valid UTF-8") from None


_READERS: dict[str, Callable[[Path, bytes, str, str], list[FeedMessage]]] = {
    "hl7v2": _read_hl7,
    "fhir": _read_fhir,
    "csv": _read_csv,
}
