"""Name dictionaries and the common-word filter behind the dictionary-based name recognizer.

Sources (general-purpose, never the evaluation gold):
- US Census 1990 first and last name lists, shipped by the PyPI package `names` (0.3.0) as plain files;
- word frequencies from `wordfreq` (3.1.1) to tell names that are also everyday English words ("Price",
  "Grace", "Heart") from rare ones ("Nicholson" is rare enough, "Murphy" is not).
Both are optional at run time: without them the lexicon is empty and only context rules find names
(recall drops; nothing fails open because the patient-aware recognizer still finds every known name).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from deid.text.allowlist import ALLOWED_TERMS, CLINICAL_WORDS

log = logging.getLogger(__name__)

# Names rarer than this Zipf frequency (wordfreq scale: 3 = once per million words) count as names on
# their own; more common ones need a context (title, credential, relative, adjacent name).
RARE_ZIPF = 3.3


def _census_dir() -> Path | None:
    spec = importlib.util.find_spec("names")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent
    return path if (path / "dist.all.last").exists() else None


def _read_census(path: Path, top: int | None = None) -> set[str]:
    """Names of a census file (ordered by frequency); `top` keeps only the most frequent ones."""
    out: set[str] = set()
    with path.open(encoding="ascii", errors="ignore") as fh:
        for rank, line in enumerate(fh):
            if top is not None and rank >= top:
                break
            word = line.split(" ", 1)[0].strip().lower()
            if len(word) >= 2:
                out.add(word)
    return out


@dataclass(frozen=True)
class NameLexicon:
    first: frozenset[str]
    last: frozenset[str]
    rare: frozenset[str]  # names that are not everyday English words: a name on their own
    census: frozenset[str] = frozenset()  # every census name, eponyms included ("Foley" after "Dr.")
    top_first: frozenset[str] = frozenset()  # the 1,000 most frequent first names of each sex
    top_last: frozenset[str] = frozenset()  # the 10,000 most frequent surnames

    def is_name(self, word: str) -> bool:
        w = word.lower()
        return w in self.first or w in self.last

    def is_rare_name(self, word: str) -> bool:
        return word.lower() in self.rare


def _zipf_function():
    if importlib.util.find_spec("wordfreq") is None:
        return None
    from wordfreq import zipf_frequency

    return zipf_frequency


@lru_cache(maxsize=1)
def name_lexicon() -> NameLexicon:
    """Build once per process (about a second); later calls share it."""
    census = _census_dir()
    if census is None:
        log.warning("name lexicon unavailable: package 'names' not installed; context rules only")
        return NameLexicon(frozenset(), frozenset(), frozenset(), frozenset())
    first = _read_census(census / "dist.male.first") | _read_census(census / "dist.female.first")
    last = _read_census(census / "dist.all.last")
    zipf = _zipf_function()
    blocked = ALLOWED_TERMS | CLINICAL_WORDS
    rare: set[str] = set()
    for word in first | last:
        if word in blocked or len(word) < 3 or not word.isalpha():
            continue
        if zipf is not None and zipf(word, "en") >= RARE_ZIPF:
            continue
        rare.add(word)
    top_first = _read_census(census / "dist.male.first", 1000) | _read_census(census / "dist.female.first", 1000)
    top_last = _read_census(census / "dist.all.last", 10_000)
    return NameLexicon(
        frozenset(first - blocked), frozenset(last - blocked), frozenset(rare), frozenset(first | last),
        frozenset(top_first - blocked), frozenset(top_last - blocked),
    )


@lru_cache(maxsize=4)
def common_words(top: int = 25_000) -> frozenset[str]:
    """The `top` most frequent English words (plus clinical words), used to stop name and place context
    rules from grabbing everyday words."""
    if importlib.util.find_spec("wordfreq") is None:
        return frozenset(CLINICAL_WORDS)
    from wordfreq import top_n_list

    return frozenset(top_n_list("en", top)) | CLINICAL_WORDS
