"""Shared types of the free-text redaction layer (detection apart from transformation).

`KnownIdentifiers` carries what the structured part of the same message already revealed about the patient
and relatives, so the text layer can find those exact values (in their written variants) inside notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PersonName:
    family: str = ""
    given: tuple[str, ...] = ()


@dataclass
class KnownIdentifiers:
    names: list[PersonName] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # MRN, account, visit, insurance, national/resident id
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)  # street lines, city, postal code as separate parts
    emails: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)  # birth date and other identifying dates as they appear in fields
    # (type, literal) found in the same patient's or group's other texts (deid.text.propagation)
    phrases: list[tuple[str, str]] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.names or self.identifiers or self.phones or self.addresses or self.emails or self.dates or self.phrases
        )


@dataclass(frozen=True)
class Entity:
    """A detected identifier: [start, end) offsets into the ORIGINAL text, a type such as PERSON or DATE."""

    start: int
    end: int
    type: str
    score: float = 1.0
    source: str = ""  # which recognizer found it (for evaluation; never the matched value)


class Redactor(Protocol):
    def analyze(self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None) -> list[Entity]: ...

    def redact(
        self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None
    ) -> tuple[str, list[Entity]]: ...
