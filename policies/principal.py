"""Who is calling: the verified identity behind a bearer token (Keycloak or the embedded dev issuer)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The realm roles, named once here (the realm export in policies/keycloak/ must define the same names).
ADMIN = "authority-admin"
STEWARD = "data-steward"
RESEARCHER = "researcher"
PUBLISHER = "hospital-publisher"
ROLES = (ADMIN, STEWARD, RESEARCHER, PUBLISHER)


@dataclass(frozen=True)
class Principal:
    subject: str  # token `sub`
    username: str  # `preferred_username`
    roles: frozenset[str] = frozenset()  # realm roles plus client roles of the API client
    hospital: str | None = None  # for hospital-publisher tokens: the hospital this identity may publish for
    groups: frozenset[str] = frozenset()
    claims: dict = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)
