"""Verifying a hash chain of audit records (pure: records in, report out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from policies.audit.record import GENESIS_HASH, AuditRecord


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None  # a reason code, never record content
    head_hash: str | None = None  # hash of the last record: anchor it outside the database to detect re-chaining

    def to_public(self) -> dict[str, object]:
        return asdict(self)


def verify_chain(records: Iterable[AuditRecord], head: tuple[int, str] | None) -> VerifyReport:
    """Check records in seq order: seq 1, 2, 3... with no gap, each prev_hash the previous hash, each hash right,
    and the last record matching the head pointer kept beside the log (so removing the tail is detected too).

    Problems: sequence_broken (removed, duplicated or inserted record), hash_mismatch (edited record), chain_broken (removed,
    inserted or re-ordered record), head_mismatch (records removed from the end, or the head edited).
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    for record in records:
        if record.seq != expected_seq:
            return VerifyReport(False, count, min(record.seq, expected_seq), "sequence_broken", None)
        if record.computed_hash() != record.hash:
            return VerifyReport(False, count, record.seq, "hash_mismatch", None)
        if record.prev_hash != prev_hash:
            return VerifyReport(False, count, record.seq, "chain_broken", None)
        prev_hash = record.hash
        expected_seq += 1
        count += 1
    last = (count, prev_hash) if count else None
    if head != last:
        if head is None:
            bad = 1
        elif head[0] > count:
            bad = count + 1
        elif head[0] < count:
            bad = head[0] + 1
        else:
            bad = count
        return VerifyReport(False, count, bad, "head_mismatch", None)
    return VerifyReport(True, count, None, None, prev_hash if count else None)
