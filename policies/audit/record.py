"""One audit record and how it is hashed into the chain (pure: no storage).

hash = sha256(canonical JSON of {seq, ts, actor, action, subjects, details, prev_hash}), where canonical JSON is
UTF-8, keys sorted, no insignificant whitespace. The first record's prev_hash is GENESIS_HASH.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64

# Free-text details are stored as their sha256, never as text: SQL may contain literal values, and reasons or notes
# typed by people may contain anything. `purpose` is kept in clear because the audit must say what data was used for.
HASHED_DETAILS = frozenset({"sql", "reason", "note", "text"})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """Details as plain JSON values; unknown types are refused rather than stringified (fail closed)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError("audit details must be finite numbers")
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [_plain(v) for v in value]
    raise TypeError(f"audit details cannot hold values of type {type(value).__name__}")


def sanitise_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Replace free-text fields by their sha256 (`sql` -> `sql_sha256`) and reduce the rest to plain JSON."""
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if value is None:
            continue
        if key in HASHED_DETAILS:
            clean[f"{key}_sha256"] = sha256_hex(value if isinstance(value, str) else canonical_json(_plain(value)))
        else:
            clean[key] = _plain(value)
    return clean


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: str
    actor: str
    action: str
    subjects: tuple[str, ...]
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "subjects": list(self.subjects),
            "details": self.details,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        return record_hash(self.body())

    def to_public(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}


def record_hash(body: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json(body))


def seal(*, seq: int, ts: str, actor: str, action: str, subjects: Sequence[str], details: dict[str, Any],
         prev_hash: str) -> AuditRecord:
    body = {"seq": seq, "ts": ts, "actor": actor, "action": action, "subjects": list(subjects),
            "details": details, "prev_hash": prev_hash}
    return AuditRecord(seq, ts, actor, action, tuple(subjects), details, prev_hash, record_hash(body))
