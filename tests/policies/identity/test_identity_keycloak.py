"""Keycloak integration against the Keycloak-compatible test server: token issuance, JWKS rotation, bootstrap,
realm export parity and grant mirroring, all through python-keycloak and plain HTTP."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from keycloak import KeycloakOpenID

from policies.identity.grant_mirror import NoMirror
from policies.settings import Settings
from policies.identity.errors import AuthError, GrantMirrorError, IdentityConfigError
from policies.identity.factory import verifier_from_settings
from policies.identity.jwks import HttpJwksSource, certs_url
from policies.identity.keycloak_admin import (
    KeycloakGrantMirror,
    bootstrap_realm,
    mirror_from_settings,
)
from policies.identity.verifier import TokenVerifier
from policies.principal import ROLES
from tests.policies.identity.conftest import API_SECRET
from tests.support.keycloak_server import KeycloakTestServer

PASSWORD = "researcher-test-password"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _bootstrap(admin, spec, **kw: Any):
    return bootstrap_realm(admin, spec, portal_url="https://portal.example.org", api_client_secret=API_SECRET, **kw)


def _add_user(admin, username: str, groups: list[str] = (), hospital: str | None = None) -> str:
    payload: dict[str, Any] = {"username": username, "enabled": True,
                               "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]}
    if hospital:
        payload["attributes"] = {"hospital": [hospital]}
    user_id = admin.create_user(payload)
    for path in groups:
        admin.group_user_add(user_id, admin.get_group_by_path(path)["id"])
    return user_id


def _password_token(kc: KeycloakTestServer, username: str) -> str:
    oidc = KeycloakOpenID(server_url=kc.url + "/", realm_name="hds", client_id="hds-api", client_secret_key=API_SECRET)
    return oidc.token(username, PASSWORD)["access_token"]


def _settings(kc: KeycloakTestServer, **kw: Any) -> Settings:
    return Settings(keycloak_url=kc.url, keycloak_realm="hds", **kw)


# -- token issuance and verification ------------------------------------------------------------------------
def test_given_bootstrapped_realm_then_password_token_verifies_with_roles_hospital_and_groups(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec, hospitals=["st-mary"])
    _add_user(master_admin, "res1", ["/researchers"])
    _add_user(master_admin, "pub1", ["/hospitals/st-mary"], hospital="st-mary")
    verifier = verifier_from_settings(_settings(kc))
    assert verifier.issuer == kc.issuer("hds")

    researcher = verifier.verify(_password_token(kc, "res1"))
    assert researcher.username == "res1"
    assert "researcher" in researcher.roles and "hospital-publisher" not in researcher.roles
    assert researcher.hospital is None
    assert researcher.groups == frozenset({"/researchers"})

    publisher = verifier.verify(_password_token(kc, "pub1"))
    assert "hospital-publisher" in publisher.roles  # inherited from the /hospitals/st-mary group role mapping
    assert publisher.hospital == "st-mary"


def test_given_client_credentials_then_service_account_token_is_accepted_by_azp(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    oidc = KeycloakOpenID(server_url=kc.url + "/", realm_name="hds", client_id="hds-api", client_secret_key=API_SECRET)
    token = oidc.token(grant_type="client_credentials")["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["azp"] == "hds-api" and claims["aud"] == "realm-management"
    principal = verifier_from_settings(_settings(kc)).verify(token)
    assert principal.username == "service-account-hds-api"
    assert not principal.has_any(*ROLES)


def test_given_token_for_another_client_then_refused_as_wrong_audience(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    _add_user(master_admin, "res1", ["/researchers"])
    oidc = KeycloakOpenID(server_url=kc.url + "/", realm_name="hds", client_id="admin-cli")
    token = oidc.token("res1", PASSWORD)["access_token"]
    with pytest.raises(AuthError, match="not intended for this service"):
        verifier_from_settings(_settings(kc)).verify(token)


def test_given_token_from_master_realm_then_refused(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    claims = {"iss": kc.issuer("master"), "aud": "hds-api", "sub": "x", "typ": "Bearer",
              "exp": int(time.time()) + 60, "iat": int(time.time())}
    with pytest.raises(AuthError, match="untrusted issuer"):
        verifier_from_settings(_settings(kc)).verify(kc.sign("hds", claims))
    with pytest.raises(AuthError, match="unknown key"):  # signed by the master realm's own key
        verifier_from_settings(_settings(kc)).verify(kc.sign("master", claims))


def test_given_expired_keycloak_token_then_refused_and_within_leeway_accepted(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    _add_user(master_admin, "res1", ["/researchers"])
    real = time.time
    kc.clock = lambda: real() - 300 - 20  # lifespan 300 s: expired 20 s ago, inside the 30 s leeway
    assert verifier_from_settings(_settings(kc)).verify(_password_token(kc, "res1")).username == "res1"
    kc.clock = lambda: real() - 300 - 120
    with pytest.raises(AuthError, match="token expired"):
        verifier_from_settings(_settings(kc)).verify(_password_token(kc, "res1"))


def test_given_key_rotation_then_verifier_refetches_and_retired_key_fails(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    _add_user(master_admin, "res1", ["/researchers"])
    clock = Clock()
    source = HttpJwksSource(certs_url(kc.issuer("hds")))
    verifier = TokenVerifier(kc.issuer("hds"), "hds-api", source, clock=clock, refetch_interval_s=10, cache_ttl_s=60)
    old_token = _password_token(kc, "res1")
    old_kid = kc.active_kid("hds")
    assert verifier.verify(old_token).username == "res1"

    new_kid = kc.rotate_key("hds")
    new_token = _password_token(kc, "res1")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid != old_kid
    clock.now += 11  # past the refetch rate limit: the unknown kid triggers one JWKS refetch
    assert verifier.verify(new_token).username == "res1"
    assert verifier.verify(old_token).username == "res1"  # old key still published

    kc.retire_key("hds", old_kid)
    fresh = TokenVerifier(kc.issuer("hds"), "hds-api", HttpJwksSource(certs_url(kc.issuer("hds"))))
    with pytest.raises(AuthError, match="unknown key"):
        fresh.verify(old_token)
    clock.now += 61  # the cached verifier picks up the retirement when its cache expires
    with pytest.raises(AuthError, match="unknown key"):
        verifier.verify(old_token)
    assert verifier.verify(new_token).username == "res1"


def test_given_jwks_unreachable_then_verification_fails_closed(kc) -> None:
    verifier = TokenVerifier("http://127.0.0.1:9/realms/hds", "hds-api", HttpJwksSource("http://127.0.0.1:9/certs", timeout_s=0.5))
    claims = {"iss": "http://127.0.0.1:9/realms/hds", "aud": "hds-api", "sub": "x", "exp": int(time.time()) + 60}
    with pytest.raises(AuthError, match="keys unavailable"):
        verifier.verify(kc.sign("master", claims))


def test_given_jwks_then_it_also_lists_an_encryption_key_the_verifier_ignores(kc) -> None:
    keys = HttpJwksSource(certs_url(kc.issuer("master"))).fetch()["keys"]
    assert {k["use"] for k in keys} == {"sig", "enc"}


# -- bootstrap ----------------------------------------------------------------------------------------------
def test_given_empty_server_then_bootstrap_provisions_everything_and_second_run_changes_nothing(kc, master_admin, realm_spec) -> None:
    first = _bootstrap(master_admin, realm_spec, hospitals=["st-mary"])
    assert "realm:hds" in first.created
    assert {f"role:{r}" for r in ROLES} <= set(first.created)
    assert {"client:hds-api", "client:hds-portal"} <= set(first.created)
    assert {"group:/researchers", "group:/datasets", "group:/hospitals/st-mary"} <= set(first.created)

    second = _bootstrap(master_admin, realm_spec, hospitals=["st-mary"])
    assert second.created == [] and second.updated == []
    realm = kc.realms["hds"]
    assert set(ROLES) <= set(realm.roles)
    portal = realm.client_by_client_id("hds-portal")
    assert portal["publicClient"] is True and portal["attributes"]["pkce.code.challenge.method"] == "S256"
    assert portal["redirectUris"] == ["https://portal.example.org/*"]
    api = realm.client_by_client_id("hds-api")
    assert api["publicClient"] is False and api["serviceAccountsEnabled"] is True and api["secret"] == API_SECRET
    assert {m["name"] for m in api["protocolMappers"]} == {"hospital", "groups"}
    assert len([g for g in realm.groups.values() if g["name"] == "datasets"]) == 1  # no duplicates


def test_given_no_secret_then_keycloak_generates_one_and_no_placeholder_is_sent(kc, master_admin, realm_spec) -> None:
    bootstrap_realm(master_admin, realm_spec, portal_url="http://127.0.0.1:8000")
    secret = kc.realms["hds"].client_by_client_id("hds-api")["secret"]
    assert secret and "${" not in secret
    assert all("${" not in str(c) for c in kc.realms["hds"].clients.values())


def test_given_realm_imported_from_export_then_bootstrap_finds_nothing_to_do(kc, master_admin, realm_spec) -> None:
    """The Helm chart imports realm-hds.json; bootstrap provisions the same roles, clients, mappers and groups."""
    resolved = realm_spec.resolved({"HDS_PORTAL_URL": "https://portal.example.org", "HDS_API_CLIENT_SECRET": API_SECRET})
    kc.import_realm(resolved.document)
    report = _bootstrap(master_admin, realm_spec)
    assert report.created == [] and report.updated == []


def test_given_bootstrap_and_import_then_both_realms_hold_the_same_roles_clients_and_groups(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    doc = realm_spec.resolved({"HDS_PORTAL_URL": "https://portal.example.org", "HDS_API_CLIENT_SECRET": API_SECRET}).document
    kc.import_realm({**doc, "realm": "imported"})
    bootstrapped, imported = kc.realms["hds"], kc.realms["imported"]
    assert set(bootstrapped.roles) - {"default-roles-hds"} == set(imported.roles) - {"default-roles-imported"}
    assert {c["clientId"] for c in bootstrapped.clients.values()} == {c["clientId"] for c in imported.clients.values()}
    assert sorted(bootstrapped.group_path(g) for g in bootstrapped.groups.values()) == sorted(
        imported.group_path(g) for g in imported.groups.values())
    for client_id in ("hds-api", "hds-portal"):
        a, b = bootstrapped.client_by_client_id(client_id), imported.client_by_client_id(client_id)
        assert {m["name"] for m in a["protocolMappers"]} == {m["name"] for m in b["protocolMappers"]}
        assert a["publicClient"] == b["publicClient"] and a["attributes"] == b["attributes"]


def test_given_wrong_admin_password_then_bootstrap_fails_without_provisioning(kc, realm_spec) -> None:
    from keycloak.exceptions import KeycloakError

    from policies.identity.keycloak_admin import admin_client

    admin = admin_client(kc.url, "hds", username="admin", password="wrong", auth_realm="master")
    with pytest.raises(KeycloakError):
        _bootstrap(admin, realm_spec)
    assert "hds" not in kc.realms


# -- grant mirroring ----------------------------------------------------------------------------------------
@pytest.fixture
def mirror(kc, master_admin, realm_spec) -> KeycloakGrantMirror:
    _bootstrap(master_admin, realm_spec)
    _add_user(master_admin, "res1", ["/researchers"])
    _add_user(master_admin, "res2", ["/researchers"])
    settings = _settings(kc, keycloak_admin_client_id="hds-api", keycloak_admin_client_secret=API_SECRET)
    built = mirror_from_settings(settings)
    assert isinstance(built, KeycloakGrantMirror)
    return built


def test_given_grant_then_user_joins_dataset_group_and_token_carries_claim(kc, mirror) -> None:
    verifier = verifier_from_settings(_settings(kc))
    before = verifier.verify(_password_token(kc, "res1"))
    assert not mirror.token_allows(before, "admissions")

    mirror.grant("g-1", "admissions", "res1")  # through the hds-api service account, not the master admin
    assert kc.group_members("hds", "/datasets/admissions") == {"res1"}
    after = verifier.verify(_password_token(kc, "res1"))
    assert "/datasets/admissions" in after.groups
    assert mirror.token_allows(after, "admissions") and not mirror.token_allows(after, "births")

    mirror.revoke("g-1", "admissions", "res1")
    assert kc.group_members("hds", "/datasets/admissions") == set()
    assert not mirror.token_allows(verifier.verify(_password_token(kc, "res1")), "admissions")


def test_given_overlapping_grants_then_revoking_one_keeps_membership(kc, mirror) -> None:
    mirror.grant("g-1", "admissions", "res1")
    mirror.grant("g-2", "admissions", "res1")
    mirror.grant("g-3", "admissions", "res2")
    mirror.revoke("g-1", "admissions", "res1")
    assert kc.group_members("hds", "/datasets/admissions") == {"res1", "res2"}
    mirror.revoke("g-2", "admissions", "res1")
    assert kc.group_members("hds", "/datasets/admissions") == {"res2"}


def test_given_expired_grants_then_sync_removes_them(kc, mirror) -> None:
    mirror.grant("g-1", "admissions", "res1")
    mirror.grant("g-2", "births", "res2")
    removed = mirror.sync([("g-2", "births", "res2")])
    assert removed == ["g-1"]
    assert kc.group_members("hds", "/datasets/admissions") == set()
    assert kc.group_members("hds", "/datasets/births") == {"res2"}


def test_given_repeated_grant_or_revoke_then_idempotent(kc, mirror) -> None:
    mirror.grant("g-1", "admissions", "res1")
    mirror.grant("g-1", "admissions", "res1")
    assert kc.group_members("hds", "/datasets/admissions") == {"res1"}
    mirror.revoke("g-1", "admissions", "res1")
    mirror.revoke("g-1", "admissions", "res1")
    mirror.revoke("g-9", "never-created", "res1")
    assert kc.group_members("hds", "/datasets/admissions") == set()


def test_given_unknown_user_then_grant_fails_without_naming_them(kc, mirror) -> None:
    with pytest.raises(GrantMirrorError) as info:
        mirror.grant("g-1", "admissions", "nobody-known")
    assert "nobody-known" not in str(info.value) and "g-1" in str(info.value)


@pytest.mark.parametrize("dataset", ["../admin", "a/b", "", "x" * 200])
def test_given_unsafe_dataset_name_then_refused_before_any_request(kc, master_admin, dataset) -> None:
    mirror = KeycloakGrantMirror(master_admin)
    with pytest.raises(GrantMirrorError):
        mirror.grant("g-1", dataset, "res1")
    with pytest.raises(GrantMirrorError):
        mirror.revoke("g-1", dataset, "res1")
    assert kc.requests == []


def test_given_settings_then_mirror_is_null_without_keycloak_and_refused_without_credentials(tmp_path) -> None:
    assert isinstance(mirror_from_settings(Settings(data_dir=tmp_path)), NoMirror)
    with pytest.raises(IdentityConfigError, match="HDS_KEYCLOAK_ADMIN_CLIENT_ID"):
        mirror_from_settings(Settings(keycloak_url="http://127.0.0.1:1"))
    assert NoMirror().token_allows(object(), "anything")  # type: ignore[arg-type]


def test_given_drifted_client_settings_then_bootstrap_restores_them(kc, master_admin, realm_spec) -> None:
    _bootstrap(master_admin, realm_spec)
    portal = kc.realms["hds"].client_by_client_id("hds-portal")
    portal["attributes"]["pkce.code.challenge.method"] = "plain"
    portal["directAccessGrantsEnabled"] = True
    portal["protocolMappers"] = [m for m in portal["protocolMappers"] if m["name"] != "hds-api-audience"]
    report = _bootstrap(master_admin, realm_spec)
    assert "client:hds-portal" in report.updated and "mapper:hds-portal/hds-api-audience" in report.created
    portal = kc.realms["hds"].client_by_client_id("hds-portal")
    assert portal["attributes"]["pkce.code.challenge.method"] == "S256" and portal["directAccessGrantsEnabled"] is False
    assert _bootstrap(master_admin, realm_spec).updated == []
