"""A rule made of compiled regular expressions, each naming its entity type, score and optional validator."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from deid.text.rule import Hit


@dataclass(frozen=True)
class Pattern:
    type: str
    regex: re.Pattern[str]
    score: float = 0.85
    group: str | int = 0  # which group is the identifier (the rest is context)
    validate: Callable[[str], bool] | None = None
    reject_before: re.Pattern[str] | None = None  # searched in the 16 characters before the match
    reject_after: re.Pattern[str] | None = None  # matched right after it


class RegexRule:
    def __init__(self, name: str, patterns: Sequence[Pattern]) -> None:
        self.name = name
        self.patterns = tuple(patterns)

    def find(self, text: str) -> Iterable[Hit]:
        for p in self.patterns:
            for m in p.regex.finditer(text):
                start, end = m.span(p.group)
                if start < 0 or end <= start:
                    continue
                if p.validate is not None and not p.validate(m.group(p.group)):
                    continue
                if p.reject_before is not None and p.reject_before.search(text, max(0, start - 16), start):
                    continue
                if p.reject_after is not None and p.reject_after.match(text, end):
                    continue
                yield Hit(start, end, p.type, p.score)
