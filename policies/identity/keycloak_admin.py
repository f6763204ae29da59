"""Keycloak through python-keycloak: provision the `hds` realm idempotently, and mirror approved grants.

`bootstrap_realm` applies `policies/keycloak/realm-hds.json` (the same file the Helm chart imports) step by step
through the admin REST API, so running it again changes nothing and a realm imported by Helm can be topped up.

`KeycloakGrantMirror` mirrors an approved grant as membership of the group `/datasets/<dataset>`; the group's
attribute `hds.grant.<grant_id>` records which grant put which user there, so revoking one of two overlapping
grants keeps the membership. With the `groups` protocol mapper the membership reaches the token as the claim
`groups: ["/datasets/<dataset>"]`; the API then requires both that claim and the grant record.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError, KeycloakGetError

from policies.identity.grant_mirror import GrantMirror, NoMirror
from policies.identity.errors import GrantMirrorError, IdentityConfigError
from policies.identity.realm import RealmSpec
from policies.principal import PUBLISHER, Principal

if TYPE_CHECKING:
    from policies.settings import Settings

log = logging.getLogger(__name__)

DATASETS_GROUP = "datasets"
HOSPITALS_GROUP = "hospitals"
GRANT_ATTRIBUTE_PREFIX = "hds.grant."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def dataset_group_path(dataset: str) -> str:
    return f"/{DATASETS_GROUP}/{dataset}"


def hospital_group_path(hospital: str) -> str:
    return f"/{HOSPITALS_GROUP}/{hospital}"


def admin_client(
    server_url: str,
    realm: str,
    *,
    username: str | None = None,
    password: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    auth_realm: str = "master",
    verify: bool | str = True,
    timeout_s: int = 30,
) -> KeycloakAdmin:
    """An admin API client for `realm`, authenticated in `auth_realm` by password (admin-cli) or client credentials."""
    if username and password:
        connection = KeycloakOpenIDConnection(
            server_url=server_url.rstrip("/") + "/",
            username=username,
            password=password,
            realm_name=realm,
            user_realm_name=auth_realm,
            client_id=client_id or "admin-cli",
            verify=verify,
            timeout=timeout_s,
        )
    elif client_id and client_secret:
        connection = KeycloakOpenIDConnection(
            server_url=server_url.rstrip("/") + "/",
            client_id=client_id,
            client_secret_key=client_secret,
            grant_type="client_credentials",
            realm_name=realm,
            user_realm_name=auth_realm,
            verify=verify,
            timeout=timeout_s,
        )
    else:
        raise IdentityConfigError(
            "Keycloak admin access needs an admin user and password, or a client id and secret "
            "(HDS_KEYCLOAK_ADMIN_CLIENT_ID / HDS_KEYCLOAK_ADMIN_CLIENT_SECRET)"
        )
    return KeycloakAdmin(connection=connection)


# -- bootstrap ------------------------------------------------------------------------------------------------
@dataclass
class BootstrapReport:
    realm: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"realm": self.realm, "created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def bootstrap_realm(
    admin: KeycloakAdmin,
    spec: RealmSpec,
    *,
    portal_url: str = "http://127.0.0.1:8000",
    api_client_secret: str | None = None,
    hospitals: Iterable[str] = (),
) -> BootstrapReport:
    """Provision realm, roles, clients (with mappers and service-account roles) and groups. Idempotent."""
    spec = spec.resolved({"HDS_PORTAL_URL": portal_url.rstrip("/"), "HDS_API_CLIENT_SECRET": api_client_secret or ""})
    report = BootstrapReport(spec.name)
    admin.change_current_realm(spec.name)
    if spec.name in {r.get("realm") for r in admin.get_realms()}:
        report.unchanged.append(f"realm:{spec.name}")
    else:
        admin.create_realm(spec.realm_settings())
        report.created.append(f"realm:{spec.name}")

    for role in spec.realm_roles:
        try:
            admin.get_realm_role(role["name"])
            report.unchanged.append(f"role:{role['name']}")
        except KeycloakGetError as exc:
            if exc.response_code != 404:
                raise
            admin.create_realm_role({"name": role["name"], "description": role.get("description", "")})
            report.created.append(f"role:{role['name']}")

    for client in spec.clients:
        _ensure_client(admin, client, report)
    for client_id, client_roles in spec.service_account_roles.items():
        _ensure_service_account_roles(admin, client_id, client_roles, report)

    for group in spec.groups:
        _ensure_group_tree(admin, group, parent_path="", report=report)
    for hospital in hospitals:
        _check_name(hospital, "hospital")
        group_id = _ensure_group(admin, hospital_group_path(hospital), report)
        _ensure_group_roles(admin, group_id, [PUBLISHER], hospital_group_path(hospital), report)
    return report


def _ensure_client(admin: KeycloakAdmin, client: dict[str, Any], report: BootstrapReport) -> None:
    client_id = client["clientId"]
    internal_id = admin.get_client_id(client_id)
    if internal_id is None:
        admin.create_client(client)
        report.created.append(f"client:{client_id}")
        return
    settings = {k: v for k, v in client.items() if k != "protocolMappers"}
    current = admin.get_client(internal_id)
    if _differs(current, settings):
        merged = {k: v for k, v in {**current, **settings}.items() if k != "protocolMappers"}  # mappers: below
        admin.update_client(internal_id, merged)
        report.updated.append(f"client:{client_id}")
    else:
        report.unchanged.append(f"client:{client_id}")
    existing = {m.get("name") for m in admin.get_mappers_from_client(internal_id)}
    for mapper in client.get("protocolMappers", []):
        if mapper["name"] not in existing:
            admin.add_mapper_to_client(internal_id, mapper)
            report.created.append(f"mapper:{client_id}/{mapper['name']}")


def _differs(current: Any, desired: Any) -> bool:
    """True when `desired` is not already reflected in `current` (dicts compared as subsets: Keycloak adds fields)."""
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            return True
        return any(_differs(current.get(k), v) for k, v in desired.items())
    return current != desired


def _ensure_service_account_roles(
    admin: KeycloakAdmin, client_id: str, client_roles: dict[str, list[str]], report: BootstrapReport
) -> None:
    internal_id = admin.get_client_id(client_id)
    if internal_id is None:
        raise IdentityConfigError(f"service account client {client_id} was not provisioned")
    user = admin.get_client_service_account_user(internal_id)
    for role_client, role_names in client_roles.items():
        role_client_id = admin.get_client_id(role_client)
        if role_client_id is None:
            raise IdentityConfigError(f"client {role_client} does not exist in the realm")
        held = {r.get("name") for r in admin.get_client_roles_of_user(user["id"], role_client_id)}
        missing = [admin.get_client_role(role_client_id, name) for name in role_names if name not in held]
        if missing:
            admin.assign_client_role(user["id"], role_client_id, missing)
            report.updated.append(f"service-account:{client_id}")
        else:
            report.unchanged.append(f"service-account:{client_id}")


def _ensure_group_tree(admin: KeycloakAdmin, group: dict[str, Any], parent_path: str, report: BootstrapReport) -> None:
    path = f"{parent_path}/{group['name']}"
    group_id = _ensure_group(admin, path, report)
    _ensure_group_roles(admin, group_id, group.get("realmRoles", []), path, report)
    for child in group.get("subGroups", []):
        _ensure_group_tree(admin, child, path, report)


def _find_group(admin: KeycloakAdmin, path: str) -> dict[str, Any] | None:
    try:
        return admin.get_group_by_path(path)
    except KeycloakGetError as exc:
        if exc.response_code == 404:
            return None
        raise


def _ensure_group(admin: KeycloakAdmin, path: str, report: BootstrapReport | None = None) -> str:
    """The id of the group at `path`, creating it and its parents when missing."""
    found = _find_group(admin, path)
    if found is not None:
        if report is not None:
            report.unchanged.append(f"group:{path}")
        return str(found["id"])
    parent_path, _, name = path.rpartition("/")
    parent_id = _ensure_group(admin, parent_path) if parent_path else None
    admin.create_group({"name": name}, parent=parent_id, skip_exists=True)
    created = _find_group(admin, path)
    if created is None:
        raise GrantMirrorError(f"group creation did not take effect at {path}")
    if report is not None:
        report.created.append(f"group:{path}")
    return str(created["id"])


def _ensure_group_roles(
    admin: KeycloakAdmin, group_id: str, role_names: Iterable[str], path: str, report: BootstrapReport
) -> None:
    held = {r.get("name") for r in admin.get_group_realm_roles(group_id)}
    missing = [admin.get_realm_role(name) for name in role_names if name not in held]
    if missing:
        admin.assign_group_realm_roles(group_id, missing)
        report.updated.append(f"group-roles:{path}")


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise GrantMirrorError(f"invalid {what} name for a Keycloak group (letters, digits, _ . - only)")


# -- grant mirroring ------------------------------------------------------------------------------------------
class KeycloakGrantMirror:
    """The `GrantMirror` (policies/access/mirror.py) of a deployment with Keycloak."""

    def __init__(self, admin: KeycloakAdmin) -> None:
        self._admin = admin

    def token_allows(self, principal: Principal, dataset: str) -> bool:
        return dataset_group_path(dataset) in principal.groups

    def grant(self, grant_id: str, dataset: str, username: str) -> None:
        _check_name(dataset, "dataset")
        try:
            user_id = self._user_id(grant_id, username)
            group_id = _ensure_group(self._admin, dataset_group_path(dataset))
            self._set_grant_attribute(group_id, grant_id, username)
            self._admin.group_user_add(user_id, group_id)
        except KeycloakError as exc:
            raise GrantMirrorError(f"keycloak refused mirroring grant {grant_id} (HTTP {exc.response_code})") from None
        log.info("grant %s mirrored to group %s", grant_id, dataset_group_path(dataset))

    def revoke(self, grant_id: str, dataset: str, username: str) -> None:
        _check_name(dataset, "dataset")
        try:
            group = _find_group(self._admin, dataset_group_path(dataset))
            user_id = self._admin.get_user_id(username)
            if group is None:
                return
            attributes = self._attributes(group["id"])
            attributes.pop(GRANT_ATTRIBUTE_PREFIX + grant_id, None)
            self._put_attributes(group["id"], attributes)
            still_granted = any(username in values for key, values in attributes.items() if key.startswith(GRANT_ATTRIBUTE_PREFIX))
            if user_id is not None and not still_granted:
                member_of = {g.get("id") for g in self._admin.get_user_groups(user_id)}
                if group["id"] in member_of:
                    self._admin.group_user_remove(user_id, group["id"])
        except KeycloakError as exc:
            raise GrantMirrorError(f"keycloak refused revoking grant {grant_id} (HTTP {exc.response_code})") from None
        log.info("grant %s removed from group %s", grant_id, dataset_group_path(dataset))

    def sync(self, active: Iterable[tuple[str, str, str]]) -> list[str]:
        """Reconcile with the grant records: drop every mirrored grant not in `active` (grant_id, dataset, user).

        Returns the grant ids removed. The catalog's periodic sweep runs it (`GrantMirroring.deliver(reconcile=True)`)
        so an expired grant leaves Keycloak even if its queued removal was lost.
        """
        keep = {(g, d) for g, d, _ in active}
        removed: list[str] = []
        parent = _find_group(self._admin, f"/{DATASETS_GROUP}")
        if parent is None:
            return removed
        for child in self._admin.get_group_children(parent["id"]):
            dataset = child["name"]
            for key, users in self._attributes(child["id"]).items():
                if not key.startswith(GRANT_ATTRIBUTE_PREFIX):
                    continue
                grant_id = key[len(GRANT_ATTRIBUTE_PREFIX):]
                if (grant_id, dataset) not in keep:
                    for username in users:
                        self.revoke(grant_id, dataset, username)
                    removed.append(grant_id)
        return removed

    # -- helpers
    def _user_id(self, grant_id: str, username: str) -> str:
        user_id = self._admin.get_user_id(username)
        if user_id is None:
            raise GrantMirrorError(f"grant {grant_id}: the researcher has no Keycloak account")
        return str(user_id)

    def _attributes(self, group_id: str) -> dict[str, list[str]]:
        group = self._admin.get_group(group_id)
        return {k: list(v) for k, v in (group.get("attributes") or {}).items()}

    def _put_attributes(self, group_id: str, attributes: dict[str, list[str]]) -> None:
        group = self._admin.get_group(group_id)
        self._admin.update_group(group_id, {"name": group["name"], "attributes": attributes})

    def _set_grant_attribute(self, group_id: str, grant_id: str, username: str) -> None:
        attributes = self._attributes(group_id)
        attributes[GRANT_ATTRIBUTE_PREFIX + grant_id] = [username]
        self._put_attributes(group_id, attributes)


def mirror_from_settings(settings: "Settings") -> GrantMirror:
    """Keycloak configured -> mirror with the API's service account (client credentials); else a no-op mirror."""
    if not settings.keycloak_url:
        return NoMirror()
    if not (settings.keycloak_admin_client_id and settings.keycloak_admin_client_secret):
        raise IdentityConfigError(
            "HDS_KEYCLOAK_ADMIN_CLIENT_ID and HDS_KEYCLOAK_ADMIN_CLIENT_SECRET must be set when HDS_KEYCLOAK_URL is set"
        )
    admin = admin_client(
        settings.keycloak_url,
        settings.keycloak_realm,
        client_id=settings.keycloak_admin_client_id,
        client_secret=settings.keycloak_admin_client_secret,
        auth_realm=settings.keycloak_realm,
    )
    return KeycloakGrantMirror(admin)
