from __future__ import annotations

import pytest

from deid.text.redactor import TextRedactor


@pytest.fixture(scope="session")
def redactor() -> TextRedactor:
    """One engine for the whole session: building it is the expensive part, using it only reads."""
    return TextRedactor()
