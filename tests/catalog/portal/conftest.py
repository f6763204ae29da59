"""Real Chromium (Debian's, driven by Playwright) against the real pipeline's API and portal."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import Pipeline
from portal_kit import Portal

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture()
def portal(pipeline: Pipeline, browser: Any) -> Iterator[Portal]:
    p = Portal(pipeline, browser)
    yield p
    p.close()
    assert p.errors == [], p.errors
    assert p.foreign == [], p.foreign
