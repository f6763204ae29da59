"""Shared fixtures for the structured de-identification tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.text.types import Redactor
from deid_kit import KnownValuesRedactor

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
PROFILES = REPO / "policies" / "deid"


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring({"k1": "test-key-one-0123456789abcdef0123", "k0": "old-key-0123456789abcdef01234567"}, current="k1")


@pytest.fixture(scope="session")
def redactor() -> KnownValuesRedactor:
    return KnownValuesRedactor()


@pytest.fixture(scope="session")
def text_redactor() -> Redactor:
    """The real free-text redactor (deid/text), built once per session."""
    from deid.text.redactor import TextRedactor

    return TextRedactor()


@pytest.fixture(scope="session")
def engine(keyring: Keyring, text_redactor: Redactor) -> Deidentifier:
    """The engine as production builds it: shipped profiles and the real text redactor."""
    return Deidentifier(keyring=keyring, profiles_dir=PROFILES, redactor=text_redactor, today=date(2025, 6, 1))


@pytest.fixture(scope="session")
def known_only_engine(keyring: Keyring, redactor: KnownValuesRedactor) -> Deidentifier:
    """The engine with a stand-in redactor that finds only the record's known values (exact outputs)."""
    return Deidentifier(keyring=keyring, profiles_dir=PROFILES, redactor=redactor, today=date(2025, 6, 1))


def shared(folder: str) -> Path:
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"shared test data {folder} is not present at {path}")
    return path
