"""The one small interface every recognizer of this package implements, wrapped as a Presidio recognizer.

A rule is a name, a language and `find(text) -> Iterable[Hit]`; `RuleRecognizer` adapts it to Presidio's
`EntityRecognizer` so the rules run inside `AnalyzerEngine` (registry, languages, ad-hoc recognizers)
and can be mixed with any Presidio recognizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# The documented, small set of entity types this package emits.
ENTITY_TYPES = (
    "PERSON",
    "DATE",
    "PHONE",
    "ID",
    "ADDRESS",
    "LOCATION",
    "EMAIL",
    "URL",
    "IP",
    "AGE",
    "ORGANIZATION",
)


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    type: str
    score: float = 0.85


class Rule(Protocol):
    name: str

    def find(self, text: str) -> Iterable[Hit]: ...


class RuleRecognizer(EntityRecognizer):
    """Presidio adapter around a `Rule`."""

    def __init__(self, rule: Rule, language: str) -> None:
        self.rule = rule
        super().__init__(
            supported_entities=list(ENTITY_TYPES), name=f"{rule.name}-{language}", supported_language=language
        )

    def load(self) -> None:  # nothing to load: rules build their tables in their constructor
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        wanted = set(entities) if entities else None
        return [
            RecognizerResult(
                entity_type=h.type,
                start=h.start,
                end=h.end,
                score=h.score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for h in self.rule.find(text)
            if h.end > h.start and (wanted is None or h.type in wanted)
        ]
