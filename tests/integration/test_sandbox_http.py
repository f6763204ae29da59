"""The sandbox over real HTTP: body limits before authentication, a bounded per-user query pool, uniform refusals."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlparse

import httpx
import pytest
from pipeline_kit import Pipeline

from policies.identity.dev_issuer import DevIssuer
from policies.sandbox.errors import UNIFORM_REASON

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HEAVY = "SELECT count(*) FROM lab_results a, lab_results b, lab_results c, lab_results d, lab_results e"


def _grant(p: Pipeline, user: str, datasets: list[str], project: str | None = None,
           epsilon: float | None = None) -> tuple[dict, str]:
    issuer = DevIssuer.from_settings(p.settings)
    h = {"Authorization": f"Bearer {issuer.issue(user, ['researcher'])}"}
    a = {"Authorization": f"Bearer {issuer.issue('boss', ['authority-admin'])}"}
    body = {"datasets": datasets, "purpose": "Sandbox limits", "duration_days": 7}
    if project:
        body["project"] = project
    if epsilon is not None:
        body["epsilon"] = epsilon
    rid = httpx.post(p.catalog.url + "/api/access-requests", headers=h, json=body, timeout=60).json()["id"]
    gid = httpx.post(p.catalog.url + f"/api/access-requests/{rid}/approve", headers=a, json={}, timeout=60).json()
    return h, gid["grant_id"]


def _raw_post(url: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    parsed = urlparse(url)
    con = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    con.putrequest("POST", path)
    for k, v in headers.items():
        con.putheader(k, v)
    con.endheaders()
    if body:
        try:
            con.send(body)
        except OSError:
            pass
    response = con.getresponse()
    data = response.read()
    con.close()
    return response.status, data


def test_given_a_huge_declared_body_without_a_token_then_413_before_any_byte_is_read(pipeline: Pipeline) -> None:
    status, data = _raw_post(pipeline.catalog.url, "/api/query",
                             {"Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)})
    assert status == 413 and b"larger than" in data  # not 401: nothing looked at the (absent) token or body


def test_given_a_streamed_body_over_the_limit_then_413(pipeline: Pipeline) -> None:
    chunk = b"x" * 65536

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):  # 2.5 MB, no Content-Length
            yield chunk

    r = httpx.post(pipeline.catalog.url + "/api/query", content=chunks(), headers={"Content-Type": "application/json"},
                   timeout=60)
    assert r.status_code == 413


def test_given_one_researchers_burst_then_others_and_health_are_served_and_the_burst_is_bounded(
    pipeline: Pipeline,
) -> None:
    heavy_h, heavy_g = _grant(pipeline, "burst-user", ["lab_results"])
    other_h, other_g = _grant(pipeline, "quiet-user", ["lab_results"])
    url = pipeline.catalog.url
    statuses: list[int] = []
    finished = threading.Event()
    lock = threading.Lock()

    def heavy() -> None:
        r = httpx.post(url + "/api/query", headers=heavy_h, json={"grant_id": heavy_g, "sql": HEAVY}, timeout=120)
        with lock:
            statuses.append(r.status_code)
            if len(statuses) == 14:
                finished.set()

    threads = [threading.Thread(target=heavy) for _ in range(14)]
    for t in threads:
        t.start()
    health = httpx.get(url + "/health", timeout=60)
    light = httpx.post(url + "/api/query", headers=other_h, timeout=60,
                       json={"grant_id": other_g, "sql": "SELECT test_code FROM lab_results"})
    served_during_burst = not finished.is_set()
    for t in threads:
        t.join(180)
    assert health.status_code == 200 and light.status_code == 200 and light.json()["row_count"] > 0
    assert served_during_burst, "the other user's query and /health had to wait for the whole burst"
    # 2 running + 8 waiting per user: the rest are refused at once (429), the others complete (or time out)
    assert statuses.count(429) >= 4
    assert all(s in (200, 408, 429) for s in statuses)


def test_given_data_dependent_refusals_over_http_then_one_uniform_answer(pipeline: Pipeline) -> None:
    h, g = _grant(pipeline, "oracle-user", ["admissions"], project="Oracle probe")
    url = pipeline.catalog.url
    first = httpx.post(url + "/api/query", headers=h, timeout=60,
                       json={"grant_id": g, "sql": "SELECT count(*) FROM admissions"})
    assert first.status_code == 200, first.text
    answers = set()
    for sql in ("SELECT count(*) FROM admissions WHERE birth_year = 1900",
                "SELECT count(*) FROM admissions WHERE CAST(CASE WHEN birth_year < 1950 THEN 'x' ELSE '1' END "
                "AS INTEGER) = 1"):
        r = httpx.post(url + "/api/query", headers=h, json={"grant_id": g, "sql": sql}, timeout=60)
        answers.add((r.status_code, r.text))
    assert answers == {(422, '{"detail":"' + UNIFORM_REASON + '"}')}
    # the authority sees the precise causes in the audit log
    admin = {"Authorization": f"Bearer {DevIssuer.from_settings(pipeline.settings).issue('boss', ['authority-admin'])}"}
    records = httpx.get(url + f"/api/audit?action=query.refused&subject=grant:{g}&limit=100", headers=admin,
                        timeout=60).json()["records"]
    causes = {r["details"].get("refusal_code") for r in records}
    assert {"too_few_patients", "runtime_conversion"} <= causes


def test_given_an_epsilon_with_the_request_then_dp_queries_spend_it_across_grants(pipeline: Pipeline) -> None:
    url = pipeline.catalog.url
    h, g = _grant(pipeline, "dp-user", ["lab_reports"], epsilon=0.25)
    sql = "SELECT hospital, count(*) AS n FROM lab_reports GROUP BY hospital ORDER BY hospital"
    first = httpx.post(url + "/api/query", headers=h, json={"grant_id": g, "sql": sql, "epsilon": 0.1}, timeout=60)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["tier"] == "aggregate-dp" and [r[0] for r in body["rows"]] == ["north-general", "riverside", "st-luke"]
    assert body["privacy"]["epsilon_remaining"] == pytest.approx(0.15)
    second = httpx.post(url + "/api/query", headers=h, json={"grant_id": g, "sql": sql, "epsilon": 0.1}, timeout=60)
    assert second.json()["privacy"]["epsilon_remaining"] == pytest.approx(0.05)
    _, g2 = _grant(pipeline, "dp-user", ["lab_reports"], epsilon=0.25)  # a second grant: no fresh budget
    third = httpx.post(url + "/api/query", headers=h, json={"grant_id": g2, "sql": sql, "epsilon": 0.1}, timeout=60)
    assert third.status_code == 403 and "budget" in third.json()["detail"]
