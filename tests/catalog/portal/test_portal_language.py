"""The language switch on every page of every role: Chinese headings, navigation and `lang`, remembered on reload;
and the portal's content security policy and assets (no inline script, nothing from another host)."""

from __future__ import annotations

import re

import httpx
import pytest
from portal_kit import Portal, dictionaries, go, wait_view

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PAGES = {
    "researcher": ["catalog", "dataset/admissions", "request", "requests", "query"],
    "data-steward": ["catalog", "review", "feeds"],
    "authority-admin": ["catalog", "review", "grants", "audit", "feeds"],
    "hospital-publisher": ["feeds", "catalog"],
}
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("role", sorted(PAGES))
def test_given_the_chinese_switch_then_every_page_of_the_role_is_in_chinese(portal: Portal, role: str) -> None:
    zh, en = dictionaries()["zh"], dictionaries()["en"]
    claims = {"hospital": "st-luke"} if role == "hospital-publisher" else {}
    page = portal.page("lang-" + role[:5], role, **claims)
    listing = httpx.get(portal.url + "/api/datasets", timeout=30,
                        headers={"Authorization": f"Bearer {portal.token('lang', 'researcher')}"}).json()
    data = [d["title"] for d in listing] + [d["description"] for d in listing]
    page.select_option("#lang", "zh")
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    for path in PAGES[role]:
        view = path.split("/")[0]
        go(page, path, view)
        nav = [a.inner_text() for a in page.locator("#nav-list a").all()]
        assert nav and all(HAN.search(n) for n in nav), nav
        heading = page.inner_text("#main h2")
        if heading in data:  # a dataset's own page is titled with its (registry) title: check its sections
            heading = page.inner_text("#main h3")
        assert HAN.search(heading), (path, heading)
        assert page.inner_text("#signout") == zh["signout"]
        main = page.inner_text("#main")
        leftovers = [v for k, v in en.items() if len(v) > 12 and v != zh[k] and "{" not in v and v in main
                     and not any(v in d for d in data)]  # dataset titles are content from the registry, not UI
        assert leftovers == [], (path, leftovers)
        portal.shot(page, f"zh-{role}-{path}")
    page.reload()
    page.wait_for_selector("#main:not([hidden]) h2")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.input_value("#lang") == "zh"
    page.select_option("#lang", "en")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#signout") == "Sign out"


def test_given_the_sign_in_page_then_it_switches_language_before_signing_in(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(portal.url + "/")
    page.select_option("#lang", "zh")
    assert page.inner_text("#signin-title") == "登录"
    page.fill("#token", "not a token")
    page.click("#token-form button[type=submit]")
    assert page.inner_text("#token-error") == "这看起来不是有效的访问令牌。"
    portal.shot(page, "zh-signin-invalid")
    page.close()


def test_given_the_portal_then_it_is_served_with_a_strict_content_security_policy(portal: Portal) -> None:
    r = httpx.get(portal.url + "/", timeout=30)
    assert r.status_code == 200 and "<title>City health data space</title>" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"<script>(?!</script>)", r.text) and "<script>" not in r.text
    assert "style=" not in r.text and "onclick" not in r.text
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', r.text):
        asset = httpx.get(portal.url + src, timeout=30)
        assert asset.status_code == 200, src  # every asset from this host (requests elsewhere fail the fixture)
    assert httpx.get(portal.url + "/portal/config.json", timeout=30).json() == {"mode": "dev"}
    assert httpx.get(portal.url + "/portal/../api/datasets", timeout=30).status_code in (401, 404)
    assert httpx.get(portal.url + "/portal/nope.js", timeout=30).status_code == 404
    page = portal.page("csp", "researcher")
    wait_view(page, "catalog")


def test_given_docs_then_swagger_ui_renders_from_this_host_under_the_csp(portal: Portal, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda req: None if req.url.startswith((portal.url, "data:")) else foreign.append(req.url))
    page.goto(portal.url + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent)")
    assert any("/api/datasets/{dataset_id}/dcat" in p.replace("\u200b", "") for p in paths)
    assert errors == [] and foreign == []
    portal.shot(page, "api-docs")
    page.close()
