"""Test doubles for the structured de-identification tests (the real TextRedactor is used where it matters)."""

from __future__ import annotations

import re

from deid.text.types import Entity, KnownIdentifiers


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
