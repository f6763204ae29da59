"""`TextRedactor`: Presidio's `AnalyzerEngine` running this package's rules on a blank spaCy pipeline.

The engine is built once (constructor) and shared; `analyze`/`redact` only read it, so one redactor serves
many threads. No spaCy NER runs: names come from dictionaries and note contexts, which is both faster and
more accurate on clinical notes (see docs/deid-free-text.md). Nothing here logs text or matched values.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

from deid.text.address_rule import AddressRule
from deid.text.allowlist import eponym_phrase_spans, is_allowed
from deid.text.lexicon import common_words
from deid.text.chinese_rules import MixedScriptNameRule, chinese_rules
from deid.text.english_patterns import english_pattern_rule
from deid.text.known_rule import KnownRule
from deid.text.name_rule import NameRule
from deid.text.place_rule import PlaceRule
from deid.text.rule import Rule, RuleRecognizer
from deid.text.types import Entity, KnownIdentifiers, PersonName

LANGUAGES = ("en", "zh")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LETTER = re.compile(r"[A-Za-z\u3400-\u9fff]")
KNOWN_SOURCE = "known-identifiers"


def detect_language(text: str) -> str:
    """"zh" when at least a tenth of the letters are CJK ideographs, else "en"."""
    letters = len(_LETTER.findall(text))
    if letters == 0:
        return "en"
    return "zh" if len(_CJK.findall(text)) * 10 >= letters else "en"


def _blank_nlp_engine() -> SpacyNlpEngine:
    engine = SpacyNlpEngine(
        models=[{"lang_code": lang, "model_name": f"blank-{lang}"} for lang in LANGUAGES],
        ner_model_configuration=NerModelConfiguration(labels_to_ignore=["*"]),
    )
    engine.nlp = {lang: spacy.blank(lang) for lang in LANGUAGES}
    return engine


def _rules_for(lang: str, extra_id_patterns: Sequence[str]) -> list[Rule]:
    if lang == "en":
        return [english_pattern_rule(extra_id_patterns), NameRule(), PlaceRule(), AddressRule(), MixedScriptNameRule(True)]
    # Chinese notes carry English too (names of foreign patients, addresses, drug names): the English
    # name, place and address rules see only Latin-script words, so they run on Chinese text as well
    return [*chinese_rules(), english_pattern_rule(extra_id_patterns), NameRule(), PlaceRule(), AddressRule()]


# Short texts repeat across records (coded-value text, relationship words, payer and race names, the texts of
# kept fields that are screened): their analysis by the generic rules is remembered, keyed by a digest of the
# text (the text itself is not retained), up to this many texts of at most this many characters.
CACHE_TEXTS = 8192
CACHE_MAX_CHARS = 512


class _GenericCache:
    """Bounded LRU: digest of (language, text) -> the entities the generic rules find (offsets and types only).

    Only what does not depend on the record is cached. A record's own identifiers (`known`) are searched in
    the text on every call; when they occur in it the text is analysed in full, never from the cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[bytes, tuple[Entity, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str, language: str) -> bytes:
        return hashlib.blake2b(f"{language}\x1f{text}".encode("utf-8", "surrogatepass"), digest_size=20).digest()

    def get(self, key: bytes) -> tuple[Entity, ...] | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: bytes, entities: tuple[Entity, ...]) -> None:
        with self._lock:
            self._data[key] = entities
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class TextRedactor:
    def __init__(self, *, id_patterns: Sequence[str] = (), cache_texts: int = CACHE_TEXTS) -> None:
        """`id_patterns`: extra record-number regexes (MRN/account/accession formats from a profile);
        a named group `id` marks the value inside a labelled match. `cache_texts`: how many short texts'
        generic analyses to remember (0: none; the result is the same either way, only slower)."""
        self._cache = _GenericCache(cache_texts) if cache_texts > 0 else None
        registry = RecognizerRegistry(supported_languages=list(LANGUAGES))
        for lang in LANGUAGES:
            for rule in _rules_for(lang, id_patterns):
                registry.add_recognizer(RuleRecognizer(rule, lang))
        self._engine = AnalyzerEngine(
            registry=registry, nlp_engine=_blank_nlp_engine(), supported_languages=list(LANGUAGES)
        )

    # -----------------------------------------------------------------------------------------------------
    def analyze(self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None) -> list[Entity]:
        if not text or not text.strip():
            return []
        language = detect_language(text) if lang == "auto" else lang
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language code (supported: {', '.join(LANGUAGES)})")
        known_rec = _known_recognizer(_known_key(known), language) if known is not None and not known.is_empty() else None
        cache = self._cache
        if cache is not None and len(text) <= CACHE_MAX_CHARS and (known_rec is None or not _finds_any(known_rec, text)):
            # None of the record's identifiers occurs in the text: Presidio with the record's recognizer would
            # return exactly what the generic rules return (that recognizer adds no result), so the text's
            # generic analysis - the same for every record - may be reused.
            key = cache.key(text, language)
            cached = cache.get(key)
            if cached is None:
                cached = tuple(self._analyze(text, language, None))
                cache.put(key, cached)
            return list(cached)
        return self._analyze(text, language, known_rec)

    def _analyze(self, text: str, language: str, known_rec: RuleRecognizer | None) -> list[Entity]:
        ad_hoc = [known_rec] if known_rec is not None else None
        results = self._engine.analyze(text=text, language=language, ad_hoc_recognizers=ad_hoc)
        entities = _resolve(text, results)
        return _propagate(text, entities) if language == "en" else entities

    def cache_info(self) -> dict[str, int]:
        """Hit and miss counts of the short-text cache (counts only: nothing about any text)."""
        c = self._cache
        return {"size": len(c), "hits": c.hits, "misses": c.misses} if c is not None else {"size": 0, "hits": 0, "misses": 0}

    def analyze_batch(
        self, texts: Iterable[str], *, lang: str = "auto", known: KnownIdentifiers | None = None
    ) -> list[list[Entity]]:
        return [self.analyze(t, lang=lang, known=known) for t in texts]

    def redact(
        self, text: str, *, lang: str = "auto", known: KnownIdentifiers | None = None
    ) -> tuple[str, list[Entity]]:
        entities = self.analyze(text, lang=lang, known=known)
        return apply_redaction(text, entities), entities


def _known_key(known: KnownIdentifiers) -> tuple:  # type: ignore[type-arg]
    """The identifiers' content (not the object): a message's notes share one compiled rule, and a changed
    set of identifiers can never reuse a rule built for another."""
    return (tuple((n.family, tuple(n.given)) for n in known.names), tuple(known.identifiers), tuple(known.phones),
            tuple(known.addresses), tuple(known.emails), tuple(known.dates), tuple(known.phrases))


@lru_cache(maxsize=64)
def _known_recognizer(key: tuple, language: str) -> RuleRecognizer:  # type: ignore[type-arg]
    """Compiling a record's identifier patterns costs more than searching a note with them; an HL7 message
    has several notes (OBX/NTE segments), all searched for the same identifiers."""
    names, identifiers, phones, addresses, emails, dates, phrases = key
    known = KnownIdentifiers(names=[PersonName(f, tuple(g)) for f, g in names], identifiers=list(identifiers),
                             phones=list(phones), addresses=list(addresses), emails=list(emails), dates=list(dates),
                             phrases=list(phrases))
    return RuleRecognizer(KnownRule(known), language)


def _finds_any(recognizer: RuleRecognizer, text: str) -> bool:
    """Does the record's identifier rule find anything in the text (as its Presidio adapter would report it)?"""
    return any(h.end > h.start for h in recognizer.rule.find(text))


def apply_redaction(text: str, entities: Sequence[Entity]) -> str:
    out: list[str] = []
    pos = 0
    for e in entities:
        out.append(text[pos : e.start])
        out.append(f"[{e.type}]")
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def _source(r: RecognizerResult) -> str:
    meta = r.recognition_metadata or {}
    name = str(meta.get(RecognizerResult.RECOGNIZER_NAME_KEY, ""))
    return name.rsplit("-", 1)[0] if name.endswith(LANGUAGES) else name


_WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")


def _propagate(text: str, entities: list[Entity]) -> list[Entity]:
    """A word found as a name or place once in a note is that name or place everywhere in the note
    ("Dr. Rakusin ... rakusin aware", "transferred to QUARTERMAIN 2 ... QUARTERMAIN/CCU team")."""
    words: dict[str, str] = {}
    for e in entities:
        if e.type in ("PERSON", "LOCATION") and e.source != KNOWN_SOURCE:
            for m in _WORD.finditer(text, e.start, e.end):
                w = m.group().lower()
                if not is_allowed(w) and w not in _propagation_stop():
                    words.setdefault(w, e.type)
    if not words:
        return entities
    covered = [(e.start, e.end) for e in entities]
    extra: list[Entity] = []
    for m in _WORD.finditer(text):
        etype = words.get(m.group().lower())
        if etype and not any(s < m.end() and m.start() < e for s, e in covered):
            extra.append(Entity(m.start(), m.end(), etype, 0.6, "same-note"))
    if not extra:
        return entities
    return sorted(entities + extra, key=lambda e: e.start)


@lru_cache(maxsize=1)
def _propagation_stop() -> frozenset[str]:
    return common_words(25_000)


def _resolve(text: str, results: Sequence[RecognizerResult]) -> list[Entity]:
    """Drop generic hits on protected eponyms, then merge overlaps into non-overlapping sorted entities
    (the union of the overlapping spans, typed by the strongest hit; known identifiers are strongest)."""
    protected = eponym_phrase_spans(text)
    kept: list[Entity] = []
    for r in results:
        source = _source(r)
        if source != KNOWN_SOURCE and any(s < r.end and r.start < e for s, e in protected):
            continue
        start, end = r.start, r.end
        while end > start and text[end - 1] in " \t\r\n":
            end -= 1
        while start < end and text[start] in " \t\r\n":
            start += 1
        if end > start:
            kept.append(Entity(start, end, r.entity_type, float(r.score), source))
    kept.sort(key=lambda e: (e.start, -e.end))
    merged: list[Entity] = []
    for e in kept:
        if merged and e.start < merged[-1].end:
            last = merged[-1]
            strongest = last if (last.score, last.end - last.start) >= (e.score, e.end - e.start) else e
            merged[-1] = Entity(last.start, max(last.end, e.end), strongest.type, strongest.score, strongest.source)
        else:
            merged.append(e)
    return merged
