"""Shared fixtures for the structured de-identification tests."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.text.types import Entity, KnownIdentifiers

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
PROFILES = REPO / "policies" / "deid"


class KnownValuesRedactor:
    """A test double of the Redactor protocol: finds only the `known` values (case-insensitive)."""

    def __init__(self) -> None:
        self.calls = 0

    def analyze(self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None) -> list[Entity]:
        self.calls += 1
        entities: list[Entity] = []
        if known is None:
            return entities
        values: list[tuple[str, str]] = []
        for name in known.names:
            values += [(p, "PERSON") for p in (name.family, *name.given) if len(p) >= 2]
        values += [(v, "ID") for v in known.identifiers] + [(v, "PHONE") for v in known.phones]
        values += [(v, "ADDRESS") for v in known.addresses] + [(v, "EMAIL") for v in known.emails]
        values += [(v, "DATE") for v in known.dates]
        for value, kind in values:
            for m in re.finditer(re.escape(value), text, flags=re.IGNORECASE):
                entities.append(Entity(m.start(), m.end(), kind, source="known"))
        return entities

    def redact(self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None) -> tuple[str, list[Entity]]:
        entities = self.analyze(text, lang=lang, known=known)
        mask = [False] * len(text)
        for e in entities:
            for i in range(e.start, e.end):
                mask[i] = True
        out: list[str] = []
        i = 0
        while i < len(text):
            if mask[i]:
                j = i
                while j < len(text) and mask[j]:
                    j += 1
                out.append("[REDACTED]")
                i = j
            else:
                out.append(text[i])
                i += 1
        return "".join(out), entities


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
