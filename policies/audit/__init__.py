"""Tamper-evident audit log: append-only, hash-chained records in the catalog's DuckDB file."""

from policies.audit.chain import VerifyReport, verify_chain
from policies.audit.log import SYSTEM_ACTOR, AuditLog
from policies.audit.record import GENESIS_HASH, AuditRecord

__all__ = ["GENESIS_HASH", "SYSTEM_ACTOR", "AuditLog", "AuditRecord", "VerifyReport", "verify_chain"]
