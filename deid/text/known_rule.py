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


def _name_patterns(known: KnownIdentifiers) -> list[str]:
    out: list[str] = []
    for name in known.names:
        family = name.family.strip()
        givens = [g.strip() for g in name.given if g.strip()]
        if family and _CJK.search(family):
            # Chinese: family + given written together, given alone when two characters or more
            given = "".join(givens)
            if given:
                out.append(re.escape(family + given))
                if len(given) >= 2:
                    out.append(re.escape(given))
            out.append(re.escape(family) + r"(?=(?:先生|女士|医生|医师|护士|主任|老师|同志|某|氏))")
            continue
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
                    out.append(rf"(?-i:(?<![A-Za-z0-9])(?:{re.escape(cap)}|{re.escape(piece.upper())})(?![A-Za-z0-9]))")
                else:
                    out.append(_word(piece))
        if family and givens:
            first = givens[0]
            out.append(_word(f"{family}, {' '.join(givens)}"))
            out.append(_word(f"{' '.join(givens)} {family}"))
            out.append(r"(?<![A-Za-z0-9])" + re.escape(first[0]) + r"\.?\s*" + re.escape(family) + r"(?![A-Za-z0-9])")
            initials = [first[0], *(g[0] for g in givens[1:]), family[0]]
            out.append(r"(?<![A-Za-z0-9])" + r"\.\s?".join(re.escape(c) for c in initials) + r"\.(?!\w)")
            if len(initials) >= 3:  # bare "JQS" only: two letters ("AS", "MS") are clinical abbreviations
                out.append(r"(?-i:(?<![\w.])" + "".join(re.escape(c.upper()) for c in initials) + r"(?![\w.]))")
    return out


def _date_variants(value: str) -> list[str]:
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
        return [_word(raw)] if raw else []
    m, day, y = d.month, d.day, d.year
    month = _MONTHS[m - 1]
    sep = r"[/\-.]"
    return [
        rf"(?<!\d)0?{m}{sep}0?{day}{sep}(?:{y}|{y % 100:02d})(?!\d)",
        rf"(?<!\d){y}{sep}0?{m}{sep}0?{day}(?!\d)",
        rf"(?<!\d){y}0?{m:02d}{day:02d}(?!\d)",
        rf"(?<!\d){y}年0?{m}月0?{day}日",
        rf"\b(?:{month}|{month[:3]})\.?\s+0?{day}(?:st|nd|rd|th)?,?\s+{y}\b",
        rf"\b0?{day}(?:st|nd|rd|th)?\s+(?:{month}|{month[:3]})\.?,?\s+{y}\b",
    ]


class KnownRule:
    name = "known-identifiers"

    def __init__(self, known: KnownIdentifiers) -> None:
        typed: list[tuple[str, str]] = []
        typed += [("PERSON", p) for p in _name_patterns(known)]
        for ident in known.identifiers:
            alnum = re.sub(r"[\W_]", "", ident)
            if len(alnum) >= 3:
                typed.append(("ID", _spaced_chars(alnum)))
        for phone in known.phones:
            digits = re.sub(r"\D", "", phone)
            if len(digits) >= 7:
                typed.append(("PHONE", _spaced_chars(digits, r"[\s\-./()]{0,3}")))
                if len(digits) > 10 and digits.startswith(("1", "86")):
                    typed.append(("PHONE", _spaced_chars(digits[-10:] if digits[0] == "1" else digits[2:], r"[\s\-./()]{0,3}")))
                if len(digits) >= 10:
                    typed.append(("PHONE", _spaced_chars(digits[-7:], r"[\s\-./]{0,2}")))
        for part in known.addresses:
            part = part.strip()
            if len(re.sub(r"\W", "", part)) >= 2:
                typed.append(("ADDRESS", _word(part)))
                if not _CJK.search(part):
                    for piece in re.split(r"[\s,]+", part):
                        low = piece.lower().strip(".")
                        if len(piece) >= 4 and not piece.isdigit() and low not in _STREET_WORDS and low not in common_words(1500):
                            typed.append(("ADDRESS", _word(piece)))
        typed += [("EMAIL", _word(e.strip())) for e in known.emails if e.strip()]
        for date in known.dates:
            typed += [("DATE", p) for p in _date_variants(date)]
        for etype, literal in known.phrases:  # found in the group's other texts
            if literal.strip():
                typed.append((etype, _word(literal.strip())))
        self._patterns = [(t, re.compile(p, re.IGNORECASE)) for t, p in typed if p]

    def find(self, text: str) -> Iterable[Hit]:
        for etype, rx in self._patterns:
            for m in rx.finditer(text):
                if m.end() > m.start():
                    yield Hit(m.start(), m.end(), etype, 1.0)
