"""Both halves of enforcement with Keycloak: the grant record AND the token's dataset group claim.

Runs the catalog configured for Keycloak against the Keycloak-compatible test server in tests/support (no
Keycloak can run here; see docs/identity.md): tokens come from its token endpoint, approval mirrors the grant
into a /datasets/<id> group through the hds-api service account, revocation removes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from keycloak import KeycloakOpenID

from catalog.server import CatalogRuntime, start_catalog
from catalog.store import CatalogStore, LoadedRecord
from gateway.broker import free_port
from gateway.readers import read_feed_file
from gateway.runtime import build_processor
from policies.settings import Settings
from catalog.cli.synth.feeds import generate
from policies.identity.keycloak_admin import admin_client, bootstrap_realm
from policies.identity.realm import default_realm_export, load_realm_export
from tests.support.keycloak_server import KeycloakTestServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN_USER, ADMIN_PASSWORD, API_SECRET, PASSWORD = "admin", "admin-test-password", "api-secret-for-tests-0123456789", "pw-0123456789"


@pytest.fixture(scope="module")
def kc_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KeycloakTestServer, CatalogRuntime]]:
    base = tmp_path_factory.mktemp("kc")
    with KeycloakTestServer(ADMIN_USER, ADMIN_PASSWORD) as kc:
        admin = admin_client(kc.url, "hds", username=ADMIN_USER, password=ADMIN_PASSWORD, auth_realm="master")
        spec = load_realm_export(default_realm_export(Path("policies")))
        bootstrap_realm(admin, spec, portal_url="https://portal.example.org", api_client_secret=API_SECRET)
        for user, group in (("res1", "/researchers"), ("boss", "/authority-admins")):
            uid = admin.create_user({"username": user, "enabled": True,
                                     "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]})
            admin.group_user_add(uid, admin.get_group_by_path(group)["id"])

        settings = Settings.from_env({
            "HDS_ENV": "test", "HDS_DATA_DIR": str(base), "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef",
            "HDS_KEYCLOAK_URL": kc.url, "HDS_KEYCLOAK_REALM": "hds", "HDS_KEYCLOAK_ADMIN_CLIENT_ID": "hds-api",
            "HDS_KEYCLOAK_ADMIN_CLIENT_SECRET": API_SECRET, "HDS_API_PORT": str(free_port()),
        })
        _load_lab_results(settings, base)
        catalog = start_catalog(settings)
        yield kc, catalog
        catalog.stop()


def _load_lab_results(settings: Settings, base: Path) -> None:
    """Real de-identified records, loaded through the store as the loader would (no Kafka needed here)."""
    generate(base / "feeds", seed=9, patients=30)
    processor = build_processor(settings)
    records = []
    for hospital in ("st-luke", "riverside", "north-general"):
        for i, m in enumerate(read_feed_file(base / "feeds" / hospital / "lab.csv", hospital=hospital, feed="lab")):
            out = processor.process(f"hds.raw.{hospital}.lab", m.message_id.encode(), m.payload, {})
            assert not out.dead_letter
            records.append(LoadedRecord(json.loads(out.value), "hds.deid.lab_results", 0, len(records)))
    store = CatalogStore(settings.db_path)
    store.apply_batch(records)
    store.close()


def _token(kc: KeycloakTestServer, user: str) -> str:
    oidc = KeycloakOpenID(server_url=kc.url + "/", realm_name="hds", client_id="hds-api", client_secret_key=API_SECRET)
    return oidc.token(user, PASSWORD)["access_token"]


def _post(catalog: CatalogRuntime, path: str, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(catalog.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_given_keycloak_then_a_query_needs_the_grant_record_and_the_token_claim(kc_catalog) -> None:  # type: ignore[no-untyped-def]
    kc, catalog = kc_catalog
    before = _token(kc, "res1")
    r = _post(catalog, "/api/access-requests", before, {"datasets": ["lab_results"], "purpose": "HbA1c trends",
                                                         "duration_days": 10})
    assert r.status_code == 201, r.text
    r = _post(catalog, f"/api/access-requests/{r.json()['id']}/approve", _token(kc, "boss"), {})
    assert r.status_code == 200, r.text
    grant_id = r.json()["grant_id"]
    assert kc.group_members("hds", "/datasets/lab_results") == {"res1"}
    query = {"grant_id": grant_id, "sql": "SELECT test_code, count(*) AS n FROM lab_results GROUP BY test_code"}

    # The grant record exists, but the token was issued before the grant: it lacks the dataset group.
    r = _post(catalog, "/api/query", before, query)
    assert r.status_code == 403 and "sign in again" in r.json()["detail"]

    after = _token(kc, "res1")
    r = _post(catalog, "/api/query", after, query)
    assert r.status_code == 200, r.text
    assert r.json()["row_count"] > 0

    r = _post(catalog, f"/api/grants/{grant_id}/revoke", _token(kc, "boss"), {"reason": "ethics approval lapsed"})
    assert r.status_code == 200, r.text
    assert kc.group_members("hds", "/datasets/lab_results") == set()
    # The token still carries the claim until it expires, but the grant record is revoked: refused at once.
    assert _post(catalog, "/api/query", after, query).status_code in (403, 404, 409, 410)
    assert kc.unhandled == []
