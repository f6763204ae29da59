"""Fixtures: a Keycloak-compatible test server on a free 127.0.0.1 port, and admin clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policies.identity.keycloak_admin import admin_client
from policies.identity.realm import RealmSpec, default_realm_export, load_realm_export
from policies.settings import DEFAULT_POLICIES_DIR
from tests.support.keycloak_server import KeycloakTestServer

ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-test-password"
API_SECRET = "test-api-client-secret-0123456789abcdef"


@pytest.fixture
def kc() -> Iterator[KeycloakTestServer]:
    with KeycloakTestServer(ADMIN_USER, ADMIN_PASSWORD) as server:
        yield server
    assert server.unhandled == [], "code under test called endpoints the test server does not implement"


@pytest.fixture
def realm_spec() -> RealmSpec:
    return load_realm_export(default_realm_export(DEFAULT_POLICIES_DIR))


@pytest.fixture
def master_admin(kc: KeycloakTestServer):
    return admin_client(kc.url, "hds", username=ADMIN_USER, password=ADMIN_PASSWORD, auth_realm="master")
