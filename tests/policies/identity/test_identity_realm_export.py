"""policies/keycloak/realm-hds.json: Keycloak's import format, the roles and clients the project relies on,
no literal secrets, and placeholder resolution as bootstrap applies it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.identity.realm import RealmExportError, RealmSpec, load_realm_export
from policies.principal import ROLES


def test_given_realm_export_then_it_defines_the_hds_realm_with_the_four_roles(realm_spec: RealmSpec) -> None:
    doc = realm_spec.document
    assert doc["realm"] == "hds" and doc["enabled"] is True
    assert sorted(r["name"] for r in doc["roles"]["realm"]) == sorted(ROLES)
    assert all(r.get("description") for r in doc["roles"]["realm"])


def test_given_realm_export_then_api_is_confidential_with_service_account(realm_spec: RealmSpec) -> None:
    api = realm_spec.client("hds-api")
    assert api["publicClient"] is False and api["serviceAccountsEnabled"] is True
    assert api["clientAuthenticatorType"] == "client-secret"
    assert api["secret"] == "${HDS_API_CLIENT_SECRET}"  # a placeholder the Helm chart provides, never a secret
    assert realm_spec.service_account_roles["hds-api"]["realm-management"] == [
        "manage-users", "view-users", "query-users", "query-groups"]


def test_given_realm_export_then_portal_is_public_with_pkce_s256(realm_spec: RealmSpec) -> None:
    portal = realm_spec.client("hds-portal")
    assert portal["publicClient"] is True and portal["standardFlowEnabled"] is True
    assert portal["implicitFlowEnabled"] is False and portal["directAccessGrantsEnabled"] is False
    assert portal["attributes"]["pkce.code.challenge.method"] == "S256"
    assert "secret" not in portal
    assert portal["redirectUris"] == ["${HDS_PORTAL_URL}/*"]
    audience = [m for m in portal["protocolMappers"] if m["protocolMapper"] == "oidc-audience-mapper"]
    assert audience and audience[0]["config"]["included.client.audience"] == "hds-api"


def test_given_realm_export_then_both_clients_map_hospital_and_group_claims(realm_spec: RealmSpec) -> None:
    for client_id in ("hds-api", "hds-portal"):
        mappers = {m["protocolMapper"]: m["config"] for m in realm_spec.client(client_id)["protocolMappers"]}
        assert mappers["oidc-usermodel-attribute-mapper"]["user.attribute"] == "hospital"
        assert mappers["oidc-usermodel-attribute-mapper"]["claim.name"] == "hospital"
        assert mappers["oidc-group-membership-mapper"] == {**mappers["oidc-group-membership-mapper"],
                                                           "claim.name": "groups", "full.path": "true"}


def test_given_realm_export_then_groups_carry_role_mappings(realm_spec: RealmSpec) -> None:
    groups = {g["path"]: g for g in realm_spec.groups}
    assert set(groups) == {"/authority-admins", "/data-stewards", "/researchers", "/hospitals", "/datasets"}
    assert groups["/researchers"]["realmRoles"] == ["researcher"]
    assert groups["/datasets"]["realmRoles"] == []


def test_given_placeholders_then_resolution_fills_values_and_drops_unset_secret(realm_spec: RealmSpec) -> None:
    resolved = realm_spec.resolved({"HDS_PORTAL_URL": "https://portal.example.org"})
    assert resolved.client("hds-portal")["redirectUris"] == ["https://portal.example.org/*"]
    assert "secret" not in resolved.client("hds-api")
    assert "${" not in json.dumps(resolved.document)
    with pytest.raises(RealmExportError, match="HDS_PORTAL_URL"):
        realm_spec.resolved({})


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("realm"), "realm"),
        (lambda d: d["roles"]["realm"].pop(0), "roles.realm"),
        (lambda d: d["clients"][0].__setitem__("secret", "hunter2-literal"), "clients[0].secret"),
        (lambda d: d["clients"].append(dict(d["clients"][0])), "clients"),
        (lambda d: d["groups"][0].__setitem__("realmRoles", ["superuser"]), "groups[0].realmRoles"),
        (lambda d: d["clients"][1]["protocolMappers"].append({"name": "x"}), "clients[1].protocolMappers[3]"),
    ],
    ids=["no-realm", "missing-role", "literal-secret", "duplicate-client", "unknown-group-role", "bad-mapper"],
)
def test_given_broken_export_then_load_names_file_and_field(realm_spec: RealmSpec, tmp_path: Path, mutate, field) -> None:
    doc = json.loads(realm_spec.source.read_text())
    mutate(doc)
    path = tmp_path / "realm.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(RealmExportError) as info:
        load_realm_export(path)
    assert str(path) in str(info.value) and field in str(info.value)
    assert "hunter2" not in str(info.value)


def test_given_invalid_json_then_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "realm.json"
    path.write_text('{\n "realm": "hds",\n oops\n}')
    with pytest.raises(RealmExportError, match="line 3"):
        load_realm_export(path)
