"""Shared fixtures for the structured de-identification tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid_doubles import KnownValuesRedactor

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
def engine(keyring: Keyring, redactor: KnownValuesRedactor) -> Deidentifier:
    return Deidentifier(keyring=keyring, profiles_dir=PROFILES, redactor=redactor, today=date(2025, 6, 1))


def shared(folder: str) -> Path:
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"shared test data {folder} is not present at {path}")
    return path
