"""Each role's whole journey in real Chromium against the real pipeline, plus form validation, keyboard-only
request and review, the audit pager, the publisher's dead-letter view, deep links and Back, and a phone-width page.
A screenshot of every page visited is saved under .artifacts/screenshots (or $HDS_SCREENSHOTS)."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from portal_kit import Portal, go, tab_to, wait_view
from pipeline_kit import BAD_MESSAGES

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

ASKED = ["hospital", "ward", "sex", "birth_year", "age_group", "zip3"]


def _request_via_form(page, dataset: str, columns: list[str], purpose: str, project: str, days: str) -> str:
    go(page, f"request?dataset={dataset}", "request")
    page.wait_for_selector(f"#rq-col-{columns[0]}")
    for c in columns:
        page.check(f"#rq-col-{c}")
    page.fill("#rq-purpose", purpose)
    page.fill("#rq-project", project)
    page.select_option("#rq-basis", "ehds-53-1-e")
    page.fill("#rq-days", days)
    page.click("#request-form button[type=submit]")
    page.wait_for_selector("#rq-msg[data-request-id]")
    return page.get_attribute("#rq-msg", "data-request-id")


def _approve(portal: Portal, request_id: str, *, drop: list[str], days: str, shot: str | None = None) -> None:
    admin = portal.page("adam", "authority-admin", path=f"#/review/{request_id}")
    wait_view(admin, "review")
    admin.wait_for_selector("#approve-form")
    for c in drop:
        admin.uncheck(f"[id='ap-{c}']")
    admin.fill("#ap-days", days)
    admin.click("#approve-form button[type=submit]")
    admin.wait_for_selector("#confirm[open]")
    if shot:
        portal.shot(admin, shot)
    admin.click("#confirm-yes")
    admin.wait_for_selector(".badge-approved")


def test_given_every_role_then_request_review_narrowed_approval_query_download_and_revoke_work(portal: Portal) -> None:
    url = portal.url
    rita = portal.page("ruth-portal", "researcher")  # a name no other test uses: its grants are only these
    assert rita.locator("#datasets tbody tr").count() == 4
    portal.shot(rita, "researcher-catalog")
    rita.select_option("#f-tier", "extract")
    rita.wait_for_selector("#datasets tbody tr[data-id=lab_results]")
    assert rita.locator("#datasets tbody tr").count() == 1
    assert "tier=extract" in rita.url
    go(rita, "dataset/admissions", "dataset")
    text = rita.inner_text("#main")
    assert "generalised (to the year)" in text and "date-shifted" in text and "generalised (to 3 digits)" in text
    assert rita.locator("svg.chart rect").count() > 0
    portal.shot(rita, "researcher-dataset")

    # Validation: each problem is named next to its field, and nothing is sent.
    go(rita, "request?dataset=admissions", "request")
    rita.wait_for_selector("#rq-col-ward")
    rita.fill("#rq-purpose", "too short")
    rita.click("#request-form button[type=submit]")
    assert rita.inner_text("#rq-purpose-error") == "Describe the purpose in at least 20 characters."
    assert rita.get_attribute("#rq-purpose", "aria-invalid") == "true"
    assert rita.inner_text("#rq-columns-error") == "Choose at least one column."
    assert rita.is_visible("#rq-project-error") and rita.is_visible("#rq-basis-error")
    assert rita.evaluate("document.activeElement.id") == "rq-purpose"
    portal.shot(rita, "researcher-request-invalid")

    request_id = _request_via_form(rita, "admissions", ASKED, "Bed occupancy by ward and sex over two years",
                                   "occupancy-portal", "60")
    # Its own project name: differencing history is kept per project team too, and the walkthrough test's team
    # ("occupancy-2026") asks this same query later, after other tests added a few admissions.
    go(rita, "requests", "requests")
    assert rita.inner_text(f"tr[data-request='{request_id}']").count("submitted") == 1

    steward = portal.page("sten", "data-steward", path="#/review")
    wait_view(steward, "review")
    row = steward.inner_text(f"#queue tr[data-request='{request_id}']")
    assert "occupancy-portal" in row and "ruth-portal" in row and "zip3" in row and "EHDS Art. 53(1)(e)" in row and "60 days" in row
    portal.shot(steward, "steward-queue")
    steward.click(f"#queue tr[data-request='{request_id}'] a")
    steward.wait_for_selector("#steward-form")
    assert steward.locator("#approve-form").count() == 0  # stewards review, admins decide
    steward.fill("#sv-note", "complete and proportionate")
    steward.click("#steward-form button[type=submit]")
    steward.wait_for_selector(".badge-under_review")
    portal.shot(steward, "steward-review")

    _approve(portal, request_id, drop=["admissions-zip3"], days="30", shot="admin-approve-confirm")
    grant = next(g for g in httpx.get(f"{url}/api/grants", headers={"Authorization": f"Bearer {portal.token('adam', 'authority-admin')}"},
                                      timeout=30).json() if g["request_id"] == request_id)
    assert "zip3" not in grant["columns"]["admissions"] and "ward" in grant["columns"]["admissions"]

    go(rita, f"query?grant={grant['id']}", "query")
    assert rita.input_value("#q-grant") == grant["id"]
    rita.fill("#q-sql", "SELECT ward, count(*) AS admissions FROM admissions GROUP BY ward")
    rita.click("#query-form button[type=submit]")
    rita.wait_for_selector("#result tbody tr")
    summary = rita.inner_text("#query-status")
    marked = rita.locator("#result td.suppressed").count()
    assert marked > 0 and f"{marked} cells suppressed" in summary
    assert f"suppressed ({marked} cells)" in rita.inner_text("#result-area")
    portal.shot(rita, "researcher-query-suppressed")

    # A real NULL (patients under 90 have no age group) is an empty cell, not a suppressed one.
    rita.fill("#q-sql", "SELECT age_group, count(*) AS n FROM admissions GROUP BY age_group")
    rita.click("#query-form button[type=submit]")
    rita.wait_for_function("() => document.querySelector('#query-status').textContent.includes('rows')")
    cells = rita.eval_on_selector_all("#result tbody tr", "rs => rs.map(r => Array.from(r.cells).map(c => [c.className, c.textContent]))")
    assert any(row[0] == ["", ""] and row[1][1] != "" for row in cells), cells

    rita.fill("#q-sql", "SELEC ward FROM admissions")
    rita.click("#query-form button[type=submit]")
    rita.wait_for_selector("#query-status.error")
    assert "syntax error" in rita.inner_text("#query-status")
    rita.fill("#q-sql", "SELECT zip3, count(*) FROM admissions GROUP BY zip3")  # narrowed away by the admin
    rita.click("#query-form button[type=submit]")
    rita.wait_for_function("() => document.querySelector('#query-status').textContent.includes('zip3')")
    assert rita.locator("#history li").count() >= 3

    # Extract tier: a download of the granted columns.
    extract_id = _request_via_form(rita, "lab_results", ["test_code", "value_num", "unit"],
                                   "Reference intervals of common laboratory tests", "lab-ranges", "20")
    _approve(portal, extract_id, drop=[], days="20")
    go(rita, "query", "query")
    option = rita.locator("#q-grant option", has_text="Laboratory results").first.get_attribute("value")
    rita.select_option("#q-grant", option)
    rita.fill("#q-sql", "SELECT test_code, value_num, unit FROM lab_results LIMIT 20")
    rita.click("#query-form button[type=submit]")
    rita.wait_for_selector("#downloads button[data-format=csv]")
    with rita.expect_download() as dl:
        rita.click("#downloads button[data-format=csv]")
    body = dl.value.path().read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["test_code", "value_num", "unit"] and len(rows) > 1
    portal.shot(rita, "researcher-extract-download")

    # Revoke, then the researcher's next query is refused.
    admin = portal.page("adam", "authority-admin", path="#/grants")
    wait_view(admin, "grants")
    form = f"form[data-grant='{grant['id']}']"
    admin.fill(f"{form} input", "project ended")
    admin.click(f"{form} button[type=submit]")
    admin.wait_for_selector(f"{form} .note.warn")
    portal.shot(admin, "admin-grants-revoke-confirm")
    admin.click(f"{form} button[type=submit]")
    admin.wait_for_selector(f"tr[data-grant='{grant['id']}'] .badge-revoked")
    go(rita, "requests", "requests")
    assert "Revoked: project ended" in rita.inner_text(f"#grants tr[data-grant='{grant['id']}']")
    r = httpx.post(f"{url}/api/query", json={"grant_id": grant["id"], "sql": "SELECT ward, count(*) FROM admissions GROUP BY ward"},
                   headers={"Authorization": f"Bearer {portal.token('ruth-portal', 'researcher')}"}, timeout=30)
    assert r.status_code in (403, 409, 410) and "revoked" in r.json()["detail"]


def test_given_a_refusal_then_the_researcher_reads_the_reason(portal: Portal) -> None:
    rosa = portal.page("rosa", "researcher")
    request_id = _request_via_form(rosa, "lab_reports", ["order_name"], "Which tests are ordered most often, by month",
                                   "orders", "10")
    admin = portal.page("adam", "authority-admin", path=f"#/review/{request_id}")
    admin.wait_for_selector("#refuse-form")
    admin.click("#refuse-form button[type=submit]")
    assert admin.is_visible("#rf-reason-error")  # an empty reason is refused by the form, not by a raw API error
    admin.fill("#rf-reason", "Please narrow the purpose to one clinical question.")
    admin.click("#refuse-form button[type=submit]")
    admin.wait_for_selector(".badge-refused")
    go(rosa, "requests", "requests")
    assert "Please narrow the purpose to one clinical question." in rosa.inner_text(f"tr[data-request='{request_id}']")
    portal.shot(rosa, "researcher-requests-refused")


def test_given_only_a_keyboard_then_a_request_and_its_review_can_be_completed(portal: Portal) -> None:
    kim = portal.page("kim", "researcher", path="#/request?dataset=clinical_records")
    wait_view(kim, "request")
    kim.wait_for_selector("#rq-col-sex")
    tab_to(kim, "#rq-col-sex")
    kim.keyboard.press("Space")
    tab_to(kim, "#rq-col-encounter_class")
    kim.keyboard.press("Space")
    tab_to(kim, "#rq-purpose")
    kim.keyboard.type("Encounter classes by sex for service planning")
    tab_to(kim, "#rq-project")
    kim.keyboard.type("keyboard-project")
    tab_to(kim, "#rq-basis")
    kim.keyboard.press("ArrowDown")
    tab_to(kim, "#rq-days")
    kim.keyboard.press("Control+A")
    kim.keyboard.type("14")
    tab_to(kim, "#request-form button[type=submit]")
    assert kim.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible
    kim.keyboard.press("Enter")
    kim.wait_for_selector("#rq-msg[data-request-id]")
    request_id = kim.get_attribute("#rq-msg", "data-request-id")

    steward = portal.page("sten", "data-steward", path=f"#/review/{request_id}")
    steward.wait_for_selector("#steward-form")
    tab_to(steward, "#sv-note")
    steward.keyboard.type("checked by keyboard")
    tab_to(steward, "#steward-form button[type=submit]")
    steward.keyboard.press("Enter")
    steward.wait_for_selector(".badge-under_review")

    admin = portal.page("adam", "authority-admin", path=f"#/review/{request_id}")
    admin.wait_for_selector("#approve-form")
    tab_to(admin, "#approve-form button[type=submit]")
    admin.keyboard.press("Enter")
    admin.wait_for_selector("#confirm[open]")
    assert admin.evaluate("document.activeElement.id") == "confirm-yes"
    admin.keyboard.press("Enter")
    admin.wait_for_selector(".badge-approved")
    assert kim.evaluate("1") == 1


def test_given_the_audit_log_then_it_pages_newest_first_and_back_returns(portal: Portal) -> None:
    token = portal.token("audrey", "researcher")
    for _ in range(30):  # enough records for more than one page
        httpx.get(portal.url + "/api/datasets", headers={"Authorization": f"Bearer {portal.token('audrey', 'researcher')}"}, timeout=30)
    assert token
    admin = portal.page("adam", "authority-admin", path="#/audit")
    wait_view(admin, "audit")
    admin.wait_for_selector("#chain.ok")
    assert admin.inner_text("#chain").startswith("Chain intact")
    first = [int(s) for s in admin.eval_on_selector_all("#audit tr[data-seq]", "rs => rs.map(r => r.dataset.seq)")]
    assert first == sorted(first, reverse=True) and len(first) == 25
    total = int(re.search(r"\((\d+) matching", admin.inner_text("#audit-range")).group(1))
    assert first[0] == total
    portal.shot(admin, "admin-audit")
    admin.click("#audit-older")
    admin.wait_for_function("s => { const r = document.querySelector('#audit tr[data-seq]'); return !!r && r.dataset.seq == s; }", arg=str(first[-1] - 1))
    assert "before=" in admin.url
    admin.click("#audit tr[data-seq] button")
    assert admin.locator("#audit tr.details:not([hidden])").count() == 1
    admin.go_back()
    admin.wait_for_function("s => { const r = document.querySelector('#audit tr[data-seq]'); return !!r && r.dataset.seq == s; }", arg=str(first[0]))
    admin.select_option("#au-action", "login")
    admin.click("#audit-filters button[type=submit]")
    admin.wait_for_function("() => document.location.hash.includes('action=login')")
    admin.wait_for_function("() => Array.from(document.querySelectorAll('#audit tr[data-seq] td:nth-child(4)')).every(td => td.textContent === 'sign-in')")


def test_given_a_hospital_publisher_then_it_sees_its_feeds_and_dead_letters_without_content(portal: Portal) -> None:
    pub = portal.page("stl-feed", "hospital-publisher", hospital="st-luke")
    wait_view(pub, "feeds")
    assert [a.inner_text() for a in pub.locator("#nav-list a").all()] == ["Catalog", "My feeds"]
    tables = pub.inner_text("#main")
    assert "St Luke's Hospital" in tables and "Riverside" not in tables
    pub.wait_for_selector("#dead-letters tr[data-reason=encoding_error]")
    row = pub.inner_text("#dead-letters tr[data-reason=encoding_error]")
    assert "not UTF-8" in row and "offset" in row and "Send the message encoded as UTF-8." in row
    for _, _, value, _ in BAD_MESSAGES:
        assert value.decode("latin-1")[-8:] not in pub.content()
    portal.shot(pub, "publisher-feeds")
    admin = portal.page("adam", "authority-admin", path="#/feeds")
    wait_view(admin, "feeds")
    assert admin.locator("h3", has_text="Riverside Medical Center").count() == 1
    portal.shot(admin, "admin-feeds")


def test_given_a_deep_link_then_it_opens_after_sign_in_and_back_works(portal: Portal) -> None:
    page = portal.page("dina", "researcher", path="#/dataset/lab_results")
    wait_view(page, "dataset")
    assert page.inner_text("#main h2") == "Laboratory results (CSV extracts)"
    assert page.get_attribute("#nav-list a[href='#/catalog']", "aria-current") == "page"
    page.click("a[href='#/catalog']")
    wait_view(page, "catalog")
    page.go_back()
    wait_view(page, "dataset")
    assert page.inner_text("#main h2") == "Laboratory results (CSV extracts)"


def test_given_a_phone_width_then_pages_do_not_overflow_sideways(portal: Portal) -> None:
    page = portal.page("pia", "researcher", path="#/dataset/admissions", width=390, height=844)
    wait_view(page, "dataset")
    for view in ("dataset/admissions", "catalog", "query", "requests"):
        go(page, view, view.split("/")[0])
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, view
        portal.shot(page, "phone-" + view)


def test_given_every_page_then_controls_are_labelled(portal: Portal) -> None:
    admin = portal.page("adam", "authority-admin")
    rita = portal.page("rita2", "researcher")
    checks = [(rita, "catalog"), (rita, "request?dataset=admissions"), (rita, "query"), (admin, "review"), (admin, "audit"),
              (admin, "feeds"), (admin, "grants")]
    for page, path in checks:
        go(page, path, path.split("?")[0])
        unlabelled = page.evaluate("""() => Array.from(document.querySelectorAll('#main input, #main select, #main textarea'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.id || el.name)""")
        assert unlabelled == [], path
