"""Patient-level propagation: what was found in one text of a patient is looked for in the patient's others.

- `phrases_found(text, entities)`: the literals worth looking for elsewhere - whole PERSON/ID/PHONE/EMAIL/
  ADDRESS/LOCATION spans and each rare word of a name or place (not dates or ages: they are not specific).
- `FindingsCache`: a bounded, in-memory, thread-safe LRU of those literals keyed by a group - in the gateway
  the linkage pseudonym, in `hds deid text` the line's `"group"`. Never persisted, never logged: its only
  output is `known_for(key)`, given back to the redactor as `KnownIdentifiers.phrases`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from deid.text.types import Entity, KnownIdentifiers

PROPAGATED_TYPES = frozenset({"PERSON", "ID", "PHONE", "EMAIL", "ADDRESS", "LOCATION"})
_WORD = re.compile(r"[^\W\d_][^\W\d_'\-]{2,}")


def phrases_found(text: str, entities: Iterable[Entity]) -> list[tuple[str, str]]:
    from deid.text.allowlist import is_allowed
    from deid.text.lexicon import common_words

    common = common_words(25_000)
    out: list[tuple[str, str]] = []
    for e in entities:
        if e.type not in PROPAGATED_TYPES:
            continue
        value = text[e.start : e.end].strip()
        if sum(c.isalnum() for c in value) >= 3:
            out.append((e.type, value))
        if e.type in ("PERSON", "LOCATION"):
            for m in _WORD.finditer(value):
                w = m.group()
                if w.lower() not in common and not is_allowed(w):
                    out.append((e.type, w))
    return list(dict.fromkeys(out))


class FindingsCache:
    """Bounded LRU: at most `max_groups` groups, `max_phrases` literals each (oldest dropped first)."""

    def __init__(self, *, max_groups: int = 10_000, max_phrases: int = 200) -> None:
        if max_groups < 1 or max_phrases < 1:
            raise ValueError("FindingsCache bounds must be positive")
        self.max_groups = max_groups
        self.max_phrases = max_phrases
        self._groups: OrderedDict[str, OrderedDict[tuple[str, str], None]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._groups)

    def __repr__(self) -> str:  # never the values
        return f"FindingsCache(groups={len(self)}, max_groups={self.max_groups})"

    def add(self, key: str, phrases: Sequence[tuple[str, str]]) -> None:
        if not key or not phrases:
            return
        with self._lock:
            group = self._groups.pop(key, None) or OrderedDict()
            for p in phrases:
                group.pop(p, None)
                group[p] = None
            while len(group) > self.max_phrases:
                group.popitem(last=False)
            self._groups[key] = group
            while len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)

    def get(self, key: str) -> list[tuple[str, str]]:
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                return []
            self._groups.move_to_end(key)
            return list(group)

    def known_for(self, key: str | None, base: KnownIdentifiers | None = None) -> KnownIdentifiers:
        """`base` plus the group's phrases (a copy; `base` is not changed)."""
        known = base if base is not None else KnownIdentifiers()
        phrases = self.get(key) if key else []
        if not phrases:
            return known
        return replace(known, phrases=[*known.phrases, *(p for p in phrases if p not in known.phrases)])

    def remember(self, key: str | None, text: str, entities: Iterable[Entity]) -> None:
        if key:
            self.add(key, phrases_found(text, entities))
