"""The grant-mirror protocol: how access decisions reach the identity provider, and the mirror without one.

`policies.identity.keycloak_admin.KeycloakGrantMirror` implements it for Keycloak; `NoMirror` serves a deployment
without an identity provider to mirror into (the embedded dev issuer). The access service delivers to it after
each decision commits, through an outbox (`policies/access/mirror.py`). Light on purpose (no DuckDB): `hds token`
and the Keycloak commands import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from policies.principal import Principal


class GrantMirror(Protocol):
    """Mirrors grants into the identity provider; `token_allows` is the token half of enforcement."""

    def grant(self, grant_id: str, dataset: str, username: str) -> None: ...

    def revoke(self, grant_id: str, dataset: str, username: str) -> None: ...

    def sync(self, active: Iterable[tuple[str, str, str]]) -> list[str]:
        """Remove every mirrored (grant id, dataset) not in `active` (grant id, dataset, username); the ids removed."""
        ...

    def token_allows(self, principal: Principal, dataset: str) -> bool: ...


class NoMirror:
    """No identity provider to mirror into (embedded dev issuer): nothing to do, the grant record alone decides."""

    def grant(self, grant_id: str, dataset: str, username: str) -> None:
        return None

    def revoke(self, grant_id: str, dataset: str, username: str) -> None:
        return None

    def sync(self, active: Iterable[tuple[str, str, str]]) -> list[str]:
        return []

    def token_allows(self, principal: Principal, dataset: str) -> bool:
        return True
