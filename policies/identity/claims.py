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


def _list_of_strings(value: Any) -> list[str]:
    """Keycloak always sends role lists; any other shape grants nothing."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def roles_from_claims(claims: Mapping[str, Any], role_clients: Iterable[str]) -> frozenset[str]:
    """`realm_access.roles` plus `resource_access[<client>].roles` for the API's own client(s) only."""
    roles: set[str] = set()
    realm_access = claims.get("realm_access")
    if isinstance(realm_access, Mapping):
        roles.update(_list_of_strings(realm_access.get("roles")))
    resource_access = claims.get("resource_access")
    if isinstance(resource_access, Mapping):
        for client in role_clients:
            access = resource_access.get(client)
            if isinstance(access, Mapping):
                roles.update(_list_of_strings(access.get("roles")))
    return frozenset(roles)


HOSPITAL_GROUP_PREFIX = "/hospitals/"


def hospital_from_claims(claims: Mapping[str, Any]) -> str | None:
    """The `hospital` claim (user-attribute mapper), else membership of exactly one `/hospitals/<h>` group.

    Ambiguity means no hospital (fail closed): several claim values, several hospital groups, or a claim that
    contradicts the hospital groups the user is in.
    """
    values = {v.strip() for v in _strings(claims.get("hospital")) if v.strip()}
    from_groups = {
        g[len(HOSPITAL_GROUP_PREFIX):] for g in _list_of_strings(claims.get("groups"))
        if g.startswith(HOSPITAL_GROUP_PREFIX) and "/" not in g[len(HOSPITAL_GROUP_PREFIX):]
    }
    if len(values) > 1:
        return None
    if values:
        (value,) = values
        return value if not from_groups or from_groups == {value} else None
    return next(iter(from_groups)) if len(from_groups) == 1 else None


def principal_from_claims(claims: Mapping[str, Any], role_clients: Iterable[str]) -> Principal:
    subject = claims["sub"]
    username = claims.get("preferred_username")
    return Principal(
        subject=subject,
        username=username if isinstance(username, str) and username else subject,
        roles=roles_from_claims(claims, role_clients),
        hospital=hospital_from_claims(claims),
        groups=frozenset(_list_of_strings(claims.get("groups"))),
        claims=dict(claims),
    )
