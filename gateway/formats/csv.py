"""CSV extracts: a header row, then one message per row (a JSON object of column -> value; see docs/feeds.md)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path
from typing import Any

from gateway.formats.base import FeedFormat, FeedMessage, FeedReadError, FeedRules, Rejection, decode_utf8, message_id
from gateway.formats.registry import register

_BOM = codecs.BOM_UTF8
CONTENT_TYPE = "application/json"


def read_csv(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
    text = decode_utf8(path, data.removeprefix(_BOM))
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
                    content_type=CONTENT_TYPE,
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




class CsvFormat(FeedFormat):
    name = "csv"
    content_type = CONTENT_TYPE
    suffixes = (".csv",)

    def read(self, path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
        return read_csv(path, data, hospital, feed)

    def accept(self, text: str, feed: FeedRules) -> tuple[Any, Rejection | None]:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, Rejection("invalid_json", f"line {exc.lineno} column {exc.colno}")
        if not (isinstance(payload, dict) and all(isinstance(k, str) for k in payload)):
            return None, Rejection("invalid_csv_row", "a CSV row must be a JSON object of column -> value")
        return payload, None


register(CsvFormat())
