"""Grant decisions reach Keycloak after they commit, and a Keycloak outage loses none of them: the access service
over a real DuckDB file, mirroring through python-keycloak into the Keycloak-compatible test server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from governance_kit import ADA, Clock

from policies.access import AccessService, GrantNotActive, GrantStatus
from policies.audit import AuditLog
from policies.identity.keycloak_admin import KeycloakGrantMirror, bootstrap_realm, mirror_from_settings
from policies.principal import Principal
from policies.settings import Settings
from tests.policies.identity.conftest import API_SECRET
from tests.support.keycloak_server import KeycloakTestServer

RES1 = Principal("sub-res1", "res1", frozenset({"researcher"}))
RES2 = Principal("sub-res2", "res2", frozenset({"researcher"}))
GROUP = "/datasets/admissions"


@pytest.fixture
def keycloak(kc: KeycloakTestServer, master_admin: Any, realm_spec: Any) -> KeycloakTestServer:
    bootstrap_realm(master_admin, realm_spec, portal_url="https://portal.example.org", api_client_secret=API_SECRET)
    for name in ("res1", "res2"):
        master_admin.create_user({"username": name, "enabled": True})
    return kc


def _mirror(kc: KeycloakTestServer) -> KeycloakGrantMirror:
    built = mirror_from_settings(Settings(keycloak_url=kc.url, keycloak_realm="hds", keycloak_admin_client_id="hds-api",
                                          keycloak_admin_client_secret=API_SECRET))
    assert isinstance(built, KeycloakGrantMirror)
    return built


class Catalog:
    """The access service of one catalog process over the DuckDB file at `path` (a new one plays a restart)."""

    def __init__(self, path: Path, kc: KeycloakTestServer, clock: Clock) -> None:
        self.con = duckdb.connect(str(path))
        lock = threading.Lock()
        self.audit = AuditLog(self.con.cursor, lock, now=clock)
        self.audit.ensure_schema()
        self.access = AccessService(self.con.cursor, lock, audit=self.audit, mirror=_mirror(kc),
                                    dataset_exists={"admissions", "births"}.__contains__, now=clock)
        self.access.ensure_schema()

    def approve(self, who: Principal, days: int = 30, datasets: tuple[str, ...] = ("admissions",)) -> str:
        rid = self.access.submit(who, datasets=list(datasets), purpose="study", duration_days=days).id
        return self.access.approve(rid, ADA).id

    def actions(self) -> list[str]:
        return [r.action for r in self.audit.records(limit=1000)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog(tmp_path: Path, keycloak: KeycloakTestServer, clock: Clock) -> Iterator[Catalog]:
    cat = Catalog(tmp_path / "catalog.duckdb", keycloak, clock)
    yield cat
    cat.con.close()


def _outage(kc: KeycloakTestServer) -> int:
    port = kc.port
    kc.stop()
    return port


def test_given_approval_and_revocation_then_keycloak_follows_each_after_its_commit(
        keycloak: KeycloakTestServer, catalog: Catalog) -> None:
    grant_id = catalog.approve(RES1, datasets=("admissions", "births"))
    assert keycloak.group_members("hds", GROUP) == {"res1"}
    assert keycloak.group_members("hds", "/datasets/births") == {"res1"}
    assert catalog.access.mirroring.pending() == [] and catalog.access.get_grant(grant_id, ADA).mirrored
    catalog.access.revoke(grant_id, ADA, "study ended")
    assert keycloak.group_members("hds", GROUP) == set() and keycloak.group_members("hds", "/datasets/births") == set()
    assert not catalog.access.get_grant(grant_id, ADA).mirrored


def test_given_keycloak_down_then_decisions_commit_and_reach_it_when_it_returns_even_after_a_restart(
        tmp_path: Path, keycloak: KeycloakTestServer, catalog: Catalog, clock: Clock) -> None:
    first = catalog.approve(RES1)
    assert keycloak.group_members("hds", GROUP) == {"res1"}
    port = _outage(keycloak)

    revoked = catalog.access.revoke(first, ADA, "ended")  # answers at once: recorded, Keycloak told later
    assert revoked.status is GrantStatus.REVOKED
    with pytest.raises(GrantNotActive):
        catalog.access.active_grant(first, RES1)  # the grant record decides immediately
    second = catalog.approve(RES2)
    assert catalog.access.active_grant(second, RES2).id == second
    queued = {(c.grant_id, c.action) for c in catalog.access.mirroring.pending()}
    assert queued == {(first, "revoke"), (second, "grant")}
    assert {"grant.unmirror_failed", "grant.mirror_failed"} <= set(catalog.actions())
    catalog.con.close()  # the catalog process stops while Keycloak is down

    keycloak.start(port)
    assert keycloak.group_members("hds", GROUP) == {"res1"}  # Keycloak still holds the revoked grant...
    restarted = Catalog(tmp_path / "catalog.duckdb", keycloak, clock)
    try:
        delivery = restarted.access.deliver_mirror(reconcile=True)  # what the periodic sweep does
        assert (delivery.delivered, delivery.pending) == (2, 0)
        assert keycloak.group_members("hds", GROUP) == {"res2"}  # ...until the queued changes arrive
        assert restarted.access.mirroring.pending() == []
        assert restarted.audit.verify().ok
    finally:
        restarted.con.close()
        catalog.con = duckdb.connect(":memory:")  # the fixture closes it


def test_given_an_expired_grant_then_it_disappears_from_keycloak(
        keycloak: KeycloakTestServer, catalog: Catalog, clock: Clock) -> None:
    short = catalog.approve(RES1, days=1)
    long = catalog.approve(RES2, days=30)
    assert keycloak.group_members("hds", GROUP) == {"res1", "res2"}
    clock.advance(days=2)
    assert catalog.access.sweep_expired() == [short]
    assert keycloak.group_members("hds", GROUP) == {"res2"}
    assert catalog.access.get_grant(long, ADA).status is GrantStatus.ACTIVE


def test_given_a_grant_expiring_during_an_outage_then_the_next_sweep_after_it_removes_it(
        keycloak: KeycloakTestServer, catalog: Catalog, clock: Clock) -> None:
    short = catalog.approve(RES1, days=1)
    port = _outage(keycloak)
    clock.advance(days=2)
    assert catalog.access.sweep_expired() == [short]  # marked expired; its removal stays queued
    assert [(c.grant_id, c.action) for c in catalog.access.mirroring.pending()] == [(short, "revoke")]
    keycloak.start(port)
    assert keycloak.group_members("hds", GROUP) == {"res1"}
    catalog.access.sweep_expired()
    catalog.access.deliver_mirror(reconcile=True)
    assert keycloak.group_members("hds", GROUP) == set()
    assert catalog.access.mirroring.pending() == []


def test_given_a_membership_added_outside_the_catalog_then_reconciling_removes_it(
        keycloak: KeycloakTestServer, catalog: Catalog) -> None:
    live = catalog.approve(RES1)
    _mirror(keycloak).grant("not-a-catalog-grant", "admissions", "res2")
    assert keycloak.group_members("hds", GROUP) == {"res1", "res2"}
    assert catalog.access.deliver_mirror(reconcile=True).removed == ("not-a-catalog-grant",)
    assert keycloak.group_members("hds", GROUP) == {"res1"}
    assert catalog.access.get_grant(live, ADA).mirrored
