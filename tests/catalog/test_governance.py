"""The access and audit routes on a real FastAPI app with a real DuckDB file and real RS256 tokens."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from governance_kit import DATASETS, Clock, RecordingMirror, TokenKit

from policies.access import GrantNotActive
from catalog import errors
from catalog.container import CatalogServices, build_services
from catalog.governance import install
from catalog.store import CatalogStore
from policies.feeds import FeedRegistry
from policies.sandbox.tiers import load_dataset_policies
from policies.settings import Settings
from policies.principal import ROLES, Principal


@dataclass
class Api:
    client: TestClient
    gov: CatalogServices
    kit: TokenKit
    clock: Clock
    mirror: RecordingMirror
    con: duckdb.DuckDBPyConnection

    def headers(self, username: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.kit.token(username, *roles)}"}

    def as_role(self, role: str) -> dict[str, str]:
        return self.headers(f"user-{role}", role)

    def principal(self, role: str) -> Principal:
        return Principal(f"sub-user-{role}", f"user-{role}", frozenset({role}))


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(data_dir=tmp_path)
    store = CatalogStore(settings.db_path)
    kit, clock, mirror = TokenKit(), Clock(), RecordingMirror()
    services = build_services(settings, store=store, registry=FeedRegistry.load(settings.feeds_file),
                              verifier=kit.verifier(), dataset_policies=load_dataset_policies(settings.datasets_file),
                              mirror=mirror, now=clock)
    assert DATASETS <= {d for d in DATASETS if services.registry.dataset(d) is not None}  # the datasets tests name
    app = FastAPI()
    app.state.services = services
    errors.install(app)
    install(app)
    con = store.cursor()
    with TestClient(app) as client:
        yield Api(client, services, kit, clock, mirror, con)
    con.close()
    store.close()


BODY = {"datasets": ["admissions"], "purpose": "readmission study", "duration_days": 30}


def _submit(api: Api, username: str = "user-researcher") -> str:
    return api.gov.access.submit(Principal(f"sub-{username}", username, frozenset({"researcher"})),
                                 datasets=["admissions"], purpose="p", duration_days=30).id


def _grant(api: Api) -> str:
    return api.gov.access.approve(_submit(api), api.principal("authority-admin")).id


# Each endpoint: method, a setup returning the path (fresh state per call; requests and grants belong to
# user-researcher), body, and the status each role gets (roles not listed: 403).
Setup = Callable[[Api], str]
R, S, A = "researcher", "data-steward", "authority-admin"
ENDPOINTS: list[tuple[str, str, Setup, dict | None, dict[str, int]]] = [
    ("submit", "POST", lambda a: "/api/access-requests", BODY, {R: 201}),
    ("list requests", "GET", lambda a: "/api/access-requests", None, {R: 200, S: 200, A: 200}),
    ("get request", "GET", lambda a: f"/api/access-requests/{_submit(a)}", None, {R: 200, S: 200, A: 200}),
    ("review", "POST", lambda a: f"/api/access-requests/{_submit(a)}/review", None, {S: 200}),
    ("approve", "POST", lambda a: f"/api/access-requests/{_submit(a)}/approve", None, {A: 200}),
    ("refuse", "POST", lambda a: f"/api/access-requests/{_submit(a)}/refuse", {"reason": "scope too broad"},
     {A: 200}),
    ("withdraw", "POST", lambda a: f"/api/access-requests/{_submit(a)}/withdraw", None, {R: 200}),
    ("list grants", "GET", lambda a: "/api/grants", None, {R: 200, S: 200, A: 200}),
    ("get grant", "GET", lambda a: f"/api/grants/{_grant(a)}", None, {R: 200, S: 404, A: 200}),
    ("revoke", "POST", lambda a: f"/api/grants/{_grant(a)}/revoke", {"reason": "ended"}, {A: 200}),
    ("audit", "GET", lambda a: "/api/audit", None, {A: 200}),
    ("verify", "GET", lambda a: "/api/audit/verify", None, {A: 200}),
]


@pytest.mark.parametrize("name,method,setup,body,expect", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_given_each_role_then_endpoint_answers_401_403_or_success(
        api: Api, name: str, method: str, setup: Setup, body: dict | None, expect: dict[str, int]) -> None:
    path = setup(api)
    missing = api.client.request(method, path, json=body)
    assert missing.status_code == 401 and missing.json()["detail"]
    bad = api.client.request(method, path, json=body, headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    for role in ROLES:
        response = api.client.request(method, setup(api), json=body, headers=api.as_role(role))
        assert response.status_code == expect.get(role, 403), (name, role, response.json())
        if response.status_code >= 400:
            assert set(response.json()) == {"detail"}


def test_given_researcher_then_full_request_to_grant_flow_over_http(api: Api) -> None:
    alice = api.headers("alice", "researcher")
    created = api.client.post("/api/access-requests", headers=alice, json={
        **BODY, "datasets": ["admissions", "lab_results"], "columns": {"admissions": ["ward", "age_band"]},
        "project": "READMIT", "legal_basis": "GDPR Art. 9(2)(j)"})
    assert created.status_code == 201
    rid = created.json()["id"]
    assert created.json()["status"] == "submitted"
    steward = api.headers("steve", "data-steward")
    assert api.client.post(f"/api/access-requests/{rid}/review", headers=steward,
                           json={"note": "ok"}).json()["status"] == "under_review"
    admin = api.headers("ada", "authority-admin")
    approved = api.client.post(f"/api/access-requests/{rid}/approve", headers=admin,
                               json={"columns": {"admissions": ["ward"]}, "duration_days": 7})
    assert approved.status_code == 200
    grant = approved.json()
    assert grant["request_id"] == rid and grant["datasets"] == ["admissions", "lab_results"]
    assert grant["columns"] == {"admissions": ["ward"]} and grant["expires_at"].startswith("2026-03-08")
    mine = api.client.get("/api/grants", headers=alice).json()
    assert [g["grant_id"] for g in mine] == [grant["grant_id"]]
    assert api.client.get(f"/api/access-requests/{rid}", headers=alice).json()["status"] == "approved"
    revoked = api.client.post(f"/api/grants/{grant['grant_id']}/revoke", headers=admin, json={"reason": "ended"})
    assert revoked.json()["status"] == "revoked"
    assert api.mirror.held == set()


def test_given_unknown_dataset_then_422_without_echo(api: Api) -> None:
    response = api.client.post("/api/access-requests", headers=api.as_role("researcher"),
                               json={**BODY, "datasets": ["admissions", "mrn_4711_table"]})
    assert response.status_code == 422
    assert "mrn_4711_table" not in response.text and response.json()["detail"]


@pytest.mark.parametrize("body", [
    {**BODY, "duration_days": "thirty JANE-DOE"},
    {**BODY, "purpose": 12345, "extra": "Jane Doe"},
    {"datasets": "admissions JANE-DOE", "purpose": "x", "duration_days": 3},
])
def test_given_malformed_body_then_422_names_fields_never_values(api: Api, body: dict) -> None:
    response = api.client.post("/api/access-requests", headers=api.as_role("researcher"), json=body)
    assert response.status_code == 422
    assert "JANE" not in response.text and "Jane" not in response.text
    assert isinstance(response.json()["detail"], str) and "field" in response.json()["detail"]


def test_given_invalid_json_then_422_without_echo(api: Api) -> None:
    response = api.client.post("/api/access-requests", headers={**api.as_role("researcher"),
                               "content-type": "application/json"}, content=b'{"purpose": "Jane Doe"')
    assert response.status_code == 422 and "Jane" not in response.text


def test_given_illegal_transition_then_409_with_clear_detail(api: Api) -> None:
    rid = _submit(api)
    admin = api.as_role("authority-admin")
    assert api.client.post(f"/api/access-requests/{rid}/refuse", headers=admin, json={"reason": "no"}).status_code == 200
    again = api.client.post(f"/api/access-requests/{rid}/approve", headers=admin)
    assert again.status_code == 409
    assert again.json() == {"detail": "cannot approve an access request that is refused "
                                      "(allowed only when submitted, under_review)"}


def test_given_refuse_without_reason_then_422(api: Api) -> None:
    rid = _submit(api)
    response = api.client.post(f"/api/access-requests/{rid}/refuse", headers=api.as_role("authority-admin"), json={})
    assert response.status_code == 422


def test_given_other_researcher_then_request_is_not_found_and_not_listed(api: Api) -> None:
    rid = _submit(api, "alice")
    bob = api.headers("bob", "researcher")
    assert api.client.get(f"/api/access-requests/{rid}", headers=bob).status_code == 404
    assert api.client.get("/api/access-requests", headers=bob).json() == []
    assert api.client.post(f"/api/access-requests/{rid}/withdraw", headers=bob).status_code == 404
    assert len(api.client.get("/api/access-requests", headers=api.as_role("data-steward")).json()) == 1


def test_given_revocation_then_active_grant_refuses_immediately(api: Api) -> None:
    gid = _grant(api)
    researcher = api.principal("researcher")
    assert api.gov.access.active_grant(gid, researcher).id == gid
    api.client.post(f"/api/grants/{gid}/revoke", headers=api.as_role("authority-admin"), json={"reason": "x"})
    with pytest.raises(GrantNotActive) as err:
        api.gov.access.active_grant(gid, researcher)
    assert err.value.reason == "revoked"


def test_given_expired_grant_then_listing_shows_it_expired(api: Api) -> None:
    gid = _grant(api)
    api.clock.advance(days=31)
    grants = api.client.get("/api/grants", headers=api.as_role("authority-admin")).json()
    assert [(g["id"], g["status"]) for g in grants] == [(gid, "expired")]


def test_given_tokens_then_login_is_audited_once_per_session(api: Api) -> None:
    token = api.kit.token("alice", "researcher", sid="session-A")
    for _ in range(3):
        api.client.get("/api/access-requests", headers={"Authorization": f"Bearer {token}"})
    other = api.kit.token("alice", "researcher", sid="session-A")  # same session, new token
    api.client.get("/api/grants", headers={"Authorization": f"Bearer {other}"})
    logins = [r for r in api.gov.audit.records(limit=1000) if r.action == "login" and r.actor == "alice"]
    assert len(logins) == 1
    assert "session-A" not in json.dumps(logins[0].to_public())


def test_given_admin_then_audit_pages_and_verifies_over_http(api: Api) -> None:
    for _ in range(3):
        _submit(api)
    admin = api.as_role("authority-admin")
    first = api.client.get("/api/audit", headers=admin, params={"limit": 2}).json()
    assert [r["seq"] for r in first["records"]] == [1, 2] and first["next_after_seq"] == 2
    rest = api.client.get("/api/audit", headers=admin, params={"after_seq": 2, "limit": 100}).json()
    assert rest["records"][0]["seq"] == 3 and rest["next_after_seq"] is None
    assert all(r["hash"] and r["prev_hash"] for r in first["records"] + rest["records"])
    report = api.client.get("/api/audit/verify", headers=admin).json()
    assert report["ok"] is True and report["records"] == rest["total"]


def test_given_tampered_log_then_verify_endpoint_reports_it(api: Api) -> None:
    _submit(api)
    _submit(api)
    api.con.execute("UPDATE governance.audit_log SET actor = 'mallory' WHERE seq = 1")  # someone with file access
    report = api.client.get("/api/audit/verify", headers=api.as_role("authority-admin")).json()
    assert report == {**report, "ok": False, "first_bad_seq": 1, "problem": "hash_mismatch"}
