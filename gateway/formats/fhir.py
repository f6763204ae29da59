"""FHIR R4 feeds: one resource or Bundle per ``.json`` file, one per line in NDJSON (see docs/feeds.md)."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

from gateway.formats.base import FeedFormat, FeedMessage, FeedReadError, FeedRules, Rejection, decode_utf8, message_id
from gateway.formats.registry import register

_BOM = codecs.BOM_UTF8
CONTENT_TYPE = "application/fhir+json"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def read_fhir(path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
    text = decode_utf8(path, data.removeprefix(_BOM))
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
                content_type=CONTENT_TYPE,
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




class FhirFormat(FeedFormat):
    name = "fhir"
    content_type = CONTENT_TYPE
    suffixes = (".json", ".ndjson", ".jsonl", ".fhir")

    def sniff(self, head: bytes) -> bool:
        return head.removeprefix(_BOM).lstrip(b" \t\r\n")[:1] in (b"{", b"[")

    def read(self, path: Path, data: bytes, hospital: str, feed: str) -> list[FeedMessage]:
        return read_fhir(path, data, hospital, feed)

    def accept(self, text: str, feed: FeedRules) -> tuple[Any, Rejection | None]:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, Rejection("invalid_json", f"line {exc.lineno} column {exc.colno}")
        if not (isinstance(payload, dict) and isinstance(payload.get("resourceType"), str)):
            return None, Rejection("invalid_fhir", "not a FHIR resource (no resourceType)")
        return payload, None


register(FhirFormat())
