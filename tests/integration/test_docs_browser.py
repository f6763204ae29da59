"""/docs in a real Chromium with every non-local request blocked: Swagger UI renders from local assets under a CSP."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_given_docs_then_served_with_a_csp_and_only_local_scripts(pipeline) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(pipeline.catalog.url + "/docs", timeout=30)
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "http" not in r.text.lower().replace("http-equiv", "")  # no absolute (CDN) URL at all
    assert httpx.get(pipeline.catalog.url + "/docs-assets/swagger-ui-bundle.js", timeout=30).status_code == 200


def test_given_no_internet_then_swagger_ui_renders_the_api(pipeline, browser) -> None:  # type: ignore[no-untyped-def]
    local = urlparse(pipeline.catalog.url).netloc
    page = browser.new_page()  # type: ignore[attr-defined]
    outside: list[str] = []
    violations: list[str] = []

    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).netloc == local:
            route.continue_()
        else:
            outside.append(urlparse(route.request.url).netloc)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(pipeline.catalog.url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/query" in p for p in paths)
    assert not outside and not violations
    page.close()
