"""The patient-aware rule: identifiers the same message carries in its structured fields, found in its text.

Names in their written variants ("SMITH, JOHN", "John Smith", "J. Smith", "Smith", "John", "J.S."), Chinese
names written together ("张三"); identifiers and phones whatever the separators ("123-45 67" for 1234567,
"(410) 555-0101" for 4105550101); address parts; e-mails; dates in their common spellings. Matching is
case-insensitive, on word boundaries. This rule wins over the allow-list: a known value is always removed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

from deid.text.lexicon import common_words
from deid.text.rule import Hit
from deid.text.types import KnownIdentifiers

_CJK = re.compile(r"[\u3400-\u9fff]")
_STREET_WORDS = frozenset(
    "street road avenue lane drive court place boulevard terrace circle highway parkway square trail way "
    "north south east west apartment suite unit floor building".split()
)
_MONTHS = (
    "January February March April May June July August September October November December".split()
)


def _word(value: str) -> str:
    """A literal with flexible whitespace, bounded by non-word characters (CJK needs no boundary)."""
    body = r"\s+".join(re.escape(p) for p in value.split())
    if _CJK.search(value):
        return body
    return r"(?<![A-Za-z0-9])" + body + r"(?![A-Za-z0-9])"


def _spaced_chars(value: str, sep: str = r"[\s\-./]?") -> str:
    chars = [re.escape(c) for c in value if c.isalnum()]
    return r"(?<![A-Za-z0-9])" + sep.join(chars) + r"(?![A-Za-z0-9])" if chars else ""


# A needle is a cheap necessary condition for a pattern to match (checked before the pattern is compiled or
# run): ("digits", s) - s occurs in the text's ASCII digits with everything else removed; ("alnum", s) - s
# occurs in the lower-cased ASCII text with everything but ASCII letters and digits removed; ("text", s) - s
# occurs in the lower-cased ASCII text. Letter needles are only used on ASCII text with ASCII needles, where
# case-insensitive matching is exactly lower-case comparison; None: always search.
Needle = tuple[str, str] | None


def _token_needle(value: str) -> Needle:
    """The longest whitespace-free piece of a literal matched by `_word` (it occurs verbatim in any match)."""
    tokens = [t for t in value.split() if t]
    if not tokens or _CJK.search(value):
        return None
    tok = max(tokens, key=len)
    return ("text", tok.lower()) if tok.isascii() else None


def _chars_needle(chars: str) -> Needle:
    """For `_spaced_chars(chars)`: the characters occur contiguously once separators are removed."""
    if not chars or not chars.isascii():
        return None
    return ("digits", chars) if chars.isdigit() else ("alnum", chars.lower())


def _name_patterns(known: KnownIdentifiers) -> list[tuple[str, Needle]]:
    out: list[tuple[str, Needle]] = []
    for name in known.names:
        out += _one_name_patterns(name.family, tuple(name.given))
    return out


@lru_cache(maxsize=4096)
def _one_name_patterns(family: str, given: tuple[str, ...]) -> tuple[tuple[str, Needle], ...]:
    """The patterns of one name (a name recurs across records: the patient's, the attending clinician's).
    Patterns and needles only, derived from the name; bounded, in memory, never logged."""
    out: list[tuple[str, Needle]] = []
    family = family.strip()
    givens = [g.strip() for g in given if g.strip()]
    if family and _CJK.search(family):
        # Chinese: family + given written together, given alone when two characters or more
        given_joined = "".join(givens)
        if given_joined:
            out.append((re.escape(family + given_joined), None))
            if len(given_joined) >= 2:
                out.append((re.escape(given_joined), None))
        out.append((re.escape(family) + r"(?=(?:先生|女士|医生|医师|护士|主任|老师|同志|某|氏))", None))
        return tuple(out)
    # the family name always matches in any case (fail closed); a given name that is an everyday word
    # ("Will", "May", "Mark") only when written as a name
    parts = [(p, i == 0 and bool(family)) for i, p in enumerate([family, *givens]) if p]
    everyday = common_words(1500)
    for p, is_family in parts:
        for piece in re.split(r"[\s\-]+", p):
            if len(piece) < 2:
                continue
            if not is_family and piece.lower() in everyday:
                # "Will", "May", "Mark": as a name only when written as one (capitalised or capitals)
                cap = piece[0].upper() + piece[1:].lower()
                out.append((rf"(?-i:(?<![A-Za-z0-9])(?:{re.escape(cap)}|{re.escape(piece.upper())})(?![A-Za-z0-9]))",
                            _token_needle(piece)))
            else:
                out.append((_word(piece), _token_needle(piece)))
    if family and givens:
        first = givens[0]
        out.append((_word(f"{family}, {' '.join(givens)}"), _token_needle(f"{family}, {' '.join(givens)}")))
        out.append((_word(f"{' '.join(givens)} {family}"), _token_needle(f"{' '.join(givens)} {family}")))
        # the family name is matched literally (no whitespace in it is flexible here)
        out.append((r"(?<![A-Za-z0-9])" + re.escape(first[0]) + r"\.?\s*" + re.escape(family) + r"(?![A-Za-z0-9])",
                    ("text", family.lower()) if family.isascii() else None))
        initials = [first[0], *(g[0] for g in givens[1:]), family[0]]
        # "J.S." / "JQS": the initials occur one after the other once everything but letters and digits is
        # removed (a necessary condition, for ASCII letters and digits only)
        joined = "".join(initials)
        needle: Needle = ("alnum", joined.lower()) if joined.isascii() and joined.isalnum() else None
        out.append((r"(?<![A-Za-z0-9])" + r"\.\s?".join(re.escape(c) for c in initials) + r"\.(?!\w)", needle))
        if len(initials) >= 3:  # bare "JQS" only: two letters ("AS", "MS") are clinical abbreviations
            out.append((r"(?-i:(?<![\w.])" + "".join(re.escape(c.upper()) for c in initials) + r"(?![\w.]))", needle))
    return tuple(out)


def _date_variants(value: str) -> list[tuple[str, Needle]]:
    raw = value.strip()
    digits = re.sub(r"\D", "", raw)
    d: dt.date | None = None
    for fmt, src in (("%Y%m%d", digits[:8]), ("%Y-%m-%d", raw[:10]), ("%m/%d/%Y", raw)):
        try:
            d = dt.datetime.strptime(src, fmt).date()
            break
        except ValueError:
            continue
    if d is None:
        return [(_word(raw), _token_needle(raw))] if raw else []
    m, day, y = d.month, d.day, d.year
    month = _MONTHS[m - 1]
    sep = r"[/\-.]"
    yy = f"{y % 100:02d}"
    full: Needle = None
    short: Needle = None
    by_year: Needle = None
    if y >= 1000:  # (a year written with fewer digits gets no needle: always searched)
        # the digits of a match, everything else removed, always hold these: the day (with or without its
        # leading zero) followed by the year (the separators between them are not digits), or the year itself
        full, short, by_year = ("digits", f"{day}{y}"), ("digits", f"{day}{yy}"), ("digits", str(y))
    return [
        (rf"(?<!\d)0?{m}{sep}0?{day}{sep}{y}(?!\d)", full),
        (rf"(?<!\d)0?{m}{sep}0?{day}{sep}{yy}(?!\d)", short),
        (rf"(?<!\d){y}{sep}0?{m}{sep}0?{day}(?!\d)", by_year),
        (rf"(?<!\d){y}0?{m:02d}{day:02d}(?!\d)", by_year),
        (rf"(?<!\d){y}年0?{m}月0?{day}日", by_year),
        (rf"\b(?:{month}|{month[:3]})\.?\s+0?{day}(?:st|nd|rd|th)?,?\s+{y}\b", full),
        (rf"\b0?{day}(?:st|nd|rd|th)?\s+(?:{month}|{month[:3]})\.?,?\s+{y}\b", full),
    ]


class KnownRule:
    name = "known-identifiers"

    def __init__(self, known: KnownIdentifiers) -> None:
        typed: list[tuple[str, str, Needle]] = []
        typed += [("PERSON", p, n) for p, n in _name_patterns(known)]
        for ident in known.identifiers:
            alnum = re.sub(r"[\W_]", "", ident)
            if len(alnum) >= 3:
                typed.append(("ID", _spaced_chars(alnum), _chars_needle(alnum)))
        for phone in known.phones:
            digits = re.sub(r"\D", "", phone)
            if len(digits) >= 7:
                typed.append(("PHONE", _spaced_chars(digits, r"[\s\-./()]{0,3}"), _chars_needle(digits)))
                if len(digits) > 10 and digits.startswith(("1", "86")):
                    short = digits[-10:] if digits[0] == "1" else digits[2:]
                    typed.append(("PHONE", _spaced_chars(short, r"[\s\-./()]{0,3}"), _chars_needle(short)))
                if len(digits) >= 10:
                    typed.append(("PHONE", _spaced_chars(digits[-7:], r"[\s\-./]{0,2}"), _chars_needle(digits[-7:])))
        for part in known.addresses:
            part = part.strip()
            if len(re.sub(r"\W", "", part)) >= 2:
                typed.append(("ADDRESS", _word(part), _token_needle(part)))
                if not _CJK.search(part):
                    for piece in re.split(r"[\s,]+", part):
                        low = piece.lower().strip(".")
                        if len(piece) >= 4 and not piece.isdigit() and low not in _STREET_WORDS and low not in common_words(1500):
                            typed.append(("ADDRESS", _word(piece), _token_needle(piece)))
        typed += [("EMAIL", _word(e.strip()), _token_needle(e.strip())) for e in known.emails if e.strip()]
        for date in known.dates:
            typed += [("DATE", p, n) for p, n in _date_variants(date)]
        for etype, literal in known.phrases:  # found in the group's other texts
            if literal.strip():
                typed.append((etype, _word(literal.strip()), _token_needle(literal.strip())))
        # compiled lazily, on the first text that passes the pattern's needle (most kept strings pass none)
        self._patterns = [(t, p, n) for t, p, n in typed if p]

    def find(self, text: str) -> Iterable[Hit]:
        ascii_text = text.isascii()
        low = text.lower() if ascii_text else ""
        digits: str | None = None  # derived on the first needle that needs them
        alnum: str | None = None
        for etype, pattern, needle in self._patterns:
            if needle is not None:
                kind, lit = needle
                if kind == "digits":
                    if digits is None:
                        digits = _NOT_ASCII_DIGIT.sub("", text)
                    if lit not in digits:
                        continue
                elif ascii_text:
                    if kind == "alnum":
                        if alnum is None:
                            alnum = _NOT_ASCII_ALNUM.sub("", low)
                        if lit not in alnum:
                            continue
                    elif lit not in low:
                        continue
            for m in _compiled(pattern).finditer(text):
                if m.end() > m.start():
                    yield Hit(m.start(), m.end(), etype, 1.0)


_NOT_ASCII_DIGIT = re.compile(r"[^0-9]+")
_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]+")  # on lower-cased ASCII text: what str.isalnum keeps there


@lru_cache(maxsize=8192)
def _compiled(pattern: str) -> re.Pattern[str]:
    """Compiled identifier patterns, shared by the records of one patient (bounded; patterns only, no text)."""
    return re.compile(pattern, re.IGNORECASE)
