"""The portal in a real Chromium (Debian's, driven by Playwright) against the real pipeline's API."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from policies.identity.dev_issuer import DevIssuer

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("HDS_SCREENSHOTS", "/tmp"))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"])
        yield b
        b.close()


def test_given_a_researcher_then_the_portal_shows_datasets_and_runs_a_suppressed_query(
    pipeline, browser, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    issuer = DevIssuer.from_settings(pipeline.settings)
    researcher = issuer.issue("paula", ["researcher"])
    admin = issuer.issue("otto", ["authority-admin"])
    url = pipeline.catalog.url

    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/")
    page.fill("#token", researcher)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#datasets tbody tr")
    rows = page.locator("#datasets tbody tr")
    assert rows.count() >= 4
    table = page.inner_text("#datasets")
    assert "admissions" in table and "north-general" in table and "riverside" in table and "st-luke" in table
    assert "paula" in page.inner_text("#who")

    page.click("#datasets tbody tr[data-id=admissions]")
    page.wait_for_selector("#dataset-detail:not([hidden])")
    assert "patient_pseudonym" in page.inner_text("#dataset-detail")

    page.click("nav button[data-view=requests]")
    page.fill("#rq-datasets", "admissions")
    page.fill("#rq-purpose", "Ward occupancy")
    page.click("#request-form button[type=submit]")
    page.wait_for_selector("#message:has-text('submitted')")
    request_id = page.inner_text("#message").split()[1]

    r = httpx.post(f"{url}/api/access-requests/{request_id}/approve", json={},
                   headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert r.status_code == 200, r.text

    page.click("nav button[data-view=query]")
    page.wait_for_selector("#q-grant option", state="attached")
    page.fill("#q-sql", "SELECT ward, count(*) AS admissions FROM admissions GROUP BY ward")
    page.click("#query-form button[type=submit]")
    page.wait_for_selector("#result tbody tr")
    summary = page.inner_text("#query-summary")
    assert "cells suppressed" in summary and not summary.startswith("0 rows")
    assert page.locator("#result td.suppressed").count() > 0
    page.screenshot(path=str(SCREENSHOTS / "portal-query.png"), full_page=True)

    page.fill("#q-sql", "SELECT patient_pseudonym FROM admissions")  # row-level output from an aggregate tier
    page.click("#query-form button[type=submit]")
    page.wait_for_selector("#message.error")
    assert page.inner_text("#message").startswith("Refused:")
    assert page.locator("#result tbody tr").count() == 0
    assert errors == []
    page.close()


def test_given_the_portal_then_it_is_served_with_a_strict_content_security_policy(pipeline) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(pipeline.catalog.url + "/", timeout=30)
    assert r.status_code == 200 and "<title>City health data space</title>" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert httpx.get(pipeline.catalog.url + "/portal/config.json", timeout=30).json() == {"mode": "dev"}
    assert httpx.get(pipeline.catalog.url + "/portal/../api/datasets", timeout=30).status_code in (401, 404)
