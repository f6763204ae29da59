"""Role x endpoint for the catalog's own endpoints, over HTTP (the access and audit routers have their own
matrix in tests/policies/access). 401 without a token, 403 for the wrong role, 2xx for the right one."""

from __future__ import annotations

import httpx
import pytest
from pipeline_kit import Pipeline

from policies.identity.dev_issuer import DevIssuer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROLES = ["researcher", "data-steward", "authority-admin", "hospital-publisher"]
HL7 = b"MSH|^~\\&|A|STL|H|C|20250101||ADT^A04|R1|P|2.5\rPID|1||777^^^STL^MR||ROE^ANN||19700101|F\rPV1|1|O\r"


def token(p: Pipeline, role: str) -> str:
    issuer = DevIssuer.from_settings(p.settings)
    return issuer.issue(f"user-{role}", [role], hospital="st-luke" if role == "hospital-publisher" else None)


def call(p: Pipeline, method: str, path: str, role: str | None, **kw: object) -> int:
    headers = {"Authorization": f"Bearer {token(p, role)}"} if role else {}
    headers.update(kw.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.request(method, p.catalog.url + path, headers=headers, timeout=60, **kw).status_code  # type: ignore[arg-type]


@pytest.mark.parametrize("role", [None, *ROLES])
def test_given_any_authenticated_role_then_the_catalog_can_be_browsed(pipeline: Pipeline, role: str | None) -> None:
    expected = 401 if role is None else 200
    assert call(pipeline, "GET", "/api/datasets", role) == expected
    assert call(pipeline, "GET", "/api/datasets/lab_results", role) == expected
    assert call(pipeline, "GET", "/metrics", role) == expected
    assert call(pipeline, "GET", "/health", role) == 200
    assert call(pipeline, "GET", "/openapi.json", role) == 200


@pytest.mark.parametrize("role", [None, *ROLES])
def test_given_a_role_then_ingest_needs_a_publisher_of_that_hospital(pipeline: Pipeline, role: str | None) -> None:
    status = call(pipeline, "POST", "/api/ingest/st-luke/adt", role, content=HL7,
                  headers={"Content-Type": "application/hl7-v2"})
    assert status == {None: 401, "hospital-publisher": 202}.get(role, 403)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_given_no_grant_then_no_role_can_query(pipeline: Pipeline, role: str | None) -> None:
    body = {"grant_id": "00000000-0000-0000-0000-000000000000", "sql": "SELECT count(*) FROM lab_results"}
    status = call(pipeline, "POST", "/api/query", role, json=body)
    assert status == 401 if role is None else status in (403, 404)
    assert call(pipeline, "POST", "/api/exports", role, json=body) == (401 if role is None else status)


def test_given_a_record_tier_grant_then_rows_are_capped_and_export_is_refused(pipeline: Pipeline) -> None:
    h = {"Authorization": f"Bearer {token(pipeline, 'researcher')}"}
    a = {"Authorization": f"Bearer {DevIssuer.from_settings(pipeline.settings).issue('boss', ['authority-admin'])}"}
    rid = httpx.post(pipeline.catalog.url + "/api/access-requests", headers=h, timeout=60, json={
        "datasets": ["clinical_records"], "purpose": "Encounter classes", "duration_days": 7}).json()["id"]
    gid = httpx.post(pipeline.catalog.url + f"/api/access-requests/{rid}/approve", headers=a, json={}, timeout=60).json()["grant_id"]
    r = httpx.post(pipeline.catalog.url + "/api/query", headers=h, timeout=60, json={
        "grant_id": gid, "sql": "SELECT patient_pseudonym, encounter_class, birth_year FROM clinical_records"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tier"] == "record" and body["columns"] == ["patient_pseudonym", "encounter_class", "birth_year"]
    assert 0 < body["row_count"] <= 1000
    r = httpx.post(pipeline.catalog.url + "/api/exports", headers=h, timeout=60, json={
        "grant_id": gid, "sql": "SELECT encounter_class FROM clinical_records"})
    assert r.status_code == 403 and "extract" in r.json()["detail"]
    r = httpx.post(pipeline.catalog.url + "/api/query", headers=h, timeout=60, json={
        "grant_id": gid, "sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert r.status_code in (400, 403) and "root" not in r.text
