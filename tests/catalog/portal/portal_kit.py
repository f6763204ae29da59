"""Helpers for the portal's browser tests: a signed-in page factory, navigation and keyboard helpers, the UI
dictionaries read from the portal's i18n.js."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pipeline_kit import Pipeline

from catalog.routes.portal import PORTAL_DIR
from policies.identity.dev_issuer import DevIssuer

REPO = Path(__file__).resolve().parents[3]
# Screenshots of every page the tests visit: a test artifact, never committed (the directory is gitignored).
SCREENSHOTS = Path(os.environ.get("HDS_SCREENSHOTS", REPO / ".artifacts" / "screenshots"))

class Portal:
    """Opens signed-in pages; records page errors and requests to other hosts (both must stay empty)."""

    def __init__(self, pipeline: Pipeline, browser: Any) -> None:
        self.pipeline, self.browser = pipeline, browser
        self.url = pipeline.catalog.url
        self.issuer = DevIssuer.from_settings(pipeline.settings)
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self._contexts: list[Any] = []

    def token(self, user: str, role: str, **claims: str) -> str:
        return self.issuer.issue(user, [role], **claims)

    def page(self, user: str, role: str, *, path: str = "", lang: str = "en", width: int = 1280,
             height: int = 900, **claims: str) -> Any:
        ctx = self.browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        self._contexts.append(ctx)
        ctx.add_init_script(f"if (!localStorage.getItem('hds.lang')) localStorage.setItem('hds.lang', '{lang}')")
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", lambda req: None if req.url.startswith((self.url, "data:", "blob:")) else self.foreign.append(req.url))
        page.goto(self.url + "/" + path)
        page.fill("#token", self.token(user, role, **claims))
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("#main:not([hidden]) h2")
        return page

    def shot(self, page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / (re.sub(r"[^a-z0-9_.-]+", "-", name.lower()) + ".png")
        page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        for ctx in self._contexts:
            ctx.close()


def wait_view(page: Any, name: str) -> None:
    page.wait_for_selector(f"#main[data-view='{name}'] h2")


def go(page: Any, hash_path: str, view: str) -> None:
    page.evaluate("h => { location.hash = h; }", "#/" + hash_path)
    page.wait_for_function("v => document.getElementById('main').dataset.view === v && !document.querySelector('#main > p.note:only-child')", arg=view)
    wait_view(page, view)


def tab_to(page: Any, selector: str, limit: int = 120) -> None:
    """Presses Tab until the element matching `selector` has focus: proves it is reachable by keyboard."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with the Tab key")



def dictionaries() -> dict[str, dict[str, str]]:
    """{"en": {key: text}, "zh": {key: text}} as written in catalog/portal/i18n.js."""
    text = (PORTAL_DIR / "i18n.js").read_text(encoding="utf-8")
    en_part, zh_part = text.split("\n  zh: {", 1)
    pair = re.compile(r'^\s+"([^"]+)": "((?:[^"\\]|\\.)*)",$', re.M)
    return {"en": dict(pair.findall(en_part)), "zh": dict(pair.findall(zh_part))}
