"""The newcomer's walkthrough (docs/walkthrough.md) over HTTP on the real pipeline: request access, approve,
aggregate query with suppressed small cells, a forbidden column refused, revocation immediate, audit verified."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pipeline_kit import Pipeline

from policies.identity.dev_issuer import DevIssuer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(pipeline: Pipeline, user: str, role: str, **kw: str) -> httpx.Client:
    token = DevIssuer.from_settings(pipeline.settings).issue(user, [role], **kw)
    client = httpx.Client(base_url=pipeline.catalog.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    _OPEN.append(client)
    return client


def _last_refusal(admin: httpx.Client) -> object:
    """The audit log's precise cause of the newest refusal (the API gives researchers one uniform reason)."""
    return json.dumps(admin.get("/api/audit", params={"action": "query.refused", "order": "desc", "limit": 1}).json()["records"])


def test_given_the_walkthrough_then_every_step_behaves_as_documented(pipeline: Pipeline) -> None:
    researcher = _client(pipeline, "rita", "researcher")
    admin = _client(pipeline, "adam", "authority-admin")
    steward = _client(pipeline, "sten", "data-steward")

    granted = ["hospital", "ward", "sex", "birth_year", "patient_pseudonym"]
    r = researcher.post("/api/access-requests", json={
        "datasets": ["admissions"], "columns": {"admissions": granted},
        "purpose": "Bed occupancy by ward and sex", "duration_days": 30,
        "project": "occupancy-2026", "legal_basis": "EHDS Art. 53(1)(a)"})
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    assert r.json()["status"] == "submitted"

    assert researcher.post(f"/api/access-requests/{request_id}/approve").status_code == 403
    assert steward.post(f"/api/access-requests/{request_id}/review", json={"note": "complete"}).status_code == 200
    r = admin.post(f"/api/access-requests/{request_id}/approve", json={})
    assert r.status_code == 200, r.text
    grant_id = r.json()["grant_id"]

    # An aggregate with small cells: wards are many, so several cells fall under the threshold.
    r = researcher.post("/api/query", json={
        "grant_id": grant_id, "sql": "SELECT ward, count(*) AS admissions FROM admissions GROUP BY ward"})
    assert r.status_code == 200, (r.text, _last_refusal(admin))
    body = r.json()
    assert body["columns"] == ["ward", "admissions"]
    assert body["suppressed"] > 0
    released = [row[1] for row in body["rows"] if row[1] is not None]
    assert all(n >= 10 for n in released)

    r = researcher.post("/api/query", json={"grant_id": grant_id, "sql": "SELECT sex, count(*) AS n FROM admissions GROUP BY sex"})
    assert r.status_code == 200, r.text
    counts = [row[1] for row in r.json()["rows"] if row[1] is not None]
    assert counts and all(n >= 10 for n in counts)

    # A column the grant does not cover is refused, and the refusal does not echo the query's values.
    r = researcher.post("/api/query", json={
        "grant_id": grant_id, "sql": "SELECT count(*) FROM admissions WHERE zip3 = '02951'"})
    assert r.status_code == 403
    assert "02951" not in r.text and "zip3" in r.json()["detail"]

    # Raw rows are never released from an aggregate-tier dataset.
    r = researcher.post("/api/query", json={"grant_id": grant_id, "sql": "SELECT patient_pseudonym FROM admissions"})
    assert r.status_code in (403, 422)

    # Someone else cannot use the grant.
    other = _client(pipeline, "mallory", "researcher")
    assert other.post("/api/query", json={"grant_id": grant_id, "sql": "SELECT count(*) FROM admissions"}).status_code in (403, 404)

    r = admin.post(f"/api/grants/{grant_id}/revoke", json={"reason": "project ended"})
    assert r.status_code == 200, r.text
    r = researcher.post("/api/query", json={"grant_id": grant_id, "sql": "SELECT sex, count(*) FROM admissions GROUP BY sex"})
    assert 400 <= r.status_code < 500

    r = admin.get("/api/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True
    actions = [rec["action"] for rec in admin.get("/api/audit", params={"limit": 500}).json()["records"]]
    assert "query" in actions and "query.refused" in actions
    assert researcher.get("/api/audit").status_code == 403


def test_given_a_publisher_token_then_ingest_is_bound_to_its_hospital(pipeline: Pipeline) -> None:
    hl7 = ("MSH|^~\\&|EPIC|STL|HDS|CITY|20250314083000||ADT^A04|ING0001|P|2.5\r"
           "PID|1||4455667^^^STL^MR||QUINTERO^ROSALIND||19800101|F\rPV1|1|O\r")
    publisher = _client(pipeline, "stl-feed", "hospital-publisher", hospital="st-luke")
    h = {"Content-Type": "application/hl7-v2"}
    r = publisher.post("/api/ingest/st-luke/adt", content=hl7.encode(), headers=h)
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert publisher.post("/api/ingest/riverside/adt", content=hl7.encode(), headers=h).status_code == 403
    researcher = _client(pipeline, "rita", "researcher")
    assert researcher.post("/api/ingest/st-luke/adt", content=hl7.encode(), headers=h).status_code == 403
    assert publisher.post("/api/ingest/st-luke/adt", content=b"not hl7", headers=h).status_code == 422
    assert publisher.post("/api/ingest/st-luke/adt", content=hl7.encode(), headers={"Content-Type": "image/png"}).status_code == 415
