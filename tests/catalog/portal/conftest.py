"""Real Chromium (the session's `browser` fixture in tests/conftest.py) against the real pipeline's API and portal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pipeline_kit import Pipeline
from portal_kit import Portal


@pytest.fixture()
def portal(pipeline: Pipeline, browser: Any) -> Iterator[Portal]:
    p = Portal(pipeline, browser)
    yield p
    p.close()
    assert p.errors == [], p.errors
    assert p.foreign == [], p.foreign
