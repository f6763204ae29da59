"""Feed health and dead letters over HTTP on the real pipeline (real broker, real DLQ topics), audit paging newest
first, a syntax error named as one, and /docs served from local assets under the portal's CSP."""

from __future__ import annotations

import re

import httpx
import pytest
from pipeline_kit import BAD_MESSAGES, Pipeline

from policies.identity.dev_issuer import DevIssuer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _get(pipeline: Pipeline, path: str, user: str, role: str, **claims: str) -> httpx.Response:
    token = DevIssuer.from_settings(pipeline.settings).issue(user, [role], **claims)
    return httpx.get(pipeline.catalog.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_given_an_admin_then_feed_health_lists_every_registered_feed_with_loaded_records(pipeline: Pipeline) -> None:
    r = _get(pipeline, "/api/feeds/health", "adam", "authority-admin")
    assert r.status_code == 200, r.text
    body = r.json()
    feeds = {(f["hospital"], f["feed"]): f for f in body["feeds"]}
    assert len(feeds) == 12  # three hospitals x four feeds
    manifest = pipeline.manifest["hospitals"]
    for hospital, h in manifest.items():
        for feed in h["feeds"]:
            assert feeds[(hospital, feed)]["records"] > 0
            assert feeds[(hospital, feed)]["last_seen"] is not None
    assert body["loader"]["loaded"] >= sum(f["records"] for f in body["feeds"])
    assert body["dead_letters_available"] is True


def test_given_dead_letters_then_reasons_are_counted_per_feed_and_listed_without_content(pipeline: Pipeline) -> None:
    body = _get(pipeline, "/api/feeds/health", "adam", "authority-admin").json()
    fhir = next(f for f in body["feeds"] if (f["hospital"], f["feed"]) == ("riverside", "fhir"))
    assert fhir["dead_letters_by_reason"].get("invalid_json", 0) >= 1
    r = _get(pipeline, "/api/feeds/dead-letters", "adam", "authority-admin")
    assert r.status_code == 200
    items = r.json()["dead_letters"]
    reasons = {d["reason"] for d in items}
    assert {"invalid_json", "encoding_error", "unknown_feed"} <= reasons
    text = r.text
    for _, _, value, _ in BAD_MESSAGES:  # no byte of a dead letter's content comes back
        fragment = value.decode("latin-1")[-6:]
        assert fragment not in text
    assert not re.search(r"M\\u00fcller|Müller|Jürgen", text)
    assert all(set(d) == {"hospital", "feed", "reason", "detail", "source_partition", "source_offset", "failed_at",
                          "message_id", "bytes", "format"} for d in items)


def test_given_a_publisher_then_only_its_own_hospital_is_shown(pipeline: Pipeline) -> None:
    r = _get(pipeline, "/api/feeds/health", "stl-feed", "hospital-publisher", hospital="st-luke")
    assert r.status_code == 200
    assert {f["hospital"] for f in r.json()["feeds"]} == {"st-luke"}
    dead = _get(pipeline, "/api/feeds/dead-letters", "stl-feed", "hospital-publisher", hospital="st-luke").json()
    assert dead["dead_letters"] and {d["hospital"] for d in dead["dead_letters"]} == {"st-luke"}
    other = _get(pipeline, "/api/feeds/dead-letters?hospital=riverside", "stl-feed", "hospital-publisher",
                 hospital="st-luke")
    assert other.status_code == 403


def test_given_a_researcher_then_feed_health_is_refused(pipeline: Pipeline) -> None:
    assert _get(pipeline, "/api/feeds/health", "rita", "researcher").status_code == 403


def test_given_order_desc_then_the_audit_pages_newest_first_without_gaps(pipeline: Pipeline) -> None:
    first = _get(pipeline, "/api/audit?order=desc&limit=3", "adam", "authority-admin").json()
    seqs = [r["seq"] for r in first["records"]]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == first["total_all"]
    if first["next_before_seq"] is not None:
        second = _get(pipeline, f"/api/audit?order=desc&limit=3&before_seq={first['next_before_seq']}",
                      "adam", "authority-admin").json()
        assert [r["seq"] for r in second["records"]][0] == seqs[-1] - 1
    logins = _get(pipeline, "/api/audit?order=desc&action=login&limit=1000", "adam", "authority-admin").json()
    assert logins["total"] == len(logins["records"]) <= logins["total_all"]
    assert {r["action"] for r in logins["records"]} == {"login"}


def test_given_a_typo_in_select_then_the_refusal_says_syntax_error(pipeline: Pipeline) -> None:
    from policies.sandbox.errors import QueryRefused
    from policies.sandbox.sql_guard import _parse

    with pytest.raises(QueryRefused) as exc:
        _parse("SELEC ward FROM admissions")
    assert exc.value.code == "syntax" and "syntax error" in exc.value.public_reason
    with pytest.raises(QueryRefused) as exc:
        _parse("DELETE FROM admissions")
    assert exc.value.code == "not_select"


def test_given_docs_then_swagger_ui_comes_from_this_host_under_the_csp(pipeline: Pipeline) -> None:
    r = httpx.get(pipeline.catalog.url + "/docs", timeout=30)
    assert r.status_code == 200 and "script-src 'self'" in r.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sources and all(s.startswith("/") for s in sources)
    assert "<script>" not in r.text  # no inline script
    for s in sources:
        assert httpx.get(pipeline.catalog.url + s, timeout=30).status_code == 200
