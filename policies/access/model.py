"""Access requests and grants as immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from policies.principal import Principal

Columns = dict[str, tuple[str, ...]]  # dataset id -> permitted columns; a dataset not listed: all its columns


class RequestStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class GrantStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Party:
    """A person acting on a request: Keycloak username (for people) and subject (for matching)."""

    username: str
    subject: str

    @classmethod
    def of(cls, principal: Principal) -> "Party":
        return cls(principal.username, principal.subject)

    def to_public(self) -> dict[str, str]:
        return {"username": self.username, "subject": self.subject}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: str
    actor: str
    from_status: str | None
    to_status: str
    note: str | None = None

    def to_public(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "action": self.action, "actor": self.actor,
                "from": self.from_status, "to": self.to_status, "note": self.note}

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> "HistoryEntry":
        return cls(datetime.fromisoformat(data["at"]), data["action"], data["actor"], data.get("from"),
                   data["to"], data.get("note"))


def columns_to_public(columns: Columns | None) -> dict[str, list[str]] | None:
    return None if columns is None else {ds: list(cols) for ds, cols in sorted(columns.items())}


@dataclass(frozen=True)
class AccessRequest:
    id: str
    requester: Party
    datasets: tuple[str, ...]
    columns: Columns | None
    purpose: str
    project: str | None
    legal_basis: str | None
    duration_days: int
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
    history: tuple[HistoryEntry, ...] = ()
    grant_id: str | None = None
    decision_reason: str | None = None

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "requester": self.requester.to_public(),
            "datasets": list(self.datasets),
            "columns": columns_to_public(self.columns),
            "purpose": self.purpose,
            "project": self.project,
            "legal_basis": self.legal_basis,
            "duration_days": self.duration_days,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "grant_id": self.grant_id,
            "decision_reason": self.decision_reason,
            "history": [h.to_public() for h in self.history],
        }


@dataclass(frozen=True)
class Grant:
    id: str
    request_id: str
    grantee: Party
    datasets: tuple[str, ...]
    columns: Columns | None
    purpose: str
    created_at: datetime
    expires_at: datetime
    status: GrantStatus
    revoked_at: datetime | None = None
    revoke_reason: str | None = None
    mirrored: bool = field(default=False, compare=False)

    def expired_at(self, now: datetime) -> bool:
        return now >= self.expires_at

    def allowed_columns(self, dataset: str) -> frozenset[str] | None:
        """Columns of `dataset` this grant covers: None means every column; an empty set means the dataset is
        not covered at all (fail closed for datasets outside the grant)."""
        if dataset not in self.datasets:
            return frozenset()
        if self.columns is None or dataset not in self.columns:
            return None
        return frozenset(self.columns[dataset])

    def granted_columns(self) -> dict[str, tuple[str, ...] | None]:
        """Every granted dataset with its columns (None = all), the shape the query sandbox's scope takes."""
        return {d: None if self.columns is None else self.columns.get(d) for d in self.datasets}

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "grant_id": self.id,
            "request_id": self.request_id,
            "grantee": self.grantee.to_public(),
            "datasets": list(self.datasets),
            "columns": columns_to_public(self.columns),
            "purpose": self.purpose,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status.value,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoke_reason": self.revoke_reason,
        }


@dataclass(frozen=True)
class MirrorChange:
    """One change the identity provider must make: `action` "grant" or "revoke" of one dataset of one grant."""

    seq: int
    grant_id: str
    dataset: str
    username: str
    action: str
    attempts: int = 0
