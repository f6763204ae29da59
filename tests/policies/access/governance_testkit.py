"""Test helpers for access governance: principals, an injectable clock, a grant mirror over a set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from policies.principal import Principal
DATASETS = {"admissions", "lab_results"}

ALICE = Principal("sub-alice", "alice", frozenset({"researcher"}))
BOB = Principal("sub-bob", "bob", frozenset({"researcher"}))
STEVE = Principal("sub-steve", "steve", frozenset({"data-steward"}))
ADA = Principal("sub-ada", "ada", frozenset({"authority-admin"}))
HOSP = Principal("sub-hosp", "hosp", frozenset({"hospital-publisher"}), hospital="h1")


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@dataclass
class RecordingMirror:
    """The grant-mirror protocol over a set: what Keycloak would hold. `failing` simulates an unreachable IdP."""

    held: set[tuple[str, str, str]] = field(default_factory=set)
    failing: bool = False

    def grant(self, grant_id: str, dataset: str, username: str) -> None:
        if self.failing:
            raise ConnectionError("identity provider unreachable")
        self.held.add((grant_id, dataset, username))

    def revoke(self, grant_id: str, dataset: str, username: str) -> None:
        if self.failing:
            raise ConnectionError("identity provider unreachable")
        self.held.discard((grant_id, dataset, username))
