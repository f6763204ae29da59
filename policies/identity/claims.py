"""Keycloak token claims -> Principal: realm roles, the API client's roles, hospital attribute, groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.principal import Principal


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def roles_from_claims(claims: Mapping[str, Any], role_clients: Iterable[str]) -> frozenset[str]:
    """`realm_access.roles` plus `resource_access[<client>].roles` for the API's own client(s) only."""
    roles: set[str] = set()
    realm_access = claims.get("realm_access")
    if isinstance(realm_access, Mapping):
        roles.update(_strings(realm_access.get("roles")))
    resource_access = claims.get("resource_access")
    if isinstance(resource_access, Mapping):
        for client in role_clients:
            access = resource_access.get(client)
            if isinstance(access, Mapping):
                roles.update(_strings(access.get("roles")))
    return frozenset(roles)


def hospital_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The `hospital` claim (a Keycloak user-attribute mapper). Ambiguous (several values) means none: fail closed."""
    values = [v.strip() for v in _strings(claims.get("hospital")) if v.strip()]
    return values[0] if len(set(values)) == 1 else None


def principal_from_claims(claims: Mapping[str, Any], role_clients: Iterable[str]) -> Principal:
    subject = claims["sub"]
    username = claims.get("preferred_username")
    return Principal(
        subject=subject,
        username=username if isinstance(username, str) and username else subject,
        roles=roles_from_claims(claims, role_clients),
        hospital=hospital_from_claims(claims),
        groups=frozenset(_strings(claims.get("groups"))),
        claims=dict(claims),
    )
