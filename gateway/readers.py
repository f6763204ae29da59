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
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_MLLP_START, _MLLP_END = b"\x0b", b"\x1c"
_ENVELOPE = (b"FHS", b"BHS", b"BTS", b"FTS")
_MESSAGE_TYPE = re.compile(r"[A-Z0-9]{3}")

# HL7 table 0211 (MSH-18 character set) -> Python codec
_HL7_CHARSETS = {
    "ASCII": "ascii",
    "8859/1": "iso8859-1", "8859/2": "iso8859-2", "8859/3": "iso8859-3", "8859/4": "iso8859-4",
    "8859/5": "iso8859-5", "8859/6": "iso8859-6", "8859/7": "iso8859-7", "8859/8": "iso8859-8",
    "8859/9": "iso8859-9", "8859/15": "iso8859-15",
    "UNICODE": "utf-8", "UNICODE UTF-8": "utf-8",
    "GB 18030-2000": "gb18030", "BIG-5": "big5", "KS X 1001": "euc-kr", "ISO IR87": "iso2022_jp",
    "WINDOWS-1252": "cp1252", "CP1252": "cp1252",
}


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
    start = head.removeprefix(_BOM).lstrip(b" \t\r\n" + _MLLP_START)
    if start[:3] in (b"MSH", *_ENVELOPE) and len(start) > 3 and not start[3:4].isalnum():
        return "hl7v2"
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


@dataclass
class _Hl7Message:
    number: int
    first_line: int
    lines: list[tuple[int, bytes]]  # (line number, segment bytes)
    field_separator: bytes


def _read_hl7(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FeedReadError(path, "start of file", "UTF-16 is not supported; send UTF-8")
    messages = _split_hl7(path, data.removeprefix(_BOM))
    if not messages:
        raise FeedReadError(path, "file", "no HL7 message (no MSH segment) in file")
    out: list[FeedMessage] = []
    for message in messages:
        segments = _decode_hl7(path, message)
        text = "\r".join(segments)
        normalised = text.encode("utf-8")
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


def _split_hl7(path: Path, data: bytes) -> list[_Hl7Message]:
    """Group segment lines into messages, strip FHS/BHS/BTS/FTS envelopes, check the structure."""
    messages: list[_Hl7Message] = []
    current: _Hl7Message | None = None
    file_open = file_closed = batch_open = False
    batch_messages = 0
    for index, raw in enumerate(_LINE_BREAK.split(data), start=1):
        line = raw.removeprefix(_MLLP_START).removesuffix(_MLLP_END)
        if not line.strip():
            continue
        where = f"message {current.number} (line {index})" if current else f"line {index}"
        name = line[:3]
        if name == b"MSH":
            if file_closed:
                raise FeedReadError(path, where, "segment after FTS (end of file envelope)")
            current = _Hl7Message(len(messages) + 1, index, [(index, line)], line[3:4])
            _check_msh(path, f"message {current.number} (line {index})", line)
            messages.append(current)
            batch_messages += 1
            continue
        if name in _ENVELOPE and (len(line) == 3 or not line[3:4].isalnum()):
            if current is not None and len(current.lines) < 2:
                raise FeedReadError(path, f"message {current.number} (line {current.first_line})",
                                    "message has no segment after MSH")
            current = None
            if name == b"FHS":
                if file_open:
                    raise FeedReadError(path, f"line {index}", "FHS inside an open file envelope (FTS missing)")
                file_open, file_closed, batch_open = True, False, False
            elif name == b"BHS":
                if file_closed:
                    raise FeedReadError(path, f"line {index}", "segment after FTS (end of file envelope)")
                if batch_open:
                    raise FeedReadError(path, f"line {index}", "BHS inside an open batch (BTS missing)")
                batch_open, batch_messages = True, 0
            elif name == b"BTS":
                _check_batch_count(path, index, line, batch_open, batch_messages)
                batch_open = False
            else:  # FTS
                file_open, file_closed, batch_open = False, True, False
            continue
        if current is None:
            raise FeedReadError(path, f"line {index}", "segment outside a message (no MSH before it)")
        separator = current.field_separator
        if not (re.fullmatch(rb"[A-Z0-9]{3}", name) and (len(line) == 3 or line[3:4] == separator)):
            raise FeedReadError(path, where, "line does not look like an HL7 segment "
                                "(3 upper-case letters or digits, then the field separator)")
        current.lines.append((index, line))
    if current is not None and len(current.lines) < 2:
        raise FeedReadError(path, f"message {current.number} (line {current.first_line})",
                            "message has no segment after MSH")
    return messages


def _check_msh(path: Path, where: str, line: bytes) -> None:
    separator = line[3:4]
    if not separator or separator.isalnum() or separator in b" \t":
        raise FeedReadError(path, where, "MSH-1 field separator missing or invalid")
    fields = line.split(separator)
    encoding = fields[1] if len(fields) > 1 else b""
    if not 2 <= len(encoding) <= 5 or len(set(encoding)) != len(encoding) or any(
        bytes([c]).isalnum() or bytes([c]) == separator for c in encoding
    ):
        raise FeedReadError(path, where, "MSH-2 encoding characters missing or invalid")
    message_type = fields[8] if len(fields) > 8 else b""
    first = message_type.split(encoding[:1])[0]
    if not _MESSAGE_TYPE.fullmatch(first.decode("latin-1")):
        raise FeedReadError(path, where, "MSH-9 message type missing or invalid")


def _check_batch_count(path: Path, index: int, line: bytes, batch_open: bool, counted: int) -> None:
    """BTS-1 is the number of messages in the batch; check it when the batch had a BHS."""
    if not batch_open or len(line) < 5:
        return
    declared = line[4:].split(line[3:4])[0].strip()
    if declared.isdigit() and int(declared) != counted:
        raise FeedReadError(path, f"line {index}",
                            f"BTS-1 declares {int(declared)} messages but the batch holds {counted}")


def _decode_hl7(path: Path, message: _Hl7Message) -> list[str]:
    """UTF-8, or the MSH-18 character set when the bytes are not UTF-8."""
    try:
        return [line.decode("utf-8") for _, line in message.lines]
    except UnicodeDecodeError:
        pass
    codec = _declared_charset(message)
    bad_line = next(n for n, line in message.lines if not _is_utf8(line))
    where = f"message {message.number} (line {bad_line})"
    if codec is None or codec == "utf-8":
        raise FeedReadError(path, where, "bytes are not valid UTF-8 and MSH-18 declares no other character set")
    try:
        return [line.decode(codec) for _, line in message.lines]
    except (UnicodeDecodeError, LookupError):
        raise FeedReadError(path, where, "bytes are not valid in the MSH-18 character set") from None


def _declared_charset(message: _Hl7Message) -> str | None:
    msh = message.lines[0][1]
    fields = msh.split(message.field_separator)
    if len(fields) < 18 or not fields[17].strip():
        return None
    encoding = fields[1]
    value = fields[17]
    if len(encoding) > 1:
        value = value.split(encoding[1:2])[0]  # first repetition
    value = value.split(encoding[:1])[0].strip().decode("latin-1").upper()
    return _HL7_CHARSETS.get(value, "unknown")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
